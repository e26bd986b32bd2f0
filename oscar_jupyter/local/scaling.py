"""How many invocations run at once, and what is kept ready between them.

* `Admission`: a strict FIFO gate with a capacity and an optional queue time
  limit. `SyncExecutor` uses one per service (capacity `synchronous.max_scale`),
  `JobScheduler` uses a CPU-weighted one (capacity = the machine's cores).
* `WarmPool`: keeps prepared things (here `supervisor.Slot`s; exposed-service
  replicas later) so a request does not prepare its own: at least `min_size`
  of them, more after a burst, reaped back to `min_size` after `idle` seconds.
* `SyncExecutor`: one per service, `await run(body) -> Outcome`.
* `JobScheduler`: asynchronous jobs, Pending while the CPU budget is full.

Invocations themselves are blocking (`supervisor.run_invocation`) and run on
worker threads owned by the executor or scheduler, never on the event loop's
default pool.
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Generic, List, Mapping, Optional, TypeVar

from . import supervisor, waits
from .slot import Containment, Slot
from .supervisor import Outcome

log = logging.getLogger(__name__)

DEFAULT_QUEUE_TIMEOUT = 60.0
DEFAULT_IDLE = 300.0
DEFAULT_CPU = 0.2
PREPARED_WAIT = 1.0  # seconds a request waits for a slot under preparation before making its own
PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"

T = TypeVar("T")


class QueueTimeout(Exception):
    """A request waited longer than the queue limit for a free execution slot."""


def machine_concurrency() -> int:
    """How many synchronous invocations a service may run when max_scale is 0."""
    return max(1, (os.cpu_count() or 1) * 4)


def parse_cpu(value: Any, default: float = DEFAULT_CPU) -> float:
    """A Kubernetes CPU quantity ("0.5", "500m", 1, "1.0") in cores."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ValueError(f"cpu must be a number of cores, got {value!r}")
    if isinstance(value, (int, float)):
        cores = float(value)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(m?)\s*", str(value))
        if not match:
            raise ValueError(f"cpu must be a number of cores such as '0.5' or '500m', got {value!r}")
        cores = float(match.group(1)) / (1000.0 if match.group(2) else 1.0)
    if cores <= 0:
        raise ValueError(f"cpu must be more than 0 cores, got {value!r}")
    return cores


# --------------------------------------------------------------------------- admission

@dataclass
class _Ticket:
    weight: float
    future: "asyncio.Future[None]"


class Admission:
    """Strict FIFO admission of weighted requests into a capacity.

    A request is admitted when it is first in line and fits
    (``used + weight <= capacity``), or when nothing is running (so a request
    bigger than the whole capacity still runs, alone).
    """

    def __init__(self, capacity: float) -> None:
        self.capacity = float(capacity)
        self.used = 0.0
        self.running = 0
        self._line: Deque[_Ticket] = collections.deque()

    @property
    def waiting(self) -> int:
        return len(self._line)

    def _fits(self, weight: float) -> bool:
        return self.running == 0 or self.used + weight <= self.capacity + 1e-9

    async def acquire(self, weight: float = 1.0, timeout: Optional[float] = None) -> None:
        """Wait for admission; `asyncio.TimeoutError` after `timeout` seconds in line."""
        if not self._line and self._fits(weight):
            self._take(weight)
            return
        ticket = _Ticket(weight, asyncio.get_running_loop().create_future())
        self._line.append(ticket)
        try:
            # asyncio.wait, not wait_for: before Python 3.12 wait_for loses a cancel arriving as the
            # ticket is granted (waits.py), and the request of a client gone would run on
            done, _ = await asyncio.wait((ticket.future,), timeout=timeout)
            if not done:
                raise asyncio.TimeoutError
            ticket.future.result()  # fail_waiting's exception or cancel
        except BaseException:
            future = ticket.future
            if future.done() and not future.cancelled() and future.exception() is None:
                self.release(weight)  # admitted just as we gave up: hand the place on
            else:
                ticket.future.cancel()
                try:
                    self._line.remove(ticket)
                except ValueError:
                    pass
                self._admit()
            raise

    def _take(self, weight: float) -> None:
        self.used += weight
        self.running += 1

    def release(self, weight: float = 1.0) -> None:
        self.used = max(0.0, self.used - weight)
        self.running = max(0, self.running - 1)
        self._admit()

    def resize(self, capacity: float) -> None:
        self.capacity = float(capacity)
        self._admit()

    def _admit(self) -> None:
        while self._line:
            head = self._line[0]
            if head.future.done():
                self._line.popleft()
                continue
            if not self._fits(head.weight):
                return
            self._line.popleft()
            self._take(head.weight)
            head.future.set_result(None)

    def fail_waiting(self, exc: Optional[BaseException] = None) -> None:
        """Wake everyone in line with `exc` (None: they see `asyncio.CancelledError`)."""
        while self._line:
            ticket = self._line.popleft()
            if not ticket.future.done():
                if exc is None:
                    ticket.future.cancel()
                else:
                    ticket.future.set_exception(exc)


