"""``python -m bench.client``: the Python client's own costs against oscar-local, as a table.

1. ``Service.run`` vs a bare ``requests.post`` of the same base64 body to
   ``/run`` (interleaved, same service): the client's encode + decode +
   error-mapping overhead, p50/p99.
2. ``Service.map`` of N small texts at concurrency 4: wall time and calls/s.
3. ``Service.submit`` of N files: upload, find the jobs, wait, collect the
   outputs back to their inputs; wall time.

Goals (checked, printed in the last column): client overhead p50 < 5 ms;
map faster than N sequential runs; submit of 20 files < 10 s.
"""
from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from typing import List, Sequence

import requests


def percentile(values: Sequence[float], q: float) -> float:
    data = sorted(values)
    pos = (len(data) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="calls per measurement (default 40)")
    parser.add_argument("--files", type=int, default=20, help="files for the async run (default 20)")
    args = parser.parse_args(list(argv))

    import oscar_jupyter as oj
    from oscar_jupyter import local

    handle = local.start(data_dir=tempfile.mkdtemp(prefix="bench-client-"), port=0)
    rows: List[List[str]] = []
    try:
        cluster = oj.connect(handle.endpoint, user=handle.user, password=handle.password)
        [svc] = cluster.apply({"name": "bench-echo", "image": "local/echo",
                               "script": 'cat "$INPUT_FILE_PATH"',
                               "synchronous": {"min_scale": 1, "max_scale": 4}})
        token = svc.token
        body = base64.b64encode(b"hello bench")
        raw_times, client_times = [], []
        bare = requests.Session()  # connection reuse on both sides
        svc.run("warm up")
        def bare_call() -> None:
            t0 = time.perf_counter()
            r = bare.post(f"{handle.endpoint}/run/bench-echo", data=body, timeout=60,
                          headers={"Authorization": f"Bearer {token}"})
            r.raise_for_status()
            raw_times.append(time.perf_counter() - t0)

        def client_call() -> None:
            t0 = time.perf_counter()
            svc.run("hello bench")
            client_times.append(time.perf_counter() - t0)

        for i in range(args.n):  # interleaved, alternating which goes first
            for call in ((bare_call, client_call) if i % 2 == 0 else (client_call, bare_call)):
                call()
        overhead = statistics.median(client_times) - statistics.median(raw_times)
        rows.append(["run: bare requests.Session p50/p99", f"{percentile(raw_times, 50) * 1e3:.1f} / "
                     f"{percentile(raw_times, 99) * 1e3:.1f} ms", ""])
        rows.append(["run: Service.run p50/p99", f"{percentile(client_times, 50) * 1e3:.1f} / "
                     f"{percentile(client_times, 99) * 1e3:.1f} ms", ""])
        rows.append(["run: client overhead (p50 diff)", f"{overhead * 1e3:.1f} ms",
                     "ok" if overhead < 0.005 else "MISSED (< 5 ms)"])

        items = [f"item {i}" for i in range(args.n)]
        t0 = time.perf_counter()
        batch = svc.map(items, concurrency=4, progress=False)
        wall = time.perf_counter() - t0
        sequential = statistics.median(client_times) * len(items)
        rows.append([f"map: {len(items)} calls, concurrency 4", f"{wall:.2f} s ({len(items) / wall:.0f}/s)",
                     "ok" if batch.ok and wall < sequential else f"MISSED (< {sequential:.2f} s)"])

        [pipe] = cluster.apply({"name": "bench-async", "image": "local/upper",
                                "script": 'tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"',
                                "input": [{"storage_provider": "minio.default", "path": "bench-async/in"}],
                                "output": [{"storage_provider": "minio.default", "path": "bench-async/out"}]})
        inputs = {f"f{i:03d}.txt": f"file {i}" for i in range(args.files)}
        t0 = time.perf_counter()
        result = pipe.submit(inputs, timeout=120, progress=False)
        wall = time.perf_counter() - t0
        matched = sum(1 for item in result if item.ok and item.result.text == inputs[item.name].upper())
        rows.append([f"submit: {args.files} files, outputs matched", f"{wall:.2f} s ({matched}/{args.files})",
                     "ok" if wall < 10 and matched == args.files else "MISSED (< 10 s, all matched)"])
    finally:
        handle.stop()
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"{'measure':<{width}}  {'value':<{vwidth}}  goal")
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:<{vwidth}}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
