"""Masking secret values in mappings before they are rendered.

Keys are matched by name (passwords, tokens, secret keys...) so this works on
any document shape a display meets: FDL files, service dicts, configs. It is a
second line of defence behind `spec.redact_service` and `FDL.to_dict`.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

MASK = "***"
_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|credential|private_key|api_key)", re.I)


def is_secret_key(key: Any) -> bool:
    """True when a mapping key names a secret (passwords, tokens, secret keys)."""
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


def masked(value: Any, *, inside_secrets: bool = False) -> Any:
    """A deep copy of `value` with secret values replaced by '***'.

    Keys that name a secret are masked, and every value under an
    `environment.secrets` mapping or a `headers` mapping (delegation headers
    carry credentials) is masked whatever its key.
    """
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if inside_secrets or (is_secret_key(k) and not isinstance(v, (Mapping, list))):
                out[k] = MASK if v not in (None, "") else v
            elif k in ("secrets", "headers") and isinstance(v, Mapping):
                out[k] = masked(v, inside_secrets=True)
            else:
                out[k] = masked(v)
        return out
    if isinstance(value, list):
        return [masked(v, inside_secrets=inside_secrets) for v in value]
    return value
