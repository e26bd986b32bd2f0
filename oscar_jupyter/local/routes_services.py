"""Service routes: ``/system/services`` CRUD with the Manager's status codes.

POST 201 / PUT 204 / DELETE 204 answer with empty bodies; invalid
definitions get 400 with a message naming the field; a duplicate name gets
409 (Manager v3 behaviour); unknown names 404 with an empty body.
"""
from __future__ import annotations

import logging

from aiohttp import web

from . import names, services as svcs
from .app import add, read_json, runtime_of, text

log = logging.getLogger(__name__)

WHAT = "service specification"


def _checked_name(request: web.Request) -> str:
    name = request.match_info["name"]
    if names.service_name_problem(name):
        raise web.HTTPNotFound(text="")
    return name


async def list_services(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    assert rt.state is not None
    return web.json_response([svcs.public_view(s) for s in rt.services()])


async def get_service(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    svc = rt.service(_checked_name(request))
    if svc is None:
        return text(404)
    return web.json_response(svcs.public_view(svc))


def _prepare(request: web.Request, data: object, previous: dict | None) -> dict:
    rt = runtime_of(request)
    try:
        svc, notices = svcs.prepare(data, rt.provider(), previous)
    except svcs.InvalidService as exc:
        raise web.HTTPBadRequest(text=str(exc) + "\n", content_type="text/plain") from None
    for notice in notices:
        log.info("service %s: %s", svc["name"], notice)
    return svc


async def create_service(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    data = await read_json(request, WHAT)
    svc = _prepare(request, data, None)
    async with rt._lock:
        if rt.service(svc["name"]) is not None:
            return text(409, f"A service with the name '{svc['name']}' already exists")
        try:
            await rt.add_service(svc)
        except Exception as exc:
            log.warning("creating service %s failed: %s", svc["name"], exc)
            return text(500, f"Error creating the service '{svc['name']}': {exc}")
    log.info("created service %s", svc["name"])
    return text(201)


async def update_service(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    data = await read_json(request, WHAT)
    if isinstance(data, dict) and isinstance(data.get("name"), str) and not names.service_name_problem(data["name"]):
        async with rt._lock:
            previous = rt.service(data["name"])
            if previous is None:
                return text(404, f"The service '{data['name']}' does not exist")
            svc = _prepare(request, data, previous)
            try:
                await rt.update_service(svc)
            except Exception as exc:
                log.warning("updating service %s failed: %s", svc["name"], exc)
                return text(500, f"Error updating the service '{svc['name']}': {exc}")
        log.info("updated service %s", svc["name"])
        return text(204)
    _prepare(request, data, None)  # raises 400 with the reason
    return text(400, "The service specification is not valid")


async def delete_service(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    name = _checked_name(request)
    async with rt._lock:
        svc = rt.service(name)
        if svc is None:
            return text(404)
        removed = await rt.delete_service(svc)
    log.info("deleted service %s (buckets removed: %s)", name, ", ".join(removed) or "none")
    return text(204)


def register(app: web.Application) -> None:
    add(app, "GET", "/system/services", list_services)
    add(app, "POST", "/system/services", create_service)
    add(app, "PUT", "/system/services", update_service)
    add(app, "GET", "/system/services/{name}", get_service)
    add(app, "DELETE", "/system/services/{name}", delete_service)
