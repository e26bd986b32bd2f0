"""System routes: /health, /system/info, /system/config, /system/status, /openapi.json."""
from __future__ import annotations

import asyncio
import platform

import psutil
from aiohttp import web

from . import executions, gojson, gotypes, openapi
from .exchange import add, caller, runtime_of, text
from .s3store import StoreError
from .state import PENDING, RUNNING, rfc3339


INSTANCE_HEADER = "X-Oscar-Local-Instance"
SANDBOX_HEADER = "X-Oscar-Local-Sandbox"    # on /system/info: how scripts are contained
STORAGE_HEADER = "X-Oscar-Local-Storage"    # on /health and /system/status: "up" or "down"


async def health(request: web.Request) -> web.Response:
    """``Ok`` exactly, as the Manager answers; the instance id header lets ``attach()``
    tell this server from a stale endpoint file. While the embedded object storage
    is down (being restarted) the answer is 503 saying so, as a failing liveness
    probe would be."""
    rt = runtime_of(request)
    headers = {INSTANCE_HEADER: rt.instance, STORAGE_HEADER: "down" if rt.storage_down else "up"}
    if rt.storage_down:
        return web.Response(status=503, text="Storage unavailable: the embedded S3 endpoint stopped "
                            "and is being restarted\n", content_type="text/plain", headers=headers)
    return web.Response(status=200, text="Ok", content_type="text/plain", headers=headers)


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


async def info(request: web.Request) -> web.Response:
    from importlib.metadata import PackageNotFoundError, version

    try:
        pkg = version("oscar-jupyter")
    except PackageNotFoundError:
        pkg = "0+unknown"
    rt = runtime_of(request)
    contained = rt.containment
    sandbox = (f"{contained.sandbox.describe()}; limits: {contained.cgroups.describe()}"
               if contained is not None and contained.cgroups is not None else "unknown")
    return gojson.response(gotypes.shape(gotypes.TYPES[rt.wire.api_version], "Info", {
        "version": rt.wire.release,
        "git_commit": "oscar-local",
        "architecture": _arch(),
        "kubernetes_version": "none (oscar-local)",
        "serverless_backend": {"name": "oscar-local", "version": pkg},
    }), headers={SANDBOX_HEADER: sandbox})


async def config(request: web.Request) -> web.Response:
    """``types.ConfigForUser`` of the release: the cluster's config and its MinIO provider.

    ``controller_service_account`` is empty (no Kubernetes service account
    here); ``oidc_groups`` is null without OIDC (Go's nil slice), as on a
    Manager started without ``OIDC_GROUPS``; no repository allow-list.
    """
    rt = runtime_of(request)
    groups = list(rt.options.oidc_groups) if rt.oidc is not None and rt.options.oidc_groups else None
    body = {
        "config": {
            "name": "oscar-local",
            "namespace": "oscar",
            "services_namespace": "oscar-svc",
            "controller_service_account": "",
            "serverless_backend": "oscar-local",
            "oidc_groups": groups,
        },
        "minio_provider": rt.provider(),
        "allowed_image_repositories": [],
    }
    return gojson.response(gotypes.shape(gotypes.TYPES[rt.wire.api_version], "ConfigForUser", body))


