"""``/system/quotas/user[/{id}]`` of Manager v3.7: the answers of a Manager without Kueue.

v3.7.1 registers the quota routes unconditionally (``main.go``); they read
and write Kueue ClusterQueues (``pkg/handlers/quotas.go``). oscar-local has
no Kueue (``kueue_enable: false``), so it answers as such a Manager does:

* ``GET /system/quotas/user``: a Basic (admin) caller has no user id: 401
  ``missing user identificator: missing user identificator``; an OIDC
  caller reaches the quota lookup, which fails: 500;
* ``GET``/``PUT /system/quotas/user/{id}``: only the admin user (403
  ``forbidden`` otherwise); a PUT body must decode (400 ``invalid payload:
  ...``) and name ``cpu`` or ``memory`` (400 ``cpu or memory must be
  provided``); then the lookup/update fails: 500.

v4.1.2 registers these routes only with Kueue or volumes enabled: 404 there.
"""
from __future__ import annotations

import json

from aiohttp import web

from .exchange import RUNTIME, add, caller, read_body, text

NO_KUEUE = "the Kueue ClusterQueue API is not available: this cluster has no Kueue (kueue_enable is false)"


async def own_quota(request: web.Request) -> web.Response:
    if caller(request) is None:
        return text(401, "missing user identificator: missing user identificator")
    return text(500, NO_KUEUE)


async def user_quota(request: web.Request) -> web.Response:
    if caller(request) is not None:
        return text(403, "forbidden")
    return text(500, NO_KUEUE)


async def update_user_quota(request: web.Request) -> web.Response:
    if caller(request) is not None:
        return text(403, "forbidden")
    raw = await read_body(request)
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return text(400, f"invalid payload: {type(exc).__name__}: the body is not a JSON object")
    if not isinstance(body, dict):
        return text(400, "invalid payload: the body must be a JSON object with cpu and/or memory")
    for key in ("cpu", "memory"):
        if body.get(key) is not None and not isinstance(body[key], str):
            return text(400, f"invalid payload: {key} must be a string like '2' or '4Gi'")
    if not body.get("cpu") and not body.get("memory"):
        return text(400, "cpu or memory must be provided")
    return text(500, NO_KUEUE)


def register(app: web.Application) -> None:
    if app[RUNTIME].wire.major_minor != (3, 7):
        return
    add(app, "GET", "/system/quotas/user", own_quota)
    add(app, "GET", "/system/quotas/user/{user}", user_quota)
    add(app, "PUT", "/system/quotas/user/{user}", update_user_quota)
