"""The aiohttp application of oscar-local: middlewares and route table.

Routes live in one module per resource (``routes_system``, ``routes_services``,
``routes_invoke``, ``routes_logs``, ``routes_buckets``); this module wires
them with:

* authentication: Basic (admin) on ``/system/*``; the service token
  (``Authorization: Bearer <64 hex>``) on ``/run`` and ``/job`` is checked by
  those routes, since it depends on the service;
* body limits: a clear 413 naming the limit;
* error handling: plain-text bodies as on a real cluster, never a traceback
  and never a secret.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable

from aiohttp import web

from . import auth
from .runtime import Runtime
from .s3 import StoreError

log = logging.getLogger(__name__)

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Paths that need no credentials.
PUBLIC_PATHS = ("/health", "/openapi.json")


def text(status: int, message: str = "", headers: dict[str, str] | None = None) -> web.Response:
    """A plain-text response (empty body when ``message`` is empty)."""
    if not message:
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, text=message if message.endswith("\n") else message + "\n",
                        content_type="text/plain", headers=headers)


def runtime_of(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def limit_for(path: str, runtime: Runtime) -> int:
    """Largest body accepted on ``path``: invocation payloads vs. JSON definitions."""
    if path.startswith("/run/") or path.startswith("/job/"):
        return runtime.options.max_body
    return runtime.options.max_definition


async def read_body(request: web.Request) -> bytes:
    """The request body, or a 413 naming the limit when it is larger."""
    limit = refuse_declared_oversize(request)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise _too_large(None, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def refuse_declared_oversize(request: web.Request) -> int:
    """The body limit of ``request``'s endpoint; 413 naming it when the declared length is larger."""
    limit = limit_for(request.path, runtime_of(request))
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(request.content_length, limit)
    return limit


def _too_large(size: int | None, limit: int) -> web.HTTPException:
    got = f"{size} bytes" if size is not None else "more than that"
    return web.HTTPRequestEntityTooLarge(
        max_size=limit, actual_size=size or limit + 1,
        text=f"Request body too large: the limit for this endpoint is {limit} bytes, got {got}\n",
        content_type="text/plain",
    )


async def read_json(request: web.Request, what: str) -> Any:
    """Parse the body as JSON, or raise 400 saying where it is malformed."""
    raw = await read_body(request)
    if not raw.strip():
        raise web.HTTPBadRequest(text=f"The {what} is not valid: the request body is empty\n", content_type="text/plain")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise web.HTTPBadRequest(
            text=f"The {what} is not valid: the body is not UTF-8 (byte {exc.start})\n", content_type="text/plain"
        ) from None
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(
            text=f"The {what} is not valid: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}\n",
            content_type="text/plain",
        ) from None
    except RecursionError:
        raise web.HTTPBadRequest(
            text=f"The {what} is not valid: JSON nested too deeply\n", content_type="text/plain"
        ) from None


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unexpected exceptions become a plain 500 without internals; HTTP errors pass through."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except StoreError as exc:  # its message names the bucket/key and S3's error code, never keys
        log.warning("%s %s: %s", request.method, request.path, exc)
        return text(502 if exc.status is None else 500, f"Storage error: {exc}")
    except Exception as exc:
        log.exception("%s %s failed", request.method, request.path)
        return text(500, f"Internal error while handling {request.method} {request.path}: {type(exc).__name__}")


# request storage key of the caller's identity (aiohttp >= 3.12 has typed request keys)
CALLER: Any = web.RequestKey("oscar_caller", str) if hasattr(web, "RequestKey") else "oscar_caller"


def caller(request: web.Request) -> str | None:
    """Who is calling ``/system/*``: an OIDC ``sub``, or None for the cluster admin (Basic)."""
    return request.get(CALLER)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Basic (admin) or, with OIDC configured, a bearer JWT on ``/system/*``; else 401."""
    if (request.path == "/system" or request.path.startswith("/system/")) and not _exposed_path(request):
        rt = runtime_of(request)
        header = request.headers.get("Authorization")
        token = auth.bearer_of(header)
        if token is not None and rt.oidc is not None:
            from .oidc import OidcRefused

            try:
                identity = await rt.oidc.authenticate(token)
            except OidcRefused as exc:
                return text(exc.status, exc.message)
            request[CALLER] = identity.sub
        elif not auth.basic_ok(header, rt.options.user, rt.options.password):
            return web.Response(status=401, headers={"WWW-Authenticate": auth.REALM})
    return await handler(request)


@web.middleware
async def size_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse declared oversized bodies before the handler reads anything (exposed services: no limit)."""
    if not _exposed_path(request):
        refuse_declared_oversize(request)
    return await handler(request)


def _exposed_path(request: web.Request) -> bool:
    from .routes_exposed import is_public_path

    return is_public_path(request.path, runtime_of(request).wire.deployment_routes)


def add(app: web.Application, method: str, path: str, handler: Handler) -> None:
    """Register ``path`` and its trailing-slash twin (clients use both)."""
    app.router.add_route(method, path, handler)
    twin = path[:-1] if path.endswith("/") and len(path) > 1 else path + "/"
    app.router.add_route(method, twin, handler)


def build_app(runtime: Runtime) -> web.Application:
    """The aiohttp application for ``runtime``."""
    from . import routes_buckets, routes_exposed, routes_invoke, routes_logs, routes_services, routes_system

    app = web.Application(
        middlewares=[errors_middleware, auth_middleware, size_middleware],
        client_max_size=max(runtime.options.max_body, runtime.options.max_definition) + 1,
    )
    app[RUNTIME] = runtime
    for module in (routes_system, routes_services, routes_exposed, routes_invoke, routes_logs, routes_buckets):
        module.register(app)
    return app
