"""What every oscar-local route handler uses to read requests and write answers.

The runtime a request belongs to, its caller's identity, its body (with the
endpoint's size limit) and JSON, plain-text answers, and route registration.
``app`` (middlewares, route table) and the ``routes_*`` modules import from
here; this module imports neither.
"""
from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Awaitable, Callable

from aiohttp import web

from . import godecode, gosyntax, names
from .runtime import Runtime

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def text(status: int, message: str = "", headers: dict[str, str] | None = None) -> web.Response:
    """gin's ``c.String(status, message)`` (exactly ``message``, ``text/plain; charset=utf-8``),
    or its ``c.Status(status)`` (no body, no Content-Type) when ``message`` is empty."""
    if not message:
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, text=message, content_type="text/plain", charset="utf-8", headers=headers)


class BareStatus(Exception):
    """Raised to answer with gin's ``c.Status(status)``: no body, no Content-Type
    (``app``'s error middleware turns it into that answer)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def not_found() -> BareStatus:
    """gin's ``c.Status(http.StatusNotFound)``."""
    return BareStatus(404)


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


async def read_json(request: web.Request, refusal: str) -> Any:
    """The body's first JSON value, or 400 ``refusal`` (the handler's words before the decoding
    error, e.g. ``"The service specification is not valid: "``) and Go's words for what is wrong
    (``gosyntax``). As gin's ``ShouldBindJSON`` (a ``json.Decoder``) reads it, what follows the
    first value is not read."""
    raw = await read_body(request)

    def bad(problem: str) -> web.HTTPBadRequest:
        return web.HTTPBadRequest(text=refusal + problem, content_type="text/plain")

    async def syntax_error() -> str | None:  # the scanner is Python: off the event loop for a large body
        if len(raw) < 1 << 16:
            return gosyntax.syntax_error(raw)
        return await asyncio.to_thread(gosyntax.syntax_error, raw)

    start = len(raw) - len(raw.lstrip(b" \t\r\n"))
    if start == len(raw) or raw[start] in b"-0123456789":
        # no value at all (Go's io.EOF), or a number at the top level, which Go's scanner ends
        # where Python's decoder may not ("1." is Go's unexpected EOF, Python's 1)
        problem = await syntax_error()
        if problem:
            raise bad(problem)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # bytes that are not UTF-8 are Go's invalid characters outside strings, U+FFFD inside
        problem = await syntax_error()
        if problem:
            raise bad(problem)
        text = raw.decode("utf-8", errors=gosyntax.GO_REPLACE)
    try:
        value = godecode.DECODER.raw_decode(text, start)[0]
        # a \\uD800-\\uDFFF escape may be a lone surrogate, which Go decodes as U+FFFD
        return godecode.go_strings(value) if _SURROGATE_ESCAPE.search(raw) else value
    except (json.JSONDecodeError, godecode.NotJSON, RecursionError) as exc:
        problem = await syntax_error()
        if problem:
            raise bad(problem) from None
        # well formed for Go, past what Python's decoder nests (Go reads 10000 levels)
        raise bad("JSON nested too deeply" if isinstance(exc, RecursionError) else str(exc)) from None


def decoded(data: Any, types: dict[str, list], root: str, refusal: str) -> Any:
    """``data`` (from ``read_json``) as the handler's ``ShouldBindJSON`` leaves it for the Go type
    ``root``: 400 ``refusal`` and Go's error for a value of the wrong kind (``godecode``); ``null``
    as the empty value."""
    problem = godecode.type_error(data, types, root)
    if problem:
        raise web.HTTPBadRequest(text=refusal + problem, content_type="text/plain")
    return {} if data is None else data


def path_name(request: web.Request) -> str:
    """The service name of a v4 path, trimmed; 400 with the Manager's text when it is no Kubernetes
    label value (deployment.go ``validateServiceName``: ``names.path_name_problem``)."""
    problem = names.path_name_problem(request.match_info["name"])
    if problem:
        raise web.HTTPBadRequest(text=problem, content_type="text/plain")
    return request.match_info["name"].strip()


# request storage key of the caller's identity (aiohttp >= 3.12 has typed request keys)
CALLER: Any = web.RequestKey("oscar_caller", str) if hasattr(web, "RequestKey") else "oscar_caller"


def caller(request: web.Request) -> str | None:
    """Who is calling ``/system/*``: an OIDC ``sub``, or None for the cluster admin (Basic)."""
    return request.get(CALLER)


def add(app: web.Application, method: str, path: str, handler: Handler) -> None:
    """Register ``path`` for ``method`` alone (no HEAD for a GET, as in gin); its trailing-slash
    twin is redirected to it (``ginrouter``)."""
    app.router.add_route(method, path, handler)
