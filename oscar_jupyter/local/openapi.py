"""oscar-local's own OpenAPI 3 document, served at ``GET /openapi.json`` (no auth).

Built from the route table below; the ``Service`` schema is the packaged
``types.Service`` schema the shared service model uses.
"""
from __future__ import annotations

import json
from typing import Any

from .runtime import VERSION

_TEXT = {"text/plain": {"schema": {"type": "string"}}}
_JSON = {"application/json": {"schema": {"type": "object"}}}

# (method, path, tag, summary, auth, {status: description}, body kind, response kind)
ROUTES: list[tuple[str, str, str, str, str, dict[int, str], str, str]] = [
    ("get", "/health", "health", "Health check (text 'Ok')", "none", {200: "Ok"}, "", "text"),
    ("get", "/openapi.json", "health", "This document", "none", {200: "OpenAPI document"}, "", "json"),
    ("get", "/system/info", "info", "Deployment information", "basic", {200: "Info"}, "", "json"),
    ("get", "/system/config", "config", "Configuration and the MinIO provider (S3 credentials)", "basic",
     {200: "ConfigForUser"}, "", "json"),
    ("get", "/system/status", "status", "This machine's CPU/memory, jobs, storage (v3.7 shape)", "basic",
     {200: "StatusInfo"}, "", "json"),
    ("get", "/system/services", "services", "List services", "basic", {200: "Array of Service"}, "", "json"),
    ("post", "/system/services", "services", "Create a service", "basic",
     {201: "Created (empty body)", 400: "Invalid definition (text naming the field)", 409: "Name exists",
      413: "Body too large", 500: "Refused by Kubernetes or the quantity parser (text naming the field)"},
     "service", "empty"),
    ("put", "/system/services", "services", "Update a service (name is the key)", "basic",
     {204: "Updated", 400: "Invalid definition", 404: "No such service", 413: "Body too large",
      500: "Refused by Kubernetes or the quantity parser"}, "service", "empty"),
    ("get", "/system/services/{serviceName}", "services", "Read a service (secrets blanked)", "basic",
     {200: "Service", 404: "No such service (empty body)"}, "", "json"),
    ("delete", "/system/services/{serviceName}", "services", "Delete a service and its buckets", "basic",
     {204: "Deleted", 404: "No such service"}, "", "empty"),
    ("post", "/run/{serviceName}", "sync", "Invoke synchronously; header X-Oscar-Exit-Code has the exit status",
     "token", {200: "The invocation's output", 401: "No or wrong service token", 404: "No such service",
               413: "Body too large", 503: "Queue timeout (all replicas busy)", 504: "Invocation timed out"},
     "payload", "text"),
    ("post", "/job/{serviceName}", "async", "Invoke asynchronously (one job <svc>-<uuid4>)", "token",
     {201: "Created (empty body)", 401: "No or wrong service token", 404: "No such service",
      413: "Body too large"}, "payload", "empty"),
    ("get", "/system/logs", "logs", "The Manager's execution log: POST /run and /job lines (?timestamps=, "
     "?previous=)", "basic", {200: '{"logs": [executionLogEntry]}', 400: "previous=true: no previous container",
                              403: "OIDC callers"}, "", "json"),
    ("get", "/system/logs/", "logs", "oscar-local's own recent log lines", "basic", {200: "Log text"}, "", "text"),
    ("get", "/system/logs/{serviceName}", "logs", "List jobs (?page=; pages of 70, ?limit ignored)", "basic",
     {200: "JobsResponse", 400: "Bad page", 404: "No such service"}, "", "json"),
    ("delete", "/system/logs/{serviceName}", "logs", "Delete succeeded jobs (?all=true: every job)", "basic",
     {204: "Deleted", 404: "No such service"}, "", "empty"),
    ("get", "/system/logs/{serviceName}/{jobName}", "logs", "A job's log (?timestamps=true)", "basic",
     {200: "Log text", 404: "No such service or job"}, "", "text"),
    ("delete", "/system/logs/{serviceName}/{jobName}", "logs", "Delete a job", "basic",
     {204: "Deleted", 404: "No such service or job"}, "", "empty"),
    ("get", "/system/buckets", "buckets", "List buckets", "basic", {200: "Array of MinIOBucket"}, "", "json"),
    ("post", "/system/buckets", "buckets", "Create a bucket", "basic",
     {201: "Created", 400: "Invalid definition", 409: "Exists"}, "bucket", "empty"),
    ("put", "/system/buckets", "buckets", "Change a bucket's visibility", "basic",
     {204: "Updated", 400: "Invalid definition", 404: "No such bucket"}, "bucket", "empty"),
    ("get", "/system/buckets/{bucket}", "buckets", "Bucket details and objects (?page=, ?limit=, ?prefix=)", "basic",
     {200: "BucketListResponse", 400: "Bad name or page", 404: "No such bucket"}, "", "json"),
    ("delete", "/system/buckets/{bucket}", "buckets", "Delete a bucket and its objects", "basic",
     {204: "Deleted", 404: "No such bucket"}, "", "empty"),
    ("post", "/system/buckets/{bucket}/presign", "buckets", "Presigned upload/download URL", "basic",
     {200: "PresignResponse", 400: "Invalid request", 404: "No such bucket"}, "presign", "json"),
]


