"""Load: 2,000 synchronous /run calls at concurrency 32, through the public client and through raw requests.

Every request carries a unique payload that the service echoes (the
supervisor ends a body with a newline), so a lost,
duplicated or crossed response is seen. Only documented 503s (queue timeout,
with ``Retry-After``) may appear besides 200. The resident memory and the
open file descriptors of the oscar-local process are measured after a
warm-up and after the load.
"""
from __future__ import annotations

import base64
import collections
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests

from .figures import report
from .oscar_process import OscarLocalProcess

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(600)]

CALLS = 2000
CONCURRENCY = 32
WARM_UP = 200
# Growth allowed over 2 x 2,000 calls after a warm-up: a leak of even 8 KiB
# per request (job records, buffers, futures kept) would exceed it.
MEMORY_GROWTH_LIMIT = 32 * 1024 * 1024


@pytest.fixture(scope="module")
def echo(oscar_process: OscarLocalProcess) -> dict:
    """An echo service, max_scale 0 (cores x 4 slots), no supervisor lines in the body."""
    spec = {"name": "load-echo", "image": "alpine", "script": 'cat "$INPUT_FILE_PATH"\n',
            "log_level": "CRITICAL", "synchronous": {"min_scale": 0, "max_scale": 0}}
    resp = requests.post(oscar_process.endpoint + "/system/services", json=spec, auth=oscar_process.auth, timeout=60)
    assert resp.status_code == 201, resp.text
    return requests.get(oscar_process.endpoint + "/system/services/load-echo", auth=oscar_process.auth,
                        timeout=30).json()


def _raw_load(endpoint: str, token: str, n: int) -> tuple:
    """n calls with unique payloads over 32 threads (one session each); (statuses, mismatches, seconds)."""
    local = threading.local()
    statuses: collections.Counter = collections.Counter()
    answers: collections.Counter = collections.Counter()
    mismatches: list = []
    lock = threading.Lock()

    def call(i: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
        payload = f"raw-{i}-{uuid.uuid4().hex}"
        resp = session.post(f"{endpoint}/run/load-echo", data=base64.b64encode(payload.encode()), timeout=120)
        with lock:
            statuses[resp.status_code] += 1
            if resp.status_code == 503:
                assert resp.headers.get("Retry-After"), "a 503 without Retry-After is not the documented queue 503"
                return
            answers[resp.text] += 1
            if resp.status_code != 200 or resp.text != payload + "\n" or resp.headers.get("X-Oscar-Exit-Code") != "0":
                mismatches.append((i, resp.status_code, resp.text[:80], payload))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(call, range(n)))
    duplicates = [text for text, count in answers.items() if count > 1]
    return statuses, mismatches, duplicates, time.perf_counter() - t0


def test_sync_load_raw_and_client(oscar_process: OscarLocalProcess, echo: dict) -> None:
    import oscar_jupyter as oj

    token = echo["token"]
    statuses, mismatches, _, _ = _raw_load(oscar_process.endpoint, token, WARM_UP)
    assert not mismatches and set(statuses) == {200}, (statuses, mismatches[:5])
    rss_before = oscar_process.rss()
    fds_before = psutil.Process(oscar_process.pid).num_fds()

    # raw requests
    statuses, mismatches, duplicates, raw_seconds = _raw_load(oscar_process.endpoint, token, CALLS)
    assert not mismatches, f"{len(mismatches)} wrong answers, first: {mismatches[:3]}"
    assert not duplicates
    assert set(statuses) <= {200, 503}, statuses
    assert sum(statuses.values()) == CALLS
    rss_mid = oscar_process.rss()

    # the public client: Service.map at concurrency 32
    cluster = oj.connect(oscar_process.endpoint, user=oscar_process.user, password=oscar_process.password,
                         id="reliability-load")
    try:
        svc = cluster.service("load-echo")
        items = [f"client-{i}-{uuid.uuid4().hex}" for i in range(CALLS)]
        t0 = time.perf_counter()
        batch = svc.map(items, concurrency=CONCURRENCY, progress=False, timeout=120)
        client_seconds = time.perf_counter() - t0
    finally:
        oj.disconnect("reliability-load")
    assert len(batch) == CALLS
    errors = [(item.name, item.error) for item in batch if item.error is not None]
    assert not errors, f"{len(errors)} client calls failed, first: {errors[:3]}"
    wrong = [(item.input, item.result.text) for item in batch if item.result.text.rstrip("\n") != item.input]
    assert not wrong, f"{len(wrong)} answers do not match their input, first: {wrong[:3]}"
    assert len({item.result.text.rstrip("\n") for item in batch}) == CALLS

    rss_after = oscar_process.rss()
    fds_after = psutil.Process(oscar_process.pid).num_fds()
    growth = rss_after - rss_before
    report("sync load", calls=2 * CALLS, concurrency=CONCURRENCY,
           raw_calls_per_s=CALLS / raw_seconds, client_calls_per_s=CALLS / client_seconds,
           status_counts=dict(statuses), rss_before_mib=rss_before / 2**20, rss_mid_mib=rss_mid / 2**20,
           rss_after_mib=rss_after / 2**20, rss_growth_mib=growth / 2**20, fds_before=fds_before,
           fds_after=fds_after)
    assert growth < MEMORY_GROWTH_LIMIT, f"oscar-local grew by {growth / 2**20:.1f} MiB over {2 * CALLS} calls"
    # idle keep-alive connections of the 32 + 32 client threads may still be open; a leak of one
    # descriptor per call would be thousands
    assert fds_after - fds_before < 100, f"open descriptors went from {fds_before} to {fds_after}"
    assert requests.get(oscar_process.endpoint + "/health", timeout=10).status_code == 200
