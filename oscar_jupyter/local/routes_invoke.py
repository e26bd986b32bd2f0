"""Invocation routes: ``POST /run/{svc}`` (synchronous) and ``POST /job/{svc}`` (asynchronous).

Both need the service token as ``Authorization: Bearer <64 hex>``; Basic
credentials are refused (401, empty body, as on a cluster); an unknown
service is 404.

``/run`` answers what the invocation produced (the contract's response
rules), streamed from a file (the script's output part is its last
``Options.log_cap`` bytes, 10 MB by default, after a note of what was cut),
with status 200 even when the script fails, and adds
``X-Oscar-Exit-Code: <n>`` with the script's exit status (empty when it
never ran). A request that waited too long for a free replica gets 503 with
``Retry-After``; one that ran out of time gets 504.

``/job`` takes any body (JSON, a MinIO event, bytes), records one job
``<svc>-<uuid4>`` and answers 201 with an empty body.
"""
from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from . import auth, names, scaling, services as svcs
from .exchange import not_found, read_body, runtime_of, text

log = logging.getLogger(__name__)

EXIT_CODE_HEADER = "X-Oscar-Exit-Code"


async def _authorised_service(request: web.Request) -> dict:
    """The service named in the path if the bearer is its token (or, with OIDC
    configured, a valid JWT of a user who may see the service); else 401/403/404."""
    rt = runtime_of(request)
    token = auth.bearer_of(request.headers.get("Authorization"))
    if token is None:
        raise web.HTTPUnauthorized(text="")
    name = request.match_info["name"]
    if names.service_name_problem(name):
        raise not_found()
    svc = rt.service(name)
    if svc is None:
        raise not_found()
    if len(token) != auth.TOKEN_LENGTH and rt.oidc is not None:
        from .oidc import OidcRefused

        try:
            identity = await rt.oidc.authenticate(token)
        except OidcRefused:
            raise web.HTTPUnauthorized(text="") from None
        if not svcs.visible_to(svc, identity.sub):
            raise web.HTTPForbidden(text="")
        return svc
    if not auth.token_ok(token, svc.get("token")):
        raise web.HTTPUnauthorized(text="")
    return svc


async def run(request: web.Request) -> web.StreamResponse:
    rt = runtime_of(request)
    svc = await _authorised_service(request)
    body = await read_body(request)
    executor = rt.executors.get(svc["name"])
    if executor is None:
        return text(503, f"Service '{svc['name']}' is being updated or deleted; try again")
    try:
        outcome = await executor.run(body)
    except scaling.QueueTimeout as exc:
        return text(503, f"Service '{svc['name']}' is busy: {exc}", headers={"Retry-After": "1"})
    if outcome.timed_out:
        return text(
            504,
            f"Service '{svc['name']}' did not answer within its time limit; the invocation was stopped",
            headers={EXIT_CODE_HEADER: ""},
        )
    code = "" if outcome.exit_code is None else str(outcome.exit_code)
    try:  # streamed from the body file: never held whole in memory
        response = web.StreamResponse(status=200, headers={EXIT_CODE_HEADER: code})
        response.content_type = "text/plain"
        response.charset = "utf-8"
        response.content_length = outcome.body_size
        await response.prepare(request)
        chunks = outcome.body_chunks()
        while True:
            block = await asyncio.to_thread(next, chunks, None)
            if block is None:
                break
            await response.write(block)
        await response.write_eof()
        return response
    finally:
        outcome.close()


async def job(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    svc = await _authorised_service(request)
    body = await read_body(request)
    assert rt.jobs is not None
    name = rt.jobs.create(svc["name"], body)
    log.info("job %s created by POST /job", name)
    return text(201)


def register(app: web.Application) -> None:
    app.router.add_post("/run/{name}", run)
    app.router.add_post("/job/{name}", job)
