"""Object storage for oscar-local: the embedded S3 endpoint and the `S3Store` client.

`S3Endpoint.start(data_dir)` runs moto's S3 server in its own child process
(`python -m oscar_jupyter.local.s3`), bound to 127.0.0.1, with SigV4 checked
against one random key pair kept in `data_dir/s3/credentials.json`.
A small WSGI middleware around moto's app

* emits a MinIO-shaped event (``s3:ObjectCreated:Put|Copy|CompleteMultipartUpload``)
  for every object it creates, as one JSON line on the child's stdout, which the
  parent turns into the async iterator `S3Endpoint.events()`;
* mirrors every successful object write/delete and bucket create/delete to files
  under `data_dir/s3/buckets/` before the client gets its answer, and loads
  that mirror at start without emitting events, so objects survive a restart.

The child exits when its stdin reaches end-of-file (the parent closed it or
died, even by SIGKILL) and, on Linux, also on the parent's death signal.

`S3Endpoint.external(...)` describes an external MinIO/S3 instead; its events
come from MinIO's ``ListenBucketNotification`` for the buckets passed to `watch`.
"""
from __future__ import annotations

import asyncio
import collections
import datetime as _dt
import hashlib
import hmac
import io
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, AsyncIterator, BinaryIO, Callable, Deque, Dict, Iterable, List, Optional, Tuple

log = logging.getLogger(__name__)

REGION = "us-east-1"
_START_TIMEOUT = 60.0
_BACKLOG = 20_000
# The child loads this file by path, so it does not import the rest of the
# package (the HTTP API and its dependencies).
_CHILD_BOOT = ("import importlib.util, sys; "
               "spec = importlib.util.spec_from_file_location('oscar_local_s3_server', sys.argv[1]); "
               "mod = importlib.util.module_from_spec(spec); "
               "sys.modules[spec.name] = mod; spec.loader.exec_module(mod); mod.serve()")


# --------------------------------------------------------------------------- events

_sequencer_lock = threading.Lock()
_last_sequencer = 0


def _next_sequencer() -> str:
    """MinIO-style sequencer: wall-clock nanoseconds in hex, strictly increasing per process."""
    global _last_sequencer
    with _sequencer_lock:
        _last_sequencer = max(time.time_ns(), _last_sequencer + 1)
        return f"{_last_sequencer:016X}"


def minio_event(bucket: str, key: str, event_name: str, *, size: int, etag: str = "",
                content_type: str = "", user_metadata: Optional[Dict[str, str]] = None,
                event_time: Optional[_dt.datetime] = None, source_ip: str = "127.0.0.1",
                host: str = "127.0.0.1", port: str = "") -> Dict[str, Any]:
    """A MinIO bucket-notification event for one created object (MinIO's own shape)."""
    when = (event_time or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    sequencer = _next_sequencer()
    obj: Dict[str, Any] = {
        "key": urllib.parse.quote_plus(key, safe=""),
        "size": size,
        "eTag": etag.strip('"'),
        "contentType": content_type,
        "userMetadata": dict(user_metadata or {}),
        "sequencer": sequencer,
    }
    if content_type:
        obj["userMetadata"].setdefault("content-type", content_type)
    return {
        "EventName": event_name,
        "Key": f"{bucket}/{key}",
        "Records": [{
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "awsRegion": "",
            "eventTime": stamp,
            "eventName": event_name,
            "userIdentity": {"principalId": "minio"},
            "requestParameters": {"principalId": "minio", "region": "",
                                  "sourceIPAddress": source_ip},
            "responseElements": {"x-amz-request-id": sequencer,
                                 "x-minio-origin-endpoint": f"http://{host}:{port}" if port else ""},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "Config",
                "bucket": {"name": bucket, "ownerIdentity": {"principalId": "minio"},
                           "arn": f"arn:aws:s3:::{bucket}"},
                "object": obj,
            },
            "source": {"host": source_ip, "port": "", "userAgent": ""},
        }],
    }


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


# --------------------------------------------------------------------------- endpoint (parent side)

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
            [sys.executable, "-c", _CHILD_BOOT, os.path.abspath(__file__)],
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

    def store(self) -> "S3Store":
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


