"""`Cluster`: one connection to an OSCAR Manager.

One `requests.Session` per cluster (connection reuse), urllib3 `Retry` for
idempotent calls and for 502/503/504 on `/run` (a cold start), a (connect,
read) timeout on every call, and every HTTP failure turned into a typed
`errors.OscarError` whose message says what to do next and never carries a
password or token. Works with Manager v3.7 and v4.x response shapes.
"""
from __future__ import annotations

import logging
import threading
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import errors
from .auth import Credentials, parse_bool

logger = logging.getLogger(__name__)

__all__ = ["Cluster", "default_retry", "default_run_retry", "DEFAULT_TIMEOUT", "RUN_TIMEOUT"]

#: (connect, read) seconds for Manager calls
DEFAULT_TIMEOUT: Tuple[float, float] = (5.0, 60.0)
#: read timeout for `/run` (faas-supervisor's default script timeout is 300 s)
RUN_TIMEOUT: float = 310.0

TimeoutT = Union[float, Tuple[float, float], None]


class _Retry(Retry):
    """urllib3 `Retry` that never retries a failed TLS verification (it would fail again),
    and retries a 504 only once: a gateway timeout may be a cold start, or a script that
    ran out of time (oscar-local marks that case with its exit-code header: no retry)."""

    def is_retry(self, method, status_code, has_retry_after=False):
        if status_code == 504 and any(h.status == 504 for h in self.history or ()):
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None,
                  _stacktrace=None):
        if isinstance(error, urllib3.exceptions.SSLError):
            raise urllib3.exceptions.MaxRetryError(_pool, url, error)
        if response is not None and response.status == 504 and \
                response.headers.get("X-Oscar-Exit-Code") is not None:
            raise urllib3.exceptions.MaxRetryError(_pool, url, urllib3.exceptions.ResponseError(
                "the invocation ran out of time"))
        return super().increment(method, url, response, error, _pool, _stacktrace)


def default_retry() -> Retry:
    """Retries for idempotent Manager calls: connection errors and 502/503/504, with backoff."""
    return _Retry(total=4, connect=3, read=2, status=3, backoff_factor=0.4,
                 status_forcelist=(502, 503, 504),
                 allowed_methods=frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}),
                 raise_on_status=False, respect_retry_after_header=True)


def default_run_retry() -> Retry:
    """Retries for `POST /run`: refused connections and 502/503/504 (cold starts), never
    a read error (the script may have run)."""
    return _Retry(total=5, connect=3, read=0, status=5, backoff_factor=0.5,
                 status_forcelist=(502, 503, 504), allowed_methods=frozenset({"POST"}),
                 raise_on_status=False, respect_retry_after_header=True)


def _as_retry(value: Union[Retry, int, None], default: Retry) -> Retry:
    if value is None:
        return default
    if isinstance(value, Retry):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.ConfigError(f"retry={value!r} is neither a urllib3 Retry nor a number of tries.")
    return default.new(total=value, connect=min(value, default.connect or value),
                       status=value) if value else Retry(0, raise_on_status=False)


def _as_timeout(value: TimeoutT, default: Tuple[float, float]) -> Tuple[float, float]:
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return (min(float(value), default[0]), float(value))
    connect, read = value
    return (float(connect), float(read))


