"""oscar-local's own figures: sync /run overhead, upload-to-job-start latency, warm-slot first request.

1. The same trivial script run directly with ``/bin/sh`` and through
   ``POST /run``, interleaved so both see the same machine load.
2. Objects put one at a time into a service's input folder; the time from
   starting the upload to the script's first instruction (the script records
   ``date +%s.%N``).
3. The first request to a freshly created service with ``min_scale: 1`` (a
   slot prepared ahead) against ``min_scale: 0``, alternating.
"""
from __future__ import annotations

import base64
import io
import os
import statistics
import subprocess
import time
from typing import List, Tuple

import requests
from minio import Minio

SYNC_SCRIPT = 'cat "$INPUT_FILE_PATH"\n'
STAMP_SCRIPT = 'date +%s.%N > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH").t"\n'


def sync_overhead(endpoint: str, auth: Tuple[str, str], n: int, workdir: str) -> Tuple[List[float], List[float]]:
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
    direct: List[float] = []
    served: List[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        out = subprocess.run(["/bin/sh", script], env=env, capture_output=True, check=True).stdout
        direct.append(time.perf_counter() - t0)
        if out != payload:
            raise RuntimeError(f"/bin/sh printed {out!r}")
        t0 = time.perf_counter()
        resp = session.post(f"{endpoint}/run/bench-sync", data=body, timeout=60)
        served.append(time.perf_counter() - t0)
        if resp.status_code != 200 or resp.headers.get("X-Oscar-Exit-Code") != "0":
            raise RuntimeError(f"/run answered {resp.status_code}: {resp.text[:200]}")
    session.close()
    return direct, served


def upload_latency(endpoint: str, auth: Tuple[str, str], n: int, gap: float) -> List[float]:
    """Seconds from starting each upload to its job's script starting."""
    svc = {"name": "bench-async", "image": "alpine", "script": STAMP_SCRIPT, "cpu": "0.1",
           "input": [{"storage_provider": "minio.default", "path": "bench-async/in"}],
           "output": [{"storage_provider": "minio.default", "path": "bench-async/out"}]}
    requests.post(endpoint + "/system/services", json=svc, auth=auth, timeout=60).raise_for_status()
    provider = requests.get(endpoint + "/system/config", auth=auth, timeout=30).json()["minio_provider"]
    s3 = Minio(provider["endpoint"].split("://", 1)[1], access_key=provider["access_key"],
               secret_key=provider["secret_key"], secure=provider["endpoint"].startswith("https"))
    started = {}
    for i in range(n):
        started[f"out/obj-{i:04d}.t"] = time.time()
        s3.put_object("bench-async", f"in/obj-{i:04d}", io.BytesIO(b"x"), 1)
        time.sleep(gap)
    deadline = time.monotonic() + 120
    latencies: List[float] = []
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


def first_requests(endpoint: str, auth: Tuple[str, str], n: int, settle: float = 0.5
                   ) -> Tuple[List[float], List[float]]:
    """First-request seconds of fresh services with min_scale 0 and min_scale 1 (alternating order)."""
    cold: List[float] = []
    warm: List[float] = []
    session = requests.Session()
    for i in range(n):
        tokens = {}
        for min_scale in (0, 1):
            name = f"bench-first-{min_scale}-{i}"
            svc = {"name": name, "image": "alpine", "script": "echo ok\n", "log_level": "CRITICAL",
                   "synchronous": {"min_scale": min_scale, "max_scale": 1}}
            session.post(endpoint + "/system/services", json=svc, auth=auth, timeout=60).raise_for_status()
            tokens[min_scale] = session.get(f"{endpoint}/system/services/{name}", auth=auth, timeout=30).json()["token"]
        time.sleep(settle)  # the same pause for both: time for a warm slot to be prepared
        for min_scale in ((0, 1) if i % 2 == 0 else (1, 0)):
            t0 = time.perf_counter()
            resp = session.post(f"{endpoint}/run/bench-first-{min_scale}-{i}", data=b"", timeout=60,
                                headers={"Authorization": f"Bearer {tokens[min_scale]}"})
            (warm if min_scale else cold).append(time.perf_counter() - t0)
            if resp.status_code != 200:
                raise RuntimeError(f"/run answered {resp.status_code}: {resp.text[:200]}")
        for min_scale in (0, 1):
            session.delete(f"{endpoint}/system/services/bench-first-{min_scale}-{i}", auth=auth, timeout=60)
    session.close()
    return cold, warm


def ratio_of_medians(measured: List[float], baseline: List[float]) -> float:
    return statistics.median(measured) / statistics.median(baseline)
