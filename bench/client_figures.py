"""The Python client's own costs against oscar-local.

1. ``Service.run`` against a bare ``requests`` POST of the same base64 body
   (interleaved, alternating which goes first): encode + decode + error mapping.
2. ``Service.map`` of N small texts at concurrency 4 against the same N
   texts run one after the other just before, on a service whose script
   takes 50 ms (the time a small model would): what concurrency buys when
   the work is in the script, not in the HTTP round trip.
3. ``Service.submit`` of N files: upload, find the jobs, wait, collect each
   output back to its input.
"""
from __future__ import annotations

import base64
import statistics
import time
from typing import Any, Dict, List, Tuple

import requests


def run_overhead(cluster: Any, endpoint: str, n: int) -> Tuple[Any, List[float], List[float]]:
    """(the echo Service, bare request seconds, Service.run seconds)."""
    [svc] = cluster.apply({"name": "bench-echo", "image": "local/echo", "script": 'cat "$INPUT_FILE_PATH"',
                           "synchronous": {"min_scale": 1, "max_scale": 4}})
    token = svc.token
    body = base64.b64encode(b"hello bench")
    bare = requests.Session()  # connection reuse on both sides
    raw_times: List[float] = []
    client_times: List[float] = []
    svc.run("warm up")

    def bare_call() -> None:
        t0 = time.perf_counter()
        r = bare.post(f"{endpoint}/run/bench-echo", data=body, timeout=60, headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        raw_times.append(time.perf_counter() - t0)

    def client_call() -> None:
        t0 = time.perf_counter()
        svc.run("hello bench")
        client_times.append(time.perf_counter() - t0)

    for i in range(n):
        for call in ((bare_call, client_call) if i % 2 == 0 else (client_call, bare_call)):
            call()
    bare.close()
    return svc, raw_times, client_times


def map_speedup(cluster: Any, n: int) -> Tuple[float, float, bool]:
    """(wall seconds, speed-up over the same n runs made sequentially, all ok)."""
    [svc] = cluster.apply({"name": "bench-work", "image": "local/work", "log_level": "CRITICAL",
                           "script": 'sleep 0.05; cat "$INPUT_FILE_PATH"',
                           "synchronous": {"min_scale": 0, "max_scale": 4}})
    svc.run("warm up")
    items = [f"item {i}" for i in range(n)]
    t0 = time.perf_counter()
    for item in items:
        svc.run(item)
    sequential = time.perf_counter() - t0
    t0 = time.perf_counter()
    batch = svc.map(items, concurrency=4, progress=False)
    wall = time.perf_counter() - t0
    return wall, sequential / wall, bool(batch.ok)


def submit_files(cluster: Any, files: int) -> Tuple[float, int]:
    """(wall seconds, outputs matched to their inputs)."""
    [pipe] = cluster.apply({"name": "bench-upper", "image": "local/upper",
                            "script": 'tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"',
                            "input": [{"storage_provider": "minio.default", "path": "bench-upper/in"}],
                            "output": [{"storage_provider": "minio.default", "path": "bench-upper/out"}]})
    inputs: Dict[str, str] = {f"f{i:03d}.txt": f"file {i}" for i in range(files)}
    t0 = time.perf_counter()
    result = pipe.submit(inputs, timeout=120, progress=False)
    wall = time.perf_counter() - t0
    matched = sum(1 for item in result if item.ok and item.result.text.strip() == inputs[item.name].upper())
    return wall, matched


def median(values: List[float]) -> float:
    return statistics.median(values)
