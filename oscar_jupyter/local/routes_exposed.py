"""Exposed services: the proxy path, lifecycle, deployment state and logs, forward auth.

* ``ANY /system/services/{name}/exposed/{path}`` (every Manager version: the
  cluster's ingress serves it, not the Manager): the service's ingress auth
  (``exposed.access``), then the streaming proxy to a replica;
  ``rewrite_target: false`` sends ``/{path}``, true the whole path;
* Manager v4.1 only: ``POST /system/services/{name}/stop|start|restart``
  (admin or the owner; 400 ``service "<name>" is not exposed`` for others;
  the answer is the deployment's ``ServiceDeploymentStatus``),
  ``GET /system/services/{name}/auth`` (the forward-auth check, outside the
  admin middleware as on the Manager), and the exposed answers of
  ``GET .../deployment`` and ``.../deployment/logs``.
"""
from __future__ import annotations

from typing import Any

from aiohttp import web

from . import gojson, gotypes, names, services as svcs
from .exchange import RUNTIME, add, caller, not_found, path_name, runtime_of, text
from .exposed import access
from .exposed.deployment import ExposedDeployment
from .exposed.logs import merged_tail, parse_bool, rfc3339_seconds, tail_lines
from .exposed.settings import ExposeSettings, first_port

PREFIX = "/system/services/"
EXPOSED = "/exposed"


def is_public_path(path: str, v4: bool) -> bool:
    """Paths the admin auth middleware must leave alone: exposed traffic, and ``/auth`` on v4."""
    if not path.startswith(PREFIX):
        return False
    name, _, rest = path[len(PREFIX):].partition("/")
    return bool(name) and (rest.startswith("exposed") or (v4 and rest in ("auth", "auth/")))


def _deployment(request: web.Request, name: str) -> ExposedDeployment | None:
    exposed = runtime_of(request).exposed
    return exposed.get(name) if exposed is not None else None


def deployment_of(request: web.Request, svc: dict[str, Any]) -> ExposedDeployment | None:
    """The running deployment of an exposed service (None for other services)."""
    return _deployment(request, svc["name"])


def deployment_answer(request: web.Request, status: dict[str, Any]) -> web.Response:
    """A ``types.ServiceDeploymentStatus`` written as the Manager's gin writes it (struct order, omitempty)."""
    types = gotypes.TYPES[runtime_of(request).wire.api_version]
    return gojson.response(gotypes.shape(types, "ServiceDeploymentStatus", status))


def logs_answer(request: web.Request, stream: dict[str, Any]) -> web.Response:
    """A ``types.DeploymentLogStream`` written as the Manager's gin writes it."""
    types = gotypes.TYPES[runtime_of(request).wire.api_version]
    return gojson.response(gotypes.shape(types, "DeploymentLogStream", stream))


def status_of(request: web.Request, svc: dict[str, Any]) -> dict[str, Any] | None:
    """``GET .../deployment`` for an exposed service, or None when it is not one."""
    return status_for(runtime_of(request), svc)


def status_for(rt: Any, svc: dict[str, Any]) -> dict[str, Any] | None:
    """The ``ServiceDeploymentStatus`` of an exposed service on ``rt``, or None when it is not one."""
    expose = svc.get("expose") or {}
    if not first_port(expose.get("api_port")):
        return None
    deployment = rt.exposed.get(svc["name"]) if rt.exposed is not None else None
    if deployment is None:
        return {"service_name": svc["name"], "namespace": "oscar-svc", "state": "unavailable",
                "reason": "Current deployment resources are unavailable.", "active_instances": 0,
                "affected_instances": 0, "resource_kind": "unavailable"}
    return deployment.status()


