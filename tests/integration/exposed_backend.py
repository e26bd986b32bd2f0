"""A test backend for exposed services: an aiohttp server written as a service's script.

It hard-codes its port, as published OSCAR examples do, and answers:
``/health``; ``/env`` (its environment as JSON); ``/upload`` (counts the
streamed body); ``/download?size=N``; ``/ws`` (WebSocket echo);
``/slow?s=N``; ``/die`` (exits mid-request); ``/burn?s=N`` (CPU);
anything else: ``{"path", "pid"}`` (the path it received; ``pid`` is the
process id and a random tag, as pids repeat across PID namespaces).
"""
from __future__ import annotations

BACKEND = r'''#!/usr/bin/env python3
import asyncio, json, os, sys, time, uuid
from aiohttp import web

PORT = %(port)d
DELAY = %(delay)r
# pids repeat across replicas (each has its own PID namespace): a random tag tells them apart
PID = "%%d-%%s" %% (os.getpid(), uuid.uuid4().hex[:8])

async def health(request):
    return web.Response(text="ok")

async def env(request):
    return web.json_response(dict(os.environ))

async def upload(request):
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
    return web.json_response({"size": size})

async def download(request):
    size = int(request.query["size"])
    resp = web.StreamResponse()
    resp.content_length = size
    await resp.prepare(request)
    block = b"x" * 65536
    sent = 0
    while sent < size:
        n = min(len(block), size - sent)
        await resp.write(block[:n])
        sent += n
    await resp.write_eof()
    return resp

async def ws(request):
    sock = web.WebSocketResponse()
    await sock.prepare(request)
    async for msg in sock:
        if msg.type == web.WSMsgType.TEXT:
            await sock.send_str("echo:" + msg.data)
        elif msg.type == web.WSMsgType.BINARY:
            await sock.send_bytes(msg.data[::-1])
    return sock

async def slow(request):
    await asyncio.sleep(float(request.query.get("s", "1")))
    return web.json_response({"pid": PID, "slept": True})

async def die(request):
    print("dying on request", flush=True)
    os._exit(3)

async def burn(request):
    end = time.time() + float(request.query.get("s", "0.5"))
    n = 0
    while time.time() < end:
        n += 1
    return web.json_response({"pid": PID, "n": n})

async def echo(request):
    body = await request.read()
    return web.json_response({"path": request.path_qs, "pid": PID, "method": request.method,
                              "body": len(body)})

if DELAY:
    time.sleep(DELAY)
print("backend listening on", PORT, "base", os.environ.get("OSCAR_SERVICE_BASE_PATH"), flush=True)
app = web.Application(client_max_size=0)
app.router.add_get("/health", health)
app.router.add_get("/env", env)
app.router.add_post("/upload", upload)
app.router.add_get("/download", download)
app.router.add_get("/ws", ws)
app.router.add_get("/slow", slow)
app.router.add_get("/die", die)
app.router.add_post("/die", die)
app.router.add_get("/burn", burn)
app.router.add_route("*", "/{tail:.*}", echo)
web.run_app(app, host=%(host)r, port=PORT, print=None, access_log=None)
'''


def backend(port: int = 8080, delay: float = 0.0, host: str = "127.0.0.1") -> str:
    """The script text of the backend listening on ``host:port`` (after ``delay`` seconds)."""
    return BACKEND % {"port": port, "delay": delay, "host": host}


def replica_port() -> int:
    """8080 (hard-coded, as published scripts do) where each replica has its own network
    namespace; else a free host port, since the one replica binds the host's port."""
    import socket

    from oscar_jupyter.local.exposed.launch import detect

    if not detect().single:
        return 8080
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fronts() -> list:
    import pytest

    from oscar_jupyter.local.exposed.frontdoor import nginx_binary

    missing = pytest.mark.skipif(nginx_binary("nginx") is None, reason="nginx is not installed")
    return [pytest.param("nginx", marks=missing), "aiohttp"]


#: the front doors exposed traffic is tested through (a module-scoped cluster parameter)
FRONTS = _fronts()


def exposed_cluster(front: str, data_dir: str, **exposed: object):
    """A started oscar-local answering as Manager v4.1, with this front door and these
    ``extra["exposed"]`` options (timings, scaling...); a context manager that stops it."""
    import uuid

    from oscar_jupyter import local

    return local.start(data_dir=data_dir, port=0, password=uuid.uuid4().hex, api_version="4.1",
                       extra={"exposed": {**exposed, "front": front}})


def admin_session(cluster: object):
    """A ``requests.Session`` with the cluster's admin credentials."""
    import requests

    s = requests.Session()
    s.auth = (cluster.user, cluster.password)  # type: ignore[attr-defined]
    return s