class Cluster:
    """A connection to one OSCAR cluster (see `oscar_jupyter.connect`)."""

    def __init__(self, endpoint: str, auth: Optional[Credentials] = None, *,
                 ssl_verify: Any = True, timeout: TimeoutT = None,
                 retry: Union[Retry, int, None] = None, run_retry: Union[Retry, int, None] = None,
                 run_timeout: Optional[float] = None, id: Optional[str] = None,
                 local: Any = None) -> None:
        endpoint = (endpoint or "").strip()
        #: no scheme given: https:// is assumed, and a plain-HTTP server is told apart in errors
        self.scheme_assumed = "://" not in endpoint
        parts = urlsplit(endpoint if "://" in endpoint else "https://" + endpoint)
        if not parts.hostname:
            raise errors.ConfigError(f"{endpoint!r} is not a cluster URL.",
                                     hint="Use e.g. https://oscar.example.org")
        if parts.username or parts.password:
            raise errors.ConfigError("Put credentials in user=/password=, not in the endpoint URL.")
        self.endpoint = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self.auth = auth
        self.ssl_verify = parse_bool(ssl_verify)
        self.timeout = _as_timeout(timeout, DEFAULT_TIMEOUT)
        self.run_timeout = (self.timeout[0], float(run_timeout) if run_timeout else
                            max(RUN_TIMEOUT, self.timeout[1]))
        self.id = id or (parts.netloc if not local else "local")
        self.local = local  # the oscar-local handle when this cluster was started here
        self.retry = _as_retry(retry, default_retry())
        self.run_retry = _as_retry(run_retry, default_run_retry())
        self._secrets: set = set(auth.secrets() if auth else [])
        self._secrets_lock = threading.Lock()  # map/submit threads remember tokens while others redact
        self.session = requests.Session()
        self.session.verify = self.ssl_verify
        self.session.headers["User-Agent"] = "oscar-jupyter"
        self.session.auth = auth
        self.session.mount(self.endpoint + "/", HTTPAdapter(max_retries=self.retry,
                                                             pool_maxsize=16))
        self.session.mount(self.endpoint + "/run/", HTTPAdapter(max_retries=self.run_retry,
                                                                 pool_maxsize=32))
        self._storage = None
        self._info: Optional[Dict[str, Any]] = None

    # -- identity ----------------------------------------------------------------------------

    @property
    def user(self) -> Optional[str]:
        return getattr(self.auth, "user", None)

    def __repr__(self) -> str:
        who = self.auth.describe() if self.auth else "no credentials"
        return f"<Cluster {self.id!r} {self.endpoint} ({who})>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        from . import display
        return display.mimebundle(self, include=include, exclude=exclude)

    def close(self) -> None:
        """Close the HTTP session (an oscar-local started on demand keeps serving until
        the process exits, so other connections can attach to it)."""
        self.session.close()

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- secrets -----------------------------------------------------------------------------

    def remember_secret(self, secret: Optional[str]) -> None:
        """Add a secret (e.g. a service token) to what is redacted from messages."""
        if secret:
            with self._secrets_lock:
                self._secrets.add(secret)

    def redact(self, text: str) -> str:
        with self._secrets_lock:
            secrets = set(self._secrets)
        if self.auth:
            secrets.update(self.auth.secrets())
        return errors.redact(text, sorted(secrets, key=len, reverse=True))

    # -- HTTP --------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.endpoint + path

    def request(self, method: str, path: str, *, expect: Sequence[int] = (200,),
                what: str = "", timeout: TimeoutT = None, auth: Any = None,
                **kwargs: Any) -> requests.Response:
        """Send one request; return the response when its status is in `expect`,
        else raise the matching `OscarError`."""
        what = what or f"{method} {path}"
        run = path.startswith("/run/") or path.startswith("/job/")
        read_timeout = _as_timeout(timeout, self.run_timeout if run else self.timeout)
        if auth is not None:
            kwargs["auth"] = auth
        # per request: a session-level verify=False loses to REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
        kwargs.setdefault("verify", self.ssl_verify)
        try:
            response = self.session.request(method, self.url(path), timeout=read_timeout, **kwargs)
        except requests.exceptions.SSLError:
            if self.scheme_assumed or not self.ssl_verify:
                host = urlsplit(self.endpoint).netloc
                raise errors.ConnectionFailed(
                    f"{what}: {host} does not answer TLS at {self.endpoint}"
                    + (" (no scheme was given, so https:// was assumed)." if self.scheme_assumed else "."),
                    hint=f"If the cluster serves plain HTTP (as oscar-local does), write http://{host}.") from None
            raise errors.ConnectionFailed(
                f"{what}: TLS verification of {self.endpoint} failed.",
                hint="Check the endpoint; for a self-signed certificate pass ssl_verify=False "
                     "(or a CA bundle path).") from None
        except requests.exceptions.ConnectTimeout:
            raise errors.Timeout(f"{what}: no connection to {self.endpoint} within "
                                 f"{read_timeout[0]:.0f} s.",
                                 hint="Check the endpoint URL and that the cluster is up.") from None
        except requests.exceptions.ReadTimeout:
            raise errors.Timeout(f"{what}: {self.endpoint} did not answer within {read_timeout[1]:.0f} s.",
                                 hint="Pass a longer timeout= if the work really takes longer.") from None
        except requests.exceptions.ConnectionError as exc:
            cause = getattr(exc.args[0], "reason", None) if exc.args else None
            if isinstance(cause, urllib3.exceptions.ReadTimeoutError):
                raise errors.Timeout(f"{what}: {self.endpoint} did not answer within "
                                     f"{read_timeout[1]:.0f} s.",
                                     hint="Pass a longer timeout= if the work really takes longer.") from None
            raise errors.ConnectionFailed(f"{what}: cannot reach {self.endpoint} ({_why(cause)}).") from None
        except requests.exceptions.RequestException as exc:
            raise errors.ConnectionFailed(f"{what}: request failed ({type(exc).__name__}).") from None
        if response.status_code in expect:
            return response
        raise self.error_for(response, what)

    def error_for(self, response: requests.Response, what: str) -> errors.OscarError:
        """The typed error for an unexpected response."""
        status = response.status_code
        body = self.redact(response.text[:2000].strip()) if response.content else ""
        detail = f" The cluster said: {body}" if body else ""
        if status == 401:
            who = self.auth.describe() if self.auth else "no credentials"
            return errors.AuthError(f"{what}: the cluster refused the credentials ({who}).")
        if status == 403:
            return errors.AuthError(f"{what}: forbidden for these credentials.{detail}",
                                    hint="Ask the cluster admin for access, or use another account.")
        if status == 404:
            return errors.NotFound(f"{what}: not found on {self.endpoint}.{detail}",
                                   hint="Check the name (list with cluster.services()).")
        if status == 409 or (status == 400 and "already exist" in body.lower()):
            return errors.Conflict(f"{what}: it already exists.{detail}",
                                   hint="Use apply() to update it.")
        if status == 504:
            return errors.Timeout(f"{what}: the cluster's gateway timed out (504).{detail}",
                                  hint="The service may be scaling up; try again, or use submit().")
        if status in (502, 503):
            return errors.APIError(f"{what}: the cluster is unavailable ({status}) after retries.{detail}",
                                   status=status, body=body,
                                   hint="A service's first call can take a while to start; try again.")
        return errors.APIError(f"{what}: unexpected HTTP {status}.{detail}", status=status, body=body)

    def get_json(self, path: str, *, what: str = "", **kwargs: Any) -> Any:
        response = self.request("GET", path, what=what, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise errors.APIError(f"{what or path}: the answer is not JSON.",
                                  status=response.status_code, body=self.redact(response.text[:200]),
                                  hint="Is the endpoint an OSCAR Manager?") from None

    # -- system ------------------------------------------------------------------------------

    def health(self) -> bool:
        """True when `GET /health` answers 200 (no credentials needed)."""
        try:
            self.request("GET", "/health", what="health check", auth=_NoAuth())
            return True
        except errors.OscarError:
            return False

    def info(self) -> Dict[str, Any]:
        """`GET /system/info`: version, architecture, serverless backend."""
        self._info = self.get_json("/system/info", what="cluster info")
        return self._info

    def config(self) -> Dict[str, Any]:
        """`GET /system/config` with the MinIO secret key blanked (storage uses the real one)."""
        data = self.get_json("/system/config", what="cluster config")
        provider = data.get("minio_provider") if isinstance(data, dict) else None
        if isinstance(provider, dict):
            self.remember_secret(provider.get("secret_key"))
            data = dict(data, minio_provider=dict(provider, secret_key="***"))
        return data

    def _raw_config(self) -> Dict[str, Any]:
        data = self.get_json("/system/config", what="cluster config")
        provider = data.get("minio_provider") if isinstance(data, dict) else None
        if isinstance(provider, dict):
            self.remember_secret(provider.get("secret_key"))
        return data

    def status(self) -> Dict[str, Any]:
        """`GET /system/status`: cluster, OSCAR and MinIO metrics."""
        return self.get_json("/system/status", what="cluster status")

    @property
    def version(self) -> str:
        info = self._info or self.info()
        return str(info.get("version", ""))

    # -- services ----------------------------------------------------------------------------

    def services(self):
        """Every service visible to these credentials (a `ServiceList`)."""
        from .service import Service, ServiceList
        data = self.get_json("/system/services", what="list services")
        if data is None:
            data = []
        if not isinstance(data, list):
            raise errors.APIError("list services: expected a JSON array.", body=str(data)[:200])
        items = []
        for spec in data:
            if isinstance(spec, dict) and spec.get("name"):
                self.remember_secret(spec.get("token"))
                items.append(Service(self, spec["name"], spec=spec))
        return ServiceList(items, cluster=self)

    def service(self, name: str):
        """The deployed service `name` (raises `NotFound`)."""
        from .service import Service
        svc = Service(self, name)
        svc.refresh()
        return svc

    def get_service_spec(self, name: str) -> Dict[str, Any]:
        data = self.get_json(f"/system/services/{quote(name, safe='')}",
                             what=f"get service {name!r}")
        if isinstance(data, dict):
            self.remember_secret(data.get("token"))
        return data

    def exists(self, name: str) -> bool:
        try:
            self.request("GET", f"/system/services/{quote(name, safe='')}",
                         what=f"get service {name!r}")
            return True
        except errors.NotFound:
            return False

    def _for_this_version(self, data: Dict[str, Any]) -> Dict[str, Any]:
        """`data` with `expose.api_port`/`nodePort` in the shape this Manager decodes
        (a number up to v4.0, a list from v4.1); anything else unchanged."""
        expose = data.get("expose") if isinstance(data, dict) else None
        if not isinstance(expose, dict) or not ({"api_port", "nodePort"} & set(expose)):
            return data
        from .spec import normalise
        try:
            version = self.version
        except errors.OscarError:
            return data  # no version known: send as given
        if not version:
            return data
        shaped, notices = normalise({"expose": expose}, target_version=version)
        for notice in notices:
            logger.info("Service %r: %s.", data.get("name"), notice)
        return dict(data, expose=shaped["expose"])

    def _write_service(self, method: str, data: Dict[str, Any]) -> None:
        name = data.get("name")
        verb = "create" if method == "POST" else "update"
        data = self._for_this_version(data)
        try:
            self.request(method, "/system/services", json=data, expect=(200, 201, 204),
                         what=f"{verb} service {name!r}")
        except errors.APIError as exc:
            if exc.status == 400 or exc.status == 422:
                raise errors.InvalidDefinition(
                    f"The cluster rejected service {name!r}: {exc.body or 'no reason given'}",
                    hint="Fix the definition (oj.fdl.load(...) shows local problems).") from None
            raise

    def create(self, data: Dict[str, Any]) -> None:
        """`POST /system/services` (raises `Conflict` when it exists: 409 on v3, 400 on v4)."""
        self._write_service("POST", data)

    def update(self, data: Dict[str, Any]) -> None:
        """`PUT /system/services` (raises `NotFound` when missing)."""
        self._write_service("PUT", data)

    def apply(self, source: Any, *, wait: bool = True, timeout: float = 120.0,
              cluster_id: Optional[str] = None, strict: bool = False) -> list:
        """Create or update every service in `source`; return their `Service` handles.

        `source`: an FDL (object, path, YAML text or dict), a `ServiceSpec`, a
        service dict, or a list of those. Every service is validated first, and
        the cluster is asked which exist before anything is written, so an
        invalid definition or refused credentials leave the cluster untouched.
        If the cluster still refuses one, the services this call created are
        deleted again (updates stay: secrets the server blanks could not be
        restored) and the error says so. With `cluster_id`, only the FDL services
        under that cluster key are applied; otherwise all of them are applied to
        this cluster.

        Keys the schema does not know are ignored, as oscar-cli and the Manager
        ignore them, with a warning naming the field each most likely meant:
        a Python warning (`errors.DefinitionWarning`), and kept in the result's
        ``warnings`` (shown with it). With
        ``strict=True`` they are errors and nothing is applied.
        Returns a `ServiceList` of the applied services.
        """
        from .service import Service, ServiceList, specs_of
        read = specs_of(source, strict=strict)
        specs = list(read)
        if cluster_id is not None:
            specs = [s for s in specs if s.cluster_id in (None, cluster_id)]
        for warning in read.warnings:
            warnings.warn(str(warning), errors.DefinitionWarning, stacklevel=2)
        if not specs:
            raise errors.InvalidDefinition("Nothing to apply: the definition has no services.")
        names = [s.name for s in specs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise errors.InvalidDefinition(
                f"The definition names the same service more than once: {', '.join(duplicates)}.",
                hint="Give each service its own name.")
        for spec in specs:
            self._remember_spec_secrets(spec.to_dict())
        existing = {s.name: self.exists(s.name) for s in specs}
        applied: List[Service] = []
        created: List[str] = []
        for spec in specs:
            data = spec.to_dict()
            try:
                if existing[spec.name]:
                    self.update(data)
                    logger.info("Updated service %r on %s.", spec.name, self.endpoint)
                else:
                    try:
                        self.create(data)
                        created.append(spec.name)
                        logger.info("Created service %r on %s.", spec.name, self.endpoint)
                    except errors.Conflict:
                        self.update(data)
                        logger.info("Updated service %r on %s (created meanwhile).",
                                    spec.name, self.endpoint)
            except errors.OscarError as exc:
                self._roll_back(exc, spec.name, created, [s.name for s in applied])
                raise
            applied.append(Service(self, spec.name))
        for svc in applied:
            if wait:
                svc.wait_ready(timeout=timeout)
            else:
                svc.refresh()
        return ServiceList(applied, cluster=self, warnings=read.warnings)

    def _roll_back(self, exc: errors.OscarError, failed: str, created: List[str],
                   applied: List[str]) -> None:
        """After a write failed mid-apply: delete the services this apply created, and
        say on `exc` which ones were removed and which updates stay."""
        removed = []
        for name in reversed(created):
            try:
                self.delete(name, check_buckets=False)
                removed.append(name)
            except errors.OscarError as err:
                logger.error("Could not remove %r after the failed apply: %s", name, err)
        kept = [n for n in applied if n not in removed]
        exc.rolled_back = removed  # type: ignore[attr-defined]
        exc.applied = kept  # type: ignore[attr-defined]
        notes = []
        if removed:
            notes.append(f"removed again: {', '.join(removed)}")
        if kept:
            notes.append(f"updated and kept: {', '.join(kept)}")
        if notes:
            exc.message = f"{exc.message} (applying stopped at {failed!r}; {'; '.join(notes)})"
            logger.error("Applying stopped at %r; %s.", failed, "; ".join(notes))

    def _remember_spec_secrets(self, data: Dict[str, Any]) -> None:
        """Remember a definition's secret values (env secrets, provider keys, cluster
        passwords) so that logs and errors printing them are redacted."""
        from .spec import redact_service

        def walk(original: Any, redacted: Any) -> None:
            if isinstance(original, dict) and isinstance(redacted, dict):
                for key, value in original.items():
                    walk(value, redacted.get(key))
            elif isinstance(original, list) and isinstance(redacted, list):
                for a, b in zip(original, redacted):
                    walk(a, b)
            elif isinstance(original, str) and original != redacted:
                self.remember_secret(original)

        walk(data, redact_service(data))

    def delete(self, name: str, *, check_buckets: bool = True) -> None:
        """Delete service `name`. The Manager deletes its input/output buckets too:
        a warning names each bucket that still holds objects."""
        if check_buckets:
            self._warn_buckets(name)
        self.request("DELETE", f"/system/services/{quote(name, safe='')}", expect=(200, 204),
                     what=f"delete service {name!r}")
        logger.info("Deleted service %r on %s.", name, self.endpoint)

    def _warn_buckets(self, name: str) -> None:
        spec = self.get_service_spec(name)
        buckets = []
        for entry in (spec.get("input") or []) + (spec.get("output") or []):
            provider = str(entry.get("storage_provider") or "minio")
            path = str(entry.get("path") or "").strip("/")
            if provider in ("minio", "minio.default") and path:
                bucket = path.split("/", 1)[0]
                if bucket not in buckets:
                    buckets.append(bucket)
        for bucket in buckets:
            try:
                count = self.storage.count(bucket, limit=1000)
            except errors.OscarError as exc:
                logger.debug("Could not check bucket %r before deleting %r: %s", bucket, name, exc)
                continue
            if count:
                more = "+" if count >= 1000 else ""
                message = (f"Deleting service {name!r} also deletes bucket {bucket!r}, "
                           f"which holds {count}{more} object(s).")
                logger.warning(message)
                warnings.warn(message, UserWarning, stacklevel=3)

    # -- storage -----------------------------------------------------------------------------

    @property
    def storage(self):
        """The cluster's object storage (MinIO), with credentials from `/system/config`."""
        if self._storage is None:
            from .storage import Storage
            self._storage = Storage.from_cluster(self)
        return self._storage


def _why(cause: Any) -> str:
    """A short reason for a failed connection (no URLs, no secrets)."""
    name_error = getattr(urllib3.exceptions, "NameResolutionError", ())
    if name_error and isinstance(cause, name_error):
        return "host name not found"
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        return "connection refused"
    if isinstance(cause, urllib3.exceptions.ProtocolError):
        return "the connection was dropped"
    return type(cause).__name__ if cause is not None else "network error"


class _NoAuth(requests.auth.AuthBase):
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request