def logs_of(request: web.Request, svc: dict[str, Any]) -> dict[str, Any] | None:
    """``GET .../deployment/logs`` for an exposed service, or None when it is not one."""
    deployment = deployment_of(request, svc)
    if deployment is None:
        return None
    stamps = parse_bool(request.query.get("timestamps", "false"))
    count = tail_lines(request.query.get("tailLines"))
    out: dict[str, Any] = {"service_name": svc["name"], "available": False, "entries": []}
    logs = list(deployment.logs())
    if not logs:
        out["message"] = "Deployment logs are unavailable for this service."
        return out
    lines = merged_tail(logs, count)
    if not lines:
        out["message"] = "Deployment logs are not yet available."
        return out
    out["available"] = True
    out["entries"] = [({"timestamp": rfc3339_seconds(line.ns), "message": line.text} if stamps
                       else {"message": line.text}) for line in lines]
    return out


# -- the exposed path ---------------------------------------------------------
async def exposed(request: web.Request) -> web.StreamResponse:
    rt = runtime_of(request)
    name = request.match_info["name"]
    svc = rt.service(name) if not names.service_name_problem(name) else None
    deployment = _deployment(request, name) if svc is not None else None
    if svc is None or deployment is None:
        return text(404, f"404 Not Found: no exposed service '{name}'" if not names.service_name_problem(name)
                    else "404 Not Found")
    settings: ExposeSettings = deployment.settings
    decision = await access.exposed_access(
        svc, settings, request.headers, request.query, admin=(rt.options.user, rt.options.password),
        oidc=rt.oidc, secure=request.secure, visible=svcs.visible_to)
    if not decision.allowed:
        return text(decision.status, decision.message, decision.headers)
    raw = request.raw_path
    prefix = PREFIX + name + EXPOSED
    tail = raw[len(prefix):] if raw.startswith(prefix) else "/"
    path, sep, query = tail.partition("?")
    path = path[1:] if path.startswith("/") else path
    target = (prefix + "/" + path) if settings.rewrite_target else "/" + path
    if sep:
        target += "?" + query
    extra = {k: v for k, v in decision.headers.items() if k == "Set-Cookie"}
    return await rt.exposed.proxy.forward(request, deployment, target, extra or None)


# -- lifecycle (v4.1) ------------------------------------------------------------
def _managed(request: web.Request) -> tuple[dict[str, Any], ExposedDeployment]:
    rt = runtime_of(request)
    name = path_name(request)
    svc = rt.service(name) if not names.service_name_problem(name) else None
    if svc is None:
        raise not_found()
    user = caller(request)
    if user is not None and svc.get("owner") != user:
        raise web.HTTPForbidden(text=f"User {user} doesn't have permission to manage this service")
    if not (svc.get("expose") or {}).get("api_port"):
        raise web.HTTPBadRequest(text=f'service "{name}" is not exposed')
    deployment = _deployment(request, name)
    if deployment is None:
        raise not_found()
    return svc, deployment


async def stop(request: web.Request) -> web.Response:
    _, deployment = _managed(request)
    deployment.stop()
    return deployment_answer(request, deployment.status())


async def start(request: web.Request) -> web.Response:
    _, deployment = _managed(request)
    deployment.start_again()
    return deployment_answer(request, deployment.status())


async def restart(request: web.Request) -> web.Response:
    _, deployment = _managed(request)
    deployment.restart()
    return deployment_answer(request, deployment.status())


async def service_auth(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    name = request.match_info["name"]
    svc = rt.service(name) if not names.service_name_problem(name) else None
    decision = await access.forward_auth(
        svc, name, request.headers, request.query, admin=(rt.options.user, rt.options.password),
        oidc=rt.oidc, secure=request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https",
        visible=svcs.visible_to)
    return text(decision.status, decision.message, decision.headers)


def register(app: web.Application) -> None:
    app.router.add_route("*", "/system/services/{name}/exposed{tail:.*}", exposed)
    if app[RUNTIME].wire.deployment_routes:
        for action, handler in (("stop", stop), ("start", start), ("restart", restart)):
            add(app, "POST", f"/system/services/{{name}}/{action}", handler)
        add(app, "GET", "/system/services/{name}/auth", service_auth)
