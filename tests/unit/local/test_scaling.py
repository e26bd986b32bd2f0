"""Sync executors (max_scale queue, warm slots, reaping) and the CPU-budget job scheduler."""
from __future__ import annotations

import asyncio
import base64
import os
import time
from typing import Any, Dict, List, Tuple

import psutil
import pytest

from oscar_jupyter.local.scaling import (Admission, JobScheduler, QueueTimeout, SyncExecutor,
                                         parse_cpu)


def service(script: str, max_scale: int = 0, min_scale: int = 0, **extra: Any) -> Dict[str, Any]:
    svc = {"name": "sc", "image": "x", "script": script, "log_level": "CRITICAL",
           "synchronous": {"max_scale": max_scale, "min_scale": min_scale}}
    svc.update(extra)
    return svc


async def until(condition: Any, timeout: float = 5.0) -> None:
    """Wait until `condition()` is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def b64(text: str) -> bytes:
    return base64.b64encode(text.encode())


def test_max_scale_runs_one_at_a_time_in_arrival_order(tmp_path) -> None:
    trace = tmp_path / "trace"
    script = f'n=$(cat "$INPUT_FILE_PATH"); echo "start $n" >> {trace}; sleep 0.3; echo "end $n" >> {trace}'

    async def main() -> None:
        ex = SyncExecutor(service(script, max_scale=1), None, queue_timeout=30)
        tasks = []
        for i in range(5):
            tasks.append(asyncio.create_task(ex.run(b64(str(i)))))
            await asyncio.sleep(0.01)
        assert ex.running == 1 and ex.queued == 4
        outcomes = await asyncio.gather(*tasks)
        assert all(o.exit_code == 0 for o in outcomes)
        await ex.close()

    asyncio.run(main())
    expected = [line for i in range(5) for line in (f"start {i}", f"end {i}")]
    assert trace.read_text().split("\n")[:-1] == expected


def test_max_scale_two_overlaps_two(tmp_path) -> None:
    trace = tmp_path / "trace"

    async def main() -> None:
        ex = SyncExecutor(service(f"echo s >> {trace}; sleep 0.3; echo e >> {trace}", max_scale=2), None)
        await asyncio.gather(*(ex.run(b"") for _ in range(5)))
        await ex.close()

    asyncio.run(main())
    depth, deepest = 0, 0
    for mark in trace.read_text().split():
        depth += 1 if mark == "s" else -1
        deepest = max(deepest, depth)
    assert deepest == 2


def test_queue_timeout_has_a_clear_message() -> None:
    async def main() -> None:
        ex = SyncExecutor(service("sleep 1", max_scale=1), None, queue_timeout=0.3)
        first = asyncio.create_task(ex.run(b""))
        await asyncio.sleep(0.05)
        with pytest.raises(QueueTimeout) as err:
            await ex.run(b"")
        message = str(err.value)
        assert "'sc'" in message and "max_scale" in message and "0.3 s" in message
        assert ex.queued == 0  # the request that gave up left the line
        assert (await first).exit_code == 0
        await ex.close()

    asyncio.run(main())


def test_min_scale_keeps_a_prepared_slot_that_the_first_request_uses(tmp_path) -> None:
    async def main() -> None:
        ex = SyncExecutor(service("echo warm", min_scale=2), None, work_dir=str(tmp_path))
        await until(lambda: ex.pool.ready == 2)
        assert len(list(tmp_path.iterdir())) == 2
        out = await ex.run(b"")
        assert out.warm and out.body == b"warm\n\n" and out.timings["prepare"] == 0.0
        assert ex.warm_hits == 1
        assert ex.stats()["warm_hits"] == 1 and ex.stats()["min_scale"] == 2
        await until(lambda: ex.pool.ready >= 2)  # refilled
        await ex.close()
        # prepared slots are cleaned up; the answer stays beside them until its Outcome goes
        assert [p.name for p in tmp_path.iterdir()] == [os.path.basename(out.body_file)]

    asyncio.run(main())


def test_without_min_scale_the_first_request_prepares_its_own_slot() -> None:
    async def main() -> None:
        ex = SyncExecutor(service("true"), None)
        await asyncio.sleep(0.1)
        assert ex.pool.ready == 0
        out = await ex.run(b"")
        assert not out.warm and out.timings["prepare"] > 0
        await ex.close()

    asyncio.run(main())


def test_extra_slots_after_a_burst_are_reaped_when_idle(tmp_path) -> None:
    async def main() -> None:
        ex = SyncExecutor(service("sleep 0.2", max_scale=3, min_scale=1), None,
                          idle_timeout=1.0, work_dir=str(tmp_path))
        await asyncio.gather(*(ex.run(b"") for _ in range(3)))
        await until(lambda: ex.pool.ready == 3, 0.9)
        deadline = time.monotonic() + 5
        while ex.pool.ready > 1:
            assert time.monotonic() < deadline, "idle slots were not reaped"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert ex.pool.ready == 1  # min_scale stays
        await ex.close()

    asyncio.run(main())


def test_update_uses_the_new_definition_and_rebuilds_slots() -> None:
    async def main() -> None:
        ex = SyncExecutor(service("echo v1", min_scale=1, max_scale=1), None)
        await until(lambda: ex.pool.ready == 1)
        assert (await ex.run(b"")).body == b"v1\n\n"
        await until(lambda: ex.pool.ready == 1)
        ex.update(service("echo v2", min_scale=1, max_scale=3))
        assert ex.limit == 3 and ex.pool.ready == 0  # the v1 slot is gone
        await until(lambda: ex.pool.ready == 1)
        out = await ex.run(b"")
        assert out.body == b"v2\n\n" and out.warm
        await ex.close()

    asyncio.run(main())


def test_cancelled_request_kills_its_script(tmp_path) -> None:
    pidfile = tmp_path / "pid"

    async def main() -> None:
        ex = SyncExecutor(service(f"echo $$ > {pidfile}; sleep 30", max_scale=1), None)
        task = asyncio.create_task(ex.run(b""))
        for _ in range(100):
            if pidfile.exists() and pidfile.read_text().strip():
                break
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ex.running == 0
        pid = int(pidfile.read_text())
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        await ex.close()

    asyncio.run(main())


def test_closed_executor_refuses_and_fails_the_queue() -> None:
    async def main() -> None:
        ex = SyncExecutor(service("sleep 0.5", max_scale=1), None)
        first = asyncio.create_task(ex.run(b""))
        await asyncio.sleep(0.05)
        queued = asyncio.create_task(ex.run(b""))
        await asyncio.sleep(0.05)
        await ex.close()
        with pytest.raises(QueueTimeout, match="shutting down"):
            await queued
        with pytest.raises(QueueTimeout):
            await ex.run(b"")
        await asyncio.gather(first, return_exceptions=True)

    asyncio.run(main())


def _recorder() -> Tuple[List[Tuple[float, str, str]], Any]:
    events: List[Tuple[float, str, str]] = []

    def on_status(status: str, when: float, job: str) -> None:
        events.append((when, job, status))

    return events, on_status


def test_jobs_wait_pending_while_the_cpu_budget_is_full() -> None:
    async def main() -> List[Tuple[float, str, str]]:
        scheduler = JobScheduler(2)
        events, on_status = _recorder()
        svc = service("sleep 0.4", cpu="1")
        jobs = [asyncio.create_task(scheduler.submit(svc, b"", f"j{i}", on_status)) for i in range(3)]
        await asyncio.sleep(0.2)
        assert scheduler.stats() == {"cores": 2.0, "cpu_in_use": 2.0, "running": 2, "pending": 1}
        outcomes = await asyncio.gather(*jobs)
        assert all(o.ok for o in outcomes)
        await scheduler.close()
        return events

    events = asyncio.run(main())
    status = {(job, st): when for when, job, st in events}
    assert [st for _, job, st in events if job == "j2"] == ["Pending", "Running", "Succeeded"]
    first_done = min(status[("j0", "Succeeded")], status[("j1", "Succeeded")])
    assert status[("j2", "Running")] >= first_done
    assert status[("j1", "Running")] < status[("j0", "Succeeded")]  # two ran together


def test_a_job_bigger_than_the_machine_runs_alone_in_order() -> None:
    async def main() -> List[Tuple[float, str, str]]:
        scheduler = JobScheduler(2)
        events, on_status = _recorder()
        small = asyncio.create_task(scheduler.submit(service("sleep 0.3", cpu="500m"), b"", "small1", on_status))
        await asyncio.sleep(0.05)
        big = asyncio.create_task(scheduler.submit(service("sleep 0.3", cpu=4), b"", "big", on_status))
        await asyncio.sleep(0.05)
        later = asyncio.create_task(scheduler.submit(service("sleep 0.1", cpu="0.1"), b"", "small2", on_status))
        await asyncio.gather(small, big, later)
        await scheduler.close()
        return events

    events = asyncio.run(main())
    at = {(job, st): when for when, job, st in events}
    assert at[("big", "Running")] >= at[("small1", "Succeeded")]
    assert at[("small2", "Running")] >= at[("big", "Succeeded")]  # FIFO: no overtaking


def test_job_variables_and_failure_status(tmp_path) -> None:
    async def main() -> None:
        scheduler = JobScheduler(2)
        events, on_status = _recorder()
        out = await scheduler.submit(service('echo "$JOB_UUID $EVENT"; exit 4'), b'{"k": 1}',
                                     "sc-abc", on_status)
        assert out.exit_code == 4 and out.log.startswith("sc-abc {\"k\": 1}")
        assert [st for _, _, st in events] == ["Pending", "Running", "Failed"]
        await scheduler.close()

    asyncio.run(main())


def test_shutdown_kills_jobs_after_the_grace_period(tmp_path) -> None:
    pidfile = tmp_path / "pid"

    async def main() -> None:
        scheduler = JobScheduler(1)
        events, on_status = _recorder()
        running = asyncio.create_task(scheduler.submit(
            service(f"echo $$ > {pidfile}; sleep 30", cpu=1), b"", "long", on_status))
        pending = asyncio.create_task(scheduler.submit(service("true", cpu=1), b"", "never", on_status))
        await asyncio.sleep(0.3)
        t0 = time.monotonic()
        await scheduler.close(grace=0.5)
        assert time.monotonic() - t0 < 5
        out = await running
        assert "cancelled" in out.error and not out.ok
        with pytest.raises(asyncio.CancelledError):
            await pending
        assert [st for _, job, st in events if job == "long"] == ["Pending", "Running", "Failed"]
        assert [st for _, job, st in events if job == "never"] == ["Pending"]
        pid = int(pidfile.read_text())
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    asyncio.run(main())


def test_cancelling_a_pending_job_frees_its_place() -> None:
    async def main() -> None:
        scheduler = JobScheduler(1)
        events, on_status = _recorder()
        first = asyncio.create_task(scheduler.submit(service("sleep 0.3", cpu=1), b"", "a", on_status))
        second = asyncio.create_task(scheduler.submit(service("true", cpu=1), b"", "b", on_status))
        third = asyncio.create_task(scheduler.submit(service("true", cpu=1), b"", "c", on_status))
        await asyncio.sleep(0.1)
        second.cancel()
        await asyncio.gather(first, third, second, return_exceptions=True)
        assert [st for _, job, st in events if job == "b"] == ["Pending"]
        assert [st for _, job, st in events if job == "c"][-1] == "Succeeded"
        assert scheduler.running == 0 and scheduler.pending == 0
        await scheduler.close()

    asyncio.run(main())


def test_admission_timeout_and_handover() -> None:
    async def main() -> None:
        gate = Admission(1)
        await gate.acquire()
        with pytest.raises(asyncio.TimeoutError):
            await gate.acquire(timeout=0.05)
        waiter = asyncio.create_task(gate.acquire(timeout=5))
        await asyncio.sleep(0.01)
        gate.release()
        await waiter
        assert gate.running == 1 and gate.waiting == 0

    asyncio.run(main())


def test_parse_cpu() -> None:
    assert parse_cpu("500m") == 0.5 and parse_cpu("1.0") == 1.0 and parse_cpu(2) == 2.0
    assert parse_cpu(None) == 0.2
    for bad in ("lots", "-1", "0", True):
        with pytest.raises(ValueError, match="cpu"):
            parse_cpu(bad)


def test_admission_failing_the_line_does_not_release_places() -> None:
    async def main() -> None:
        gate = Admission(1)
        await gate.acquire()
        waiters = [asyncio.create_task(gate.acquire()) for _ in range(2)]
        await asyncio.sleep(0.01)
        gate.fail_waiting(QueueTimeout("closing"))
        for waiter in waiters:
            with pytest.raises(QueueTimeout):
                await waiter
        assert gate.running == 1 and gate.used == 1.0 and gate.waiting == 0

    asyncio.run(main())


def test_admission_cancelled_as_its_ticket_is_granted_gives_its_place_back() -> None:
    """A client gone just as its turn came: the cancel must reach it (wait_for before Python 3.12
    lost it and the request ran on) and its place must go to the next in line."""
    async def main() -> None:
        gate = Admission(1)
        await gate.acquire()
        gone = asyncio.create_task(gate.acquire(timeout=5))
        after = asyncio.create_task(gate.acquire(timeout=5))
        await asyncio.sleep(0.01)
        gate.release()  # grants the ticket of `gone` in this iteration ...
        gone.cancel()   # ... as it is cancelled
        with pytest.raises(asyncio.CancelledError):
            await gone
        await asyncio.wait_for(after, 2)
        assert gate.running == 1 and gate.waiting == 0

    asyncio.run(main())
