"""One replica: a long-running process of the service's script, probed and watched.

A replica is started with ``launch.wrap`` (in the invocations' sandbox and
its own network namespace and cgroup where the machine allows), its output is stamped line by line into a
``ReplicaLog``, and it is *ready* only once ``probe_path`` answers 2xx/3xx
(as a Kubernetes ``httpGet`` probe) within the startup budget (the
Manager's startup probe: 18 failures 10 s apart, so 3 minutes). A ready
replica keeps being probed: a failing probe takes it out of rotation, and
failing for the liveness budget (12 probes 10 s apart) kills it so it is
started again. Its CPU is measured with psutil over its process tree.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import stat
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable

import aiohttp
import psutil

from .. import waits
from ..limits import Group
from ..slot import KEEPER
from .launch import (RELAY, Isolation, listens_on_loopback_only, relay_connections, relay_listener,
                     replica_environment, wrap)
from .logs import ReplicaLog
from .settings import ExposeSettings

log = logging.getLogger(__name__)

STARTING, READY, UNREADY, EXITED = "starting", "ready", "unready", "exited"


@dataclass(frozen=True)
class Timings:
    """Probe and lifecycle timings (the Manager's probe values by default; tests shorten them)."""

    startup_budget: float = 180.0     # startupProbe: failureThreshold 18 x periodSeconds 10
    startup_interval: float = 0.25    # how often a starting replica is probed
    probe_period: float = 5.0         # readinessProbe periodSeconds
    probe_timeout: float = 10.0       # probes' timeoutSeconds
    liveness_budget: float = 120.0    # livenessProbe: failureThreshold 12 x periodSeconds 10
    stop_grace: float = 10.0          # SIGTERM, then SIGKILL after this
    drain_timeout: float = 30.0       # longest wait for in-flight requests before stopping


class Replica:
    """One process of an exposed service, with its upstream connection pool."""

    def __init__(self, ident: str, generation: int, svc: dict[str, Any], settings: ExposeSettings,
                 isolation: Isolation, timings: Timings, runtime_dir: str,
                 on_change: Callable[[], None]) -> None:
        self.ident = ident
        self.generation = generation
        self.settings = settings
        self.isolation = isolation
        self.timings = timings
        self.log = ReplicaLog(ident)
        self.state = STARTING
        self.draining = False
        self.inflight = 0
        self.exit_code: int | None = None
        self.failure: str | None = None     # why it stopped being useful (said in the deployment's reason)
        self.started_at = time.time()
        self.ready_at: float | None = None
        self.ever_ready = False
        self._svc = svc
        self._on_change = on_change
        self.dir = tempfile.mkdtemp(prefix=f"{ident}-", dir=runtime_dir)
        self.socket_path = os.path.join(self.dir, "s") if isolation.kind else None
        self.proc: asyncio.subprocess.Process | None = None
        self.group: Group | None = None     # its cgroup (limits; every process killed at the end)
        self.session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._cpu_last: tuple[float, float] | None = None

    # -- start ---------------------------------------------------------
    async def start(self) -> None:
        script = os.path.join(self.dir, "script.sh")
        with open(script, "w", encoding="utf-8") as fh:
            fh.write(str(self._svc.get("script") or ""))
        os.chmod(script, stat.S_IRWXU)
        work = os.path.join(self.dir, "work")
        os.mkdir(work)
        home = work if self.isolation.sandboxed else os.environ.get("HOME", work)
        env = replica_environment(self._svc, {"HOME": home})
        if self.isolation.containment is not None:
            self.isolation.containment.sandbox.own(self.dir)
        self.group = self.isolation.group(self._svc)
        # As the Manager's pod: `/bin/sh -c <script>` (a shebang line is honoured).
        cmd = wrap(["/bin/sh", "-c", script], env, work, isolation=self.isolation, port=self.settings.port,
                   socket_path=self.socket_path, root=self.dir, group=self.group,
                   binds=self.isolation.containment.binds(self._svc) if self.isolation.containment else ())
        self.proc = await asyncio.create_subprocess_exec(
            *cmd.argv, env=cmd.env, cwd=cmd.cwd, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        KEEPER.hold(self.proc.pid)
        if self.socket_path:
            connector: aiohttp.BaseConnector = aiohttp.UnixConnector(
                path=self.socket_path, limit=0, keepalive_timeout=60, force_close=False)
        else:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, use_dns_cache=False)
        self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                             timeout=aiohttp.ClientTimeout(total=None),
                                             cookie_jar=aiohttp.DummyCookieJar())
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._pump(), name=f"replica-{self.ident}-output"),
                       loop.create_task(self._wait(), name=f"replica-{self.ident}-exit"),
                       loop.create_task(self._watch(), name=f"replica-{self.ident}-probes")]

    @property
    def base_url(self) -> str:
        return "http://replica" if self.socket_path else f"http://127.0.0.1:{self.settings.port}"

    @property
    def alive(self) -> bool:
        return self.state != EXITED

    @property
    def in_rotation(self) -> bool:
        return self.state == READY and not self.draining

    async def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            while True:
                data = await self.proc.stdout.read(65536)
                if not data:
                    break
                self.log.feed(data)
        finally:
            self.log.close()

    async def _wait(self) -> None:
        assert self.proc is not None
        self._exited(await self.proc.wait())

    def _exited(self, code: int) -> None:
        if self.state == EXITED:
            return
        self.exit_code = code
        if self.group is not None and self.group.oom_killed():
            self.failure = (f"replica {self.ident} was OOMKilled: it used more than its memory limit "
                            f"({self._svc.get('memory')})")
            self.log.add(f"[oscar-local] {self.failure}")
        elif self.failure is None and not self.draining:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            self.failure = f"replica {self.ident} {how}"
        self._set(EXITED)
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the relay and anything the script left
            KEEPER.release(self.proc.pid)
        if self.group is not None:
            self.group.kill_all()  # processes that left the process group
        for task in self._tasks[2:]:  # the probes; output is read to its end
            if task is not asyncio.current_task():
                task.cancel()

    def _set(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if state == READY:
                self.ready_at = time.time()
                self.ever_ready = True
            self._on_change()

    def _check_address(self) -> None:
        """Say so in its log when the server listens on loopback only: it works here, where the
        relay connects to 127.0.0.1 inside the namespace, and is unreachable in a pod."""
        pid = self._namespace_pid()
        if pid is None or not listens_on_loopback_only(pid, self.settings.port):
            return
        note = (f"the server listens on port {self.settings.port} at a loopback address only "
                f"(127.0.0.1): oscar-local reaches it there, but on an OSCAR cluster the ingress "
                f"reaches a pod at its own address, so bind 0.0.0.0 (every address)")
        self.log.add(f"[oscar-local] {note}")
        log.warning("exposed service %s: %s", self.settings.name, note)

    def _namespace_pid(self) -> int | None:
        """A process in the replica's network namespace: its relay's listener (the replica itself
        on the host's network)."""
        if self.proc is None:
            return None
        if not self.socket_path:
            return self.proc.pid
        return relay_listener(self.proc.pid)

    # -- probes --------------------------------------------------------
    async def probe(self) -> bool:
        """One ``httpGet`` probe: True on a 2xx/3xx answer within the timeout."""
        if self.session is None or self.session.closed:
            return False
        try:
            async with self.session.get(self.base_url + self.settings.probe_path, allow_redirects=False,
                                        timeout=aiohttp.ClientTimeout(total=self.timings.probe_timeout),
                                        headers={"User-Agent": "kube-probe/1.30"}) as resp:
                await resp.read()
                return 200 <= resp.status < 400
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return False

    async def _watch(self) -> None:
        t = self.timings
        deadline = time.monotonic() + t.startup_budget
        while self.state == STARTING:
            if await self.probe():
                self._set(READY)
                self._check_address()
                break
            if time.monotonic() > deadline:
                self.failure = (f"replica {self.ident} did not answer {self.settings.probe_path} on port "
                                f"{self.settings.port} within {t.startup_budget:g} s (startup probe)")
                self.log.add(f"[oscar-local] {self.failure}; killing it")
                await self.kill()
                return
            await asyncio.sleep(t.startup_interval)
        failing_since: float | None = None
        while self.alive:
            await asyncio.sleep(t.probe_period)
            if not self.alive:
                return
            if await self.probe():
                failing_since = None
                if self.state == UNREADY:
                    self._set(READY)
                continue
            failing_since = failing_since or time.monotonic()
            if self.state == READY:
                self._set(UNREADY)
            if time.monotonic() - failing_since >= t.liveness_budget:
                self.failure = f"replica {self.ident} failed its liveness probe on {self.settings.probe_path}"
                self.log.add(f"[oscar-local] {self.failure}; restarting it")
                await self.kill()
                return

    # -- proxied requests ----------------------------------------------
    def acquire(self) -> None:
        self.inflight += 1
        self._idle.clear()

    def release(self) -> None:
        self.inflight -= 1
        if self.inflight <= 0:
            self.inflight = 0
            self._idle.set()

    # -- stop ----------------------------------------------------------
    async def stop(self, drain: bool = True) -> None:
        """Out of rotation, wait for in-flight requests (bounded), SIGTERM, then SIGKILL."""
        self.draining = True
        self._on_change()
        if drain:
            deadline = time.monotonic() + self.timings.drain_timeout
            await waits.event_set(self._idle, self.timings.drain_timeout)
            if self.session is not None:
                await self.session.close()  # idle pooled connections of the aiohttp proxy
            await asyncio.sleep(0.3)  # connections nginx was opening through the emptied slot
            while self.relay_connections() > 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)  # requests still running through the front door's old workers
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            # a replica that never served has no requests to finish; and bwrap, still setting up
            # its namespaces, does not pass SIGTERM on: its grace would be waited out in full
            grace = self.timings.stop_grace if self.ever_ready else min(1.0, self.timings.stop_grace)
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
            except asyncio.TimeoutError:
                await self.kill()
        await self.close()

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 10)

    async def close(self) -> None:
        """Release everything (the process must have exited or be killed now)."""
        await self.kill()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.proc is not None and self.proc.returncode is not None:
            self._exited(self.proc.returncode)
        if self.session is not None and not self.session.closed:
            await self.session.close()
        group, self.group = self.group, None
        if group is not None:
            await asyncio.to_thread(group.close)
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- measurements --------------------------------------------------
    def cpu_cores(self) -> float | None:
        """Cores used since the previous call (psutil over the process tree, relay excluded)."""
        if self.proc is None or self.proc.returncode is not None:
            return None
        try:
            root = psutil.Process(self.proc.pid)
            total = 0.0
            for proc in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    if proc.name() == RELAY:
                        continue
                    times = proc.cpu_times()
                    total += times.user + times.system
        except psutil.Error:
            return None
        now = time.monotonic()
        last, self._cpu_last = self._cpu_last, (now, total)
        if last is None or now <= last[0]:
            return None
        return max(0.0, (total - last[1]) / (now - last[0]))

    def relay_connections(self) -> int:
        """Connections open through the replica's relay."""
        if self.proc is None or self.proc.returncode is not None or not self.socket_path:
            return 0
        return relay_connections(self.proc.pid)

    def pids(self) -> list[int]:
        """The replica's processes (root first), for tests and diagnostics."""
        if self.proc is None or self.proc.returncode is not None:
            return []
        try:
            root = psutil.Process(self.proc.pid)
            return [root.pid, *(p.pid for p in root.children(recursive=True))]
        except psutil.Error:
            return []
