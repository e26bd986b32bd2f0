"""The aiohttp application of oscar-local: middlewares and route table.

Routes live in one module per resource (``routes_system``, ``routes_services``,
``routes_invoke``, ``routes_logs``, ``routes_buckets``); this module wires
them with:

* authentication: Basic (admin) on ``/system/*``; the service token
  (``Authorization: Bearer <64 hex>``) on ``/run`` and ``/job`` is checked by
  those routes, since it depends on the service;
* routing: a request no route takes gets the Manager's gin answer
  (``ginrouter``: a trailing-slash redirect or ``404 page not found``);
* body limits: a clear 413 naming the limit;
* error handling: plain-text bodies as on a real cluster, never a traceback
  and never a secret.
"""
from __future__ import annotations

import logging
import time

from aiohttp import web

from . import (auth, ginrouter, routes_buckets, routes_exposed, routes_invoke, routes_logs, routes_quotas, routes_services,
               routes_system)
from .exchange import CALLER, BareStatus, RUNTIME, Handler, refuse_declared_oversize, runtime_of, text
from .runtime import Runtime
from .s3store import StoreError

log = logging.getLogger(__name__)

# Paths that need no credentials.
PUBLIC_PATHS = ("/health", "/openapi.json")


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unexpected exceptions become a plain 500 without internals; HTTP errors pass through."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except BareStatus as exc:
        return text(exc.status)
    except StoreError as exc:  # its message names the bucket/key and S3's error code, never keys
        log.warning("%s %s: %s", request.method, request.path, exc)
        return text(502 if exc.status is None else 500, f"Storage error: {exc}")
    except Exception as exc:
        log.exception("%s %s failed", request.method, request.path)
        return text(500, f"Internal error while handling {request.method} {request.path}: {type(exc).__name__}")


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
async def router_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request no route of its method takes gets gin's answer (``ginrouter``) before any other
    middleware: no credentials asked, nothing logged, nothing read."""
    if request.match_info.http_exception is None:
        return await handler(request)
    return await ginrouter.unmatched(request)


@web.middleware
async def executions_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One ``[GIN-EXECUTIONS-LOGGER]`` line per POST /run or /job, as the Manager's logger middleware."""
    if request.method != "POST" or not (request.path.startswith("/run/") or request.path.startswith("/job/")):
        return await handler(request)
    started = time.time()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        runtime_of(request).executions.record(started, status, request.remote or "", request.method,
                                              request.path)


@web.middleware
async def size_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse declared oversized bodies before the handler reads anything (exposed services: no limit)."""
    if not _exposed_path(request):
        refuse_declared_oversize(request)
    return await handler(request)


def _exposed_path(request: web.Request) -> bool:
    """Exposed-service traffic and (v4) ``/auth``: their own auth, no body limit."""
    return routes_exposed.is_public_path(request.path, runtime_of(request).wire.deployment_routes)


def build_app(runtime: Runtime) -> web.Application:
    """The aiohttp application for ``runtime``."""
    app = web.Application(
        middlewares=[router_middleware, executions_middleware, errors_middleware, auth_middleware, size_middleware],
        client_max_size=max(runtime.options.max_body, runtime.options.max_definition) + 1,
    )
    app[RUNTIME] = runtime
    for module in (routes_system, routes_services, routes_exposed, routes_invoke, routes_logs, routes_buckets,
                   routes_quotas):
        module.register(app)
    return app
