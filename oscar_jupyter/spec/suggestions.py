"""What a misspelt key, level or provider reference most likely meant."""
from __future__ import annotations

import difflib
import re
from typing import Dict, Optional, Sequence

from .vocabulary import NAME_MAX


#: Known misspellings that difflib would not find on its own.
ALIASES: Dict[str, str] = {
    "port": "api_port",
    "ports": "api_port",
    "node_port": "nodePort",
    "mem": "memory",
    "gpu": "enable_gpu",
    "env": "environment",
    "vars": "variables",
    "envs": "variables",
    "secret": "secrets",
    "inputs": "input",
    "outputs": "output",
    "provider": "storage_provider",
    "loglevel": "log_level",
    "min": "min_scale",
    "max": "max_scale",
}


def suggest(key: str, candidates: Sequence[str]) -> Optional[str]:
    """The candidate `key` most likely meant (aliases, case, then difflib), or None."""
    if "." in key:  # a provider reference: prefer the only one of the same type
        kind = key.split(".", 1)[0].lower()
        same = [c for c in candidates if c.split(".", 1)[0] == kind and c != key]
        if len(same) == 1:
            return same[0]
    alias = ALIASES.get(key.lower())
    if alias in candidates:
        return alias
    lower = {c.lower(): c for c in candidates}
    if key.lower() in lower:
        return lower[key.lower()]
    match = difflib.get_close_matches(key.lower(), list(lower), n=1, cutoff=0.6)
    return lower[match[0]] if match else None


def suggest_name(name: str) -> str:
    """A valid DNS-label service name close to `name`."""
    fixed = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:NAME_MAX].strip("-")
    return fixed or "service"
