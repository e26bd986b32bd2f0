"""The exposed services one oscar-local runs: a deployment per service with ``expose``."""
from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass, field
from typing import Any

from .. import scratch
from ..slot import Containment
from .autoscaler import ScalingTimings
from .bays import INITIAL
from aiohttp import web

from .deployment import ExposedDeployment
from .frontdoor import FrontDoor, nginx_binary
from .launch import Isolation, contained, detect
from .proxy import Proxy
from .replica import Timings
from .settings import is_exposed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExposedOptions:
    """Timings and isolation of exposed services (tests shorten the windows)."""

    timings: Timings = field(default_factory=Timings)
    scaling: ScalingTimings = field(default_factory=ScalingTimings)
    network: str | None = None          # "bwrap", "unshare", "none" or None (the best that works)
    front: str | None = None            # "nginx", "aiohttp", or None: nginx where installed, else aiohttp
    bays: int = INITIAL                 # nginx routes before its first reload (frontdoor.py, bays.py)

    @classmethod
    def of(cls, extra: dict[str, Any]) -> "ExposedOptions":
        """From ``runtime.Options.extra['exposed']`` (a dict of these fields, timings as dicts)."""
        raw = dict(extra.get("exposed") or {})
        timings = raw.pop("timings", None)
        scaling = raw.pop("scaling", None)
        return cls(timings=Timings(**timings) if isinstance(timings, dict) else timings or Timings(),
                   scaling=ScalingTimings(**scaling) if isinstance(scaling, dict) else scaling or ScalingTimings(),
                   **raw)


class ExposedServices:
    """Deployments by service name."""

    def __init__(self, options: ExposedOptions | None = None, containment: Containment | None = None) -> None:
        self.options = options or ExposedOptions()
        self.containment = containment  # the invocations' sandbox and cgroups, shared by replicas
        self.deployments: dict[str, ExposedDeployment] = {}
        self.proxy = Proxy()
        self.isolation: Isolation | None = None
        self._scratch: scratch.Scratch | None = None  # the runtime directory, held from start to close
        self.front: FrontDoor | None = None

    async def start(self) -> None:
        if self.containment is not None:
            self.isolation = await asyncio.to_thread(contained, self.containment, self.options.network)
        else:
            self.isolation = await asyncio.to_thread(detect, self.options.network)
        self._scratch = scratch.make("oscar-x-")  # the runtime swept what servers killed hard left
        if self.containment is not None:
            self.containment.sandbox.let_through(self.runtime_dir)  # to each replica's own directory
        if self.isolation.single:
            log.warning("exposed services run one replica each: %s", self.isolation.reason)
        if not self.isolation.sandboxed:
            log.warning("exposed services' replicas are not sandboxed: %s", self.isolation.note())

    async def listen(self, runner: web.AppRunner, host: str, port: int, *, header_timeout: float,
                     v4: bool) -> int:
        """Serve ``runner`` on ``host:port`` (behind nginx where it runs); the port bound."""
        binary = nginx_binary(self.options.front)
        if binary is not None:
            prefix = tempfile.mkdtemp(prefix="front-", dir=self.runtime_dir)
            front = FrontDoor(binary, prefix, header_timeout, v4, bays=self.options.bays)
            try:
                port = await front.open(runner, host, port)
            except Exception as exc:
                await front.close()
                if self.options.front == "nginx":
                    raise
                log.warning("nginx could not be started (%s); exposed services go through aiohttp", exc)
            else:
                self.front = front
                front.configure(self.deployments.values())
                return port
        site = web.TCPSite(runner, host, port)
        await site.start()
        return next(a[1] for a in runner.addresses if isinstance(a, tuple))

    @property
    def runtime_dir(self) -> str:
        """The replicas' and the front door's short-path directory ("" before ``start``)."""
        return self._scratch.path if self._scratch is not None else ""

    def _rotation_changed(self) -> None:
        if self.front is not None:
            self.front.configure(self.deployments.values())

    async def close(self) -> None:
        await asyncio.gather(*(d.close() for d in self.deployments.values()), return_exceptions=True)
        self.deployments.clear()
        if self.front is not None:
            await self.front.close()
        if self._scratch is not None:
            self._scratch.remove()

    def get(self, name: str) -> ExposedDeployment | None:
        return self.deployments.get(name)

    async def apply(self, svc: dict[str, Any]) -> None:
        """Create, update or remove the deployment of ``svc`` after it was stored."""
        name = svc["name"]
        current = self.deployments.get(name)
        if not is_exposed(svc):
            if current is not None:
                await self.remove(name)
            return
        if current is not None:
            current.update(svc)
            return
        assert self.isolation is not None, "ExposedServices.start() first"
        deployment = ExposedDeployment(svc, isolation=self.isolation, runtime_dir=self.runtime_dir,
                                       timings=self.options.timings, scaling=self.options.scaling,
                                       on_rotation=self._rotation_changed)
        self.deployments[name] = deployment
        deployment.start()

    async def remove(self, name: str) -> None:
        deployment = self.deployments.pop(name, None)
        if deployment is not None:
            self._rotation_changed()
            await deployment.close()