# --------------------------------------------------------------------------- persistence (child side)

class _Mirror:
    """Files under `base/buckets/<bucket>/` that mirror moto's buckets and objects.

    Each object is `objects/<sha256 of key>` (its bytes) plus `<same>.json`
    (key, content type, user metadata, last modified). Writes are atomic
    (temp file + rename), data first, then metadata.
    """

    def __init__(self, base: str) -> None:
        self.root = os.path.join(base, "buckets")
        os.makedirs(self.root, exist_ok=True)
        self._locks = [threading.Lock() for _ in range(64)]

    def _bucket_dir(self, bucket: str) -> str:
        if not bucket or "/" in bucket or bucket in (".", ".."):
            raise ValueError(f"bad bucket name {bucket!r}")
        return os.path.join(self.root, bucket)

    def _paths(self, bucket: str, key: str) -> Tuple[str, str]:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        d = os.path.join(self._bucket_dir(bucket), "objects", digest[:2])
        return os.path.join(d, digest), os.path.join(d, digest + ".json")

    def _lock(self, bucket: str, key: str) -> threading.Lock:
        return self._locks[hash((bucket, key)) % len(self._locks)]

    def bucket_created(self, bucket: str) -> None:
        os.makedirs(os.path.join(self._bucket_dir(bucket), "objects"), exist_ok=True)

    def bucket_deleted(self, bucket: str) -> None:
        shutil.rmtree(self._bucket_dir(bucket), ignore_errors=True)

    def object_written(self, bucket: str, key: str, fake_key: Any) -> None:
        data_path, meta_path = self._paths(bucket, key)
        os.makedirs(os.path.dirname(data_path), exist_ok=True)
        meta = {
            "key": key,
            "metadata": {k: v for k, v in dict(fake_key.metadata).items()},
            "last_modified": fake_key.last_modified.replace(tzinfo=_dt.timezone.utc).isoformat()
            if fake_key.last_modified.tzinfo is None else fake_key.last_modified.isoformat(),
            "etag": fake_key.etag,
        }
        with self._lock(bucket, key):
            tmp = f"{data_path}.{threading.get_ident()}.tmp"
            with open(tmp, "wb") as out:
                _copy_key_value(fake_key, out)
            os.replace(tmp, data_path)
            tmp = f"{meta_path}.{threading.get_ident()}.tmp"
            with open(tmp, "w", encoding="utf-8") as out:
                json.dump(meta, out)
            os.replace(tmp, meta_path)

    def object_deleted(self, bucket: str, key: str) -> None:
        data_path, meta_path = self._paths(bucket, key)
        with self._lock(bucket, key):
            for p in (meta_path, data_path):
                try:
                    os.remove(p)
                except FileNotFoundError:
                    pass

    def keys(self, bucket: str) -> Iterable[Tuple[str, str, dict]]:
        """(data path, meta path, metadata) for each mirrored object of `bucket`."""
        objects = os.path.join(self._bucket_dir(bucket), "objects")
        for dirpath, _dirs, files in os.walk(objects):
            for name in files:
                if not name.endswith(".json"):
                    continue
                meta_path = os.path.join(dirpath, name)
                try:
                    with open(meta_path, encoding="utf-8") as fh:
                        meta = json.load(fh)
                except (OSError, ValueError):
                    log.warning("skipping unreadable object metadata %s", meta_path)
                    continue
                yield meta_path[:-5], meta_path, meta

    def buckets(self) -> List[str]:
        return sorted(n for n in os.listdir(self.root)
                      if os.path.isdir(os.path.join(self.root, n)))


def _copy_key_value(fake_key: Any, out: BinaryIO) -> None:
    """Stream a moto key's bytes to `out` without one big copy in memory."""
    buffer = getattr(fake_key, "_value_buffer", None)
    lock = getattr(fake_key, "lock", None)
    if buffer is None or lock is None:
        out.write(fake_key.value)
        return
    with lock:
        buffer.seek(0)
        shutil.copyfileobj(buffer, out, 1 << 20)


