"""``python -m bench``: oscar-local's overheads, measured on this machine, printed as a table.

1. Synchronous overhead: the same trivial script run N times directly with
   ``/bin/sh`` and N times through ``POST /run`` on oscar-local, interleaved in
   one run so both see the same machine load; p50/p99 of each and their ratio.
2. Upload-to-job-start latency: objects put one at a time into a service's
   input folder; the time from starting the upload to the script's first
   instruction (the script records ``date +%s.%N``), p50/p99.

The default run takes well under a minute.
"""
from __future__ import annotations

import argparse
import base64
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Sequence

import requests
from minio import Minio

SYNC_SCRIPT = 'cat "$INPUT_FILE_PATH"\n'
STAMP_SCRIPT = 'date +%s.%N > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH").t"\n'


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def bench_sync(endpoint: str, auth: tuple[str, str], n: int, workdir: str) -> tuple[list[float], list[float]]:
    """Interleaved direct /bin/sh runs and /run calls; seconds per call for each."""
    svc = {"name": "bench-sync", "image": "alpine", "script": SYNC_SCRIPT, "log_level": "CRITICAL",
           "synchronous": {"min_scale": 1, "max_scale": 1}}
    requests.post(endpoint + "/system/services", json=svc, auth=auth, timeout=60).raise_for_status()
    token = requests.get(endpoint + "/system/services/bench-sync", auth=auth, timeout=30).json()["token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    payload = b"hello from the benchmark\n"
    body = base64.b64encode(payload)
    script = os.path.join(workdir, "script.sh")
    with open(script, "w") as fh:
        fh.write(SYNC_SCRIPT)
    infile = os.path.join(workdir, "input")
    with open(infile, "wb") as fh:
        fh.write(payload)
    env = dict(os.environ, INPUT_FILE_PATH=infile)
    for _ in range(5):  # warm both paths
        session.post(f"{endpoint}/run/bench-sync", data=body, timeout=60)
        subprocess.run(["/bin/sh", script], env=env, capture_output=True, check=True)
    direct: list[float] = []
    served: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        out = subprocess.run(["/bin/sh", script], env=env, capture_output=True, check=True).stdout
        direct.append(time.perf_counter() - t0)
        assert out == payload
        t0 = time.perf_counter()
        resp = session.post(f"{endpoint}/run/bench-sync", data=body, timeout=60)
        served.append(time.perf_counter() - t0)
        if resp.status_code != 200 or resp.headers.get("X-Oscar-Exit-Code") != "0":
            raise RuntimeError(f"/run answered {resp.status_code}: {resp.text[:200]}")
    session.close()
    return direct, served


def bench_uploads(endpoint: str, auth: tuple[str, str], n: int, gap: float) -> list[float]:
    """Seconds from starting each upload to its job's script starting."""
    svc = {"name": "bench-async", "image": "alpine", "script": STAMP_SCRIPT, "cpu": "0.1",
           "input": [{"storage_provider": "minio.default", "path": "bench-async/in"}],
           "output": [{"storage_provider": "minio.default", "path": "bench-async/out"}]}
    requests.post(endpoint + "/system/services", json=svc, auth=auth, timeout=60).raise_for_status()
    provider = requests.get(endpoint + "/system/config", auth=auth, timeout=30).json()["minio_provider"]
    s3 = Minio(provider["endpoint"].split("://", 1)[1], access_key=provider["access_key"],
               secret_key=provider["secret_key"], secure=provider["endpoint"].startswith("https"))
    started: dict[str, float] = {}
    for i in range(n):
        key = f"in/obj-{i:04d}"
        started[f"out/obj-{i:04d}.t"] = time.time()
        s3.put_object("bench-async", key, io.BytesIO(b"x"), 1)
        time.sleep(gap)
    deadline = time.monotonic() + 120
    latencies: list[float] = []
    pending = set(started)
    while pending and time.monotonic() < deadline:
        for obj in s3.list_objects("bench-async", prefix="out/", recursive=True):
            if obj.object_name in pending:
                stamp = float(s3.get_object("bench-async", obj.object_name).read().decode().strip())
                latencies.append(stamp - started[obj.object_name])
                pending.discard(obj.object_name)
        if pending:
            time.sleep(0.2)
    if pending:
        raise RuntimeError(f"{len(pending)} upload(s) never produced a job output")
    return latencies


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sync", type=int, default=200, help="synchronous calls per path (default: %(default)s)")
    parser.add_argument("--uploads", type=int, default=40, help="uploads to time (default: %(default)s)")
    parser.add_argument("--gap", type=float, default=0.15, help="seconds between uploads (default: %(default)s)")
    args = parser.parse_args(argv)

    from oscar_jupyter import local

    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="oscar-bench-") as tmp:
        t0 = time.perf_counter()
        cluster = local.start(data_dir=os.path.join(tmp, "data"), port=0, password="bench-password")
        startup = time.perf_counter() - t0
        try:
            auth = (cluster.user, cluster.password)
            direct, served = bench_sync(cluster.endpoint, auth, args.sync, tmp)
            uploads = bench_uploads(cluster.endpoint, auth, args.uploads, args.gap)
        finally:
            cluster.stop()

    ms = 1000.0
    rows = [
        ("/bin/sh direct (same script)", len(direct), percentile(direct, 50) * ms, percentile(direct, 99) * ms),
        ("oscar-local POST /run", len(served), percentile(served, 50) * ms, percentile(served, 99) * ms),
        ("upload -> job script start", len(uploads), percentile(uploads, 50) * ms, percentile(uploads, 99) * ms),
    ]
    print(f"oscar-local benchmark ({os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"start-up {startup:.2f} s)")
    print(f"{'measure':<32} {'n':>5} {'p50 ms':>9} {'p99 ms':>9}")
    print("-" * 58)
    for name, n, p50, p99 in rows:
        print(f"{name:<32} {n:>5} {p50:>9.1f} {p99:>9.1f}")
    print("-" * 58)
    ratio50 = percentile(served, 50) / percentile(direct, 50)
    ratio99 = percentile(served, 99) / percentile(direct, 99)
    extra = (statistics.median(served) - statistics.median(direct)) * ms
    print(f"{'/run over direct, ratio':<32} {'':>5} {ratio50:>8.2f}x {ratio99:>8.2f}x")
    print(f"{'/run over direct, added p50 ms':<32} {'':>5} {extra:>9.1f}")
    print(f"total {time.perf_counter() - t_all:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
