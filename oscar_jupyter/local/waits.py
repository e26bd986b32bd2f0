"""Waiting for an asyncio event with a time limit, without losing a cancellation.

Before Python 3.12, ``asyncio.wait_for`` returns the awaited result when the
task running it is cancelled in the loop iteration in which the awaited
thing completes: the cancellation is lost (CPython gh-86296; 3.12 rewrote
``wait_for`` on ``asyncio.timeout``). oscar-local's control loops wait on an
event that other parts set, and are cancelled when their service goes: an
event set just as the loop was cancelled kept the loop running, so the
delete that awaited its end never returned and held the services' lock
(every later create and delete waited behind it). ``asyncio.wait`` passes a
cancellation on to its caller, so :func:`event_set` is built on it.
"""
from __future__ import annotations

import asyncio
from typing import Optional


async def event_set(event: asyncio.Event, timeout: Optional[float]) -> bool:
    """Wait until ``event`` is set, at most ``timeout`` seconds; whether it is set. A
    cancellation of the caller is raised, never taken for the event."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait((waiter,), timeout=timeout)
    finally:
        waiter.cancel()
    return event.is_set()
