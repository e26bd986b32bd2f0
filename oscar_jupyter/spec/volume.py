"""A service's ``volume`` section as Manager v4.1 checks it (``ValidateVolumeConfig``).

With a ``size`` the service creates a managed volume (named ``name``, else
after the service; ``lifecycle_policy`` ``delete`` by default, or
``retain``); with only a ``name`` it mounts one that exists. The checks run
in the Manager's order and say what it says (``volume.<field> <rule>``);
the section comes back trimmed, with the defaults the Manager fills. The
client's FDL validation (``rules``) and oscar-local's API (``local/volumes``)
both use it.
"""
from __future__ import annotations

import posixpath
import re
from typing import Any, Optional, Tuple

from .gostrings import trim_space
from .quantity import parse_quantity

DELETE, RETAIN = "delete", "retain"
#: types.ConfigPath and types.VolumePath (v4.1.2): the paths OSCAR mounts in every pod
RESERVED = ("/oscar/config", "/oscar/bin")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _positive_quantity(text: str) -> bool:
    error, sign = parse_quantity(text)
    return error is None and sign > 0


def checked_volume(service_name: str, volume: Any) -> Tuple[Optional[dict], Optional[Tuple[str, str]]]:
    """``(volume as the Manager keeps it, None)``, or ``(None, (field, rule))`` for the first check
    it fails (the Manager says ``volume.<field> <rule>``). No volume (or null) is ``(None, None)``."""
    if not isinstance(volume, dict):
        return None, None
    out = {key: trim_space(value) if isinstance(value, str) else value for key, value in volume.items()}
    name, size = str(out.get("name") or ""), str(out.get("size") or "")
    mount, policy = str(out.get("mount_path") or ""), str(out.get("lifecycle_policy") or "")
    if not mount:
        return None, ("mount_path", "is required")
    if not size and not name:
        return None, ("name", "is required when volume.size is not set")
    if name and (len(name) > 63 or not _DNS_LABEL.fullmatch(name)):
        return None, ("name", "must satisfy Kubernetes DNS-1123 naming rules")
    if size:
        if not _positive_quantity(size):
            return None, ("size", "must be a valid positive quantity")
        out["name"] = name or service_name
        if not policy:
            out["lifecycle_policy"] = DELETE
        elif policy not in (DELETE, RETAIN):
            return None, ("lifecycle_policy", f'must be either "{DELETE}" or "{RETAIN}"')
    elif policy:
        return None, ("lifecycle_policy", "is only valid when volume.size is set")
    if not posixpath.isabs(mount):
        return None, ("mount_path", "must be an absolute path")
    if any(mount == p or mount.startswith(p + "/") for p in RESERVED):
        return None, ("mount_path", "cannot overlap OSCAR reserved paths")
    return out, None
