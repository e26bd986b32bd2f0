"""oscar-jupyter: author, deploy, invoke and watch OSCAR services from Python and Jupyter.

    import oscar_jupyter as oj
    cluster = oj.connect()              # environment, oscar-cli config, or an embedded oscar-local
    svc = cluster.service("grayify")
    result = svc.run(image)             # -> ImageResult, shown inline in a notebook

Nothing imported here pulls in IPython or ipywidgets; `%load_ext oscar_jupyter`
loads the magics only when asked.
"""
from __future__ import annotations

from typing import Any

from . import errors
from .auth import BasicAuth, BearerAuth, OidcAgentAuth, RefreshTokenAuth
from .cluster import Cluster
from .codecs import oscar_files
from .connections import clusters, connect, current, disconnect, use
from .deepaas import Deepaas, DeepaasModel
from .deployment import Deployment, DeploymentLogs
from .exposed import ExposedService
from .errors import (APIError, AuthError, ConfigError, Conflict, ConnectionFailed, InvalidDefinition,
                     InvalidInput, NotFound, NotSupported, OscarError, ServiceFailed, StorageError, Timeout)
from .jobs import AsyncRun, Job, JobList
from .results import (ArrayResult, BatchItem, BatchResult, BytesResult, DetectionResult, FilesResult,
                      ImageResult, JSONResult, PDFResult, PredictionResult, Result, TextResult)
from .service import Service, ServiceList
from .storage import Storage

__version__ = "0.1.0"

__all__ = [
    "connect", "clusters", "current", "use", "disconnect", "oscar_files",
    "Cluster", "Service", "ServiceList", "Storage", "Job", "JobList", "AsyncRun",
    "BasicAuth", "BearerAuth", "RefreshTokenAuth", "OidcAgentAuth",
    "Result", "ImageResult", "JSONResult", "PredictionResult", "DetectionResult", "TextResult",
    "BytesResult", "PDFResult", "ArrayResult", "FilesResult", "BatchItem", "BatchResult",
    "errors", "OscarError", "AuthError", "NotFound", "InvalidDefinition", "ServiceFailed", "Timeout",
    "StorageError", "ConnectionFailed", "Conflict", "ConfigError", "InvalidInput", "APIError",
    "NotSupported", "Deployment", "DeploymentLogs", "ExposedService", "Deepaas", "DeepaasModel",
    "load_ipython_extension", "unload_ipython_extension",
]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext oscar_jupyter`: register the %oscar and %%oscar_fdl magics."""
    from .notebook import magics
    magics.load_ipython_extension(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .notebook import magics
    unload = getattr(magics, "unload_ipython_extension", None)
    if unload is not None:
        unload(ipython)
