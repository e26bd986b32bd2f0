"""The deployment of an exposed service: its state, its logs, stop/start/restart, waiting.

Manager v4.0 added ``GET /system/services/<name>/deployment`` (a
``ServiceDeploymentStatus``) and ``.../deployment/logs`` (a
``DeploymentLogStream``); v4.1 added ``POST /system/services/<name>/stop|start|restart``
for services with an ``expose`` section, each answering the deployment's new
status. Older Managers have none of these routes: the calls here say so in one
line (`errors.NotSupported`) instead of a bare 404.
"""
from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote

from . import errors

__all__ = ["Deployment", "DeploymentLogs", "LogEntry", "get_deployment", "get_logs", "change", "wait_exposed",
           "wait_deployment", "version_tuple", "ACTIONS", "STATES"]

#: lifecycle actions (``POST /system/services/<name>/<action>``)
ACTIONS = ("stop", "start", "restart")
#: the states the Manager reports
STATES = ("pending", "ready", "degraded", "failed", "stopped", "unavailable")


def version_tuple(version: str) -> Tuple[int, ...]:
    """(4, 1, 2) for 'v4.1.2' / '4.1.2-beta'; () when it cannot be read."""
    parts = []
    for piece in str(version or "").strip().lstrip("vV").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit()) if piece[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits[:6]))
        if not piece.isdigit():
            break
    return tuple(parts)


def _time(value: Any) -> Optional[_dt.datetime]:
    if not isinstance(value, str) or not value:
        return None
    try:
        return _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


@dataclass
class Deployment:
    """One look at a service's deployment (``types.ServiceDeploymentStatus``).

    `state` is one of `STATES`; `active_instances` counts the replicas that exist,
    `affected_instances` those of them that are not healthy; `reason` says why in
    the Manager's words; `last_transition_time` is when the state last changed.
    """

    service: str
    state: str
    active_instances: int = 0
    affected_instances: int = 0
    reason: str = ""
    last_transition_time: Optional[_dt.datetime] = None
    resource_kind: str = ""
    namespace: str = ""
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)
    #: the replicas the service keeps at least (its expose.min_scale), when known
    min_scale: Optional[int] = None
    max_scale: Optional[int] = None

    kind = "deployment"

    @classmethod
    def from_json(cls, data: Any, *, service: str = "", expose: Optional[Dict[str, Any]] = None
                  ) -> "Deployment":
        if not isinstance(data, dict):
            raise errors.APIError(f"deployment of {service!r}: expected a JSON object.",
                                  body=str(data)[:200])
        expose = expose or {}
        return cls(service=str(data.get("service_name") or service),
                   state=str(data.get("state") or "unknown").lower(),
                   active_instances=_int(data.get("active_instances")),
                   affected_instances=_int(data.get("affected_instances")),
                   reason=str(data.get("reason") or ""),
                   last_transition_time=_time(data.get("last_transition_time")),
                   resource_kind=str(data.get("resource_kind") or ""),
                   namespace=str(data.get("namespace") or ""),
                   raw=dict(data),
                   min_scale=_scale(expose.get("min_scale"), 1),
                   max_scale=_scale(expose.get("max_scale"), 10))

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def ready_instances(self) -> int:
        """Replicas that exist and are healthy."""
        return max(0, self.active_instances - self.affected_instances)

    @property
    def exposed(self) -> bool:
        return self.resource_kind == "exposed_service"

    def summary(self) -> str:
        """'ready · 2/2 replicas ready · Deployment is ready.' in one line."""
        parts = [self.state]
        if self.state == "stopped":
            if self.active_instances:
                parts.append(f"{self.active_instances} replica{'' if self.active_instances == 1 else 's'} "
                             "still stopping")
        else:
            want = f"/{self.min_scale}" if self.min_scale and self.exposed else ""
            many = max(self.ready_instances, self.min_scale or 0) != 1
            parts.append(f"{self.ready_instances}{want} replica{'s' if many else ''} ready")
        if self.reason:
            parts.append(self.reason)
        return " · ".join(parts)

    def __str__(self) -> str:
        return f"{self.service}: {self.summary()}"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        from . import display
        return display.mimebundle(self, include=include, exclude=exclude)