# --------------------------------------------------------------------------- warm pool

class WarmPool(Generic[T]):
    """Prepared items kept ready: `min_size` always, extra ones until idle for `idle` s.

    `make` builds an item (blocking, run on a thread), `discard` destroys one.
    `take()` returns a ready item or None; `refill(n)` asks for up to `n` items.
    """

    def __init__(self, make: Callable[[], T], discard: Callable[[T], None], *,
                 min_size: int = 0, max_size: int = 1, idle: float = DEFAULT_IDLE) -> None:
        self.make = make
        self.discard = discard
        self.min_size = max(0, int(min_size))
        self.max_size = max(self.min_size, int(max_size))
        self.idle = float(idle)
        self._ready: Deque[tuple] = collections.deque()   # (item, ready since)
        self._making = 0
        self._tasks: set = set()  # preparations under way (referenced until done)
        self._generation = 0
        self._closed = False
        self._reaper: Optional[asyncio.Task] = None
        self.made = 0        # counters for benchmarks and tests
        self.taken = 0
        self._arrived: Optional[asyncio.Event] = None  # set whenever a prepared item is added

    @property
    def ready(self) -> int:
        return len(self._ready)

    def start(self) -> None:
        """Begin keeping `min_size` ready (call from the event loop)."""
        loop = asyncio.get_running_loop()
        if self._reaper is None:
            self._reaper = loop.create_task(self._reap_forever(), name="warm-pool reaper")
        self.refill(self.min_size)

    def take(self) -> Optional[T]:
        """The most recently prepared item (older ones age out), or None."""
        item: Optional[T] = None
        if self._ready:
            item = self._ready.pop()[0]
            self.taken += 1
        self.refill(self.min_size)
        return item

    async def take_soon(self, wait: float) -> Optional[T]:
        """``take()``, but when nothing is ready and a preparation is under way, wait
        up to ``wait`` seconds for it rather than preparing a second one on the spot."""
        item = self.take()
        deadline = time.monotonic() + wait
        while item is None and self._making > 0 and time.monotonic() < deadline:
            if self._arrived is None:
                self._arrived = asyncio.Event()
            self._arrived.clear()
            if not await waits.event_set(self._arrived, max(0.0, deadline - time.monotonic())):
                break
            item = self.take()
        return item

    def refill(self, target: int) -> None:
        """Prepare items in the background until `target` are ready or being made."""
        if self._closed:
            return
        target = min(max(target, self.min_size), self.max_size)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        while len(self._ready) + self._making < target:
            self._making += 1
            task = loop.create_task(self._make_one())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _make_one(self) -> None:
        generation = self._generation
        try:
            item = await asyncio.to_thread(self.make)
        except Exception:  # noqa: BLE001 - a failed preparation only costs warmth
            log.exception("could not prepare a warm slot")
            self._making -= 1
            return
        self._making -= 1
        if self._closed or generation != self._generation:
            await asyncio.to_thread(self.discard, item)
            return
        self.made += 1
        self._ready.append((item, time.monotonic()))
        if self._arrived is not None:
            self._arrived.set()

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(max(0.05, min(self.idle / 2, 30.0)))
            await self.reap()

    async def reap(self) -> int:
        """Discard ready items beyond `min_size` idle for longer than `idle`."""
        now = time.monotonic()
        victims = []
        while len(self._ready) > self.min_size and now - self._ready[0][1] > self.idle:
            victims.append(self._ready.popleft()[0])
        for item in victims:
            await asyncio.to_thread(self.discard, item)
        return len(victims)

    def detach(self) -> List[T]:
        """Remove and return every ready item (the caller discards them)."""
        victims = [item for item, _ in self._ready]
        self._ready.clear()
        self._generation += 1  # items being made now belong to the old definition
        return victims

    async def drain(self) -> None:
        """Discard every ready item."""
        for item in self.detach():
            await asyncio.to_thread(self.discard, item)

    async def close(self) -> None:
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
            self._reaper = None
        await self.drain()
        if self._tasks:  # preparations under way discard what they make
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


