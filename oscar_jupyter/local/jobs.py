"""Asynchronous jobs: record, schedule, run, persist (one job = one ``<svc>-<uuid4>``).

A job is written to the state as Pending before it is handed to the
scheduler, moves to Running when the scheduler starts it, and is finished
(status, exit code, log) in one write. Jobs still Pending at shutdown stay
Pending and are resumed by the next start; jobs cut off while running are
marked Failed with a note in their log.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, Callable

from . import state as st
from .output import rfc3339_nano

log = logging.getLogger(__name__)

DEADLINE_NOTE = ("DeadlineExceeded: the job ran longer than its time limit of {limit:g} s and was stopped "
                 "(as a Kubernetes Job past its activeDeadlineSeconds; oscar-local --job-timeout)")
SHUTDOWN_NOTE = "oscar-local stopped while this job was running; it was not completed."
CRASH_NOTE = "oscar-local was not running when this job ended (the process stopped while it ran); marked Failed."


def new_job_name(service: str) -> str:
    """``<svc>-<uuid4>`` as OSCAR names jobs."""
    return f"{service}-{uuid.uuid4()}"


def job_uuid(service: str, job_name: str) -> str:
    """The uuid part of a job name."""
    return job_name[len(service) + 1 :]


class JobManager:
    """Runs jobs through a ``scaling.JobScheduler`` and keeps their state."""

    def __init__(
        self,
        state: st.State,
        scheduler: Any,
        lookup: Callable[[str], dict[str, Any] | None],
    ) -> None:
        self.state = state
        self.scheduler = scheduler
        self.lookup = lookup
        self._tasks: dict[str, asyncio.Task] = {}
        self._closing = False

    # -- creating -------------------------------------------------------
    def create(self, service: str, event: bytes) -> str:
        """Record a Pending job for ``service`` with ``event`` as its body and start it."""
        name = new_job_name(service)
        job = self.state.add_job(name, service, event)
        self.launch(job)
        return name

    def launch(self, job: st.Job) -> None:
        """Start the task that runs an already recorded Pending job."""
        if self._closing or job.name in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(self._run(job), name=f"job {job.name}")
        self._tasks[job.name] = task
        task.add_done_callback(lambda _t, n=job.name: self._tasks.pop(n, None))

    def resume(self) -> int:
        """Launch the jobs a previous process left Pending; returns how many."""
        pending = self.state.jobs_with_status([st.PENDING])
        for job in pending:
            self.launch(job)
        return len(pending)

    def active(self) -> int:
        return len(self._tasks)

    # -- running --------------------------------------------------------
    async def _run(self, job: st.Job) -> None:
        svc = self.lookup(job.service)
        if svc is None:
            self.state.finish_job(job.name, st.FAILED, None, f"service {job.service!r} no longer exists\n")
            return

        def on_status(status: str, *_: Any) -> None:
            if status == st.RUNNING:
                self.state.mark_running(job.name)

        try:
            outcome = await self.scheduler.submit(
                svc, job.event, job_uuid(job.service, job.name), on_status
            )
        except asyncio.CancelledError:
            current = self.state.get_job(job.service, job.name)
            if current is not None and not (self._closing and current.status == st.PENDING):
                self.state.finish_job(job.name, st.FAILED, None, SHUTDOWN_NOTE + "\n")
            raise
        except Exception as exc:  # the job fails, the server keeps going
            log.exception("job %s could not run", job.name)
            self.state.finish_job(job.name, st.FAILED, None, f"oscar-local could not run the job: {type(exc).__name__}: {exc}\n")
            return
        outcome.close()  # a job has no response body
        ok = outcome.exit_code == 0 and not outcome.timed_out and not getattr(outcome, "error", None)
        text = outcome.stamped_log or ""
        if text and not text.endswith("\n"):
            text += "\n"
        if outcome.timed_out:
            limit = getattr(self.scheduler, "timeout", None) or 0
            text += f"{rfc3339_nano()} {DEADLINE_NOTE.format(limit=limit)}\n"
        elif self._closing and not ok:
            text += f"{rfc3339_nano()} {SHUTDOWN_NOTE}\n"
        self.state.finish_job(job.name, st.SUCCEEDED if ok else st.FAILED, outcome.exit_code, text)
        log.info("job %s %s (exit %s)", job.name, "succeeded" if ok else "failed", outcome.exit_code)

    # -- stopping -------------------------------------------------------
    async def cancel_service(self, service: str) -> None:
        """Stop the running and pending jobs of a service being deleted."""
        victims = [t for n, t in self._tasks.items() if self._owner(n) == service]
        for task in victims:
            task.cancel()
        await asyncio.gather(*victims, return_exceptions=True)

    @staticmethod
    def _owner(job_name: str) -> str:
        """The service of a job name (``<svc>-<36-char uuid>``)."""
        return job_name[:-37] if len(job_name) > 37 else ""

    async def cancel_job(self, job_name: str) -> None:
        task = self._tasks.get(job_name)
        if task:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def shutdown(self, grace: float) -> None:
        """Let running jobs finish for ``grace`` seconds, then kill their scripts (marked Failed).

        Jobs that never started stay Pending in the state, for the next start.
        """
        self._closing = True
        if not self._tasks:
            return
        running = {j.name for j in self.state.jobs_with_status([st.RUNNING])}
        waiting = [t for n, t in self._tasks.items() if n in running]
        if waiting:
            await asyncio.wait(waiting, timeout=grace)
        late = [(n, t) for n, t in self._tasks.items() if n in running and not t.done()]
        for name, _task in late:
            # the scheduler then returns the killed job's outcome, recorded as Failed
            self.scheduler.kill(job_uuid(self._owner(name), name))
        if late:
            await asyncio.wait([t for _, t in late], timeout=5.0)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
