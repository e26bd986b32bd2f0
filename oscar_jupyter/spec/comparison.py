"""Comparing a local definition with a deployed one: what is left when server noise is gone."""
from __future__ import annotations

from typing import Any, Dict

from .defaults import with_defaults
from .normalisation import normalise
from .secret_fields import REDACTED
from .vocabulary import LABEL_FIELDS, SERVER_LABELS, SERVER_SET_FIELDS


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def prune(value: Any) -> Any:
    """Drop Go zero values (false, 0, '', null, empty lists/maps): the Manager cannot tell
    them from unset, and GET returns every field of its struct."""
    if isinstance(value, dict):
        out = {}
        for key, sub in value.items():
            sub = prune(sub)
            if sub in (None, "", [], {}) or sub is False or (is_int(sub) and sub == 0):
                continue
            out[key] = sub
        return out
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def comparable(data: Dict[str, Any]) -> Dict[str, Any]:
    """The user-meaningful part of a service: normalised, defaults filled, server-set fields gone.

    Two definitions that deploy the same service give equal results, whether
    one is a local spec and the other what ``GET /system/services/<name>``
    returned: token, owner, cluster_id, labels the Manager adds, the server's
    own ``minio.default`` credentials, zero values and secret values are
    ignored (a secret compares only by name).
    """
    out, _ = normalise(data, source="fdl")  # the tolerant reading: equal means same service
    for key in SERVER_SET_FIELDS + LABEL_FIELDS:
        out.pop(key, None)
    env = out.get("environment")
    if isinstance(env, dict) and isinstance(env.get("secrets"), dict):
        env["secrets"] = {k: REDACTED for k in env["secrets"]}
    providers = out.get("storage_providers")
    if isinstance(providers, dict) and isinstance(providers.get("minio"), dict):
        providers["minio"].pop("default", None)
    labels = out.get("labels")
    if isinstance(labels, dict):
        out["labels"] = {k: v for k, v in labels.items()
                         if k not in SERVER_LABELS and not k.lower().startswith("oscar")}
    if out.get("isolation_level") == "SERVICE":
        out.pop("isolation_level")  # the v3.7+ default
    if isinstance(out.get("script"), str):
        out["script"] = out["script"].replace("\r\n", "\n")
    expose = out.get("expose")
    if isinstance(expose, dict):
        for key in ("api_port", "nodePort"):  # a number up to Manager v4.0, a list from v4.1
            value = expose.get(key)
            if is_int(value):
                value = [value]
            if isinstance(value, list):
                expose[key] = [v for v in value if not (is_int(v) and v == 0)]  # 0: no port
    return prune(with_defaults(prune(out)))