# Query parameters that make a PUT on a key address a subresource, not the object.
_SUBRESOURCES = frozenset({"acl", "tagging", "retention", "legal-hold", "torrent", "restore",
                           "select", "attributes", "renameObject"})


class _KeyLocks:
    """One lock per (bucket, key) in use, so writes to one key are handled one at a time."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: Dict[Tuple[str, str], List[Any]] = {}

    def acquire(self, name: Tuple[str, str]) -> None:
        with self._guard:
            entry = self._locks.setdefault(name, [threading.Lock(), 0])
            entry[1] += 1
        entry[0].acquire()

    def release(self, name: Tuple[str, str]) -> None:
        with self._guard:
            entry = self._locks[name]
            entry[0].release()
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[name]


class _Middleware:
    """WSGI middleware around moto: events, mirroring, and no moto admin API.

    A write to a key holds that key's lock from moto's handling to the mirror
    and the event, so the object mirrored and announced is the one this
    request created, also when clients write one key concurrently.
    """

    def __init__(self, app: Callable, backend_of: Callable[[], Any], mirror: _Mirror,
                 emit: Callable[[dict], None], host: str, port_ref: List[int],
                 auth: "_SigV4") -> None:
        self.app = app
        self.auth = auth
        self.backend_of = backend_of
        self.mirror = mirror
        self.emit = emit
        self.host = host
        self.port_ref = port_ref
        self.key_locks = _KeyLocks()

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        path, _, query = raw_uri.partition("?")
        if "://" in path:  # absolute-form request target
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        if path.startswith("/moto-api") or path.startswith("/latest/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found\n"]
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "OPTIONS":  # CORS preflight carries no credentials
            return self.app(environ, start_response)
        denied = self.auth.check(environ, method, raw_uri)
        if denied is not None:
            code, message = denied
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                    f'<Message>{message}</Message></Error>').encode()
            start_response("403 Forbidden", [("Content-Type", "application/xml"),
                                             ("Content-Length", str(len(body)))])
            return [body]
        mutating = method in ("PUT", "POST", "DELETE")
        bucket_part, _, key_part = path.lstrip("/").partition("/")
        lock_name = (bucket_part, key_part) if mutating and key_part else None
        if lock_name is not None:
            self.key_locks.acquire(lock_name)
        try:
            return self._handle(environ, start_response, method, path, query)
        finally:
            if lock_name is not None:
                self.key_locks.release(lock_name)

    def _handle(self, environ: dict, start_response: Callable, method: str, path: str,
                query: str) -> Any:
        status_box: List[int] = []

        def capture(status: str, headers: list, exc_info: Any = None) -> Any:
            status_box.append(int(status.split(" ", 1)[0]))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        result = self.app(environ, capture)
        if method in ("PUT", "POST", "DELETE") and status_box and 200 <= status_box[0] < 300:
            # moto has finished the request; make it durable and announce it
            # before the client sees the answer.
            body = list(result)
            if hasattr(result, "close"):
                result.close()
            try:
                self._after(method, path, urllib.parse.parse_qs(query, keep_blank_values=True),
                            environ)
            except Exception:  # noqa: BLE001 - never fail a request that succeeded
                log.exception("could not persist or announce %s %s", method, path)
            return body
        return result

    def _after(self, method: str, path: str, query: Dict[str, List[str]], environ: dict) -> None:
        bucket, _, key = path.lstrip("/").partition("/")
        bucket = urllib.parse.unquote(bucket)
        key = urllib.parse.unquote(key)
        if not bucket:
            return
        backend = self.backend_of()
        fake_bucket = backend.buckets.get(bucket)
        if not key:
            if fake_bucket is None:
                self.mirror.bucket_deleted(bucket)
            elif method == "PUT":  # create (or configure) a bucket: make sure it is kept
                self.mirror.bucket_created(bucket)
            elif method == "POST" and "delete" in query:
                self._reconcile_deleted(bucket, fake_bucket)
            return
        if fake_bucket is None:
            return
        current = fake_bucket.keys.get(key)
        if method == "DELETE":
            if "uploadId" not in query and current is None:
                self.mirror.object_deleted(bucket, key)
            return
        if current is None:
            return
        if method == "PUT":
            if "partNumber" in query or "uploadId" in query:
                return
            if _SUBRESOURCES.intersection(query):
                # ?tagging, ?acl, ?retention...: the object's bytes did not change
                return
            copy = "HTTP_X_AMZ_COPY_SOURCE" in environ
            self._created(bucket, key, current,
                          "s3:ObjectCreated:Copy" if copy else "s3:ObjectCreated:Put", environ)
        elif method == "POST" and "uploadId" in query:
            self._created(bucket, key, current, "s3:ObjectCreated:CompleteMultipartUpload", environ)

    def _created(self, bucket: str, key: str, fake_key: Any, name: str, environ: dict) -> None:
        event = self._event(bucket, key, fake_key, name, environ)
        try:
            self.mirror.object_written(bucket, key, fake_key)
        except ValueError:
            # deleted (multi-object delete) while we copied it: nothing to keep
            log.info("%s/%s was deleted while being persisted", bucket, key)
            self.mirror.object_deleted(bucket, key)
        self.emit(event)

    def _reconcile_deleted(self, bucket: str, fake_bucket: Any) -> None:
        for _data, _meta_path, meta in list(self.mirror.keys(bucket)):
            if fake_bucket.keys.get(meta.get("key")) is None:
                self.mirror.object_deleted(bucket, meta["key"])

    def _event(self, bucket: str, key: str, fake_key: Any, name: str, environ: dict) -> dict:
        meta = dict(fake_key.metadata)
        user = {k: v for k, v in meta.items() if k.lower().startswith("x-amz-meta-")}
        return (minio_event(
            bucket, key, name, size=int(fake_key.size), etag=fake_key.etag,
            content_type=str(meta.get("Content-Type") or meta.get("content-type") or ""),
            user_metadata=user, source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
            host=self.host, port=str(self.port_ref[0])))


class _SigV4:
    """Checks AWS Signature V4 (header or presigned query) against the one key pair."""

    def __init__(self, access_key: str, secret_key: str) -> None:
        self.access_key = access_key
        self.secret_key = secret_key

    def check(self, environ: dict, method: str, raw_uri: str) -> Optional[Tuple[str, str]]:
        """None when the request is signed with our key, else (S3 error code, message)."""
        from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(name):
                headers[name.replace("_", "-").lower()] = environ[name]
        path, _, query = raw_uri.partition("?")
        authorization = headers.get("authorization", "")
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        if authorization.startswith("AWS4-HMAC-SHA256 "):
            fields = dict(part.strip().split("=", 1) for part in
                          authorization[len("AWS4-HMAC-SHA256 "):].split(",") if "=" in part)
            credential = fields.get("Credential", "")
            signed = fields.get("SignedHeaders", "")
            given = fields.get("Signature", "")
            timestamp = headers.get("x-amz-date", "")
            url = raw_uri
            query_auth = False
        elif "X-Amz-Signature" in params:
            credential = params.get("X-Amz-Credential", [""])[0]
            signed = params.get("X-Amz-SignedHeaders", [""])[0]
            given = params["X-Amz-Signature"][0]
            timestamp = params.get("X-Amz-Date", [""])[0]
            kept = [p for p in query.split("&") if not p.startswith("X-Amz-Signature=")]
            url = path + ("?" + "&".join(kept) if kept else "")
            query_auth = True
        elif authorization or "Signature" in params or "AWSAccessKeyId" in params:
            return "AccessDenied", "Only AWS Signature Version 4 is supported."
        elif method == "POST" and path.count("/") == 1:
            return ("AccessDenied", "Browser form uploads (POST policy) are not supported; "
                    "use a presigned PUT URL.")
        else:
            return "AccessDenied", "Anonymous access is not allowed; sign the request."
        scope = credential.split("/")
        if len(scope) != 5 or not timestamp:
            return "AuthorizationHeaderMalformed", "The credential scope is malformed."
        access, _day, region, service, _term = scope
        if not hmac.compare_digest(access.encode(), self.access_key.encode()):
            return "InvalidAccessKeyId", "The access key ID you provided does not exist."
        if query_auth:
            try:
                issued = _dt.datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(
                    tzinfo=_dt.timezone.utc)
                expires = int(params.get("X-Amz-Expires", ["0"])[0])
            except ValueError:
                return "AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed."
            if _dt.datetime.now(_dt.timezone.utc) > issued + _dt.timedelta(seconds=expires):
                return "AccessDenied", "Request has expired."
        wanted = set(signed.lower().split(";")) if signed else {"host"}
        request = AWSRequest(method=method, url=url,
                             headers={k: v for k, v in headers.items() if k in wanted})
        if not query_auth and "x-amz-content-sha256" not in headers:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            request.data = body
        request.context["timestamp"] = timestamp
        creds = Credentials(self.access_key, self.secret_key)
        signer = (S3SigV4QueryAuth(creds, service, region, expires=3600) if query_auth
                  else S3SigV4Auth(creds, service, region))
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)),
                                    request)
        if not hmac.compare_digest(expected.encode(), given.encode()):
            return ("SignatureDoesNotMatch", "The request signature we calculated does not match "
                    "the signature you provided. Check your key and signing method.")
        return None


def _restore(backend: Any, mirror: _Mirror) -> int:
    """Load the mirror into moto's backend (no HTTP, so no events). Returns the object count."""
    count = 0
    for bucket in mirror.buckets():
        if bucket not in backend.buckets:
            backend.create_bucket(bucket, REGION)
        for data_path, meta_path, meta in mirror.keys(bucket):
            try:
                with open(data_path, "rb") as fh:
                    value = fh.read()
            except OSError:
                log.warning("object data missing for %s/%s; skipped", bucket, meta.get("key"))
                continue
            fake = backend.put_object(bucket, meta["key"], value, disable_notification=True)
            fake.set_metadata(dict(meta.get("metadata") or {}))
            try:
                fake.last_modified = _dt.datetime.fromisoformat(meta["last_modified"]).replace(tzinfo=None)
            except (KeyError, ValueError):
                pass
            count += 1
    return count


