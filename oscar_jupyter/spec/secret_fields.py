"""Which fields of a service hold secrets, and a redacted copy for display."""
from __future__ import annotations

from typing import Any, Dict, Sequence, Tuple, Union

from .problems import PathT


#: Paths (with '*' for any key) whose values are secrets.
SECRET_FIELDS: Tuple[PathT, ...] = (
    ("token",),
    ("environment", "secrets", "*"),
    ("clusters", "*", "auth_password"),
    ("storage_providers", "*", "*", "secret_key"),
    ("storage_providers", "*", "*", "password"),
    ("storage_providers", "*", "*", "token"),
    ("storage_providers", "*", "*", "refresh_token"),
    ("federation", "members", "*", "headers", "*"),
    ("replicas", "*", "headers", "*"),
)


REDACTED = "***"


def is_secret_path(path: Sequence[Union[str, int]]) -> bool:
    """True when `path` (or one of its parents) is listed in :data:`SECRET_FIELDS`."""
    for pattern in SECRET_FIELDS:
        if len(path) < len(pattern):
            continue
        if all(p == "*" or p == q for p, q in zip(pattern, path)):
            return True
    return False


def _redact(value: Any, path: PathT) -> Any:
    if is_secret_path(path) and not isinstance(value, (dict, list)) and value not in (None, ""):
        return REDACTED
    if isinstance(value, dict):
        return {k: _redact(v, path + (k,)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, path + (i,)) for i, v in enumerate(value)]
    return value


def redact_service(data: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of a service definition with every secret value replaced by '***'."""
    return _redact(data, ())