def _status_payload(rt) -> dict:
    vm = psutil.virtual_memory()
    cores = psutil.cpu_count() or 1
    load = psutil.cpu_percent(interval=None) / 100.0
    used_cores = int(round(load * cores))
    free_cores = max(cores - used_cores, 0)
    counts = rt.state.count_jobs()
    buckets: list = []
    objects = 0
    storage_ok = not rt.storage_down
    if storage_ok:
        try:  # as the Manager, storage that does not answer leaves the MinIO figures at zero
            buckets = rt.store.buckets()
            for b in buckets:
                objects += sum(1 for o in rt.store.list(b, "", True) if not o.is_dir)
        except StoreError:
            storage_ok, buckets, objects = False, [], 0
    node: dict = {
        "name": platform.node() or "localhost",
        "cpu": {"capacity_cores": cores, "usage_cores": used_cores},
        "memory": {"capacity_bytes": vm.total, "usage_bytes": vm.total - vm.available},
        "gpu": 0,
        "is_interlink": False,
        "status": "Ready",
        "conditions": [{"type": "Ready", "status": True},
                       {"type": "StorageAvailable", "status": storage_ok}],
    }
    metrics: dict = {
        "cpu": {"total_free_cores": free_cores, "max_free_on_node_cores": free_cores},
        "memory": {"total_free_bytes": vm.available, "max_free_on_node_bytes": vm.available},
        "gpu": {"total_gpu": 0},
    }
    if rt.wire.schedulable_metrics:  # v4: what is left after the running services' requests
        requested = sum(_cores(s.get("cpu")) * rt.executors[s["name"]].running
                        for s in rt.services() if s["name"] in rt.executors)
        node["cpu"]["request_cores"] = int(round(requested))
        node["memory"]["request_bytes"] = 0
        schedulable = max(int(cores - requested), 0)
        metrics["cpu"].update(total_schedulable_cores=schedulable, total_schedulable_on_node_cores=schedulable)
        metrics["memory"].update(total_schedulable_bytes=vm.available, max_schedulable_on_node_bytes=vm.available)
    oidc = rt.oidc
    return {
        "cluster": {
            "nodes_count": 1,
            "metrics": metrics,
            "nodes": [node],
        },
        "oscar": {
            "ready": True,
            "deployment_name": "oscar-local",
            "deployment": {
                "available_replicas": 1,
                "ready_replicas": 1,
                "replicas": 1,
                "strategy": "none",
                "creation_timestamp": rfc3339(rt.started),
                "labels": {"app": "oscar-local"},
            },
            "jobs_count": sum(counts.values()),
            "pods": {
                "total": counts.get(PENDING, 0) + counts.get(RUNNING, 0),
                "states": {k: v for k, v in counts.items()},
            },
            "oidc": {"enabled": oidc is not None, "issuers": [oidc.issuer] if oidc else [],
                     "groups": list(oidc.groups) if oidc else []},
        },
        "minio": {"buckets_count": len(buckets), "total_objects": objects},
    }


def _cores(value: object) -> float:
    try:
        return max(float(str(value)), 0.0)
    except ValueError:
        return 0.0


async def status(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    payload = await asyncio.to_thread(_status_payload, rt)
    down = not payload["cluster"]["nodes"][0]["conditions"][1]["status"]
    return gojson.response(payload, headers={STORAGE_HEADER: "down" if down else "up"})


async def system_logs(request: web.Request) -> web.Response:
    """oscar-local's own recent log lines (what the Manager's pod log is on a cluster)."""
    rt = runtime_of(request)
    lines = list(rt.logs.lines)
    if request.query.get("timestamps", "").lower() not in ("true", "1"):
        lines = [line.split(" ", 2)[-1] for line in lines]
    return web.Response(text="\n".join(lines) + ("\n" if lines else ""), content_type="text/plain")


async def manager_logs(request: web.Request) -> web.Response:
    """``GET /system/logs``: the Manager's execution log entries (see ``executions``)."""
    rt = runtime_of(request)
    if caller(request) is not None:
        return text(403, "OIDC tokens are not allowed for system logs")
    if _go_bool(request.query.get("previous", "false")):
        return text(400, executions.NO_PREVIOUS)
    raw = rt.executions.text(timestamps=_go_bool(request.query.get("timestamps", "false")))
    return gojson.response({"logs": executions.parse(raw)})


def _go_bool(value: str) -> bool:
    """strconv.ParseBool, with what it refuses taken as false (as the handler does)."""
    return value in ("1", "t", "T", "TRUE", "true", "True")


async def openapi_doc(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    return gojson.response(openapi.document(str(request.url.origin()), rt.wire.release,
                                              v4_routes=rt.wire.deployment_routes, oidc=rt.oidc is not None))


def register(app: web.Application) -> None:
    add(app, "GET", "/health", health)
    add(app, "GET", "/openapi.json", openapi_doc)
    add(app, "GET", "/system/info", info)
    add(app, "GET", "/system/config", config)
    add(app, "GET", "/system/status", status)
    add(app, "GET", "/system/logs/", system_logs)  # oscar-local's own (a cluster redirects it)
    add(app, "GET", "/system/logs", manager_logs)
    psutil.cpu_percent(interval=None)  # prime the CPU sampler