def _watch_parent(original_ppid: int) -> None:
    """Exit when stdin closes (the parent closed it or died) or the parent changes."""
    def wait_eof() -> None:
        try:
            while sys.stdin.buffer.read(65536):
                pass
        except OSError:
            pass
        os._exit(0)

    def poll_parent() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != original_ppid:
                os._exit(0)

    threading.Thread(target=wait_eof, daemon=True).start()
    threading.Thread(target=poll_parent, daemon=True).start()


def _set_parent_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve() -> None:
    """Child entry point: read the config line from stdin, serve until stdin closes."""
    ppid = os.getppid()
    os.umask(0o077)  # objects, buckets and their metadata are private to the server's user
    _set_parent_death_signal()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    logging.basicConfig(level=logging.WARNING, format="oscar-local s3: %(levelname)s %(message)s")
    line = sys.stdin.buffer.readline()
    if not line:
        return
    config = json.loads(line)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but our JSON lines on the pipe
    out_lock = threading.Lock()

    def send(message: dict) -> None:
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        with out_lock:
            try:
                out.write(data)
                out.flush()
            except (BrokenPipeError, ValueError):
                os._exit(0)

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.s3.models import s3_backends
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    def backend_of() -> Any:
        return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]

    mirror = _Mirror(config["base"])
    restored = _restore(backend_of(), mirror)
    port_ref = [0]
    inner = DomainDispatcherApplication(create_backend_app)
    app = _Middleware(inner, backend_of, mirror, lambda ev: send({"event": ev}),
                      config["host"], port_ref,
                      _SigV4(config["access_key"], config["secret_key"]))
    server = make_server(config["host"], int(config["port"]), app, threaded=True)
    port_ref[0] = server.server_address[1]
    _watch_parent(ppid)
    send({"ready": {"port": port_ref[0], "restored": restored}})
    server.serve_forever()