def _scale(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


@dataclass
class LogEntry:
    """One line a replica wrote; `timestamp` (RFC 3339) when asked for."""

    message: str
    timestamp: str = ""


@dataclass
class DeploymentLogs:
    """``types.DeploymentLogStream``: whether logs are available and their lines, oldest first."""

    service: str
    available: bool
    message: str = ""
    entries: List[LogEntry] = field(default_factory=list)

    kind = "deployment-logs"

    @classmethod
    def from_json(cls, data: Any, *, service: str = "") -> "DeploymentLogs":
        if not isinstance(data, dict):
            raise errors.APIError(f"deployment logs of {service!r}: expected a JSON object.",
                                  body=str(data)[:200])
        entries = []
        for item in data.get("entries") or []:
            if isinstance(item, dict):
                entries.append(LogEntry(str(item.get("message", "")), str(item.get("timestamp") or "")))
        return cls(service=str(data.get("service_name") or service), available=bool(data.get("available")),
                   message=str(data.get("message") or ""), entries=entries)

    @property
    def text(self) -> str:
        """The lines, each after its timestamp when there is one."""
        return "\n".join(f"{e.timestamp} {e.message}" if e.timestamp else e.message for e in self.entries)

    def __str__(self) -> str:
        return self.text if self.entries else (self.message or "no log lines")

    def __len__(self) -> int:
        return len(self.entries)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        from . import display
        return display.mimebundle(self, include=include, exclude=exclude)


# -- calls -----------------------------------------------------------------------------------

def _path(name: str, tail: str) -> str:
    return f"/system/services/{quote(name, safe='')}/{tail}"


def _require(cluster: Any, since: Tuple[int, int], what: str) -> None:
    """`NotSupported` when the cluster's Manager is older than `since` (unknown: try)."""
    try:
        version = version_tuple(cluster.version)
    except errors.OscarError:
        return
    if version and version[:2] < since:
        raise errors.NotSupported(
            f"{what}: {cluster.id} runs OSCAR {cluster.version}, which has no such route "
            f"(added in Manager v{since[0]}.{since[1]}).",
            hint="Use a v4.1 cluster (oscar-local --api-version 4.1), or watch the service "
                 "through its exposed URL.")


def _missing_or_forbidden(exc: errors.AuthError, what: str, cluster: Any, name: str) -> errors.OscarError:
    """The Manager's deployment routes answer 403 for a service that does not exist too (their
    permission text is written over the lookup's 404): tell the two apart by reading the service."""
    try:
        cluster.get_service_spec(name)
    except errors.NotFound:
        return errors.NotFound(f"{what}: there is no service {name!r} on {cluster.endpoint}.",
                               hint="Check the name (list with cluster.services()).")
    except errors.OscarError:
        pass
    return exc


def _no_route(exc: errors.OscarError, what: str, cluster: Any) -> errors.OscarError:
    """A 404 whose body is a router's own 'page not found': the route does not exist."""
    body = getattr(exc, "message", "")
    if isinstance(exc, errors.NotFound) and "page not found" in body.lower():
        return errors.NotSupported(f"{what}: {cluster.id} has no such route (a Manager older than v4.1?).")
    return exc


def _expose_of(cluster: Any, name: str) -> Dict[str, Any]:
    spec = cluster.get_service_spec(name)
    expose = spec.get("expose") if isinstance(spec, dict) else None
    return expose if isinstance(expose, dict) else {}


def get_deployment(cluster: Any, name: str, *, expose: Optional[Dict[str, Any]] = None) -> Deployment:
    """``GET /system/services/<name>/deployment`` as a `Deployment`."""
    what = f"deployment of {name!r}"
    _require(cluster, (4, 0), what)
    try:
        data = cluster.get_json(_path(name, "deployment"), what=what)
    except errors.NotFound as exc:
        raise _no_route(exc, what, cluster) from None
    except errors.AuthError as exc:
        raise _missing_or_forbidden(exc, what, cluster, name) from None
    if expose is None:
        expose = _expose_of(cluster, name)
    return Deployment.from_json(data, service=name, expose=expose)


def get_logs(cluster: Any, name: str, *, timestamps: bool = False,
             tail_lines: Optional[int] = None) -> DeploymentLogs:
    """``GET /system/services/<name>/deployment/logs``: the replicas' recent lines (the Manager
    keeps the last `tail_lines`, 200 by default, 1000 at most)."""
    what = f"deployment logs of {name!r}"
    if tail_lines is not None and (isinstance(tail_lines, bool) or not isinstance(tail_lines, int)
                                   or tail_lines < 1):
        raise errors.InvalidInput(f"tail_lines must be a whole number of at least 1, not {tail_lines!r}.")
    _require(cluster, (4, 0), what)
    params = {"timestamps": "true" if timestamps else "false"}
    if tail_lines is not None:
        params["tailLines"] = str(tail_lines)
    try:
        data = cluster.get_json(_path(name, "deployment/logs"), what=what, params=params)
    except errors.NotFound as exc:
        raise _no_route(exc, what, cluster) from None
    except errors.AuthError as exc:
        raise _missing_or_forbidden(exc, what, cluster, name) from None
    logs = DeploymentLogs.from_json(data, service=name)
    for entry in logs.entries:
        entry.message = cluster.redact(entry.message)
    return logs


def change(cluster: Any, name: str, action: str) -> Deployment:
    """``POST /system/services/<name>/<action>`` (stop, start or restart); the new `Deployment`."""
    if action not in ACTIONS:
        raise errors.InvalidInput(f"Unknown lifecycle action {action!r}: use one of {', '.join(ACTIONS)}.")
    what = f"{action} {name!r}"
    _require(cluster, (4, 1), what)
    try:
        response = cluster.request("POST", _path(name, action), what=what, expect=(200,))
    except errors.NotFound as exc:
        raise _no_route(exc, what, cluster) from None
    except errors.APIError as exc:
        if exc.status == 400 and "not exposed" in (exc.body or ""):
            raise errors.NotSupported(f"{what}: the service is not exposed; stop, start and restart "
                                      "apply to services with an expose section.") from None
        raise
    try:
        data = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict) or not data:  # restart answers the status too; be lenient
        return get_deployment(cluster, name, expose=_expose_of(cluster, name))
    return Deployment.from_json(data, service=name, expose=_expose_of(cluster, name))


