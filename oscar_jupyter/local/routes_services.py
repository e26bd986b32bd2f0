"""Service routes: ``/system/services`` CRUD with the Manager's status codes.

POST 201 / PUT 204 / DELETE 204 answer with empty bodies; invalid
definitions get 400 with a message naming the field; a duplicate name gets
409 (Manager v3) or 400 (v4) with the Manager's message; unknown names 404
with an empty body. OIDC callers see their own, public and restricted (when
listed) services; another owner's private service is 403, and only the owner
(or the admin) may update or delete a service.

Manager v4 also answers ``GET /system/services/{name}/deployment`` (the
deployment summary clients poll for readiness) and ``.../deployment/logs``;
a v3 oscar-local has no such routes (404), like a v3 Manager.
"""
from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any, Callable

from aiohttp import web

from .. import spec
from . import federation, godecode, gojson, gotypes, names, routes_exposed, services as svcs, volumes
from .exchange import RUNTIME, add, caller, decoded, not_found, path_name, read_json, runtime_of, text
from .service_view import manager_labels, service_view
from .state import rfc3339

log = logging.getLogger(__name__)

WHAT = "service specification"
REFUSAL = f"The {WHAT} is not valid: "  # create.go, update.go


#: deployment.go's one 403 text, for a service not found as for one the caller may not see
#: (getAuthorizedService's 404 is overwritten by the handler's 403 before anything is written)
NO_PERMISSION = "You do not have permission to access this service"


def _checked_name(request: web.Request, label_check: bool = False) -> str:
    """The service name of the path; v4 first refuses what is not a Kubernetes label value
    (deployment.go validateServiceName: 400), else an impossible name is a 404."""
    name = request.match_info["name"]
    if label_check and runtime_of(request).wire.major_minor >= (4, 0):
        name = path_name(request)  # read.go looks the trimmed name up
    if names.service_name_problem(name):
        raise not_found()
    return name


def _view(request: web.Request, svc: dict) -> object:
    """The service as the release's read/list handler writes it; v4's ``?include=deployment``
    adds the deployment summary (list.go/read.go setDeploymentSummary)."""
    rt = runtime_of(request)
    include = request.query.get("include", "")
    wanted = rt.wire.deployment_routes and any(p.strip().lower() == "deployment" for p in include.split(","))
    return service_view(svc, rt.wire, _summary(rt, svc) if wanted else None,
                        rt.volumes.status(svc.get("volume")))


def _summary(rt: Any, svc: dict) -> dict:
    """``types.ServiceDeploymentSummary``: an exposed service's replicas; others run as soon as they exist."""
    exposed = routes_exposed.status_for(rt, svc)
    if exposed is not None:
        return {k: v for k, v in exposed.items() if k not in ("service_name", "namespace")}
    executor = rt.executors.get(svc["name"])
    active = (executor.running + executor.pool.ready) if executor is not None else 0
    return dict(state="ready", reason="Runtime service is ready.", last_transition_time=rfc3339(rt.started),
                  active_instances=active, affected_instances=0, resource_kind="knative_service")


def _forbidden(user: str | None, name: str, action: str = "access") -> web.HTTPForbidden:
    """The Manager's 403 texts (read.go, update.go, delete.go; its spelling kept)."""
    verb = {"access": "get", "update": "modify", "delete": "delete"}[action]
    return web.HTTPForbidden(text=f"User {user} doesn't have permision to {verb} this service",
                             content_type="text/plain")


def visible_service(request: web.Request, label_check: bool = False) -> dict:
    """The service named in the path if the caller may see it; else 404/403 (``label_check``:
    v4's read handler first answers 400 for a name that is no label value)."""
    rt = runtime_of(request)
    name = _checked_name(request, label_check)
    svc = rt.service(name)
    if svc is None:
        raise not_found()
    user = caller(request)
    if not svcs.visible_to(svc, user):
        raise _forbidden(user, name)
    return svc


