"""A 400 MB stdout flood, sync and async: the server's memory stays bounded and it keeps the end.

Before the output was streamed to capped files, 400 MB on stdout grew
oscar-local to 3.2 GB (928 MB still held afterwards) and an async job's log
went whole into one SQLite row. Here the resident memory of the oscar-local
process is sampled every 50 ms during each flood; the peak growth over the
memory before it must stay under ``RSS_GROWTH_LIMIT``.
"""
from __future__ import annotations

import threading
import time

import psutil
import pytest
import requests

from .figures import report
from .oscar_process import OscarLocalProcess

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(900)]

FLOOD = 400 * 1000 * 1000
RSS_GROWTH_LIMIT = 128 * 1024 * 1024
SCRIPT = f"yes 'a line of a flood of output, sixty-four bytes long, again.....' | head -c {FLOOD}; echo; echo FLOOD-END"


class PeakRss:
    """Samples a process's RSS on a thread until stopped; ``peak`` in bytes."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _deploy(proc: OscarLocalProcess, name: str) -> dict:
    resp = requests.post(proc.endpoint + "/system/services", auth=proc.auth, timeout=60,
                         json={"name": name, "image": "alpine", "script": SCRIPT, "log_level": "CRITICAL"})
    assert resp.status_code == 201, resp.text
    return requests.get(f"{proc.endpoint}/system/services/{name}", auth=proc.auth, timeout=30).json()


def test_a_400_mb_sync_flood(oscar_process: OscarLocalProcess) -> None:
    svc = _deploy(oscar_process, "flood-sync")
    before = oscar_process.rss()
    t0 = time.monotonic()
    with PeakRss(oscar_process.pid) as rss:
        resp = requests.post(f"{oscar_process.endpoint}/run/flood-sync", stream=True, timeout=600,
                             headers={"Authorization": f"Bearer {svc['token']}"})
        size, tail = 0, b""
        for block in resp.iter_content(1 << 16):
            size += len(block)
            tail = (tail + block)[-100:]
    growth = rss.peak - before
    report("400 MB stdout flood, sync", seconds=time.monotonic() - t0, body_mb=size / 1e6,
           rss_before_mb=before / 1e6, peak_growth_mb=growth / 1e6,
           after_growth_mb=(oscar_process.rss() - before) / 1e6)
    assert resp.status_code == 200
    assert tail.endswith(b"FLOOD-END\n\n")
    assert b"bytes of this output were cut" in requests.post(
        f"{oscar_process.endpoint}/run/flood-sync", timeout=600,
        headers={"Authorization": f"Bearer {svc['token']}"}).content[:2000]
    assert growth < RSS_GROWTH_LIMIT


def test_a_400_mb_job_log(oscar_process: OscarLocalProcess) -> None:
    svc = _deploy(oscar_process, "flood-job")
    before = oscar_process.rss()
    t0 = time.monotonic()
    with PeakRss(oscar_process.pid) as rss:
        resp = requests.post(f"{oscar_process.endpoint}/job/flood-job", data=b"{}", timeout=60,
                             headers={"Authorization": f"Bearer {svc['token']}"})
        assert resp.status_code == 201
        deadline = time.monotonic() + 600
        while True:
            jobs = requests.get(f"{oscar_process.endpoint}/system/logs/flood-job", auth=oscar_process.auth,
                                timeout=30).json()
            table = jobs.get("jobs", jobs)
            name, info = next(iter(table.items()))
            if info["status"] in ("Succeeded", "Failed"):
                break
            assert time.monotonic() < deadline
            time.sleep(0.5)
    log = requests.get(f"{oscar_process.endpoint}/system/logs/flood-job/{name}", auth=oscar_process.auth,
                       timeout=60).text
    growth = rss.peak - before
    report("400 MB stdout flood, async job", seconds=time.monotonic() - t0, log_mb=len(log) / 1e6,
           peak_growth_mb=growth / 1e6)
    assert info["status"] == "Succeeded"
    assert log.rstrip().endswith("FLOOD-END") and "bytes of this output were cut" in log
    assert len(log) < 11 * 1024 * 1024
    assert growth < RSS_GROWTH_LIMIT
