"""A federated service (v4.1 ``federation``) as the Manager's create.go and update.go take it.

Before anything else is refused, a service with ``members`` needs a
``refresh_token`` environment secret (400; on update one kept from before
also does), and on create each ``oscar`` member's cluster must be defined in
``clusters`` (401 ``federation auth failed: [cluster "c" not defined]``).
The Manager then asks each defined cluster whether the caller's credentials
work and sends it the service; oscar-local does neither. Stored, the block
gets ``topology: none`` when it has none (``checkValues``) and the service's
name as a blank ``group_id`` (``ApplyFederation``).
"""
from __future__ import annotations

from typing import Any

from ..spec.gostrings import trim_space


def _refresh_token(svc: Any) -> str:
    """extractRefreshTokenSecret: the ``refresh_token`` environment secret, trimmed."""
    env = svc.get("environment") if isinstance(svc, dict) else None
    secrets = env.get("secrets") if isinstance(env, dict) else None
    value = secrets.get("refresh_token") if isinstance(secrets, dict) else None
    return trim_space(value) if isinstance(value, str) else ""


def refusal(data: dict[str, Any], previous: dict[str, Any] | None) -> tuple[int, str] | None:
    """What v4.1's create.go and update.go refuse of a federated service (one with members) before
    anything is stored: no ``refresh_token`` secret (on update, none kept from before either),
    then, on create, an ``oscar`` member whose cluster ``clusters`` does not define (the Manager
    then asks each defined cluster whether the caller's credentials work; oscar-local does not)."""
    federation = data.get("federation")
    members = federation.get("members") if isinstance(federation, dict) else None
    if not isinstance(members, list) or not members:
        return None
    if not _refresh_token(data) and (previous is None or not _refresh_token(previous)):
        return 400, "refresh_token secret is required for federated services"
    if previous is not None:
        return None
    clusters = data.get("clusters") if isinstance(data.get("clusters"), dict) else {}
    missing = [f'cluster "{m.get("cluster_id") or ""}" not defined' for m in members
               if isinstance(m, dict) and str(m.get("type") or "").lower() == "oscar"
               and (m.get("cluster_id") or "") not in clusters]
    return (401, f"federation auth failed: [{' '.join(missing)}]") if missing else None


def fill_defaults(svc: dict[str, Any]) -> None:
    """``topology`` and ``group_id`` as the Manager fills them, in place."""
    block = svc.get("federation")
    if not isinstance(block, dict):
        return
    if not block.get("topology"):
        block["topology"] = "none"  # create.go checkValues
    if not trim_space(str(block.get("group_id") or "")):
        block["group_id"] = svc["name"]  # utils.ApplyFederation's defaultGroupID
