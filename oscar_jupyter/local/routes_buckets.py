"""Bucket routes (Manager v3.7+): list, create, update, delete, browse with paging, presign.

``GET /system/buckets/{b}`` pages with ``?limit=`` (default and maximum
1000) and ``?page=<next_page>``; ``?prefix=`` narrows the listing.
Presigned URLs point at the S3 endpoint, valid 1-3600 s (default 900), as on
a cluster.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from . import godecode, gojson, gotypes, names, services as svcs
from .exchange import add, caller, decoded, read_json, runtime_of, text

PAGE_SIZE = 1000
VISIBILITIES = ("private", "public", "restricted")
PRESIGN_DEFAULT = 900
PRESIGN_MIN, PRESIGN_MAX = 1, 3600


def _bad(message: str) -> web.HTTPBadRequest:
    """gin's ``c.String(http.StatusBadRequest, message)``: no newline added."""
    return web.HTTPBadRequest(text=message, content_type="text/plain")


def _owning_services(rt: Any) -> dict[str, str]:
    """bucket -> name of the service that uses it."""
    out: dict[str, str] = {}
    for svc in rt.services():
        for bucket in svcs.buckets_of(svc):
            out.setdefault(bucket, svc["name"])
    return out


def _describe(rt: Any, name: str, owners: dict[str, str]) -> dict[str, Any]:
    conf = rt.state.get_bucket(name) or {"visibility": "private", "allowed_users": [], "owner": svcs.DEFAULT_OWNER}
    meta = {"from_service": owners[name]} if name in owners else {}
    return {
        "bucket_name": name,
        "visibility": conf["visibility"],
        "allowed_users": conf["allowed_users"],
        "owner": conf["owner"],
        "metadata": meta,
    }


def _allowed(rt: Any, name: str, user: str | None, *, modify: bool = False) -> bool:
    """Whether an OIDC ``user`` (None: the admin) may use (or, ``modify``, change) bucket ``name``.

    A service's bucket follows that service's visibility (and only its owner
    changes it); another bucket follows its own record; unknown ones are the admin's.
    """
    if user is None:
        return True
    using = [svc for svc in rt.services() if name in svcs.buckets_of(svc)]
    if using:
        check = svcs.owned_by if modify else svcs.visible_to
        return any(check(svc, user) for svc in using)
    conf = rt.state.get_bucket(name)
    if conf is None:
        return False
    record = {"owner": conf["owner"], "visibility": conf["visibility"], "allowed_users": conf["allowed_users"]}
    return svcs.owned_by(record, user) if modify else svcs.visible_to(record, user)


def _checked_bucket(request: web.Request, *, modify: bool = False) -> str:
    name = request.match_info["bucket"]
    problem = names.bucket_name_problem(name)
    if problem:
        raise _bad(problem)
    user = caller(request)
    if not _allowed(runtime_of(request), name, user, modify=modify):
        raise web.HTTPForbidden(text=f"User '{user}' does not have permission to use the bucket '{name}'\n",
                                content_type="text/plain")
    return name