#: states that end a wait badly
FAILED_STATES = ("failed",)


def wait_deployment(cluster: Any, name: str, *, timeout: float = 300.0, poll: float = 1.0,
                    progress: bool = True, expose: Optional[Dict[str, Any]] = None) -> Deployment:
    """Wait until the deployment is ready (every wanted replica answers its health check).

    Shows a progress bar of ready replicas out of ``expose.min_scale``. Raises
    `errors.ServiceFailed` when the deployment fails (the reason and the replicas'
    last log lines on it), `errors.Conflict` when it is stopped (nothing would
    start it), `errors.Timeout` after `timeout` seconds.
    """
    expose = expose if expose is not None else _expose_of(cluster, name)
    want = _scale(expose.get("min_scale"), 1)
    deadline = time.monotonic() + timeout
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=want, desc=f"{name} replicas ready", unit="replica", leave=False)
    try:
        while True:
            dep = get_deployment(cluster, name, expose=expose)
            if bar is not None:
                bar.n = min(dep.ready_instances, want)
                bar.set_postfix_str(dep.state, refresh=False)
                bar.refresh()
            if dep.state == "ready":
                return dep
            if dep.state in FAILED_STATES:
                log = ""
                try:
                    log = get_logs(cluster, name, tail_lines=50).text
                except errors.OscarError:
                    pass
                raise errors.ServiceFailed(f"Service {name!r} failed to deploy: {dep.reason or dep.state}.",
                                           log=log, hint="Read svc.deployment_logs() for the replicas' output.")
            if dep.state == "stopped":
                raise errors.Conflict(f"Service {name!r} is stopped: no replica will become ready.",
                                      hint="Start it with svc.start().")
            if time.monotonic() > deadline:
                raise errors.Timeout(f"Service {name!r} not ready after {timeout:.0f} s "
                                     f"({dep.summary()}).",
                                     hint="Wait longer, or read svc.deployment_logs().")
            time.sleep(poll)
    finally:
        if bar is not None:
            bar.close()


def wait_exposed(service: Any, *, timeout: float = 300.0, poll: float = 1.0, progress: bool = True) -> None:
    """Wait for an exposed service: through its deployment where the Manager reports one (v4),
    else until its ``health_path`` answers below 400 through the exposed URL (v3)."""
    expose = service.spec.get("expose") or {}
    try:
        _require(service.cluster, (4, 0), "deployment")
        wait_deployment(service.cluster, service.name, timeout=timeout, poll=poll, progress=progress,
                        expose=expose)
        return
    except errors.NotSupported:
        pass
    api = service.exposed
    deadline = time.monotonic() + timeout
    try:
        while not api.healthy():
            if time.monotonic() > deadline:
                raise errors.Timeout(f"Service {service.name!r}: {api.url_for(str(expose.get('health_path') or '/'))} "
                                     f"did not answer within {timeout:.0f} s.",
                                     hint="Check that its server listens on expose.api_port.")
            time.sleep(poll)
    finally:
        api.close()
