"""Names that reach oscar-local from the outside: services, jobs, buckets, object keys.

Each check returns an error message (naming the offending value) or None, so
routes answer 400/404 before a name can reach the database, a bucket or a path.
"""
from __future__ import annotations

import re

MAX_SERVICE_NAME = 39

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_JOB_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
_LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")


def service_name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid OSCAR service name (a DNS label of 1-39 chars), or None."""
    if not isinstance(name, str) or not name:
        return "service name must be a non-empty string"
    if len(name) > MAX_SERVICE_NAME:
        return f"service name {name[:60]!r} is {len(name)} characters long; the limit is {MAX_SERVICE_NAME}"
    if not _DNS_LABEL.match(name):
        return (
            f"service name {name[:60]!r} is not a DNS label: use lower-case letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return None


def path_name_problem(name: str) -> str | None:
    """v4's first check of a service name in a path (deployment.go ``validateServiceName``, the
    deployment and lifecycle routes; read.go too): the Manager's 400 text when the trimmed name is
    empty or no Kubernetes label value, else None. Names it lets through may still be impossible
    service names (upper case, ``_``, ``.``): those are simply not found."""
    trimmed = name.strip()
    if not trimmed:
        return "serviceName is required"
    if len(trimmed) > 63 or not _LABEL_VALUE.match(trimmed):
        return "invalid serviceName"
    return None


def job_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a job name (``<svc>-<uuid4>``), or None."""
    if not name or len(name) > 253 or not _JOB_NAME.match(name):
        return f"job name {name[:60]!r} is not a valid job name"
    return None


def bucket_name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid S3 bucket name, or None."""
    if not isinstance(name, str) or not name:
        return "bucket name must be a non-empty string"
    if not _BUCKET.match(name) or ".." in name:
        return (
            f"bucket name {name[:70]!r} is not valid: 3-63 characters of lower-case letters, digits, "
            "'.' and '-', starting and ending with a letter or digit"
        )
    return None


def object_key_problem(key: object) -> str | None:
    """Why ``key`` cannot be an object key here (empty, too long, control chars, '..' segments), or None."""
    if not isinstance(key, str) or not key.strip("/"):
        return "object key must be a non-empty string"
    if len(key.encode("utf-8")) > 1024:
        return "object key is longer than 1024 bytes"
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        return f"object key {key[:70]!r} contains control characters"
    if any(part in ("..", ".") for part in key.split("/")):
        return f"object key {key[:70]!r} contains '.' or '..' path segments"
    return None


def split_storage_path(path: str) -> tuple[str, str]:
    """``"bucket/folder/sub"`` -> ``("bucket", "folder/sub")`` (folder may be empty)."""
    cleaned = path.strip().strip("/")
    bucket, _, folder = cleaned.partition("/")
    return bucket, folder.strip("/")
