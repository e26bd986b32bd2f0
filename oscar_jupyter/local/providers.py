"""Storage provider references as the Manager reads them, and what ``createBuckets`` refuses.

A reference is ``type.id`` (``minio.default``, ``s3.aws``); the Manager's
``getProviderInfo`` trims it, splits it at the first ``.``, lower-cases the
type and takes ``default`` for an id not written (``MINIO`` is
``minio.default``; ``minio.`` has the id ``""``).

The Manager checks a service's providers only once Kubernetes has taken
the service (create.go and update.go call ``createBuckets`` after the
backend), walking the inputs, then the outputs, then the mount:

* an input whose type is not ``minio``, ``webdav`` or ``rucio``:
  ``400 unrecognized input (valid inputs are MinIO and dCache)``; WebDAV and
  Rucio inputs are not checked further;
* a MinIO input, any output, or a MinIO mount whose provider
  ``storage_providers`` does not define: ``500 the StorageProvider
  "<type>.<id>" is not defined``;
* a MinIO input other than ``minio.default`` whose settings are not the
  server's own: ``500 the provided MinIO server "<endpoint>" is not the
  configured in OSCAR``;
* mount ``options`` outside rclone's safe characters: ``500 mount options
  contain invalid characters`` (v4.1; v3.7's type has no ``options``, so
  its decoding drops them first).
"""
from __future__ import annotations

import re
from typing import Any, Optional, Tuple

from ..spec.gostrings import trim_space

DEFAULT_ID = "default"
KINDS = ("minio", "s3", "onedata", "webdav", "rucio")
UNRECOGNISED_INPUT = "unrecognized input (valid inputs are MinIO and dCache)"
_MOUNT_OPTIONS = re.compile(r"[a-zA-Z0-9\-_.:=,/ ]+")
#: types.MinIOProvider's fields, compared with the server's own (reflect.DeepEqual)
_MINIO_FIELDS = (("endpoint", ""), ("verify", False), ("access_key", ""), ("secret_key", ""), ("region", ""))


def info(reference: Any) -> Tuple[str, str]:
    """``(id, type)`` of a provider reference, as ``getProviderInfo`` gives them."""
    kind, dot, ident = trim_space(reference if isinstance(reference, str) else "").partition(".")
    return (ident if dot else DEFAULT_ID), kind.lower()


def ref(reference: Any) -> str:
    """The reference in its full form: ``MINIO`` -> ``minio.default``."""
    ident, kind = info(reference)
    return f"{kind}.{ident}"


def _defined(providers: dict, kind: str, ident: str) -> bool:
    entries = providers.get(kind) if kind in KINDS else None
    return isinstance(entries, dict) and ident in entries


def _not_defined(kind: str, ident: str) -> Tuple[int, str]:
    return 500, f'the StorageProvider "{kind}.{ident}" is not defined'


def _same_minio(given: Any, own: dict) -> bool:
    given = given if isinstance(given, dict) else {}
    return all(given.get(field, zero) == own.get(field, zero) for field, zero in _MINIO_FIELDS)


def refusal(svc: dict, own: dict) -> Optional[Tuple[int, str]]:
    """``(status, text)`` for the first provider ``createBuckets`` refuses in ``svc`` (its
    ``storage_providers`` holding the server's ``minio.default``), else None. ``own``: the
    server's MinIO settings."""
    providers = svc.get("storage_providers") if isinstance(svc.get("storage_providers"), dict) else {}
    for entry in svc.get("input") or []:
        ident, kind = info(entry.get("storage_provider"))
        if kind not in ("minio", "webdav", "rucio"):
            return 400, UNRECOGNISED_INPUT
        if kind != "minio":
            continue
        if not _defined(providers, kind, ident):
            return _not_defined(kind, ident)
        if ident != DEFAULT_ID and not _same_minio(providers[kind][ident], own):
            endpoint = (providers[kind][ident] or {}).get("endpoint") or ""
            return 500, f'the provided MinIO server "{endpoint}" is not the configured in OSCAR'
    for entry in svc.get("output") or []:
        ident, kind = info(entry.get("storage_provider"))
        if not _defined(providers, kind, ident):
            return _not_defined(kind, ident)
    mount = svc.get("mount")
    if isinstance(mount, dict) and mount.get("storage_provider"):
        options = mount.get("options")
        if isinstance(options, str) and options and not _MOUNT_OPTIONS.fullmatch(options):
            return 500, "mount options contain invalid characters"
        ident, kind = info(mount["storage_provider"])
        if kind == "minio" and not _defined(providers, kind, ident):
            return _not_defined(kind, ident)
    return None
