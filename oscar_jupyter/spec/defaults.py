"""What the Manager fills when a field is missing."""
from __future__ import annotations

import copy
from typing import Any, Dict


#: What the Manager sets when a field is missing (`createService`).
DEFAULTS: Dict[str, Any] = {
    "memory": "256Mi",
    "cpu": "0.2",
    "log_level": "INFO",
    "visibility": "private",
    "enable_gpu": False,
    "alpine": False,
    "synchronous": {"min_scale": 0, "max_scale": 0},
}


#: Defaults of an `expose` block (from the spec's `types.Expose`).
EXPOSE_DEFAULTS: Dict[str, Any] = {
    "min_scale": 1,
    "max_scale": 10,
    "cpu_threshold": 80,
    "health_path": "/",
    "rewrite_target": False,
}


def with_defaults(data: Dict[str, Any]) -> Dict[str, Any]:
    """A deep copy of `data` with what the Manager fills on creation."""
    out = copy.deepcopy(data)
    for key, value in DEFAULTS.items():
        if key not in out or out[key] in (None, ""):
            out[key] = copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(out[key], dict):
            for sub, subval in value.items():
                out[key].setdefault(sub, subval)
    if isinstance(out.get("expose"), dict):
        for key, value in EXPOSE_DEFAULTS.items():
            out["expose"].setdefault(key, value)
    env = out.setdefault("environment", {})
    if isinstance(env, dict):
        env.setdefault("variables", {})
    for key in ("input", "output"):
        if out.get(key) is None:
            out[key] = []
    return out
