"""oscar-local: an OSCAR-compatible cluster on one machine.

``start()`` runs the server in a background thread of the calling process,
with its own asyncio event loop. A thread (not a subprocess) because a
notebook kernel must be able to start it without a free terminal, errors at
start-up surface as exceptions in the caller, and stopping is a method call.
The heavy parts already run outside the caller's GIL: the S3 endpoint is its
own process and every invocation runs ``/bin/sh`` in a child process.

``attach(data_dir)`` joins an oscar-local already serving ``data_dir`` (found
through its ``endpoint.json``, written 0600, and checked with ``/health``
plus an authenticated ``/system/info``), so several notebooks share one.
``ensure()`` attaches when it can and starts otherwise.
"""
from __future__ import annotations

import asyncio
import atexit
import base64
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable

from . import datadir
from .auth import load_or_create_password
from .runtime import Options
from .routes_system import INSTANCE_HEADER
from .server import ENDPOINT_FILE, DataDirBusy, serve
from .versions import RELEASES

log = logging.getLogger(__name__)

__all__ = ["LocalCluster", "start", "attach", "ensure", "default_data_dir"]

DATA_DIR_ENV = "OSCAR_LOCAL_DATA_DIR"
START_TIMEOUT = 120.0


def default_data_dir() -> str:
    """``$OSCAR_LOCAL_DATA_DIR``, else ``~/.oscar-local`` (one per user, shared by
    ``oscar-local``, ``oscar-jupyter lab`` and ``oscar_jupyter.connect()``)."""
    return os.path.abspath(os.path.expanduser(os.environ.get(DATA_DIR_ENV) or "~/.oscar-local"))


class LocalCluster:
    """Handle on a running oscar-local: ``.endpoint``, ``.user``, ``.password``, ``.data_dir``, ``.stop()``.

    ``owned`` is True for a cluster this process started (``stop()`` stops it)
    and False for one attached to (``stop()`` only lets go of the handle).
    """

    def __init__(self, endpoint: str, user: str, password: str, data_dir: str, *,
                 owned: bool, generated_password: bool = False) -> None:
        self.endpoint = endpoint
        self.user = user
        self._password = password
        self.data_dir = data_dir
        self.owned = owned
        self.generated_password = generated_password
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._stopped = False
        self.api_version: str | None = None  # the Manager version served ("3.7", "4.1", "3.6")

    @property
    def password(self) -> str:
        """The admin password (never part of ``repr``)."""
        return self._password

    def __repr__(self) -> str:
        kind = "started" if self.owned else "attached"
        state = "stopped" if self._stopped else "running"
        return f"LocalCluster({self.endpoint!r}, user={self.user!r}, data_dir={self.data_dir!r}, {kind}, {state})"

    @property
    def running(self) -> bool:
        return not self._stopped and (not self.owned or bool(self._thread and self._thread.is_alive()))

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the server (when this process started it); idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if not self.owned or self._loop is None or self._stop_event is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        except RuntimeError:  # loop already closed
            pass
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> "LocalCluster":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _options(data_dir: str, password: str, kwargs: dict[str, Any]) -> Options:
    known = {f for f in Options.__dataclass_fields__ if f not in ("data_dir", "password")}
    unknown = set(kwargs) - known
    if unknown:
        raise TypeError(f"start() got unexpected option(s): {', '.join(sorted(unknown))}")
    return Options(data_dir=data_dir, password=password, **kwargs)


