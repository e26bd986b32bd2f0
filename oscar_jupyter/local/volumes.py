"""A service's ``volume`` (Manager v4.1): checked, stored and reported as the Manager does.

v4.1 lets a service mount a persistent volume at ``volume.mount_path``:
with a ``size`` the service creates a managed volume (named ``name``, else
after the service; ``lifecycle_policy`` ``delete``, the default, removes it
with the service, ``retain`` keeps it), with only a ``name`` it mounts one
that exists. The Manager's ``ValidateVolumeConfig`` checks the section after
the body decodes (a 400 ``The service specification is not valid: volume.…``,
``refusal``, which also trims the fields and fills the defaults), a name-only
volume that does not exist is a 400 and a managed volume whose name is taken
a 409 when the service is created (``conflict``), a ``PUT`` that changes the
section is a 400 (``changed``), and reads report ``volume_status``
(``status``).

oscar-local keeps no volumes of its own: a managed volume lives as long as
the record the Manager's PersistentVolumeClaim would be (``State``'s
``volumes``): made with the service that declares a ``size``, deleted with
it unless retained, named by services that mount it. Scripts see no mount
and no data is kept (docs/oscar-local.md).
"""
from __future__ import annotations

import posixpath
import re
from typing import Any, Optional

DELETE, RETAIN = "delete", "retain"
#: types.ConfigPath and types.VolumePath: the paths OSCAR mounts in every pod
_RESERVED = ("/oscar/config", "/oscar/volume")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# resource.ParseQuantity: a signed decimal number, then a binary or decimal suffix or an exponent
_QUANTITY = re.compile(r"^([+-]?)(\d+\.?\d*|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")
NOT_FOUND = "Referenced volume does not exist in the caller namespace"
TAKEN = "A managed volume with the provided name already exists"
CHANGED = "volume updates are not supported after service creation"


def _positive_quantity(text: str) -> bool:
    match = _QUANTITY.match(text)
    return bool(match) and match.group(1) != "-" and any(c in "123456789" for c in match.group(2))


def refusal(service_name: str, volume: Any) -> tuple[Optional[dict], Optional[str]]:
    """``(volume as stored, None)`` or ``(None, why)``: ValidateVolumeConfig's order and words.
    A missing (or null) volume is ``(None, None)``."""
    if not isinstance(volume, dict):
        return None, None
    out = {key: value.strip() if isinstance(value, str) else value for key, value in volume.items()}
    name, size = str(out.get("name") or ""), str(out.get("size") or "")
    mount, policy = str(out.get("mount_path") or ""), str(out.get("lifecycle_policy") or "")
    if not mount:
        return None, "volume.mount_path is required"
    if not size and not name:
        return None, "volume.name is required when volume.size is not set"
    if name and (len(name) > 63 or not _DNS_LABEL.match(name)):
        return None, "volume.name must satisfy Kubernetes DNS-1123 naming rules"
    if size:
        if not _positive_quantity(size):
            return None, "volume.size must be a valid positive quantity"
        out["name"] = name or service_name
        if not policy:
            out["lifecycle_policy"] = DELETE
        elif policy not in (DELETE, RETAIN):
            return None, f'volume.lifecycle_policy must be either "{DELETE}" or "{RETAIN}"'
    elif policy:
        return None, "volume.lifecycle_policy is only valid when volume.size is set"
    if not posixpath.isabs(mount):
        return None, "volume.mount_path must be an absolute path"
    if any(mount == p or mount.startswith(p + "/") for p in _RESERVED):
        return None, "volume.mount_path cannot overlap OSCAR reserved paths"
    return out, None


def created(service_name: str, volume: Optional[dict], state: Any) -> Optional[tuple[int, str]]:
    """EnsureServiceVolume as CreateService runs it, on ``state``'s record of managed volumes:
    ``(status, text)`` when the service cannot be created, else None (a managed volume recorded).

    A managed volume whose name is taken is a 409, and the Manager's clean-up after that failure
    (``DeleteServiceVolume`` for the service it could not create) deletes the volume of that name
    unless the refused service asked to retain it: so does oscar-local, which keeps no data in it.
    A name-only volume that is not recorded is a 400."""
    if not volume:
        return None
    name = str(volume.get("name") or "")
    if not volume.get("size"):
        return None if state.get_volume(name) is not None else (400, NOT_FOUND)
    if state.get_volume(name) is not None:
        if volume.get("lifecycle_policy") != RETAIN:
            state.delete_volume(name)
        return 409, TAKEN
    state.put_volume(name, {"size": volume["size"], "lifecycle_policy": volume.get("lifecycle_policy") or DELETE,
                            "created_by_service": service_name})
    return None


def deleted(volume: Any, state: Any) -> None:
    """DeleteServiceVolume: a managed volume goes with its service unless it is retained."""
    if isinstance(volume, dict) and volume.get("size") and volume.get("lifecycle_policy") != RETAIN:
        state.delete_volume(str(volume.get("name") or ""))


def changed(stored: Any, sent: Optional[dict]) -> bool:
    """SameVolumeConfig, negated: a PUT may not add, drop or change the volume."""
    stored = stored if isinstance(stored, dict) else None
    if stored is None or sent is None:
        return (stored is None) != (sent is None)
    keys = ("name", "size", "mount_path", "lifecycle_policy")
    return any(str(stored.get(k) or "") != str(sent.get(k) or "") for k in keys)


def status(volume: Any, state: Any) -> dict[str, Any]:
    """``volume_status`` as a read reports it (setVolumeStatus): a recorded volume is mounted by
    the service read (``in_use``); one deleted meanwhile is Kubernetes' not-found error."""
    if not isinstance(volume, dict):
        return {"enabled": False}
    name = str(volume.get("name") or "")
    if state.get_volume(name) is None:
        return {"enabled": True, "name": name, "phase": "error",
                "error": f'persistentvolumeclaims "{name}" not found'}
    return {"enabled": True, "name": name, "phase": "in_use"}
