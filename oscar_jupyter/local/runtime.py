"""Everything one running oscar-local holds: state, storage, executors, jobs, triggers.

``Runtime.start()`` brings the parts up in order (state, S3 endpoint, job
recovery, executors, event consumer, reconciliation scan) and
``Runtime.stop()`` takes them down in reverse, so a stop never leaves a
half-written job or service.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Deque

from . import datadir, scaling, scratch, services as svcs
from .executions import ExecutionLog
from .exposed import ExposedOptions, ExposedServices
from .jobs import CRASH_NOTE, JobManager
from .limits import Cgroups
from .output import DEFAULT_CAP
from .s3 import S3Endpoint
from .s3store import S3Store
from .sandbox import Sandbox
from .slot import Containment
from .state import State
from .triggers import Triggers
from .versions import DEFAULT as DEFAULT_API_VERSION, Wire
from .volumes import Volumes

log = logging.getLogger(__name__)

VERSION = "4.1.2"  # the default release; ``Runtime.wire.release`` is the one served
EXTERNAL_SCAN_INTERVAL = 2.0
STORAGE_CHECK = 0.5  # seconds between checks that the embedded S3 endpoint is alive


@dataclass
class Options:
    """How to run: data dir, admin password, S3, limits."""

    data_dir: str
    password: str
    user: str = "oscar"
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    s3_verify: bool = True
    max_body: int = 64 * 1024 * 1024
    max_definition: int = 4 * 1024 * 1024
    cores: float | None = None
    sync_timeout: float = 300.0
    job_timeout: float = 3600.0  # an async job's activeDeadlineSeconds
    sandbox: str = "auto"        # auto, bwrap, unshare or none
    log_cap: int = DEFAULT_CAP   # bytes of a script's output kept per invocation (the end)
    queue_timeout: float = 120.0
    shutdown_grace: float = 10.0
    header_timeout: float = 30.0  # seconds a connection may go without a complete request line and headers
    api_version: str = DEFAULT_API_VERSION
    oidc_issuer: str | None = None
    oidc_groups: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        timeout = self.header_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
            raise ValueError(f"header_timeout must be a positive number of seconds, got {timeout!r}")
        deadline = self.job_timeout
        if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not 0 < deadline < float("inf"):
            raise ValueError(f"job_timeout must be a positive number of seconds, got {deadline!r}")
        if self.sandbox not in ("auto", "bwrap", "unshare", "none"):
            raise ValueError(f"sandbox must be one of auto, bwrap, unshare, none; got {self.sandbox!r}")


class LogBuffer(logging.Handler):
    """The last lines this oscar-local logged, for ``GET /system/logs/``.

    Only records made on the server's own event-loop thread are kept, so
    several oscar-locals in one process keep separate logs. Which records
    exist at all follows the logging configuration (the ``oscar-local``
    command logs INFO; inside a notebook the default is WARNING).
    """

    def __init__(self, size: int = 2000) -> None:
        super().__init__(logging.INFO)
        self.lines: Deque[str] = collections.deque(maxlen=size)
        self.thread: int | None = None
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def filter(self, record: logging.LogRecord) -> bool:
        return (self.thread is None or record.thread == self.thread) and super().filter(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a log line must never break a request
            pass


class Runtime:
    """The running cluster behind the HTTP API."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.wire = Wire.of(options.api_version)
        self.oidc: Any = None
        if options.oidc_issuer:
            from .oidc import OidcValidator
            self.oidc = OidcValidator(options.oidc_issuer, options.oidc_groups)
        self.instance = uuid.uuid4().hex
        self.started = time.time()
        self.state: State | None = None
        self.endpoint: S3Endpoint | None = None
        self.store: S3Store | None = None
        self.scheduler: Any = None
        self.executors: dict[str, Any] = {}
        self._services: dict[str, dict[str, Any]] = {}  # the stored definitions, read on every request
        self.jobs: JobManager | None = None
        self.containment: Containment | None = None
        self.triggers: Triggers | None = None
        self.exposed: ExposedServices | None = None
        self.logs = LogBuffer()
        self.executions = ExecutionLog()
        self._scan_task: asyncio.Task | None = None
        self._storage_task: asyncio.Task | None = None
        self.storage_down = False  # the embedded S3 endpoint died and is not back yet
        self._lock = asyncio.Lock()
        self.schema_ready: threading.Thread | None = None  # the FDL schema's validator being built
        # where invocations and jobs get their directories: held while the server runs, so a server
        # killed hard leaves it to the next one's sweep (scratch.py)
        self._runs: scratch.Scratch | None = None
        self.volumes: Volumes | None = None  # v4.1's managed volumes (record and data)

    # -- lifecycle ------------------------------------------------------
    async def start(self) -> None:
        opts = self.options
        self.logs.thread = threading.get_ident()
        logging.getLogger("oscar_jupyter.local").addHandler(self.logs)
        datadir.secure(opts.data_dir)
        self.containment = await asyncio.to_thread(self._contain)
        await asyncio.to_thread(scratch.sweep)  # what servers killed hard left behind
        self._runs = scratch.make("oscar-run-")
        self.containment.sandbox.let_through(self._runs.path)  # to each run's own directory
        self.state = State(opts.data_dir)
        self.volumes = Volumes(self.state, os.path.join(opts.data_dir, "volumes"), self.containment.sandbox)
        self.containment.volumes = self.volumes
        failed = self.state.fail_interrupted(CRASH_NOTE)
        if failed:
            log.warning("%d job(s) were running when oscar-local last stopped; marked Failed", len(failed))
        if opts.s3_endpoint:
            self.endpoint = S3Endpoint.external(
                opts.s3_endpoint, opts.s3_access_key or "", opts.s3_secret_key or "",
                region=opts.s3_region, verify=opts.s3_verify,
            )
        else:
            self.endpoint = await asyncio.to_thread(S3Endpoint.start, opts.data_dir, 0)
        self.store = self.endpoint.store()
        self.scheduler = scaling.JobScheduler(opts.cores or float(os.cpu_count() or 1), store=self.store,
                                              timeout=opts.job_timeout, containment=self.containment,
                                              work_dir=self._runs.path)
        self.jobs = JobManager(self.state, self.scheduler, self.service)
        self.exposed = ExposedServices(ExposedOptions.of(opts.extra), self.containment)
        await self.exposed.start()
        for svc in self.state.list_services():
            self._services[svc["name"]] = svc
            self._open_executor(svc)
            self._watch(svc)
            await self.exposed.apply(svc)
        resumed = self.jobs.resume()
        if resumed:
            log.info("resumed %d pending job(s)", resumed)
        self.triggers = Triggers(self.state, self.store, self.jobs, self.services, self.endpoint.events())
        await self.triggers.start()
        if not self.endpoint.embedded:
            self._scan_task = asyncio.get_running_loop().create_task(self._rescan(), name="rescan")
        else:
            self._storage_task = asyncio.get_running_loop().create_task(self._supervise_storage(),
                                                                        name="storage supervisor")

    async def stop(self) -> None:
        """Stop triggers, let running jobs finish (bounded), close executors and storage."""
        try:
            await self._stop_parts()
        finally:  # whatever failed, the runs' scratch directory is not left held
            if self._runs is not None:
                self._runs.remove()
                self._runs = None

    async def _stop_parts(self) -> None:
        if self.oidc is not None:
            await self.oidc.close()
        for task in (self._scan_task, self._storage_task):
            if task:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self.triggers:
            await self.triggers.stop()
        if self.jobs:
            await self.jobs.shutdown(self.options.shutdown_grace)
        if self.exposed:
            await self.exposed.close()
        for ex in list(self.executors.values()):
            await _maybe_await(ex.close())
        self.executors.clear()
        if self.scheduler is not None and hasattr(self.scheduler, "close"):
            await _maybe_await(self.scheduler.close())
        if self.endpoint:
            await asyncio.to_thread(self.endpoint.stop)
        if self.state:
            self.state.close()
        if self.containment is not None and self.containment.cgroups is not None:
            self.containment.cgroups.close()
        logging.getLogger("oscar_jupyter.local").removeHandler(self.logs)

    def _contain(self) -> Containment:
        """Probe the sandbox and limit mechanisms once (said in the log and /system/info)."""
        opts = self.options
        box = Sandbox.probe(hidden=[opts.data_dir], want=opts.sandbox)
        cgroups = Cgroups.probe()
        log.info("sandbox: %s; limits: %s", box.describe(), cgroups.describe())
        if box.mode == "none":
            log.warning("scripts are not sandboxed (%s): they can see this server's processes "
                        "and every file its user can read; see docs/security.md", box.reason or "as asked")
        return Containment(box, cgroups, opts.log_cap)

    async def _supervise_storage(self) -> None:
        """Restart the embedded S3 endpoint when it dies (checked every STORAGE_CHECK seconds)."""
        assert self.endpoint is not None
        while True:
            await asyncio.sleep(STORAGE_CHECK)
            if self.endpoint.alive:
                self.storage_down = False
                continue
            self.storage_down = True
            log.error("object storage is down: the embedded S3 endpoint stopped; restarting it")
            try:
                await asyncio.to_thread(self.endpoint.restart)
                self.storage_down = not self.endpoint.alive
            except Exception as exc:  # tried again at the next check
                log.error("could not restart the embedded S3 endpoint: %s", exc)

    async def _rescan(self) -> None:
        while True:
            await asyncio.sleep(EXTERNAL_SCAN_INTERVAL)
            try:
                assert self.triggers is not None
                await self.triggers.scan()
            except Exception:
                log.exception("periodic reconciliation scan failed")

    # -- services -------------------------------------------------------
    def service(self, name: str) -> dict[str, Any] | None:
        """The stored definition of a service (treat as read-only), or None."""
        return self._services.get(name)

    def services(self) -> list[dict[str, Any]]:
        """All stored definitions, in creation order (treat as read-only)."""
        return list(self._services.values())

    def provider(self) -> dict[str, Any]:
        """The server's own MinIO provider, with real keys (for /system/config and the stored default)."""
        ep = self.endpoint
        assert ep is not None
        return {
            "endpoint": ep.endpoint,
            "verify": bool(ep.verify),
            "access_key": ep.access_key,
            "secret_key": ep.secret_key,
            "region": ep.region,
        }

    def _open_executor(self, svc: dict[str, Any]) -> None:
        assert self.store is not None
        self.executors[svc["name"]] = scaling.SyncExecutor(
            svc, self.store, timeout=self.options.sync_timeout, queue_timeout=self.options.queue_timeout,
            containment=self.containment, work_dir=self._runs.path if self._runs else None,
            prespawn=True,  # the sandbox, cgroup and shell start before the request arrives
        )

    def _watch(self, svc: dict[str, Any]) -> None:
        assert self.endpoint is not None
        for place in svcs.places(svc, "input"):
            self.endpoint.watch(place.bucket, place.prefix)

    async def create_buckets(self, svc: dict[str, Any]) -> list[str]:
        """Create the buckets and folder markers of a service; returns the buckets created now."""
        assert self.store is not None
        created: list[str] = []
        try:
            for field_name in ("input", "output"):
                for place in svcs.places(svc, field_name):
                    if await asyncio.to_thread(self.store.ensure_bucket, place.bucket):
                        created.append(place.bucket)
                    if place.folder:
                        await asyncio.to_thread(self.store.put_marker, place.bucket, place.folder)
        except Exception:
            await self._remove_buckets(created)
            raise
        return created

    async def _remove_buckets(self, buckets: list[str]) -> None:
        """Delete buckets this server just created (undoing a service that was not stored)."""
        assert self.store is not None
        for bucket in buckets:
            await asyncio.to_thread(self.store.delete_bucket, bucket, True)

    async def add_service(self, svc: dict[str, Any]) -> None:
        """Store a new service: buckets, baseline of existing objects, executor, watcher."""
        assert self.state is not None and self.triggers is not None
        created = await self.create_buckets(svc)
        try:
            await self.triggers.baseline(svc)
            self.state.put_service(svc)
            self._services[svc["name"]] = svc
        except Exception:
            await self._remove_buckets(created)
            raise
        self._open_executor(svc)
        self._watch(svc)
        assert self.exposed is not None
        await self.exposed.apply(svc)

    async def update_service(self, svc: dict[str, Any]) -> None:
        assert self.state is not None and self.triggers is not None
        await self.create_buckets(svc)
        await self.triggers.baseline(svc)
        self.state.put_service(svc)
        self._services[svc["name"]] = svc
        ex = self.executors.get(svc["name"])
        if ex is not None:
            await _maybe_await(ex.update(svc))
        else:
            self._open_executor(svc)
        self._watch(svc)
        assert self.exposed is not None
        await self.exposed.apply(svc)

    async def delete_service(self, svc: dict[str, Any]) -> list[str]:
        """Remove a service: its jobs, executor, record, and its input/output buckets."""
        assert self.state is not None and self.store is not None and self.jobs is not None
        name = svc["name"]
        await self.jobs.cancel_service(name)
        ex = self.executors.pop(name, None)
        if ex is not None:
            await _maybe_await(ex.close())
        if self.exposed is not None:
            await self.exposed.remove(name)
        self.state.delete_service(name)
        self._services.pop(name, None)
        still_used = set().union(*(svcs.buckets_of(other) for other in self.services()))
        removed = []
        for bucket in sorted(svcs.buckets_of(svc)):
            if bucket in still_used:
                continue
            try:
                if await asyncio.to_thread(self.store.delete_bucket, bucket, True):
                    removed.append(bucket)
            except Exception as exc:
                log.warning("could not delete bucket %s of service %s: %s", bucket, name, exc)
        return removed


async def _maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value
