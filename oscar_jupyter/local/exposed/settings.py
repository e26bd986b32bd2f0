"""An exposed service's ``expose`` block as oscar-local runs it.

The Manager (v3.7.1 and v4.1.2, ``pkg/backends/resources/expose.go``)
exposes a service when its first ``api_port`` is not 0 (a number up to
v4.0, a list from v4.1: only ``api_port[0]`` is routed and probed), runs
between ``min_scale`` and ``max_scale`` pods scaled on CPU against
``cpu_threshold`` % of the service's ``cpu``, routes
``/system/services/<name>/exposed/<path>`` to them (``rewrite_target``:
false sends ``/<path>``, true the whole path), and probes ``health_path``
(under the exposed prefix when ``rewrite_target`` is set, unless
``probe_mode: direct``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ...spec.gostrings import quote, trim_space

#: ``auth_type`` values the Manager knows (empty means basic)
AUTH_TYPES = ("basic", "forward")
#: ``probe_mode`` value that probes ``health_path`` without the exposed prefix
DIRECT_PROBES = "direct"


def base_path(name: str) -> str:
    """Where a service is exposed: ``/system/services/<name>/exposed``."""
    return f"/system/services/{name}/exposed"


def first_port(value: Any) -> int:
    """``api_port[0]`` whatever shape it was sent in (0 when none)."""
    if isinstance(value, list):
        value = value[0] if value else 0
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return value


def is_exposed(svc: Mapping[str, Any]) -> bool:
    """Whether the Manager would create a deployment for ``svc`` (first api_port not 0)."""
    expose = svc.get("expose")
    return isinstance(expose, dict) and first_port(expose.get("api_port")) != 0


def cpu_cores(value: Any, default: float = 0.2) -> float:
    """A Kubernetes CPU quantity (``"0.5"``, ``"500m"``, ``1``) in cores."""
    text = str(value if value not in (None, "") else default).strip()
    try:
        cores = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        return default
    return cores if cores > 0 else default


def _health(path: Any) -> str:
    text = str(path or "").strip()
    if not text:
        return "/"
    return text if text.startswith("/") else "/" + text


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


@dataclass(frozen=True)
class ExposeSettings:
    """What running one exposed service needs from its definition."""

    name: str
    port: int
    min_scale: int
    max_scale: int
    cpu_threshold: int
    cpu: float
    rewrite_target: bool
    health_path: str
    probe_path: str
    set_auth: bool
    auth_type: str
    default_command: bool

    @classmethod
    def of(cls, svc: Mapping[str, Any]) -> "ExposeSettings":
        expose = svc.get("expose") or {}
        name = str(svc.get("name") or "")
        health = _health(expose.get("health_path"))
        rewrite = bool(expose.get("rewrite_target"))
        direct = str(expose.get("probe_mode") or "").strip().lower() == DIRECT_PROBES
        probe = base_path(name) + health if rewrite and not direct else health
        low = max(0, _int(expose.get("min_scale"), 1))
        high = _int(expose.get("max_scale"), 10)
        return cls(
            name=name,
            port=first_port(expose.get("api_port")),
            min_scale=low,
            max_scale=max(low, high),
            cpu_threshold=_int(expose.get("cpu_threshold"), 80) or 80,
            cpu=cpu_cores(svc.get("cpu")),
            rewrite_target=rewrite,
            health_path=health,
            probe_path=probe,
            set_auth=bool(expose.get("set_auth")),
            auth_type=_auth_type(expose),
            default_command=bool(expose.get("default_command")),
        )

    @property
    def base_path(self) -> str:
        return base_path(self.name)


def problem(svc: Mapping[str, Any]) -> str | None:
    """Why oscar-local cannot run ``svc``'s ``expose`` block, or None.

    ``default_command: true`` runs the image's CMD on a cluster; oscar-local
    has no image, so it needs the service's script instead.
    """
    if not is_exposed(svc):
        return None
    expose = svc.get("expose") or {}
    if expose.get("default_command") and not str(svc.get("script") or "").strip():
        return ("expose.default_command: oscar-local runs no container image, so there is no "
                "default command (CMD) to start; give the service a script that starts the "
                "server (e.g. 'exec python3 -m http.server $PORT'), or the image's CMD as the "
                "script's last line, and set default_command: false")
    if not _routed(expose) and _auth_type(expose) not in AUTH_TYPES and create_refusal(svc) is None:
        # the Manager checks no auth without a route; oscar-local routes every exposed service
        return f"expose.auth_type: unsupported expose auth_type {expose.get('auth_type')!r} (use basic or forward)"
    return None


def _auth_type(expose: Mapping[str, Any]) -> str:
    raw = expose.get("auth_type")
    return trim_space(raw if isinstance(raw, str) else "").lower() or "basic"


def _routed(expose: Mapping[str, Any]) -> bool:
    """Whether the Manager makes a route (and checks its auth) for the service: no ``nodePort``,
    or a dynamic one (0) first; v4.1 only, whose ports are lists."""
    nodes = expose.get("nodePort")
    return isinstance(expose.get("api_port"), list) and (not isinstance(nodes, list) or first_port(nodes) == 0)


def create_refusal(svc: Mapping[str, Any]) -> str | None:
    """What the Manager's ``CreateExpose`` refuses of ``svc`` on its own (before Kubernetes says
    anything of the deployment it makes): ``nodePort`` and ``api_port`` lists of different
    lengths, then (when it makes a route) an ``auth_type`` it does not know. The text follows
    ``Error creating the service: ``."""
    if not is_exposed(svc):
        return None
    expose = svc["expose"]
    ports, nodes = expose.get("api_port"), expose.get("nodePort")
    if isinstance(ports, list) and isinstance(nodes, list) and nodes and len(nodes) != len(ports):
        return f"The length of nodePort ({len(nodes)}) must be equal to that of api_port ({len(ports)})"
    if _routed(expose) and _auth_type(expose) not in AUTH_TYPES:
        raw = expose.get("auth_type") if isinstance(expose.get("auth_type"), str) else ""
        return (f"error creating route for exposed service '{svc.get('name')}': "
                f"unsupported expose auth_type {quote(raw)}")
    return None
