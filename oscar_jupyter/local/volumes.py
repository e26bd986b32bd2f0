"""A service's ``volume`` (Manager v4.1): checked, stored and reported as the Manager does.

v4.1 lets a service mount a persistent volume at ``volume.mount_path``:
with a ``size`` the service creates a managed volume (named ``name``, else
after the service; ``lifecycle_policy`` ``delete``, the default, removes it
with the service, ``retain`` keeps it), with only a ``name`` it mounts one
that exists. The Manager's ``ValidateVolumeConfig`` checks the section once
the body is bound (``refusal``: a 400 ``The service specification is not
valid: volume.…`` from ``spec.volume``, whose checks also trim the fields and
fill the defaults); creating the service refuses a name-only volume that
does not exist (400) and a managed volume whose name is taken (409)
(``Volumes.created``); a ``PUT`` that changes the section is a 400
(``changed``); reads report ``volume_status`` (``Volumes.status``).

In oscar-local a managed volume is a record in the state (what the
Manager's PersistentVolumeClaim is) in its owner's namespace, and a
directory in the data dir (``volumes/<namespace digest>/<name>``), made with
the service that declares a ``size`` and deleted with it unless retained;
the bubblewrap sandbox mounts it at ``mount_path`` for every run of the
services that name it (``Volumes.binds``). Other sandbox modes have no
mount (docs/oscar-local.md).
"""
from __future__ import annotations

import hashlib
import os
from typing import Any, Optional

from ..spec.volume import DELETE, RETAIN, checked_volume
from .scratch import remove_tree

NOT_FOUND = "Referenced volume does not exist in the caller namespace"
TAKEN = "A managed volume with the provided name already exists"
CHANGED = "volume updates are not supported after service creation"


def refusal(service_name: str, volume: Any) -> tuple[Optional[dict], Optional[str]]:
    """``(volume as stored, None)`` or ``(None, why)`` in ValidateVolumeConfig's words
    (``spec.volume``). A missing (or null) volume is ``(None, None)``."""
    kept, problem = checked_volume(service_name, volume)
    return (None, f"volume.{problem[0]} {problem[1]}") if problem else (kept, None)


def changed(stored: Any, sent: Optional[dict]) -> bool:
    """SameVolumeConfig, negated: a PUT may not add, drop or change the volume."""
    stored = stored if isinstance(stored, dict) else None
    if stored is None or sent is None:
        return (stored is None) != (sent is None)
    keys = ("name", "size", "mount_path", "lifecycle_policy")
    return any(str(stored.get(k) or "") != str(sent.get(k) or "") for k in keys)


class Volumes:
    """The managed volumes of one oscar-local: their record in ``state`` (what a PersistentVolumeClaim
    is to the Manager) and their data, a directory each under ``root``, mounted at the service's
    ``mount_path`` in the sandbox of its invocations, jobs and replicas (``binds``).

    Volumes live in a namespace, as on the Manager (the admin's services share the services
    namespace, each OIDC user has one of their own): the owner of the service that made or
    names the volume. A service's volume keeps its namespace in the stored definition
    (``namespace``, which reads leave out: ServiceVolumeConfig has no such field)."""

    def __init__(self, state: Any, root: str, sandbox: Any = None) -> None:
        self.state = state
        self.root = root
        self.sandbox = sandbox

    def path(self, namespace: str, name: str) -> str:
        """The data of volume ``name`` of ``namespace`` (a digest: owners are any text)."""
        return os.path.join(self.root, hashlib.sha256(namespace.encode()).hexdigest()[:16], name)

    def created(self, service_name: str, volume: Optional[dict], namespace: str) -> Optional[tuple[int, str]]:
        """EnsureServiceVolume as CreateService runs it, in ``namespace``: ``(status, text)`` when
        the service cannot be created, else None (``volume`` takes the namespace; a managed volume
        is recorded and its directory made, empty).

        A managed volume whose name is taken is a 409, and the Manager's clean-up after that
        failure (``DeleteServiceVolume`` for the service it could not create) deletes the volume
        of that name unless the refused service asked to retain it: so does oscar-local. A
        name-only volume that is not recorded is a 400."""
        if not volume:
            return None
        volume["namespace"] = namespace
        name = str(volume.get("name") or "")
        if not volume.get("size"):
            return None if self.state.get_volume(namespace, name) is not None else (400, NOT_FOUND)
        if self.state.get_volume(namespace, name) is not None:
            if volume.get("lifecycle_policy") != RETAIN:
                self._remove(namespace, name)
            return 409, TAKEN
        path = self.path(namespace, name)
        if not remove_tree(path):  # what a volume of that name left must not reach this one
            raise OSError(f"the data of an earlier volume {name!r} could not be removed from {path}")
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        os.mkdir(path, 0o700)
        if self.sandbox is not None:
            self.sandbox.own(path)  # the sandbox uid writes there
        self.state.put_volume(namespace, name, {"size": volume["size"], "created_by_service": service_name,
                                                "lifecycle_policy": volume.get("lifecycle_policy") or DELETE})
        return None

    def deleted(self, volume: Any) -> None:
        """DeleteServiceVolume: a managed volume goes with its service, data and all, unless it is
        retained."""
        if isinstance(volume, dict) and volume.get("size") and volume.get("lifecycle_policy") != RETAIN:
            self._remove(str(volume.get("namespace") or ""), str(volume.get("name") or ""))

    def status(self, volume: Any) -> dict[str, Any]:
        """``volume_status`` as a read reports it (setVolumeStatus): a recorded volume is mounted
        by the service read (``in_use``); one deleted meanwhile is Kubernetes' not-found error."""
        if not isinstance(volume, dict):
            return {"enabled": False}
        name = str(volume.get("name") or "")
        if self.state.get_volume(str(volume.get("namespace") or ""), name) is None:
            return {"enabled": True, "name": name, "phase": "error",
                    "error": f'persistentvolumeclaims "{name}" not found'}
        return {"enabled": True, "name": name, "phase": "in_use"}

    def binds(self, service: Any) -> list[tuple[str, str, bool]]:
        """The sandbox mount of ``service``'s volume (outside, inside, writable), or none: no
        volume, or one with no record or no data directory (never made here: a run does not
        bring back a volume deleted meanwhile)."""
        volume = service.get("volume") if isinstance(service, dict) else None
        if not isinstance(volume, dict) or not volume.get("mount_path"):
            return []
        namespace, name = str(volume.get("namespace") or ""), str(volume.get("name") or "")
        path = self.path(namespace, name)
        if not name or self.state.get_volume(namespace, name) is None or not os.path.isdir(path):
            return []
        return [(path, str(volume["mount_path"]), True)]

    def _remove(self, namespace: str, name: str) -> None:
        self.state.delete_volume(namespace, name)
        remove_tree(self.path(namespace, name))
