"""Job routes: ``/system/logs/{svc}`` (list, delete) and ``/system/logs/{svc}/{job}`` (log, delete).

The list has the v3.7+ shape ``{"jobs": {name: JobInfo}, "next_page"?,
"remaining_jobs"?}`` (with ``--api-version 3.6``, the bare ``{name: JobInfo}``
map of one page), in creation order, with ``?page=<next_page>`` continuing.
A page holds the Manager's ``JOB_LISTING_LIMIT`` (70) jobs, and ``?limit`` is
ignored, as the v3.7.1 and v4.1.2 handlers (``pkg/handlers/logs.go``) ignore
it; with ``--api-version 3.6``, ``?limit=`` (default and maximum 1000) is
honoured. OIDC callers reach only the jobs of services they may see (else 403).
"""
from __future__ import annotations

from aiohttp import web

from . import gojson, names
from .exchange import BareStatus, add, not_found, runtime_of, text
from .output import stamp_lines, unstamp
from .state import PENDING, RUNNING

PAGE_SIZE = 1000
#: the Manager's default ``JOB_LISTING_LIMIT`` (``pkg/types/config.go``)
JOB_LISTING_LIMIT = 70


def _service(request: web.Request) -> dict:
    from .routes_services import visible_service

    return visible_service(request)


def _job_name(request: web.Request, service: str) -> str:
    job = request.match_info["job"]
    if names.job_name_problem(job) or not job.startswith(service + "-"):
        raise not_found()
    return job


def _int_query(request: web.Request, key: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(key, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"Query parameter '{key}' must be an integer, got {raw[:40]!r}\n",
                                 content_type="text/plain") from None
    if not low <= value <= high:
        raise web.HTTPBadRequest(text=f"Query parameter '{key}' must be between {low} and {high}, got {value}\n",
                                 content_type="text/plain")
    return value


async def list_jobs(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    svc = _service(request)
    if rt.wire.jobs_envelope:
        limit = JOB_LISTING_LIMIT
    else:
        limit = _int_query(request, "limit", PAGE_SIZE, 1, PAGE_SIZE)
    page = request.query.get("page", "")
    after = 0
    if page:
        if not page.isdigit() or len(page) > 18:
            return text(400, f"Query parameter 'page' is not a continuation token this server issued: {page[:40]!r}")
        after = int(page)
    assert rt.state is not None
    rows, remaining = rt.state.list_jobs(svc["name"], after, limit)
    jobs = {job.name: job.info() for _, job in rows}
    next_page = str(rows[-1][0]) if remaining else None
    return gojson.response(rt.wire.jobs_listing(jobs, next_page, remaining))


async def job_log(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    svc = _service(request)
    assert rt.state is not None
    job = rt.state.get_job(svc["name"], _job_name(request, svc["name"]))
    if job is None:
        return text(404)
    if request.query.get("timestamps", "").lower() in ("true", "1"):
        # each line's own time (stored with it); older logs' lines get the job's start
        body = stamp_lines(job.log, _nano(job.start_time or job.creation_time))
    else:
        body = unstamp(job.log)
    return web.Response(text=body, content_type="text/plain")


def _nano(stamp: str) -> str:
    """A stored RFC 3339 second (``...:05Z``) in the width of per-line stamps."""
    return stamp[:-1] + ".000000000Z" if stamp.endswith("Z") and "." not in stamp else stamp


async def delete_job(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    try:
        svc = _service(request)
    except BareStatus as exc:
        if exc.status == 404 and rt.wire.major_minor >= (4, 0):
            # v4.1.2 MakeDeleteJobHandler writes its 403 over getAuthorizedService's 404
            return text(403, "You do not have permission to access this service")
        raise
    assert rt.state is not None and rt.jobs is not None
    name = _job_name(request, svc["name"])
    job = rt.state.get_job(svc["name"], name)
    if job is None:
        return text(404)
    if job.status in (PENDING, RUNNING):
        await rt.jobs.cancel_job(name)
    rt.state.delete_job(svc["name"], name)
    return text(204)


async def delete_jobs(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    svc = _service(request)
    assert rt.state is not None and rt.jobs is not None
    everything = request.query.get("all", "").lower() in ("true", "1")
    if everything:
        await rt.jobs.cancel_service(svc["name"])
    rt.state.delete_jobs(svc["name"], everything)
    return text(204)


def register(app: web.Application) -> None:
    add(app, "GET", "/system/logs/{name}", list_jobs)
    add(app, "DELETE", "/system/logs/{name}", delete_jobs)
    add(app, "GET", "/system/logs/{name}/{job}", job_log)
    add(app, "DELETE", "/system/logs/{name}/{job}", delete_job)
