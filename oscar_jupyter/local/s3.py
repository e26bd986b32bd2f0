"""Object storage for oscar-local, the parent side: the `S3Endpoint` buckets live in.

`S3Endpoint.start(data_dir)` runs moto's S3 server in its own child process
(`s3server.py`, loaded by path), bound to 127.0.0.1, with SigV4 checked
against one random key pair kept in `data_dir/s3/credentials.json`. The child
writes a MinIO-shaped event for every object it creates as one JSON line on
its stdout, which the parent turns into the async iterator
`S3Endpoint.events()`; it mirrors objects to `data_dir/s3/buckets/`, so they
survive a restart (see `s3server`). The child exits when its stdin reaches
end-of-file: `stop()` closes it, and so does the parent's death, even by SIGKILL.

`S3Endpoint.external(...)` describes an external MinIO/S3 instead; its events
come from MinIO's ``ListenBucketNotification`` for the buckets passed to `watch`.
Both give an `s3store.S3Store` client with `store()`.
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
from typing import Any, AsyncIterator, Deque, Dict, List, Optional, Tuple

from . import s3server
from .s3server import REGION
from .s3store import S3Store

log = logging.getLogger(__name__)

_START_TIMEOUT = 60.0
_BACKLOG = 20_000
# The child loads its file by path, so it does not import the rest of the
# package (the HTTP API and its dependencies).
_CHILD_BOOT = ("import importlib.util, sys; "
               "spec = importlib.util.spec_from_file_location('oscar_local_s3_server', sys.argv[1]); "
               "mod = importlib.util.module_from_spec(spec); "
               "sys.modules[spec.name] = mod; spec.loader.exec_module(mod); mod.serve()")
_CHILD_FILE = os.path.abspath(s3server.__file__)


# --------------------------------------------------------------------------- events

class _EventHub:
    """Fans events produced on a thread out to asyncio subscribers.

    Events that arrive while nobody listens are kept (up to a bound) and handed
    to the next subscriber, so none is lost between start-up and the first
    `events()` call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: List[Tuple[asyncio.AbstractEventLoop, "asyncio.Queue[Optional[dict]]"]] = []
        self._backlog: Deque[dict] = collections.deque(maxlen=_BACKLOG)
        self._closed = False

    def publish(self, event: Optional[dict]) -> None:
        """Deliver `event` (None = end of stream) to every subscriber."""
        with self._lock:
            if event is None:
                self._closed = True
            subs = list(self._subs)
            if not subs and event is not None:
                self._backlog.append(event)
                return
        for loop, queue in subs:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, event)
            except RuntimeError:  # that loop is closed
                self._drop(queue)

    def _drop(self, queue: "asyncio.Queue[Optional[dict]]") -> None:
        with self._lock:
            self._subs = [(lp, q) for lp, q in self._subs if q is not queue]

    async def subscribe(self) -> AsyncIterator[dict]:
        loop = asyncio.get_running_loop()
        queue: "asyncio.Queue[Optional[dict]]" = asyncio.Queue()
        with self._lock:
            while self._backlog:
                queue.put_nowait(self._backlog.popleft())
            if self._closed:
                queue.put_nowait(None)
            self._subs.append((loop, queue))
        try:
            while True:
                event = await queue.get()
                if event is None:
                    return
                yield event
        finally:
            self._drop(queue)


# --------------------------------------------------------------------------- endpoint

