"""The exposed services one oscar-local runs: a deployment per service with ``expose``."""
from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

from .autoscaler import ScalingTimings
from .deployment import ExposedDeployment
from .launch import Isolation, detect
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
    containment: tuple[str, ...] = ()   # argv prefix wrapping each replica's script

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

    def __init__(self, options: ExposedOptions | None = None) -> None:
        self.options = options or ExposedOptions()
        self.deployments: dict[str, ExposedDeployment] = {}
        self.proxy = Proxy()
        self.isolation: Isolation | None = None
        self.runtime_dir = ""

    async def start(self) -> None:
        self.isolation = await asyncio.to_thread(detect, self.options.network)
        self.runtime_dir = tempfile.mkdtemp(prefix="oscar-x-")
        if self.isolation.single:
            log.warning("exposed services run one replica each: %s", self.isolation.reason)

    async def close(self) -> None:
        await asyncio.gather(*(d.close() for d in self.deployments.values()), return_exceptions=True)
        self.deployments.clear()
        if self.runtime_dir:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)

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
                                       containment=self.options.containment)
        self.deployments[name] = deployment
        deployment.start()

    async def remove(self, name: str) -> None:
        deployment = self.deployments.pop(name, None)
        if deployment is not None:
            await deployment.close()