async def list_services(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    user = caller(request)
    return gojson.response([_view(request, s) for s in rt.services() if svcs.visible_to(s, user)])


async def get_service(request: web.Request) -> web.Response:
    return gojson.response(_view(request, visible_service(request, label_check=True)))


def _refusal(status: int, message: str) -> web.HTTPException:
    """A plain-text refusal: 400, 401 (a federation member's cluster), or 500 where the Manager
    hands the definition on to Kubernetes."""
    kind = {401: web.HTTPUnauthorized, 500: web.HTTPInternalServerError}.get(status, web.HTTPBadRequest)
    return kind(text=message, content_type="text/plain")


def _bound(rt: Any, data: Any) -> dict:
    """The body as the handler holds it once ``ShouldBindJSON`` passed: decoded for the release's
    types.Service (Go's 400 for a value of the wrong kind, null as an empty service, the fields it
    lacks dropped, fresh containers throughout), its required fields there (gin's binding: 400),
    then its storage paths as the release stores them (``normalizeStoragePaths``), or their
    refusal."""
    types = gotypes.TYPES[rt.wire.api_version]
    data = godecode.known_fields(decoded(data, types, "Service", REFUSAL), types)
    problem = svcs.binding_problem(spec.normalise(copy.deepcopy(data))[0])
    if problem:
        raise _refusal(400, problem)
    data, problem, status = rt.wire.storage_paths(data)
    if problem:
        raise _refusal(status, problem)
    return data


def _volume_check(rt: Any) -> Callable[[dict], dict]:
    """v4.1's ``ValidateVolumeConfig``, run on the normalised definition right after the storage
    paths: the volume trimmed and defaulted, or a 400 in its words."""
    def check(data: dict) -> dict:
        if rt.wire.major_minor < (4, 1):
            return data
        volume, why = volumes.refusal(str(data.get("name") or ""), data.get("volume"))
        if why:
            raise svcs.InvalidService(REFUSAL + why)
        return dict(data, volume=volume) if volume is not None else data
    return check


def _prepare(request: web.Request, bound: dict, previous: dict | None) -> dict:
    """The definition to store from a body ``_bound`` read (the rest of the handler's checks)."""
    rt = runtime_of(request)
    try:
        svc, notices = svcs.prepare(bound, rt.provider(), previous, owner=caller(request),
                                    keep_token=rt.wire.keeps_token_on_update, after_binding=_volume_check(rt))
    except svcs.InvalidService as exc:
        raise _refusal(exc.status, str(exc)) from None
    svc["labels"] = manager_labels(svc, rt.wire, creating=previous is None)
    if rt.wire.major_minor >= (4, 0):
        federation.fill_defaults(svc)
    for notice in notices:
        log.info("service %s: %s", svc["name"], notice)
    return svc


async def _schema_ready(rt: Any) -> None:
    """Wait off the event loop for the schema's validator while it is still being built."""
    building = rt.schema_ready
    if building is not None and building.is_alive():
        await asyncio.to_thread(building.join)


async def create_service(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    data = await read_json(request, REFUSAL)
    await _schema_ready(rt)
    svc = _prepare(request, _bound(rt, data), None)  # ShouldBindJSON fails before anything else
    async with rt._lock:
        if rt.service(svc["name"]) is not None:
            secrets = (svc.get("environment") or {}).get("secrets")
            return text(*rt.wire.duplicate_answer(svc["name"], bool(secrets)))
        clash = rt.volumes.created(svc["name"], svc.get("volume"), namespace=svc["owner"])
        if clash:
            return text(*clash)
        try:
            await rt.add_service(svc)
        except Exception as exc:
            await asyncio.to_thread(rt.volumes.deleted, svc.get("volume"))
            log.warning("creating service %s failed: %s", svc["name"], exc)
            return text(500, f"Error creating the service '{svc['name']}': {exc}")
    log.info("created service %s (owner %s)", svc["name"], svc["owner"])
    return text(201)


def _sent_name(data: object) -> str | None:
    """The name Go's decoder reads from a body: the last key that is ``name`` in any case."""
    if not isinstance(data, dict):
        return None
    found = None
    for key, value in godecode.items(data):
        if isinstance(key, str) and godecode.fold(key) == "name" and value is not None:
            found = value  # null leaves the name as it was
    return found if isinstance(found, str) and found else None


async def update_service(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    data = await read_json(request, REFUSAL)
    await _schema_ready(rt)
    name = _sent_name(data)
    # update.go: its JSON binding (decoding, then the required fields; a body without a name
    # fails there), the storage paths and the volume are 400s before the lookup; a changed
    # volume is a 400 before the owner check
    bound = _bound(rt, data)
    if name is None:
        return text(400, "The service specification is not valid")
    try:
        sent = _volume_check(rt)(spec.normalise(copy.deepcopy(bound))[0])
    except svcs.InvalidService as exc:
        raise _refusal(exc.status, str(exc)) from None
    user = caller(request)
    async with rt._lock:
        previous = rt.service(name) if not names.service_name_problem(name) else None
        if previous is None:
            return text(404)  # the Manager's c.Status(http.StatusNotFound)
        if rt.wire.major_minor >= (4, 1) and volumes.changed(previous.get("volume"), sent.get("volume")):
            return text(400, volumes.CHANGED)
        if not svcs.owned_by(previous, user):
            if not svcs.visible_to(previous, user):
                raise _forbidden(user, name)
            raise _forbidden(user, name, "update")
        svc = _prepare(request, bound, previous)
        if isinstance(svc.get("volume"), dict) and isinstance(previous.get("volume"), dict):
            svc["volume"]["namespace"] = previous["volume"].get("namespace", "")  # where it was made
        try:
            await rt.update_service(svc)
        except Exception as exc:
            log.warning("updating service %s failed: %s", svc["name"], exc)
            return text(500, f"Error updating the service '{svc['name']}': {exc}")
    log.info("updated service %s", svc["name"])
    return text(204)


async def delete_service(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    name = _checked_name(request)
    user = caller(request)
    async with rt._lock:
        svc = rt.service(name)
        if svc is None:
            return text(404)
        if not svcs.owned_by(svc, user):
            raise _forbidden(user, name, "access" if not svcs.visible_to(svc, user) else "delete")
        removed = await rt.delete_service(svc)
        await asyncio.to_thread(rt.volumes.deleted, svc.get("volume"))  # its data may be large
    log.info("deleted service %s (buckets removed: %s)", name, ", ".join(removed) or "none")
    return text(204)


def deployment_service(request: web.Request) -> dict:
    """The service of a ``deployment`` or ``deployment/logs`` path (deployment.go): 400 for a name
    that is no label value, 403 ``NO_PERMISSION`` for one not found or not visible to the caller."""
    rt = runtime_of(request)
    name = path_name(request)
    svc = rt.service(name) if not names.service_name_problem(name) else None
    if svc is None or not svcs.visible_to(svc, caller(request)):
        raise web.HTTPForbidden(text=NO_PERMISSION, content_type="text/plain")
    return svc


async def deployment(request: web.Request) -> web.Response:
    """v4 ``types.ServiceDeploymentStatus``: oscar-local runs a service as soon as it exists."""
    rt = runtime_of(request)
    svc = deployment_service(request)
    exposed = routes_exposed.status_of(request, svc)
    if exposed is not None:
        return routes_exposed.deployment_answer(request, exposed)
    executor = rt.executors.get(svc["name"])
    active = (executor.running + executor.pool.ready) if executor is not None else 0
    return routes_exposed.deployment_answer(request, {
        "service_name": svc["name"],
        "namespace": "oscar-svc",
        "state": "ready",
        "reason": "Runtime service is ready.",
        "last_transition_time": rfc3339(rt.started),
        "active_instances": active,
        "affected_instances": 0,
        "resource_kind": "knative_service",
    })


async def deployment_logs(request: web.Request) -> web.Response:
    """v4 ``types.DeploymentLogStream``: no pods here, so never any entries."""
    svc = deployment_service(request)
    exposed = routes_exposed.logs_of(request, svc)
    if exposed is not None:
        return routes_exposed.logs_answer(request, exposed)
    return routes_exposed.logs_answer(request, {
        "service_name": svc["name"],
        "available": False,
        "message": "Deployment logs are unavailable for this service.",
        "entries": [],
    })


def register(app: web.Application) -> None:
    add(app, "GET", "/system/services", list_services)
    add(app, "POST", "/system/services", create_service)
    add(app, "PUT", "/system/services", update_service)
    add(app, "GET", "/system/services/{name}", get_service)
    add(app, "DELETE", "/system/services/{name}", delete_service)
    if app[RUNTIME].wire.deployment_routes:
        add(app, "GET", "/system/services/{name}/deployment", deployment)
        add(app, "GET", "/system/services/{name}/deployment/logs", deployment_logs)
