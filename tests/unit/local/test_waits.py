"""Waiting for an event with a time limit keeps a cancellation that arrives as the event is set
(``asyncio.wait_for`` before Python 3.12 drops it; the loop below, on wait_for, runs on)."""
from __future__ import annotations

import asyncio
import contextlib

import pytest

from oscar_jupyter.local import waits


async def _control_loop(event: asyncio.Event, wait) -> None:
    while True:
        event.clear()
        await wait(event)


async def _cancelled_as_the_event_is_set(wait) -> bool:
    """Whether a loop waiting with ``wait`` ends when cancelled in the iteration its event is set."""
    event = asyncio.Event()
    task = asyncio.get_running_loop().create_task(_control_loop(event, wait))
    await asyncio.sleep(0.05)
    event.set()
    task.cancel()
    done, _ = await asyncio.wait((task,), timeout=2)
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return bool(done) and task.cancelled()


def test_a_cancel_as_the_event_is_set_ends_the_waiting_loop():
    async def with_helper(event):
        await waits.event_set(event, 1.0)

    assert asyncio.run(_cancelled_as_the_event_is_set(with_helper))


def test_the_race_is_real_where_wait_for_loses_the_cancel():
    import sys

    if sys.version_info >= (3, 12):
        pytest.skip("asyncio.wait_for keeps the cancellation from Python 3.12 on")

    async def with_wait_for(event):
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), 1.0)

    assert not asyncio.run(_cancelled_as_the_event_is_set(with_wait_for))


def test_event_set_answers_set_or_timed_out_and_leaves_no_waiter():
    async def main():
        event = asyncio.Event()
        assert await waits.event_set(event, 0.05) is False
        asyncio.get_running_loop().call_later(0.02, event.set)
        assert await waits.event_set(event, 5) is True
        assert await waits.event_set(event, 0) is True  # already set: no wait
        await asyncio.sleep(0)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert others == []

    asyncio.run(main())


def test_a_deployment_closes_when_its_control_loop_is_woken_as_it_is_cancelled(tmp_path):
    """A service deleted as its replica exits (a crash-looping script): the exit wakes the control
    loop in the iteration close() cancels it. With wait_for the loop ran on and the delete never
    returned, holding the services' lock."""
    from oscar_jupyter.local.exposed.deployment import ExposedDeployment
    from oscar_jupyter.local.exposed.launch import Isolation

    svc = {"name": "crashy", "script": "exit 127", "cpu": "1", "memory": "64Mi",
           "expose": {"api_port": 8080, "min_scale": 0}}  # no replica: the loop alone is under test

    async def main():
        d = ExposedDeployment(svc, isolation=Isolation(None, reason="test"), runtime_dir=str(tmp_path))
        d.start()
        await asyncio.sleep(0.05)
        d._changed()  # what a replica's exit does
        await asyncio.wait_for(d.close(), 5)
        assert d._task.done() and d._scaler.done()

    asyncio.run(main())