class S3Endpoint:
    """An S3 endpoint oscar-local stores its buckets in: embedded (moto) or external."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, *, region: str = REGION,
                 verify: bool = True, embedded: bool = False) -> None:
        self.endpoint = endpoint
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.verify = verify
        self.embedded = embedded
        self.started_in: Optional[float] = None  # seconds the embedded server took to come up
        self._hub = _EventHub()
        self._proc: Optional[subprocess.Popen] = None
        self._reader: Optional[threading.Thread] = None
        self._watchers: Dict[str, threading.Thread] = {}
        self._stop = threading.Event()
        self._spawn_args: Tuple[str, str, int] = ("", "", 0)
        self.restarts = 0  # times the embedded endpoint was started again after dying

    def __repr__(self) -> str:
        kind = "embedded" if self.embedded else "external"
        return f"S3Endpoint({kind}, {self.endpoint!r})"

    # ---- embedded
    @classmethod
    def start(cls, data_dir: str, port: int = 0, *, host: str = "127.0.0.1") -> "S3Endpoint":
        """Start the embedded endpoint storing its objects under `data_dir/s3`.

        Blocks until the server answers (moto's import takes a second or two).
        """
        base = os.path.join(os.path.abspath(data_dir), "s3")
        os.makedirs(base, mode=0o700, exist_ok=True)
        access, secret = _load_or_create_credentials(os.path.join(base, "credentials.json"))
        t0 = time.monotonic()
        proc, ready = cls._spawn(base, host, port, access, secret)
        self = cls(f"http://{host}:{ready['port']}", access, secret, region=REGION,
                   verify=True, embedded=True)
        self._proc = proc
        self._spawn_args = (base, host, int(ready["port"]))
        self.started_in = time.monotonic() - t0
        self._reader = threading.Thread(target=self._read_events, name="s3-events", daemon=True)
        self._reader.start()
        log.info("embedded S3 endpoint at %s (%d objects restored, up in %.2f s)",
                 self.endpoint, ready.get("restored", 0), self.started_in)
        return self

    def restart(self) -> None:
        """Start the embedded endpoint again on the same port after it died (same objects, keys)."""
        if not self.embedded or self._stop.is_set() or self.alive:
            return
        base, host, port = self._spawn_args
        old = self._reader
        if old is not None:
            old.join(5)
        proc, ready = self._spawn(base, host, port, self.access_key, self.secret_key)
        self._proc = proc
        self.restarts += 1
        self._reader = threading.Thread(target=self._read_events, name="s3-events", daemon=True)
        self._reader.start()
        log.warning("embedded S3 endpoint restarted (%d objects restored)", ready.get("restored", 0))

    @staticmethod
    def _spawn(base: str, host: str, port: int, access: str, secret: str) -> Tuple[subprocess.Popen, dict]:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD_BOOT, _CHILD_FILE],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
            close_fds=True, env=_child_env(), cwd=base,
        )
        config = {"base": base, "host": host, "port": int(port),
                  "access_key": access, "secret_key": secret}
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write((json.dumps(config) + "\n").encode())
            proc.stdin.flush()
        except BrokenPipeError:
            pass
        return proc, _read_ready(proc, _START_TIMEOUT)

    @property
    def alive(self) -> bool:
        """Embedded: the server process is running. External: always True."""
        if not self.embedded:
            return True
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> Optional[int]:
        """The child process's pid (embedded endpoint), else None."""
        return self._proc.pid if self._proc else None

    def _read_events(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for raw in proc.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                log.warning("S3 endpoint wrote a line that is not JSON; ignored")
                continue
            if "event" in message:
                self._hub.publish(message["event"])
        if not self._stop.is_set():
            status = None
            try:
                status = proc.wait(2)
            except subprocess.TimeoutExpired:
                pass
            log.error("the embedded S3 endpoint exited unexpectedly (status %s); "
                      "object storage is unavailable until it is restarted", status)
            return  # the subscribers stay: events resume when it is restarted
        self._hub.publish(None)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the endpoint (embedded: the child process; external: the listeners)."""
        self._stop.set()
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                if proc.stdin:
                    proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(3)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if self._reader is not None:
                self._reader.join(5)
        self._hub.publish(None)

    def __enter__(self) -> "S3Endpoint":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- external
    @classmethod
    def external(cls, endpoint: str, access_key: str, secret_key: str, region: str = REGION,
                 verify: bool = True) -> "S3Endpoint":
        """An external MinIO/S3 (nothing is started). Call `watch(bucket)` for events."""
        if "://" not in endpoint:
            endpoint = "https://" + endpoint
        return cls(endpoint.rstrip("/"), access_key, secret_key, region=region or REGION,
                   verify=verify, embedded=False)

    def watch(self, bucket: str, prefix: str = "") -> None:
        """External endpoint: listen for object creation in `bucket` (MinIO only).

        On servers without MinIO's listen API the listener logs once and stops;
        the trigger reconciliation (listing) still finds new objects. Embedded
        endpoint: nothing to do, every bucket emits events.
        """
        if self.embedded or bucket in self._watchers:
            return
        thread = threading.Thread(target=self._listen, args=(bucket, prefix),
                                  name=f"s3-listen-{bucket}", daemon=True)
        self._watchers[bucket] = thread
        thread.start()

    def _listen(self, bucket: str, prefix: str) -> None:
        client = S3Store(self.endpoint, self.access_key, self.secret_key,
                         region=self.region, verify=self.verify).client
        while not self._stop.is_set():
            try:
                with client.listen_bucket_notification(
                        bucket, prefix=prefix, events=("s3:ObjectCreated:*",)) as stream:
                    for event in stream:
                        if self._stop.is_set():
                            return
                        if event and event.get("Records"):
                            rec = event["Records"][0]
                            event.setdefault("EventName", rec.get("eventName", ""))
                            key = urllib.parse.unquote_plus(rec["s3"]["object"]["key"])
                            event.setdefault("Key", f"{bucket}/{key}")
                            self._hub.publish(event)
            except Exception as exc:  # noqa: BLE001 - any failure ends this listener
                log.warning("no bucket notifications from %s for bucket %r (%s); "
                            "relying on listing", self.endpoint, bucket, type(exc).__name__)
                return

    # ---- both
    def events(self) -> AsyncIterator[dict]:
        """Async iterator over MinIO-shaped events, one per created object."""
        return self._hub.subscribe()

    def store(self) -> S3Store:
        """An `S3Store` client for this endpoint."""
        return S3Store(self.endpoint, self.access_key, self.secret_key,
                       region=self.region, verify=self.verify)


def _child_env() -> Dict[str, str]:
    env = dict(os.environ)
    # none of the parent's AWS configuration leaks into the child
    for name in list(env):
        if name.startswith("AWS_") or name.startswith("MOTO_"):
            del env[name]
    env["MOTO_ALLOW_NONEXISTENT_REGION"] = "true"
    return env


def _read_ready(proc: subprocess.Popen, timeout: float) -> dict:
    """Wait for the child's first line ({"ready": {...}}) or its failure."""
    assert proc.stdout is not None
    result: Dict[str, Any] = {}

    def read() -> None:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if line:
            try:
                result.update(json.loads(line))
            except ValueError:
                result["error"] = f"unexpected first line {line[:200]!r}"

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if "ready" in result:
        return result["ready"]
    proc.kill()
    proc.wait()
    reason = result.get("error") or ("it did not start within %.0f s" % timeout
                                     if reader.is_alive() else
                                     f"it exited with status {proc.returncode}")
    raise RuntimeError(f"the embedded S3 endpoint failed to start: {reason} "
                       "(see the log lines above)")


def _load_or_create_credentials(path: str) -> Tuple[str, str]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return str(data["access_key"]), str(data["secret_key"])
    except FileNotFoundError:
        pass
    except (ValueError, KeyError, TypeError):
        log.warning("%s is unreadable; generating new S3 credentials", path)
    access = "OSCAR" + secrets.token_hex(8).upper()[:15]
    secret = secrets.token_urlsafe(30)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"access_key": access, "secret_key": secret}, fh)
    os.replace(tmp, path)
    return access, secret