# --------------------------------------------------------------------------- sync executor

class SyncExecutor:
    """Runs a service's synchronous invocations: at most `max_scale` at once, FIFO queue.

    `min_scale` prepared slots (directories, script file, environment) are
    kept ready; after a burst the extra slots stay until idle for `idle_timeout`.
    """

    def __init__(self, service: Mapping[str, Any], store: Any, *, timeout: Optional[float] = None,
                 queue_timeout: Optional[float] = DEFAULT_QUEUE_TIMEOUT,
                 idle_timeout: float = DEFAULT_IDLE, work_dir: Optional[str] = None,
                 machine_limit: Optional[int] = None, prespawn: bool = False,
                 containment: Optional[Containment] = None) -> None:
        self.store = store
        self.containment = containment
        self.timeout = supervisor.DEFAULT_TIMEOUT if timeout is None else float(timeout)
        self.queue_timeout = queue_timeout
        self.work_dir = work_dir
        self.machine_limit = machine_limit or machine_concurrency()
        self.prespawn = prespawn
        self.service: Dict[str, Any] = dict(service)
        self.limit = self._limit_of(self.service)
        self._admission = Admission(self.limit)
        self._threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.limit, thread_name_prefix=f"run-{self.service.get('name')}")
        self._running: Dict[int, Slot] = {}
        self._closed = False
        self.pool: WarmPool[Slot] = WarmPool(self._make_slot, Slot.discard,
                                             min_size=self._min_of(self.service),
                                             max_size=self.limit, idle=idle_timeout)
        self._pool_started = False
        self.invocations = 0
        self.warm_hits = 0
        try:
            asyncio.get_running_loop()
            self._start_pool()
        except RuntimeError:
            pass  # created outside a loop: the pool starts with the first request

    def __repr__(self) -> str:
        return (f"SyncExecutor({self.service.get('name')!r}, running={self._admission.running}, "
                f"queued={self._admission.waiting}, limit={self.limit}, warm={self.pool.ready})")

    @property
    def name(self) -> str:
        return str(self.service.get("name") or "")

    def _limit_of(self, service: Mapping[str, Any]) -> int:
        sync = service.get("synchronous") or {}
        try:
            max_scale = int(sync.get("max_scale") or 0)
        except (TypeError, ValueError):
            max_scale = 0
        return max_scale if max_scale > 0 else self.machine_limit

    def _min_of(self, service: Mapping[str, Any]) -> int:
        sync = service.get("synchronous") or {}
        try:
            return max(0, int(sync.get("min_scale") or 0))
        except (TypeError, ValueError):
            return 0

    def _make_slot(self) -> Slot:
        slot = Slot(self.service, self.work_dir, prespawn=self.prespawn, containment=self.containment)
        slot.prepared_ahead = True
        return slot

    def _start_pool(self) -> None:
        if not self._pool_started:
            self._pool_started = True
            self.pool.start()

    @property
    def running(self) -> int:
        return self._admission.running

    @property
    def queued(self) -> int:
        return self._admission.waiting

    def stats(self) -> Dict[str, Any]:
        """Counters for status pages and benchmarks."""
        return {"service": self.name, "limit": self.limit, "running": self.running,
                "queued": self.queued, "warm_ready": self.pool.ready,
                "min_scale": self.pool.min_size, "invocations": self.invocations,
                "warm_hits": self.warm_hits, "slots_prepared": self.pool.made}

    async def run(self, body: bytes) -> Outcome:
        """Run one synchronous invocation; `QueueTimeout` when no slot frees up in time."""
        if self._closed:
            raise QueueTimeout(f"service '{self.name}' is shutting down")
        self._start_pool()
        ahead = self._admission.waiting + (1 if self._admission.running >= self.limit else 0)
        try:
            await self._admission.acquire(1.0, self.queue_timeout)
        except asyncio.TimeoutError:
            raise QueueTimeout(
                f"waited {self.queue_timeout:g} s behind {ahead} other request(s) for one of the "
                f"{self.limit} execution slot(s) of service '{self.name}' "
                f"(synchronous.max_scale); try again later or raise max_scale") from None
        service = self.service
        try:
            # a slot being prepared (its sandbox starting) is nearer than a new one
            slot = await self.pool.take_soon(PREPARED_WAIT)
            warm = slot is not None
            self.invocations += 1
            self.warm_hits += int(warm)
            outcome = await self._execute(service, body, slot)
        finally:
            self._admission.release(1.0)
            # keep as many prepared slots as were just in use (reaped when idle)
            self.pool.refill(self._admission.running + 1)
        return outcome

    async def _execute(self, service: Mapping[str, Any], body: bytes, slot: Optional[Slot]) -> Outcome:
        loop = asyncio.get_running_loop()
        holder: List[Slot] = []

        def work() -> Outcome:
            s = slot if slot is not None else Slot(service, self.work_dir, prespawn=False,
                                                   containment=self.containment)
            holder.append(s)
            return supervisor.run_invocation(service, body, store=self.store, mode="sync",
                                             timeout=self.timeout, slot=s, work_dir=self.work_dir)

        future = loop.run_in_executor(self._threads, work)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # the client went away or we are closing: stop the script, wait for the thread
            for s in holder:
                s.cancel()
            await asyncio.gather(future, return_exceptions=True)
            raise

    def update(self, service: Mapping[str, Any]) -> None:
        """Use the new definition for the next requests; prepared slots are rebuilt.

        Invocations already running finish with the definition they started with.
        """
        self.service = dict(service)
        limit = self._limit_of(self.service)
        if limit != self.limit:
            old = self._threads
            self._threads = concurrent.futures.ThreadPoolExecutor(
                max_workers=limit, thread_name_prefix=f"run-{self.name}")
            old.shutdown(wait=False)
            self.limit = limit
            self._admission.resize(limit)
        self.pool.min_size = self._min_of(self.service)
        self.pool.max_size = max(self.pool.min_size, limit)
        stale = self.pool.detach()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            for slot in stale:
                slot.discard()
            return
        if stale:
            loop.create_task(asyncio.to_thread(lambda: [s.discard() for s in stale]))
        self.pool.refill(self.pool.min_size)

    async def close(self) -> None:
        """Refuse new requests, fail queued ones, discard prepared slots."""
        self._closed = True
        self._admission.fail_waiting(QueueTimeout(f"service '{self.name}' is shutting down"))
        await self.pool.close()
        self._threads.shutdown(wait=False)


