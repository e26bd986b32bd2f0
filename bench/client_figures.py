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


GRAYSCALE_SCRIPT = ('python3 -c "import sys; from PIL import Image; '
                    'Image.open(sys.argv[1]).convert(\'L\').save(sys.argv[2])" '
                    '"$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/out.png"')
TEN_MB_SCRIPT = 'head -c 10000000 /dev/urandom > "$TMP_OUTPUT_DIR/out.bin"'


def against_oscar_python(cluster: Any, endpoint: str, user: str, password: str, n: int,
                         workdir: str) -> Dict[str, Tuple[List[float], List[float]]]:
    """The same call made by ``Service.run`` and by oscar-python's ``run_service``
    (the official client, given the service token as ours has it, writing the
    answer to a file as it does), interleaved and alternating which goes first.

    Two services: a 600x600 PNG sent to a grayscale script (a ~480 kB base64
    answer) and a script answering 10 MB. Returns {case: (official s, ours s)}.
    """
    import os

    import numpy as np
    from oscar_python.client import Client
    from PIL import Image

    image = os.path.join(workdir, "bench-600.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (600, 600, 3), dtype=np.uint8)).save(image)
    official = Client({"cluster_id": "bench", "endpoint": endpoint, "user": user, "password": password,
                       "ssl": False})
    out: Dict[str, Tuple[List[float], List[float]]] = {}
    for case, name, script in (("png", "bench-gray", GRAYSCALE_SCRIPT), ("10mb", "bench-10mb", TEN_MB_SCRIPT)):
        [svc] = cluster.apply({"name": name, "image": "local/bench", "script": script,
                               "synchronous": {"min_scale": 1, "max_scale": 2}})
        token = svc.token
        answer = os.path.join(workdir, f"{name}.out")
        from pathlib import Path

        ours_t: List[float] = []
        theirs_t: List[float] = []

        def ours() -> None:
            t0 = time.perf_counter()
            svc.run(Path(image))
            ours_t.append(time.perf_counter() - t0)

        def theirs() -> None:
            t0 = time.perf_counter()
            official.run_service(name, input=image, output=answer, token=token)
            theirs_t.append(time.perf_counter() - t0)

        svc.run(Path(image))
        official.run_service(name, input=image, output=answer, token=token)
        for i in range(n):
            for call in ((theirs, ours) if i % 2 == 0 else (ours, theirs)):
                call()
        out[case] = (theirs_t, ours_t)
    return out