def start(data_dir: str | None = None, host: str = "127.0.0.1", port: int = 0,
          password: str | None = None, *, timeout: float = START_TIMEOUT, **options: Any) -> LocalCluster:
    """Start oscar-local in a background thread and return once it answers.

    ``data_dir`` defaults to :func:`default_data_dir`. ``password`` defaults to
    ``$OSCAR_LOCAL_PASSWORD``, else the one stored in the data dir, else a new
    one (stored 0600). Further ``options`` are :class:`runtime.Options` fields
    (``s3_endpoint``, ``s3_access_key``, ``s3_secret_key``, ``s3_region``,
    ``max_body``, ``cores``, ``sync_timeout``, ``queue_timeout``,
    ``api_version`` ("3.6", "3.7", "4.1" default), ``oidc_issuer`` and
    ``oidc_groups``, ``job_timeout`` (seconds, default 3600), ``sandbox``
    ("auto" default, "bwrap", "unshare", "none"; see docs/security.md),
    ``log_cap`` (bytes of a script's output kept, default 10 MB)...).
    Raises ``datadir.DataDirUnsafe`` for a data dir others may write to.
    Raises ``server.DataDirBusy`` when another server owns the data dir.
    """
    data_dir = os.path.abspath(data_dir or default_data_dir())
    datadir.secure(data_dir)
    secret, generated = load_or_create_password(data_dir, password)
    opts = _options(data_dir, secret, options)
    ready = threading.Event()
    result: dict[str, Any] = {}
    handle = LocalCluster("", opts.user, secret, data_dir, owned=True, generated_password=generated)

    def on_ready(endpoint: str) -> None:
        result["endpoint"] = endpoint
        ready.set()

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        handle._loop = loop
        handle._stop_event = asyncio.Event()
        try:
            loop.run_until_complete(serve(opts, host, port, handle._stop_event, on_ready))
        except BaseException as exc:  # reported to the caller of start()
            result["error"] = exc
            if not ready.is_set():
                ready.set()
            else:
                log.exception("oscar-local stopped with an error")
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    thread = threading.Thread(target=run, name=f"oscar-local {data_dir}", daemon=True)
    handle._thread = thread
    thread.start()
    if not ready.wait(timeout):
        handle.stop()
        raise TimeoutError(f"oscar-local did not start within {timeout:.0f} s (data dir {data_dir})")
    if "error" in result:
        thread.join(10)
        raise result["error"]
    handle.endpoint = result["endpoint"]
    handle.api_version = opts.api_version
    _at_exit(handle.stop)
    return handle


def _at_exit(stop: Callable[[], None]) -> None:
    """Run ``stop`` when the interpreter exits, while threads can still be started.

    ``atexit`` callbacks run after concurrent.futures has refused new work (so
    every ``asyncio.to_thread`` in the server's shutdown raised, and the
    shutdown stopped half-way: runtime directories, cgroups and the S3
    endpoint's orderly stop were left). threading's own exit hooks run before
    that, last registered first: concurrent.futures registers its hook the
    same way, at import, so ours runs ahead of it."""
    register = getattr(threading, "_register_atexit", None)
    if register is None:  # not CPython: atexit is the best there is
        atexit.register(stop)
        return
    try:
        register(stop)
    except RuntimeError:  # the interpreter is already exiting
        atexit.register(stop)


def _get(url: str, auth: tuple[str, str] | None, timeout: float) -> tuple[int, bytes, str]:
    req = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback URL from our own file
            return resp.status, resp.read(), resp.headers.get(INSTANCE_HEADER, "")
    except urllib.error.HTTPError as exc:
        return exc.code, b"", ""


def attach(data_dir: str | None = None, timeout: float = 3.0) -> LocalCluster | None:
    """A handle on the oscar-local serving ``data_dir``, or None when none answers."""
    data_dir = os.path.abspath(data_dir or default_data_dir())
    path = os.path.join(data_dir, ENDPOINT_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            info = json.load(fh)
        endpoint, user, password = info["endpoint"], info["user"], info["password"]
        instance = info.get("instance", "")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(endpoint, str) or not endpoint.startswith("http://"):
        return None
    try:
        status, body, answered = _get(endpoint + "/health", None, timeout)
        if status != 200 or body.strip() != b"Ok" or answered != instance:
            return None  # nothing there, or another server now owns that port
        status, body, _ = _get(endpoint + "/system/info", (user, password), timeout)
    except (OSError, ValueError):
        return None
    if status != 200:
        return None
    handle = LocalCluster(endpoint, user, password, data_dir, owned=False)
    try:
        release = json.loads(body).get("version")
    except (ValueError, AttributeError):
        release = None
    handle.api_version = next((key for key, rel in RELEASES.items() if rel == release), None)
    return handle


def ensure(data_dir: str | None = None, *, timeout: float = START_TIMEOUT, **kwargs: Any) -> LocalCluster:
    """Attach to the oscar-local on ``data_dir`` if one runs, else start one.

    When another process is starting one on the same data dir at this moment,
    wait for it (up to ``timeout`` seconds) and attach.
    """
    found = attach(data_dir)
    if found is not None:
        return found
    try:
        return start(data_dir, timeout=timeout, **kwargs)
    except DataDirBusy:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = attach(data_dir)
            if found is not None:
                return found
            time.sleep(0.2)
        raise