async def list_buckets(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    buckets = await asyncio.to_thread(rt.store.buckets)
    owners = _owning_services(rt)
    user = caller(request)
    types = gotypes.TYPES[rt.wire.api_version]
    return gojson.response([gotypes.shape(types, "MinIOBucket", _describe(rt, b, owners))
                            for b in sorted(buckets) if _allowed(rt, b, user)])


BUCKET_REFUSAL = "The Bucket specification is not valid: "  # create_bucket.go, update_bucket.go
PRESIGN_REFUSAL = "Invalid presign request: "  # presign_bucket.go


def _bucket_body(rt: Any, data: Any) -> tuple[str, str, list[str]]:
    data = decoded(data, gotypes.TYPES[rt.wire.api_version], "MinIOBucket", BUCKET_REFUSAL)
    name = data.get("bucket_name")
    problem = names.bucket_name_problem(name)
    if problem:
        raise _bad(f"{BUCKET_REFUSAL}bucket_name: {problem}")
    visibility = data.get("visibility") or "private"
    if visibility not in VISIBILITIES:
        raise _bad(f"{BUCKET_REFUSAL}visibility must be one of {', '.join(VISIBILITIES)}, "
                   f"got {str(visibility)[:40]!r}")
    users = data.get("allowed_users") or []
    if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
        raise _bad(f"{BUCKET_REFUSAL}allowed_users must be a list of strings")
    return name, visibility, users


async def create_bucket(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    name, visibility, users = _bucket_body(rt, await read_json(request, BUCKET_REFUSAL))
    if not await asyncio.to_thread(rt.store.ensure_bucket, name):
        return text(409, f"Bucket '{name}' already exists")
    rt.state.put_bucket(name, visibility, users, caller(request) or svcs.DEFAULT_OWNER)
    return text(201)


async def update_bucket(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    name, visibility, users = _bucket_body(rt, await read_json(request, BUCKET_REFUSAL))
    if not await asyncio.to_thread(rt.store.bucket_exists, name):
        return text(404, f"Bucket '{name}' not found")
    user = caller(request)
    if not _allowed(rt, name, user, modify=True):
        return text(403, f"User '{user}' does not have permission to change the bucket '{name}'")
    previous = rt.state.get_bucket(name)
    rt.state.put_bucket(name, visibility, users, (previous or {}).get("owner") or user or svcs.DEFAULT_OWNER)
    return text(204)


async def delete_bucket(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    name = _checked_bucket(request, modify=True)
    if not await asyncio.to_thread(rt.store.delete_bucket, name, True):
        return text(404, f"Bucket '{name}' not found")
    rt.state.forget_bucket(name)
    return text(204)


def _encode_page(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_page(token: str) -> str:
    try:
        key = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad(f"Query parameter 'page' is not a continuation token this server issued: {token[:40]!r}") from None
    if names.object_key_problem(key):
        raise _bad("Query parameter 'page' is not a continuation token this server issued")
    return key


async def get_bucket(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    name = _checked_bucket(request)
    raw_limit = request.query.get("limit", "")
    try:
        limit = int(raw_limit) if raw_limit else PAGE_SIZE
    except ValueError:
        raise _bad(f"Query parameter 'limit' must be an integer, got {raw_limit[:40]!r}") from None
    if not 1 <= limit <= PAGE_SIZE:
        raise _bad(f"Query parameter 'limit' must be between 1 and {PAGE_SIZE}, got {limit}")
    page = request.query.get("page", "")
    start_after = _decode_page(page) if page else None
    prefix = request.query.get("prefix", "")
    if not await asyncio.to_thread(rt.store.bucket_exists, name):
        return text(404, f"Bucket '{name}' not found")
    entries = await asyncio.to_thread(rt.store.list, name, prefix, True, start_after, limit + 1)
    truncated = len(entries) > limit
    entries = entries[:limit]
    out = _describe(rt, name, _owning_services(rt))
    out["objects"] = [
        {
            "object_name": e.key,
            "size_bytes": e.size,
            "last_modified": e.last_modified.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            if e.last_modified else "",
        }
        for e in entries
    ]
    out["is_truncated"] = truncated
    out["returned_items"] = len(entries)
    if truncated:
        out["next_page"] = _encode_page(entries[-1].key)
    return gojson.response(gotypes.shape(gotypes.TYPES[rt.wire.api_version], "BucketListResponse", out))


async def presign(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    name = _checked_bucket(request)
    data = await read_json(request, PRESIGN_REFUSAL)
    data = decoded(data, godecode.REQUESTS, "PresignRequest", PRESIGN_REFUSAL)
    key = data.get("object_key")
    if not isinstance(key, str):
        raise _bad("Invalid presign request: object_key is required and must be a string")
    key = key.strip().strip("/")
    problem = names.object_key_problem(key)
    if problem:
        raise _bad(f"Invalid presign request: object_key: {problem}")
    operation = data.get("operation")
    if not isinstance(operation, str) or operation.strip().lower() not in ("upload", "download"):
        raise _bad(f"Unsupported operation {str(operation)[:40]!r}. Allowed values are 'upload' or 'download'")
    operation = operation.strip().lower()
    expires = data.get("expires_in", 0)
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise _bad(f"Invalid presign request: expires_in must be an integer number of seconds, got {expires!r:.40}")
    expires = expires or PRESIGN_DEFAULT
    if not PRESIGN_MIN <= expires <= PRESIGN_MAX:
        raise _bad(f"Invalid expiration requested: {expires}. Allowed range is {PRESIGN_MIN}-{PRESIGN_MAX} seconds")
    content_type = data.get("content_type") or ""
    if not isinstance(content_type, str):
        raise _bad("Invalid presign request: content_type must be a string")
    extra = data.get("extra_headers") or {}
    if not isinstance(extra, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        raise _bad("Invalid presign request: extra_headers must map header names to strings")
    if not await asyncio.to_thread(rt.store.bucket_exists, name):
        return text(404, f"Bucket '{name}' not found")
    method = "PUT" if operation == "upload" else "GET"
    # as buildSignedHeaders: an upload's content_type and the extra headers are signed
    # (canonical header names); a download's content_type is response-content-type
    headers = {_canonical_header(k): v for k, v in extra.items()}
    if operation == "upload" and content_type:
        headers["Content-Type"] = content_type
    query = {"response-content-type": content_type} if operation == "download" and content_type else None
    url = await asyncio.to_thread(rt.store.presign, method, name, key, expires, headers=headers or None,
                                  query=query)
    out: dict[str, Any] = gojson.Struct({  # PresignResponse, in its field order
        "object_key": key,
        "operation": operation,
        "method": method,
        "url": url,
        "expires_at": (datetime.now(timezone.utc) + timedelta(seconds=expires)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    })
    if headers:
        out["headers"] = headers
    return gojson.response(out)


def _canonical_header(name: str) -> str:
    """Go's ``http.CanonicalHeaderKey``: ``x-amz-meta-a`` -> ``X-Amz-Meta-A``."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def register(app: web.Application) -> None:
    add(app, "GET", "/system/buckets", list_buckets)
    add(app, "POST", "/system/buckets", create_bucket)
    add(app, "PUT", "/system/buckets", update_bucket)
    add(app, "GET", "/system/buckets/{bucket}", get_bucket)
    add(app, "DELETE", "/system/buckets/{bucket}", delete_bucket)
    add(app, "POST", "/system/buckets/{bucket}/presign", presign)