# routes only a Manager v4 answers (``--api-version 4.1``)
V4_ROUTES: list[tuple[str, str, str, str, str, dict[int, str], str, str]] = [
    ("get", "/system/services/{serviceName}/deployment", "deployment",
     "Deployment summary (types.ServiceDeploymentStatus; exposed services: their replicas)", "basic",
     {200: "ServiceDeploymentStatus", 403: "Another owner's service", 404: "No such service"}, "", "json"),
    ("get", "/system/services/{serviceName}/deployment/logs", "deployment",
     "Deployment logs (types.DeploymentLogStream; exposed services: replica lines, ?timestamps=, ?tailLines=)",
     "basic", {200: "DeploymentLogStream", 403: "Another owner's service", 404: "No such service"}, "", "json"),
    *[("post", f"/system/services/{{serviceName}}/{action}", "deployment", summary, "basic",
       {200: "ServiceDeploymentStatus", 400: "The service is not exposed", 403: "Not the service's owner",
        404: "No such service"}, "", "json")
      for action, summary in (("stop", "Stop an exposed service (0 replicas, autoscaling suspended)"),
                              ("start", "Start a stopped exposed service (the replicas it had)"),
                              ("restart", "Rolling restart of an exposed service's replicas"))],
    ("get", "/system/services/{serviceName}/auth", "deployment",
     "Forward-auth check: admin Basic, the service token (Bearer, ?token=, cookie) or an allowed OIDC user",
     "token", {200: "Allowed (Set-Cookie with the service's cookie for a token)", 401: "Not authenticated",
               403: "Not allowed", 404: "No such service"}, "", "empty"),
]


def _component_schemas() -> dict[str, Any]:
    """``Service`` and the types it references, with refs rewritten to ``#/components/schemas/``."""
    try:
        from oscar_jupyter import spec

        schema = spec.service_schema()
    except Exception:  # the document must render even without the packaged schema
        return {"Service": {"type": "object"}}
    text = json.dumps(schema.get("definitions", {})).replace('"#/definitions/', '"#/components/schemas/')
    out: dict[str, Any] = json.loads(text)
    out["Service"] = {"$ref": "#/components/schemas/types.Service"}
    return out


def document(server: str, release: str = VERSION, *, v4_routes: bool = False,
             oidc: bool = False) -> dict[str, Any]:
    """The OpenAPI 3.0 document, with ``server`` as the base URL, for the Manager
    ``release`` served (``v4_routes``: its v4-only routes; ``oidc``: bearer JWTs
    accepted on ``/system``)."""
    paths: dict[str, Any] = {}
    for method, path, tag, summary, kind, responses, body, answer in ROUTES + (V4_ROUTES if v4_routes else []):
        op: dict[str, Any] = {"tags": [tag], "summary": summary, "responses": {}}
        params = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
        if params:
            op["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                                for p in params]
        if kind == "basic":
            op["security"] = [{"BasicAuth": []}] + ([{"OIDCBearer": []}] if oidc else [])
            responses = {**responses, 401: "Missing or wrong credentials"}
        elif kind == "token":
            op["security"] = [{"ServiceToken": []}]
        if body == "service":
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Service"}}}}
        elif body == "payload":
            op["requestBody"] = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                                             "application/json": {"schema": {}}}}
        elif body:
            op["requestBody"] = {"required": True, "content": _JSON}
        for status, desc in sorted(responses.items()):
            entry: dict[str, Any] = {"description": desc}
            if status < 300 and answer == "json":
                entry["content"] = _JSON
            elif status < 300 and answer == "text" or status >= 400:
                entry["content"] = _TEXT
            op["responses"][str(status)] = entry
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "oscar-local Manager API",
            "version": release,
            "description": "An OSCAR-compatible Manager API on one machine. Errors are plain text or empty "
                           "bodies, as on a real cluster.",
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "BasicAuth": {"type": "http", "scheme": "basic"},
                "ServiceToken": {"type": "http", "scheme": "bearer",
                                 "description": "The service's 64-hex-character token"},
                **({"OIDCBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                   "description": "An access token of the configured OIDC issuer"}}
                   if oidc else {}),
            },
            "schemas": _component_schemas(),
        },
    }