# --------------------------------------------------------------------------- job scheduler

StatusCallback = Callable[..., Any]


class JobScheduler:
    """Runs asynchronous jobs under a CPU budget of `cores`.

    A job waits (Pending) until the sum of the running jobs' `cpu` plus its
    own fits in `cores`, in arrival order; a job asking for more than the
    machine runs when nothing else does. `on_status(status, when, job_uuid)` is
    called with "Pending", "Running", then "Succeeded" or "Failed"
    (`when` = epoch seconds); it may be a coroutine function.
    """

    def __init__(self, cores: Optional[float] = None, store: Any = None, *,
                 timeout: Optional[float] = None, work_dir: Optional[str] = None,
                 max_parallel: int = 64, containment: Optional[Containment] = None) -> None:
        self.containment = containment
        self.cores = float(cores or os.cpu_count() or 1)
        self.store = store
        self.timeout = timeout
        self.work_dir = work_dir
        self._admission = Admission(self.cores)
        self._threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, int(max_parallel)), thread_name_prefix="job")
        self._running: Dict[str, Slot] = {}
        self._futures: Dict[str, "asyncio.Future[Outcome]"] = {}
        self._closed = False

    @property
    def running(self) -> int:
        return self._admission.running

    @property
    def pending(self) -> int:
        return self._admission.waiting

    @property
    def cpu_in_use(self) -> float:
        return self._admission.used

    def stats(self) -> Dict[str, Any]:
        """Counters for status pages and benchmarks."""
        return {"cores": self.cores, "cpu_in_use": self.cpu_in_use, "running": self.running,
                "pending": self.pending}

    async def _report(self, on_status: Optional[StatusCallback], status: str, job_uuid: str) -> None:
        if on_status is None:
            return
        try:
            result = on_status(status, time.time(), job_uuid)
            if asyncio.iscoroutine(result):
                await result
        except Exception:  # noqa: BLE001 - a broken callback must not break the job
            log.exception("status callback failed for job %s (%s)", job_uuid, status)

    async def submit(self, service: Mapping[str, Any], body: bytes, job_uuid: str,
                     on_status: Optional[StatusCallback] = None, *,
                     store: Any = None) -> Outcome:
        """Run one job to completion and return its `Outcome`.

        Cancelling the awaiting task removes a Pending job from the line or
        kills a Running job's script (its status is then reported Failed).
        """
        if self._closed:
            raise RuntimeError("the job scheduler is closed")
        try:
            cpu = parse_cpu(service.get("cpu"))
        except ValueError as exc:
            log.warning("job %s: %s; using %s", job_uuid, exc, DEFAULT_CPU)
            cpu = DEFAULT_CPU
        await self._report(on_status, PENDING, job_uuid)
        await self._admission.acquire(cpu)
        try:
            await self._report(on_status, RUNNING, job_uuid)
            slot_holder: List[Slot] = []
            work_dir = self.work_dir
            target_store = store if store is not None else self.store

            def work() -> Outcome:
                slot = Slot(service, work_dir, prespawn=False, containment=self.containment)
                slot_holder.append(slot)
                self._running[job_uuid] = slot
                try:
                    return supervisor.run_invocation(service, body, store=target_store,
                                                      mode="async", job_uuid=job_uuid,
                                                      timeout=self.timeout, slot=slot,
                                                      work_dir=work_dir)
                finally:
                    self._running.pop(job_uuid, None)

            future = asyncio.get_running_loop().run_in_executor(self._threads, work)
            self._futures[job_uuid] = future
            try:
                outcome = await asyncio.shield(future)
            except asyncio.CancelledError:
                for slot in slot_holder:
                    slot.cancel()
                done = (await asyncio.gather(future, return_exceptions=True))[0]
                if not (isinstance(done, Outcome) and done.ok):
                    await self._report(on_status, FAILED, job_uuid)
                    raise
                # it had finished, outputs uploaded, before the kill could stop it: it succeeded
                outcome = done
            finally:
                self._futures.pop(job_uuid, None)
        finally:
            self._admission.release(cpu)
        await self._report(on_status, SUCCEEDED if outcome.ok else FAILED, job_uuid)
        return outcome

    def kill(self, job_uuid: str) -> bool:
        """Kill a running job's script (its `submit` then returns a failed Outcome)."""
        slot = self._running.get(job_uuid)
        if slot is None:
            return False
        slot.cancel()
        return True

    async def close(self, grace: float = 10.0) -> None:
        """Stop: Pending jobs are cancelled, Running ones get `grace` seconds, then are killed."""
        self._closed = True
        self._admission.fail_waiting(None)
        futures = list(self._futures.values())
        if futures:
            done, not_done = await asyncio.wait(futures, timeout=grace)
            if not_done:
                log.warning("killing %d job(s) still running after %g s", len(not_done), grace)
                for slot in list(self._running.values()):
                    slot.cancel()
                await asyncio.gather(*not_done, return_exceptions=True)
        self._threads.shutdown(wait=False)
