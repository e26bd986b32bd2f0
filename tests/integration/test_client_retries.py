"""Retries on /run: a busy oscar-local answers 503 + Retry-After (as a cold-starting cluster
answers 502/503/504); the client backs off and gets the answer without the caller seeing it."""
from __future__ import annotations

import threading

import pytest
from urllib3.util.retry import Retry

import oscar_jupyter as oj
from oscar_jupyter import errors, local


@pytest.fixture(scope="module")
def busy_cluster(tmp_path_factory):
    handle = local.start(data_dir=str(tmp_path_factory.mktemp("busy")), port=0,
                         password="busy-pass-123456", queue_timeout=0.3, sync_timeout=2.0)
    yield handle
    handle.stop()


def test_503_while_busy_is_retried(busy_cluster):
    c = oj.connect(busy_cluster.endpoint, user=busy_cluster.user, password=busy_cluster.password, id="busy")
    [svc] = c.apply({"name": "one-at-a-time", "image": "x", "script": "sleep 1; echo done",
                     "synchronous": {"min_scale": 0, "max_scale": 1}})
    results = []

    def call() -> None:
        results.append(svc.run("x").text.strip())

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == ["done", "done"]  # the second one was refused (503) at least once, then retried

    # without retries the same situation surfaces as a typed error that says what to do
    strict = oj.connect(busy_cluster.endpoint, user=busy_cluster.user, password=busy_cluster.password,
                        id="busy-strict", run_retry=Retry(0, raise_on_status=False))
    svc2 = strict.service("one-at-a-time")
    errors_seen = []

    def call_strict() -> None:
        try:
            svc2.run("x")
        except errors.OscarError as exc:
            errors_seen.append(exc)

    threads = [threading.Thread(target=call_strict) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(errors_seen) == 1 and isinstance(errors_seen[0], errors.APIError)
    assert errors_seen[0].status == 503 and "try again" in str(errors_seen[0])
    oj.disconnect(c)
    oj.disconnect(strict)


def test_a_script_out_of_time_is_not_run_again(busy_cluster):
    c = oj.connect(busy_cluster.endpoint, user=busy_cluster.user, password=busy_cluster.password,
                   id="busy-timeout")
    [svc] = c.apply({"name": "too-slow", "image": "x", "script": "sleep 5"})
    try:
        with pytest.raises(errors.Timeout, match="504"):
            svc.run("x")
        # the Manager's execution log has one line per POST /run: the 504 was not retried
        calls = [e for e in c.get_json("/system/logs", what="logs")["logs"] if e["path"] == "/run/too-slow"]
        assert [e["status"] for e in calls] == [504]
    finally:
        c.delete("too-slow")
        oj.disconnect(c)
