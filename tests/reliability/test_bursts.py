"""Bursts: 500 uploads at once, and a burst across three services with different CPU requests.

1. 500 objects put in parallel (5 of them multipart) into one input folder
   give exactly 500 jobs, all Succeeded, and 500 outputs with the inputs' bytes.
2. 3 services asking 0.25, 0.5 and 1.0 CPU share a 2-core budget: every script
   stamps its start and end; at no instant do the running scripts ask for more
   than the budget (scripts run inside their jobs' windows, so this bounds the
   jobs too), while the budget is actually used in parallel.
"""
from __future__ import annotations

import collections
import hashlib
import io
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import pytest
import requests

from .figures import report
from .jobs_view import jobs, s3_client, wait_for
from .oscar_process import OscarLocalProcess, wait_gone

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(420)]

BUDGET = 2.0
UPLOADS = 500
MULTIPART = 5
PART = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OscarLocalProcess]:
    proc = OscarLocalProcess(str(tmp_path_factory.mktemp("bursts")), uuid.uuid4().hex, cores=BUDGET).start()
    try:
        yield proc
    finally:
        below = proc.descendants()
        proc.stop()
        wait_gone(below, 15)


def _create(cluster: OscarLocalProcess, name: str, script: str, cpu: str) -> None:
    spec = {"name": name, "image": "alpine", "script": script, "cpu": cpu,
            "input": [{"storage_provider": "minio.default", "path": f"{name}/in"}],
            "output": [{"storage_provider": "minio.default", "path": f"{name}/out"}]}
    resp = requests.post(cluster.endpoint + "/system/services", json=spec, auth=cluster.auth, timeout=60)
    assert resp.status_code == 201, resp.text


def test_burst_of_500_uploads(cluster: OscarLocalProcess) -> None:
    name = "burst-copy"
    _create(cluster, name, 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"\n', "0.1")
    s3 = s3_client(cluster.endpoint, cluster.auth)
    digests = {}
    for i in range(UPLOADS):
        data = (b"%d " % i) * (PART // 4 + 1) if i < MULTIPART else f"object {i} {uuid.uuid4().hex}".encode()
        digests[f"obj-{i:04d}.bin"] = (len(data), hashlib.md5(data).hexdigest(), data)

    def put(key: str) -> None:
        size, _, data = digests[key]
        s3.put_object(name, f"in/{key}", io.BytesIO(data), size, part_size=PART)

    t0 = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(put, sorted(digests)))
    upload_seconds = time.monotonic() - t0

    def all_finished() -> bool:
        statuses = collections.Counter(j["status"] for j in jobs(cluster.endpoint, cluster.auth, name).values())
        return statuses["Succeeded"] + statuses["Failed"] >= UPLOADS

    wait_for(all_finished, 300, f"{UPLOADS} jobs to finish", interval=1.0)
    total_seconds = time.monotonic() - t0
    time.sleep(2)  # a duplicate job would show up now
    found = jobs(cluster.endpoint, cluster.auth, name)
    statuses = collections.Counter(j["status"] for j in found.values())
    assert len(found) == UPLOADS and statuses == {"Succeeded": UPLOADS}, statuses

    outputs = {o.object_name[len("out/"):]: o for o in s3.list_objects(name, prefix="out/", recursive=True)
               if o.object_name != "out/"}  # the folder marker
    assert sorted(outputs) == sorted(digests), (len(outputs), sorted(set(digests) ^ set(outputs))[:5])
    for key, (size, md5, _) in digests.items():
        assert outputs[key].size == size, key
        if size >= PART:  # read the big ones back whole
            assert hashlib.md5(s3.get_object(name, f"out/{key}").read()).hexdigest() == md5, key
    report("burst of uploads", uploads=UPLOADS, multipart=MULTIPART, upload_s=upload_seconds,
           all_jobs_done_s=total_seconds, jobs_per_s=UPLOADS / total_seconds, statuses=dict(statuses))


STAMP = ('s=$(date +%s.%N); sleep 0.3; e=$(date +%s.%N); '
         'echo "$s $e" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"\n')


def test_burst_across_services_respects_cpu_budget(cluster: OscarLocalProcess) -> None:
    cpus = {"budget-quarter": 0.25, "budget-half": 0.5, "budget-one": 1.0}
    per_service = 30
    for name, cpu in cpus.items():
        _create(cluster, name, STAMP, str(cpu))
    s3 = s3_client(cluster.endpoint, cluster.auth)
    keys = [(name, f"in/f-{i:03d}") for i in range(per_service) for name in cpus]

    t0 = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda nk: s3.put_object(nk[0], nk[1], io.BytesIO(b"x"), 1), keys))

    def done() -> bool:
        return all(sum(j["status"] in ("Succeeded", "Failed") for j in jobs(cluster.endpoint, cluster.auth,
                                                                            n).values()) >= per_service
                   for n in cpus)

    wait_for(done, 240, "the three services' jobs", interval=1.0)
    seconds = time.monotonic() - t0
    events = []
    for name, cpu in cpus.items():
        found = jobs(cluster.endpoint, cluster.auth, name)
        assert len(found) == per_service and all(j["status"] == "Succeeded" for j in found.values()), found
        outs = [o for o in s3.list_objects(name, prefix="out/", recursive=True) if o.object_name != "out/"]
        assert len(outs) == per_service
        for obj in outs:
            start, end = map(float, s3.get_object(name, obj.object_name).read().split())
            events += [(start, 1, cpu), (end, 0, -cpu)]
    events.sort()  # at equal times an end (0) comes before a start (1)
    running = peak = 0.0
    count = peak_count = 0
    for _, kind, delta in events:
        running += delta
        count += 1 if kind else -1
        peak = max(peak, running)
        peak_count = max(peak_count, count)
    work = per_service * 0.3 * sum(cpus.values())
    report("cpu budget", budget=BUDGET, jobs=len(events) // 2, peak_cpu=peak, peak_running=peak_count,
           wall_s=seconds, ideal_s=work / BUDGET)
    assert peak <= BUDGET + 1e-9, f"scripts asking {peak} CPU ran at once on a budget of {BUDGET}"
    assert peak >= 1.5, f"the budget was hardly used in parallel (peak {peak} CPU of {BUDGET})"
