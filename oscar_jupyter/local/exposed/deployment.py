"""One exposed service's replicas, kept at the wanted count: a Deployment and its HPA.

``ExposedDeployment`` starts ``min_scale`` replicas, restarts those that
die (with a crash-loop back-off), rolls them on update and on ``restart``
(a new replica must be ready before an old one leaves rotation, and an old
one stops only once its in-flight requests are done, so no request fails),
scales between ``min_scale`` and ``max_scale`` from measured CPU, and
answers its state as the Manager's ``ServiceDeploymentStatus``.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Callable, Iterable

from .. import waits
from .autoscaler import Autoscaler, ScalingTimings
from .launch import Isolation
from .logs import ReplicaLog
from .replica import EXITED, Replica, Timings
from .settings import ExposeSettings

log = logging.getLogger(__name__)

NAMESPACE = "oscar-svc"
#: most replicas one service may run on this machine (a cluster is bounded by its nodes)
MACHINE_REPLICAS = max(4, (os.cpu_count() or 1) * 4)
#: replicas that never became ready may crash this many times in a row before the state is "failed"
CRASH_LOOP_FAILED = 3
#: logs of exited replicas kept for ``deployment/logs``
PREVIOUS_LOGS = 8

# fields whose change rolls the replicas (the pod template); scale fields do not
_TEMPLATE_FIELDS = ("script", "environment", "token", "cpu", "memory", "image")


def _template(svc: dict[str, Any]) -> tuple:
    expose = dict(svc.get("expose") or {})
    for key in ("min_scale", "max_scale", "cpu_threshold", "set_auth", "auth_type"):
        expose.pop(key, None)
    return tuple(repr(svc.get(k)) for k in _TEMPLATE_FIELDS) + (repr(sorted(expose.items())),)


class ExposedDeployment:
    """The replicas of one exposed service."""

    def __init__(self, svc: dict[str, Any], *, isolation: Isolation, runtime_dir: str,
                 timings: Timings | None = None, scaling: ScalingTimings | None = None,
                 on_rotation: Callable[[], None] | None = None) -> None:
        self.svc = svc
        self.on_rotation = on_rotation   # the set of replicas in rotation changed (the front door follows)
        self.settings = ExposeSettings.of(svc)
        self.isolation = isolation
        self.runtime_dir = runtime_dir
        self.timings = timings or Timings()
        self.autoscaler = Autoscaler(self.settings.min_scale, self.settings.max_scale,
                                     self.settings.cpu_threshold, self.settings.cpu, scaling)
        self.replicas: list[Replica] = []
        self.previous_logs: list[ReplicaLog] = []
        self.generation = 1
        self.desired = self._clamp(self.settings.min_scale)
        self.stopped = False
        self.previous_desired = 0
        self._counter = 0
        self._crashes = 0            # consecutive exits of replicas that were never ready
        self._backoff_until = 0.0
        self._failure: str | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._scaler: asyncio.Task | None = None
        self._closing = False
        self._stopping: set[asyncio.Task] = set()
        self._ready_event = asyncio.Event()
        self._state_key: tuple = ()
        self.last_transition = time.time()
        self.reason = ""

    def _clamp(self, n: int) -> int:
        n = min(max(n, self.settings.min_scale), self.settings.max_scale, MACHINE_REPLICAS)
        return min(n, 1) if self.isolation.single else n

    # -- lifecycle -----------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._reconcile_forever(), name=f"exposed-{self.settings.name}")
        self._scaler = loop.create_task(self._autoscale_forever(), name=f"hpa-{self.settings.name}")
        self._changed()

    async def close(self) -> None:
        """Stop everything (service deleted or oscar-local stopping)."""
        self._closing = True
        for task in (self._task, self._scaler):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._task, self._scaler) if t), return_exceptions=True)
        await asyncio.gather(*(r.stop(drain=False) for r in self.replicas), *self._stopping,
                             return_exceptions=True)
        self.replicas.clear()

    def update(self, svc: dict[str, Any]) -> None:
        """A new definition: scale settings apply now; a changed template rolls the replicas."""
        rolled = _template(svc) != _template(self.svc)
        self.svc = svc
        self.settings = ExposeSettings.of(svc)
        if self.on_rotation is not None:
            self.on_rotation()  # auth and rewrite settings of the route
        s = self.settings
        self.autoscaler.configure(s.min_scale, s.max_scale, s.cpu_threshold, s.cpu)
        if rolled:
            self.generation += 1
            self._crashes, self._backoff_until, self._failure = 0, 0.0, None
        if not self.stopped:
            self.desired = self._clamp(s.min_scale)
        self._changed()

    def stop(self) -> None:
        """Scale to 0 and suspend autoscaling (``start`` restores the count)."""
        if not self.stopped and self.desired > 0:
            self.previous_desired = self.desired
        self.stopped = True
        self.desired = 0
        self.autoscaler.reset()
        self._changed()

    def start_again(self) -> None:
        """Restore the count before ``stop`` (else ``min_scale``, at least 1)."""
        self.stopped = False
        self.desired = self._clamp(self.previous_desired or self.settings.min_scale or 1)
        self._crashes, self._backoff_until, self._failure = 0, 0.0, None
        self._changed()

    def restart(self) -> None:
        """A rolling restart: every replica replaced, one at a time, without dropping requests."""
        self.generation += 1
        self._crashes, self._backoff_until, self._failure = 0, 0.0, None
        self._changed()

    def _changed(self) -> None:
        self._wake.set()
        self._note_state()

    # -- the control loop ----------------------------------------------
    async def _reconcile_forever(self) -> None:
        while not self._closing:
            try:
                await self._reconcile()
            except Exception:
                log.exception("exposed service %s: reconciling failed", self.settings.name)
            self._wake.clear()
            await waits.event_set(self._wake, 1.0)  # not wait_for: it can lose close()'s cancel

    async def _reconcile(self) -> None:
        # forget replicas that exited (restarts come below)
        for r in [r for r in self.replicas if r.state == EXITED and not r.draining]:
            if r not in self.replicas:
                continue
            self.replicas.remove(r)
            self._retire_log(r)
            self._crashed(r)
            await r.close()
        live = [r for r in self.replicas if not r.draining]
        current = [r for r in live if r.generation == self.generation]
        old = [r for r in live if r.generation != self.generation]
        # start replicas up to the wanted count (one extra while rolling)
        room = self.desired + (1 if old and not self.isolation.single else 0) - len(live)
        missing = self.desired - len(current)
        now = time.monotonic()
        if missing > 0 and room > 0 and now >= self._backoff_until:
            if self.isolation.single and self.replicas:
                room = 0  # one host port: the old replica must be gone first
            for _ in range(min(missing, room)):
                await self._start_replica()
        # retire old-generation replicas once enough new ones are ready
        ready_now = sum(1 for r in live if r.in_rotation)
        for r in sorted(old, key=lambda r: r.in_rotation):
            if self.isolation.single or not r.in_rotation or ready_now - 1 >= self.desired:
                if r.in_rotation:
                    ready_now -= 1
                self._retire(r)
        # scale down: not-ready first, then the newest
        live = [r for r in self.replicas if not r.draining]
        extra = len([r for r in live if r.generation == self.generation]) - self.desired
        if extra > 0:
            victims = sorted((r for r in live if r.generation == self.generation),
                             key=lambda r: (r.in_rotation, -r.started_at))
            for r in victims[:extra]:
                self._retire(r)
        self._note_state()

    async def _start_replica(self) -> None:
        self._counter += 1
        r = Replica(f"{self.settings.name}-{self._counter}", self.generation, self.svc, self.settings,
                    self.isolation, self.timings, self.runtime_dir, self._replica_changed)
        self.replicas.append(r)
        try:
            await r.start()
        except Exception as exc:
            r.failure = f"replica {r.ident} could not be started: {exc}"
            r.log.add(f"[oscar-local] {r.failure}")
            self.replicas.remove(r)
            self._retire_log(r)
            await r.close()
            self._crashed(r)

    def _crashed(self, r: Replica) -> None:
        if r.ever_ready and r.ready_at is not None and time.time() - r.ready_at > 60:
            self._crashes = 0
        self._crashes += 1
        self._failure = r.failure
        delay = min(30.0, 0.5 * 2 ** (self._crashes - 1))
        self._backoff_until = time.monotonic() + delay
        log.warning("exposed service %s: %s; restarting in %.1f s", self.settings.name, r.failure, delay)

    def _retire(self, r: Replica) -> None:
        r.draining = True
        task = asyncio.get_running_loop().create_task(self._finish(r))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _finish(self, r: Replica) -> None:
        await r.stop(drain=True)
        if r in self.replicas:
            self.replicas.remove(r)
            self._retire_log(r)
        self._changed()

    def _retire_log(self, r: Replica) -> None:
        if r.log.lines:
            self.previous_logs.append(r.log)
            del self.previous_logs[:-PREVIOUS_LOGS]

    def _replica_changed(self) -> None:
        if self.on_rotation is not None:
            self.on_rotation()
        if any(r.in_rotation for r in self.replicas):
            self._ready_event.set()
            self._crashes = 0
        else:
            self._ready_event.clear()
        self._changed()

    # -- autoscaling ---------------------------------------------------
    async def _autoscale_forever(self) -> None:
        while True:
            await asyncio.sleep(self.autoscaler.timings.period)
            if self.stopped or self.desired == 0:
                continue
            samples = [c for c in (r.cpu_cores() for r in self.ready()) if c is not None]
            wanted = self._clamp(self.autoscaler.recommend(self.desired, samples))
            if wanted != self.desired:
                log.info("exposed service %s: scaling %d -> %d replicas (CPU %.0f%% of %g cores, target %d%%)",
                         self.settings.name, self.desired, wanted,
                         100 * (self.autoscaler.last_utilisation or 0), self.settings.cpu,
                         self.settings.cpu_threshold)
                self.desired = wanted
                self._changed()

    # -- what others read ----------------------------------------------
    def ready(self) -> list[Replica]:
        """Replicas in rotation."""
        return [r for r in self.replicas if r.in_rotation]

    async def wait_ready(self, timeout: float) -> bool:
        return await waits.event_set(self._ready_event, timeout)

    def logs(self) -> Iterable[ReplicaLog]:
        return [*self.previous_logs, *(r.log for r in self.replicas)]

    def counts(self) -> tuple[int, int, int]:
        """(desired, observed, available) as a Deployment's spec/status count them."""
        observed = sum(1 for r in self.replicas if r.alive and not r.draining)
        return self.desired, observed, len(self.ready())

    def _state(self) -> tuple[str, str]:
        desired, observed, available = self.counts()
        rs = f'ReplicaSet "{self.settings.name}-dpl"'
        if desired == 0:
            return "stopped", "Deployment is stopped."
        if available >= desired:
            return "ready", f"NewReplicaSetAvailable: {rs} has successfully progressed."
        if available > 0:
            return "degraded", f"MinimumReplicasUnavailable: {observed - available} of {desired} instances are affected."
        if self._failure and self._crashes >= CRASH_LOOP_FAILED or (self._failure and "startup probe" in self._failure):
            return "failed", f"ProgressDeadlineExceeded: {self._failure}"
        return "pending", f"ReplicaSetUpdated: {rs} is progressing."

    def _note_state(self) -> None:
        state, reason = self._state()
        if not self.isolation.single and self.settings.min_scale > MACHINE_REPLICAS and state != "stopped":
            reason += f" At most {MACHINE_REPLICAS} replicas run on this machine."
        if self.isolation.single and self.settings.max_scale > 1 and state != "stopped":
            reason += (f" Only 1 replica runs on this machine ({self.isolation.reason}); "
                       f"max_scale {self.settings.max_scale} is not reached.")
        if self._failure and "OOMKilled" in self._failure and state != "stopped":
            reason += f" Last replica termination: {self._failure}."  # as a pod's lastState says
        note = self.isolation.note()
        if note and state != "stopped":
            reason += " " + note
        key = (state, reason)
        if key != self._state_key:
            self._state_key = key
            self.last_transition = time.time()
            self.reason = reason

    def status(self) -> dict[str, Any]:
        """``types.ServiceDeploymentStatus`` of Manager v4.1.2 for this deployment."""
        from ..state import rfc3339

        self._note_state()
        desired, observed, available = self.counts()
        return {
            "service_name": self.settings.name,
            "namespace": NAMESPACE,
            "state": self._state_key[0],
            "reason": self.reason,
            "last_transition_time": rfc3339(self.last_transition),
            "active_instances": observed,
            "affected_instances": max(0, observed - available),
            "resource_kind": "exposed_service",
        }
