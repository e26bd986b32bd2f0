"""Notebook panels built from stock ipywidgets: deploy, services, invoke, jobs, storage, exposed, deepaas.

Each panel is a `VBox` subclass that code can drive as well as a user can click
it. `open_panel(name, cluster=None, **kw)` is what `%oscar panel NAME` calls.
"""
from __future__ import annotations

from typing import Any, Dict, Type

from oscar_jupyter.errors import OscarError

from .base import Panel
from .deepaas import DeepaasPanel
from .deploy import DeployPanel
from .exposed import ExposedPanel
from .invoke import InvokePanel
from .jobs import JobsPanel
from .services import ServicesPanel
from .storage import StoragePanel

PANELS: Dict[str, Type[Panel]] = {
    "deploy": DeployPanel,
    "services": ServicesPanel,
    "invoke": InvokePanel,
    "jobs": JobsPanel,
    "storage": StoragePanel,
    "exposed": ExposedPanel,
    "deepaas": DeepaasPanel,
}

__all__ = ["open_panel", "PANELS", "Panel", "DeployPanel", "ServicesPanel", "InvokePanel",
           "JobsPanel", "StoragePanel", "ExposedPanel", "DeepaasPanel"]


def open_panel(name: str, cluster: Any = None, **kwargs: Any) -> Panel:
    """Build the panel called `name` (deploy, services, invoke, jobs, storage, exposed, deepaas) on `cluster`.

    `cluster` defaults to the current cluster (`oscar_jupyter.current()`), else
    `connect()`. Keyword arguments go to the panel, e.g. `service="grayify"`.
    """
    key = name.strip().lower()
    if key not in PANELS:
        raise OscarError(f"Unknown panel {name!r}: choose one of {', '.join(PANELS)}.")
    return PANELS[key](cluster, **kwargs)