# --------------------------------------------------------------------------- client

class StoreError(Exception):
    """An S3 operation failed. `code` is S3's error code (NoSuchBucket...) when there is one."""

    def __init__(self, message: str, *, code: str = "", status: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ObjectEntry:
    """One listed object (or, in non-recursive listings, a common prefix `is_dir`)."""

    key: str
    size: int
    last_modified: Optional[_dt.datetime]
    etag: str
    is_dir: bool = False

    def as_dict(self) -> Dict[str, Any]:
        return {"key": self.key, "size": self.size, "etag": self.etag, "is_dir": self.is_dir,
                "last_modified": self.last_modified.isoformat() if self.last_modified else None}


class S3Store:
    """A thin layer over the `minio` client with the operations oscar-local needs."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, *, region: str = REGION,
                 verify: bool = True) -> None:
        from minio import Minio
        import urllib3

        parsed = urllib.parse.urlparse(endpoint if "://" in endpoint else "http://" + endpoint)
        self.endpoint = f"{parsed.scheme}://{parsed.netloc}"
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=10, read=300), maxsize=32,
            cert_reqs="CERT_REQUIRED" if verify else "CERT_NONE",
            retries=urllib3.Retry(total=3, backoff_factor=0.2,
                                  status_forcelist=(500, 502, 503, 504)))
        self._signing = (access_key, secret_key, region)
        self.client = Minio(parsed.netloc, access_key=access_key, secret_key=secret_key,
                            secure=parsed.scheme == "https", region=region, http_client=http,
                            cert_check=verify)

    def __repr__(self) -> str:
        return f"S3Store({self.endpoint!r})"

    def _fail(self, what: str, exc: Exception, bucket: str = "", key: str = "") -> StoreError:
        from minio.error import S3Error
        where = f"{bucket}/{key}" if key else bucket
        if isinstance(exc, S3Error):
            return StoreError(f"{what} {where!r} failed: {exc.code} ({exc.message})",
                              code=exc.code or "", status=exc.response.status if exc.response else None)
        import urllib3.exceptions
        if isinstance(exc, (OSError, urllib3.exceptions.HTTPError)):
            # connection errors name the endpoint's internal address: say what is wrong instead
            return StoreError(f"{what} {where!r} failed: the object storage is not reachable "
                              f"({type(exc).__name__}); try again shortly")
        return StoreError(f"{what} {where!r} failed: {type(exc).__name__}: {exc}")

    def bucket_exists(self, bucket: str) -> bool:
        try:
            return self.client.bucket_exists(bucket)
        except Exception as exc:  # noqa: BLE001
            raise self._fail("checking bucket", exc, bucket) from None

    def buckets(self) -> List[str]:
        """Names of all buckets."""
        try:
            return [b.name for b in self.client.list_buckets()]
        except Exception as exc:  # noqa: BLE001
            raise self._fail("listing buckets", exc) from None

    def ensure_bucket(self, bucket: str) -> bool:
        """Create `bucket` unless it exists. True when it was created."""
        from minio.error import S3Error
        try:
            if self.client.bucket_exists(bucket):
                return False
            self.client.make_bucket(bucket)
            return True
        except S3Error as exc:
            if exc.code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                return False
            raise self._fail("creating bucket", exc, bucket) from None
        except Exception as exc:  # noqa: BLE001
            raise self._fail("creating bucket", exc, bucket) from None

    def put_marker(self, bucket: str, folder: str) -> None:
        """Create the empty `folder/` object OSCAR uses to show a folder."""
        folder = folder.strip("/")
        if not folder:
            return
        self.put_bytes(bucket, folder + "/", b"")

    def put_bytes(self, bucket: str, key: str, data: bytes,
                  content_type: str = "application/octet-stream") -> None:
        try:
            self.client.put_object(bucket, key, io.BytesIO(data), len(data), content_type=content_type)
        except Exception as exc:  # noqa: BLE001
            raise self._fail("writing", exc, bucket, key) from None

    def get_bytes(self, bucket: str, key: str) -> bytes:
        try:
            resp = self.client.get_object(bucket, key)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()
        except Exception as exc:  # noqa: BLE001
            raise self._fail("reading", exc, bucket, key) from None

    def upload_file(self, bucket: str, key: str, path: str,
                    content_type: str = "application/octet-stream") -> None:
        try:
            self.client.fput_object(bucket, key, path, content_type=content_type)
        except Exception as exc:  # noqa: BLE001
            raise self._fail("uploading", exc, bucket, key) from None

    def download_file(self, bucket: str, key: str, path: str) -> None:
        try:
            self.client.fget_object(bucket, key, path)
        except Exception as exc:  # noqa: BLE001
            raise self._fail("downloading", exc, bucket, key) from None

    def stat(self, bucket: str, key: str) -> Optional[ObjectEntry]:
        """The object's entry, or None when it does not exist."""
        from minio.error import S3Error
        try:
            st = self.client.stat_object(bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return None
            raise self._fail("reading", exc, bucket, key) from None
        except Exception as exc:  # noqa: BLE001
            raise self._fail("reading", exc, bucket, key) from None
        return ObjectEntry(key, int(st.size or 0), st.last_modified, (st.etag or "").strip('"'))

    def remove(self, bucket: str, key: str) -> None:
        try:
            self.client.remove_object(bucket, key)
        except Exception as exc:  # noqa: BLE001
            raise self._fail("deleting", exc, bucket, key) from None

    def list(self, bucket: str, prefix: str = "", recursive: bool = True,
             start_after: Optional[str] = None, limit: Optional[int] = None) -> List[ObjectEntry]:
        """Objects under `prefix`, in key order; at most `limit` (None = all)."""
        out: List[ObjectEntry] = []
        try:
            for obj in self.client.list_objects(bucket, prefix=prefix or None, recursive=recursive,
                                                start_after=start_after or None):
                out.append(ObjectEntry(obj.object_name or "", int(obj.size or 0), obj.last_modified,
                                       (obj.etag or "").strip('"'), bool(obj.is_dir)))
                if limit is not None and len(out) >= limit:
                    break
        except Exception as exc:  # noqa: BLE001
            raise self._fail("listing", exc, bucket, prefix) from None
        return out

    def delete_bucket(self, bucket: str, force: bool = False) -> bool:
        """Delete `bucket` (with `force`, its objects first). False when it did not exist."""
        from minio.deleteobjects import DeleteObject
        from minio.error import S3Error
        try:
            if not self.client.bucket_exists(bucket):
                return False
            if force:
                names = (DeleteObject(o.object_name) for o in
                         self.client.list_objects(bucket, recursive=True))
                errors = list(self.client.remove_objects(bucket, names))
                if errors:
                    raise StoreError(f"deleting objects of bucket {bucket!r} failed: "
                                     f"{errors[0].code} on {errors[0].name!r}")
            self.client.remove_bucket(bucket)
            return True
        except StoreError:
            raise
        except S3Error as exc:
            if exc.code == "NoSuchBucket":
                return False
            raise self._fail("deleting bucket", exc, bucket) from None
        except Exception as exc:  # noqa: BLE001
            raise self._fail("deleting bucket", exc, bucket) from None

    def presign(self, method: str, bucket: str, key: str, expires: float = 3600, *,
                headers: Optional[Dict[str, str]] = None, query: Optional[Dict[str, str]] = None) -> str:
        """A presigned URL for `method` (GET/PUT/...) on `bucket/key`, valid `expires` seconds,
        signing `headers` (which the client must then send) and carrying `query`."""
        seconds = int(expires.total_seconds()) if isinstance(expires, _dt.timedelta) else int(expires)
        if not 1 <= seconds <= 7 * 24 * 3600:
            raise StoreError(f"presign expiry must be 1 s to 7 days, got {seconds} s")
        if headers or query:
            from .presign import presign_v4

            access, secret, region = self._signing
            return presign_v4(method, self.endpoint, bucket, key, access_key=access, secret_key=secret,
                              region=region, expires=seconds, headers=headers, query=query)
        try:
            return self.client.get_presigned_url(method.upper(), bucket, key,
                                                 expires=_dt.timedelta(seconds=seconds))
        except Exception as exc:  # noqa: BLE001
            raise self._fail("presigning", exc, bucket, key) from None


if __name__ == "__main__":
    serve()
