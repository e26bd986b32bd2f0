"""Serving one oscar-local: data-dir lock, HTTP site, ``endpoint.json``, orderly stop.

``serve()`` is shared by the ``oscar-local`` command (main thread, signals)
and ``oscar_jupyter.local.start()`` (a background thread with its own event
loop). Stop order: stop accepting connections, let in-flight requests end
(bounded), stop the runtime (running jobs finish within the grace time or are
marked Failed), remove ``endpoint.json``, release the lock.

Slow or stalled clients: ``Options.header_timeout`` is aiohttp's own
``keepalive_timeout``. aiohttp arms that timer when a connection opens and
again after each response, does not re-arm it when bytes arrive, and fires
it only while the connection waits for a complete request line and headers
(never while a handler runs or reads a body). So one setting bounds both the
time a client may take to send its request line and headers and the time an
idle keep-alive connection is held; aiohttp has no separate header-read
timeout. Oversized request lines and header fields are refused by aiohttp's
``max_line_size``/``max_field_size`` (8190 bytes each, its defaults). A body
that arrives slowly but keeps coming is not cut off.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Callable

from aiohttp import web

from .. import spec
from . import datadir
from .app import build_app
from .runtime import Options, Runtime

try:  # POSIX advisory lock; elsewhere a second server on one data dir is not detected
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

ENDPOINT_FILE = "endpoint.json"
LOCK_FILE = "server.lock"
LOCK_WAIT = 3.0  # seconds a new server waits for one that is still exiting
REQUEST_DRAIN = 5.0


class DataDirBusy(RuntimeError):
    """Another oscar-local already serves this data directory."""


class DataDirLock:
    """An exclusive lock on a data directory for the life of one server."""

    def __init__(self, data_dir: str) -> None:
        self.path = os.path.join(data_dir, LOCK_FILE)
        self._fd: int | None = None

    def acquire(self, wait: float = LOCK_WAIT) -> None:
        """Take the lock, waiting up to ``wait`` seconds for a server that is still
        exiting (a process killed a moment ago may not have let go yet)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:
                    if time.monotonic() < deadline:
                        time.sleep(0.1)
                        continue
                    os.close(fd)
                    raise DataDirBusy(
                        f"another oscar-local is already running on {os.path.dirname(self.path)!r}; "
                        "attach to it with oscar_jupyter.local.attach(data_dir) or use another --data-dir"
                    ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def write_private_json(path: str, payload: dict) -> None:
    """Write ``payload`` to ``path`` atomically with mode 0600."""
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(payload, fh)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


async def serve(
    options: Options,
    host: str,
    port: int,
    stop: asyncio.Event,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run oscar-local until ``stop`` is set; ``on_ready(endpoint)`` once it answers."""
    runtime = Runtime(options)  # checks the options (api_version, OIDC) before anything is held
    datadir.secure(options.data_dir)
    lock = DataDirLock(options.data_dir)
    lock.acquire()
    runner: web.AppRunner | None = None
    endpoint_path = os.path.join(options.data_dir, ENDPOINT_FILE)
    try:
        await runtime.start()
        runner = web.AppRunner(build_app(runtime), access_log=None, shutdown_timeout=REQUEST_DRAIN,
                               keepalive_timeout=options.header_timeout)
        await runner.setup()
        assert runtime.exposed is not None  # nginx in front where installed (exposed/frontdoor.py)
        bound = await runtime.exposed.listen(runner, host, port, header_timeout=options.header_timeout,
                                             v4=runtime.wire.deployment_routes)
        shown_host = f"[{host}]" if ":" in host else host
        endpoint = f"http://{shown_host}:{bound}"
        write_private_json(endpoint_path, {
            "endpoint": endpoint,
            "user": options.user,
            "password": options.password,
            "pid": os.getpid(),
            "instance": runtime.instance,
            "started": time.time(),
        })
        log.info("oscar-local serving %s (data dir %s)", endpoint, options.data_dir)
        if on_ready:
            on_ready(endpoint)
        # after start-up, which it would slow by a second (it holds the GIL building a grammar)
        runtime.schema_ready = spec.warm_up()
        await stop.wait()
        log.info("oscar-local stopping")
    finally:
        try:
            if os.path.exists(endpoint_path):
                os.unlink(endpoint_path)
        except OSError:
            pass
        if runner is not None:
            await runner.cleanup()
        await runtime.stop()
        lock.release()
