"""Comparing local definitions with deployed ones, as a unified diff of YAML lines."""
from __future__ import annotations

import difflib
from typing import Any, Dict, Union

from .. import spec
from ..spec import ServiceSpec
from .writer import dump

def diff_service(local: Union[ServiceSpec, Dict[str, Any]], deployed: Dict[str, Any], *,
                 local_label: str = "local", deployed_label: str = "deployed") -> str:
    """Unified diff (YAML lines) between a local definition and a deployed one.

    Server-set fields (token, owner, the server's ``minio.default``), defaults
    the Manager fills and secret values are left out, so an unchanged service
    gives an empty string.
    """
    left = local.data if isinstance(local, ServiceSpec) else local
    a = spec.redact_service(spec.comparable(left))
    b = spec.redact_service(spec.comparable(deployed))
    if a == b:
        return ""
    b = {**{k: b[k] for k in a if k in b}, **b}  # the local order: only real changes show
    name = a.get("name") or b.get("name") or "service"
    lines_a = dump(a).splitlines(keepends=True)
    lines_b = dump(b).splitlines(keepends=True)
    return "".join(difflib.unified_diff(lines_b, lines_a, fromfile=f"{name} ({deployed_label})",
                                        tofile=f"{name} ({local_label})"))
