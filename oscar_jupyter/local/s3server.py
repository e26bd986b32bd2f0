"""The embedded S3 endpoint's child process: moto's S3 server, made durable and eventful.

`s3.S3Endpoint.start` runs this file in a process of its own, loaded by path
(so it imports nothing else of the package: neither the HTTP API nor its
dependencies); `python .../s3server.py` runs it the same way. `serve()` reads
one JSON config line on stdin (base dir, host, port, key pair), binds to that
address and answers with ``{"ready": {"port", "restored"}}`` on stdout.
SigV4 is checked against the one key pair the parent keeps in
`data_dir/s3/credentials.json`. A small WSGI middleware around moto's app

* emits a MinIO-shaped event (``s3:ObjectCreated:Put|Copy|CompleteMultipartUpload``)
  for every object it creates, as one JSON line on the child's stdout, which the
  parent turns into the async iterator `S3Endpoint.events()`;
* mirrors every successful object write/delete and bucket create/delete to files
  under `data_dir/s3/buckets/` before the client gets its answer, and loads
  that mirror at start without emitting events, so objects survive a restart.

The child exits when its stdin reaches end-of-file (the parent closed it or
died, even by SIGKILL) and, on Linux, also on the parent's death signal.

`minio_event` (MinIO's event shape) and `REGION` live here because this file
must stand alone; the other modules import them from here.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import io
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
import urllib.parse
from typing import Any, BinaryIO, Callable, Dict, Iterable, List, Optional, Tuple

log = logging.getLogger(__name__)

REGION = "us-east-1"


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


# --------------------------------------------------------------------------- persistence and serving

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


if __name__ == "__main__":
    serve()
