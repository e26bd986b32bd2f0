"""`ExposedService`: HTTP to the server an exposed service runs, through the cluster's ingress.

An exposed service (an FDL ``expose`` section) runs a long-lived server in
each replica; the Manager routes ``<endpoint>/system/services/<name>/exposed/<path>``
to one of them. `ExposedService` is a `requests.Session` with that base URL,
the credentials the route needs and nothing else:

- ``expose.set_auth: true`` (``auth_type: basic``, the default): HTTP Basic with
  user = the service's name, password = the service's token;
- ``set_auth: true`` with ``auth_type: forward``: the service token as a Bearer
  token (what the Manager's ``/system/services/<name>/auth`` check accepts);
- no ``set_auth``: no credentials. The cluster's own credentials are never sent
  to an exposed service: its server runs the service's code.

`get`/`post`/`request` raise a typed one-line error for an unexpected status
(``check=False`` returns the response as it is); `call` decodes the answer into
a `Result` as `Service.run` does. Idempotent requests are retried on refused
connections and 502/503/504 (``Retry-After`` respected: 503 is what the ingress
answers while no replica is ready); POSTs only on refused connections.
"""
from __future__ import annotations

import logging
import mimetypes
import time
from typing import Any, Dict, Mapping, Optional, Tuple, Union
from urllib.parse import quote, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import codecs, errors
from .auth import BasicAuth, BearerAuth
from .results import Result

logger = logging.getLogger(__name__)

__all__ = ["ExposedService", "expose_settings", "api_port"]


def expose_settings(spec: Mapping[str, Any]) -> Dict[str, Any]:
    """The ``expose`` section of a definition ({} when absent)."""
    expose = spec.get("expose") if isinstance(spec, Mapping) else None
    return dict(expose) if isinstance(expose, Mapping) else {}


def api_port(expose: Mapping[str, Any]) -> int:
    """The routed port: ``api_port`` (a number up to v4.0, a list from v4.1: its first item); 0 = none."""
    value = expose.get("api_port")
    if isinstance(value, list):
        value = value[0] if value else 0
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _retry(methods: frozenset, statuses: Tuple[int, ...]) -> Retry:
    return Retry(total=4, connect=3, read=0, status=3 if statuses else 0, backoff_factor=0.4,
                 status_forcelist=statuses, allowed_methods=methods, raise_on_status=False,
                 respect_retry_after_header=True)


class ExposedService:
    """The HTTP API of one exposed service. Usually from `Service.exposed`.

        api = svc.exposed
        api.get("v2/models/").json()
        api.post("v2/models/digits/predict/", files={"data": open("3.png", "rb")})
        api.url_for("v2/models/")        # the full URL
        api.browser_url("api")           # what a browser opens (via jupyter-server-proxy when needed)
    """

    def __init__(self, service: Any) -> None:
        self.service = service
        self.cluster = service.cluster
        self.name = service.name
        self.expose = expose_settings(service.spec)
        self.port = api_port(self.expose)
        if not self.port:
            raise errors.NotSupported(f"Service {self.name!r} is not exposed: its definition has no "
                                      "expose.api_port.",
                                      hint="Add `expose: {api_port: 5000}` (the port its server listens "
                                           "on) and apply it again.")
        self.set_auth = bool(self.expose.get("set_auth"))
        self.auth_type = str(self.expose.get("auth_type") or "basic").lower()
        self._setup(f"{self.cluster.endpoint}/system/services/{quote(self.name, safe='')}/exposed/",
                    verify=self.cluster.ssl_verify, auth=self._auth() if self.set_auth else None,
                    timeout=(self.cluster.timeout[0], self.cluster.run_timeout[1]),
                    redact=self.cluster.redact)

    @classmethod
    def from_url(cls, base_url: str, *, auth: Any = None, ssl_verify: Any = True,
                 timeout: Tuple[float, float] = (5.0, 310.0), name: str = "") -> "ExposedService":
        """The same client for a server reached at `base_url` directly (a replica on this
        machine, a DEEPaaS container run by hand); `auth` is any requests auth."""
        self = cls.__new__(cls)
        self.service = self.cluster = None
        self.name = name or (urlsplit(base_url).netloc or base_url)
        self.expose, self.port = {}, urlsplit(base_url).port or 0
        self.set_auth, self.auth_type = auth is not None, "basic"
        self._setup(base_url if base_url.endswith("/") else base_url + "/", verify=ssl_verify, auth=auth,
                    timeout=timeout, redact=lambda text: text)
        return self

    def _setup(self, base_url: str, *, verify: Any, auth: Any, timeout: Tuple[float, float],
               redact: Any) -> None:
        self.base_url = base_url
        self.verify = verify
        self.redact = redact
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "oscar-jupyter"
        self.session.verify = verify
        self.session.auth = auth
        self.session.mount(self.base_url, _ByMethodAdapter())
        self.timeout: Tuple[float, float] = timeout

    def _auth(self) -> Any:
        token = self.service.token
        if not token:
            raise errors.AuthError(f"Service {self.name!r} uses set_auth but the cluster returned no "
                                   "token for it.", hint="Connect as the service's owner.")
        self.cluster.remember_secret(token)
        return BearerAuth(token) if self.auth_type == "forward" else BasicAuth(self.name, token)

    def __repr__(self) -> str:
        how = f"{self.auth_type} auth" if self.set_auth else "no auth"
        return f"<ExposedService {self.name!r} {self.base_url} ({how})>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        from . import display
        return display.mimebundle(self, include=include, exclude=exclude)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "ExposedService":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- URLs --------------------------------------------------------------------------------

    def url_for(self, path: str = "", **params: Any) -> str:
        """The full URL of `path` (relative to the service's root) with query `params`."""
        if not isinstance(path, str):
            raise errors.InvalidInput(f"An exposed path is text, not a {type(path).__name__}.")
        if "://" in path or path.startswith("//"):
            raise errors.InvalidInput(f"{path!r} is a full URL; give a path below the service, "
                                      "e.g. 'v2/models/'.")
        parts = path.lstrip("/").split("?", 1)[0].split("/")
        if any(p in ("..", ".") for p in parts) or any(ord(c) < 32 for c in path):
            raise errors.InvalidInput(f"The path {path!r} has '.'/'..' parts or control characters.",
                                      hint="Paths stay below the service's exposed root.")
        url = self.base_url + path.lstrip("/")
        clean = {k: v for k, v in params.items() if v is not None}
        if clean:
            url += ("&" if "?" in url else "?") + urlencode(clean, doseq=True)
        return url

    def browser_url(self, path: str = "") -> str:
        """The URL a browser should open for `path`: the direct URL, or, when the cluster is on
        this machine's loopback and the notebook runs behind a Jupyter server the browser reaches
        from elsewhere (JupyterHub, Binder), the same URL through jupyter-server-proxy."""
        from .browser_links import browser_url
        return browser_url(self.url_for(path))

    # -- requests ----------------------------------------------------------------------------

    def request(self, method: str, path: str = "", *, check: bool = True,
                timeout: Union[float, Tuple[float, float], None] = None, **kwargs: Any) -> requests.Response:
        """Send one request to `path`; raise a typed error for a status >= 400 unless `check=False`."""
        url = self.url_for(path)
        what = f"{method.upper()} {path or '/'} on exposed service {self.name!r}"
        if timeout is None:
            timeout = self.timeout
        elif isinstance(timeout, (int, float)):
            timeout = (min(float(timeout), self.timeout[0]), float(timeout))
        kwargs.setdefault("verify", self.verify)
        try:
            response = self.session.request(method.upper(), url, timeout=timeout, **kwargs)
        except requests.exceptions.SSLError:
            raise errors.ConnectionFailed(f"{what}: TLS verification failed.",
                                          hint="Pass ssl_verify=False to connect() for a self-signed "
                                               "certificate.") from None
        except requests.exceptions.ConnectTimeout:
            raise errors.Timeout(f"{what}: no connection within {timeout[0]:.0f} s.") from None
        except requests.exceptions.ReadTimeout:
            raise errors.Timeout(f"{what}: no answer within {timeout[1]:.0f} s.",
                                 hint="Pass a longer timeout= if the work takes longer.") from None
        except requests.exceptions.ConnectionError:
            raise errors.ConnectionFailed(f"{what}: cannot reach {self.base_url}.") from None
        except requests.exceptions.RequestException as exc:
            raise errors.ConnectionFailed(f"{what}: request failed ({type(exc).__name__}).") from None
        if check and response.status_code >= 400:
            raise self._error(response, what)
        return response

    def get(self, path: str = "", **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str = "", **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str = "", **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str = "", **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def healthy(self, path: Optional[str] = None) -> bool:
        """True when `path` (default the service's ``health_path``) answers below 400."""
        path = path if path is not None else str(self.expose.get("health_path") or "/")
        try:
            return self.request("GET", path, check=False, timeout=10).status_code < 400
        except errors.OscarError:
            return False

    def call(self, path: str = "", data: Any = None, *, method: Optional[str] = None, json: Any = None,
             files: Optional[Mapping[str, Any]] = None, form: Optional[Mapping[str, Any]] = None,
             params: Optional[Mapping[str, Any]] = None,
             headers: Optional[Mapping[str, str]] = None, encoding: Optional[str] = None,
             timeout: Optional[float] = None) -> Result:
        """Send a request and decode the answer into a `Result` (shown like a `run` result).

        `data`: the body (dict/list -> JSON; image/array -> PNG; bytes, text or a file -> as is,
        encoded as `codecs.payload` does); `json`: a JSON body; `files`: ``{field: data}`` sent as
        multipart (each item encoded the same way, named after its file or its kind), beside the
        text fields of `form` (a urlencoded form without `files`). The method is POST when there
        is a body, else GET, unless `method` says.
        """
        if data is not None and form:
            raise errors.InvalidInput("Give a body (data=) or form fields (form=), not both.")
        kwargs: Dict[str, Any] = {"params": dict(params or {}), "headers": dict(headers or {})}
        if json is not None:
            kwargs["json"] = json
        if data is not None:
            if encoding is None and isinstance(data, (dict, list)):
                kwargs["json"] = data
            else:
                body, ext = codecs.payload(data, encoding)
                kwargs["data"] = body
                kwargs["headers"].setdefault("Content-Type", _mime(ext))
        if files:
            kwargs["files"] = multipart(files)
        if form:
            kwargs["data"] = {str(k): str(v) for k, v in form.items()}
        has_body = data is not None or json is not None or bool(files) or bool(form)
        method = (method or ("POST" if has_body else "GET")).upper()
        start = time.perf_counter()
        response = self.request(method, path, timeout=timeout, **kwargs)
        return decode_response(response, elapsed=time.perf_counter() - start,
                               input=data if data is not None else (files or json), redact=self.redact)

    @property
    def deepaas(self) -> Any:
        """The DEEPaaS v2 API of this service (`oscar_jupyter.deepaas.Deepaas`)."""
        from .deepaas import Deepaas
        return Deepaas(self)

    # -- errors ------------------------------------------------------------------------------

    def _error(self, response: requests.Response, what: str) -> errors.OscarError:
        status = response.status_code
        body = response.text[:300].strip() if response.content else ""
        first = self.redact(body.splitlines()[0] if body else "")
        said = f" It said: {first}" if first else ""
        if status == 401:
            hint = (f"set_auth is on: the user is {self.name!r}, the password the service token (svc.token)."
                    if self.set_auth else "The service's own server asks for credentials.")
            return errors.AuthError(f"{what}: credentials refused (401).", hint=hint)
        if status == 403:
            return errors.AuthError(f"{what}: forbidden (403).{said}")
        if status == 404:
            return errors.NotFound(f"{what}: not found (404).{said}",
                                   hint="Check the path (relative to the service's root) and that the "
                                        "service is exposed.")
        if status == 503:
            return errors.APIError(f"{what}: no replica is ready (503).", status=status, body=first,
                                   hint="Wait with svc.wait_ready(), or check svc.deployment().")
        if status == 502:
            return errors.APIError(f"{what}: the replica did not answer (502).{said}", status=status,
                                   body=first, hint="Read svc.deployment_logs(); a 502 usually means "
                                                    "the server is not listening on expose.api_port.")
        if status == 504:
            return errors.Timeout(f"{what}: the gateway timed out (504).")
        return errors.APIError(f"{what}: HTTP {status}.{said}", status=status, body=first)


class _ByMethodAdapter(HTTPAdapter):
    """Retries by method: idempotent ones on 502/503/504 too, POST/PATCH only on refused connections."""

    def __init__(self) -> None:
        super().__init__(max_retries=_retry(frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}),
                                            (502, 503, 504)), pool_maxsize=32)
        self._post = HTTPAdapter(max_retries=_retry(frozenset({"POST", "PATCH"}), ()), pool_maxsize=32)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if request.method in ("POST", "PATCH"):
            return self._post.send(request, **kwargs)
        return super().send(request, **kwargs)

    def close(self) -> None:
        self._post.close()
        super().close()


def _mime(ext: str) -> str:
    if ext == "json":
        return "application/json"
    if ext == "npy":
        return "application/octet-stream"
    return mimetypes.guess_type(f"x.{ext}")[0] or "application/octet-stream"


def multipart(files: Mapping[str, Any]) -> Dict[str, Tuple[str, bytes, str]]:
    """``{field: (filename, bytes, content type)}`` for requests' ``files=``, each item encoded
    as `codecs.payload` encodes it (images -> PNG, arrays -> PNG or .npy, paths -> their bytes)."""
    out: Dict[str, Tuple[str, bytes, str]] = {}
    for field, item in files.items():
        if isinstance(item, tuple) and len(item) in (2, 3) and isinstance(item[0], str):
            name, content = item[0], item[1]
            body, ext = codecs.payload(content)
            out[str(field)] = (name, body, item[2] if len(item) == 3 else _mime(ext))
            continue
        body, ext = codecs.payload(item)
        name = getattr(item, "name", None)
        filename = str(name).rsplit("/", 1)[-1] if isinstance(name, str) and name else None
        if filename is None:
            path = str(item) if hasattr(item, "__fspath__") else None
            filename = path.rsplit("/", 1)[-1] if path else f"{field}.{ext}"
        out[str(field)] = (filename, body, _mime(ext))
    return out


def decode_response(response: requests.Response, *, elapsed: Optional[float] = None, input: Any = None,
                    redact: Any = None) -> Result:
    """A `Result` for an HTTP answer: JSON (predictions, detections...), images, text, bytes."""
    body = response.content
    ctype = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype in ("text/html", "text/plain") and body:
        from .results import TextResult
        text = body.decode(response.encoding or "utf-8", "replace")
        if callable(redact):
            text = redact(text)
        if ctype == "text/plain":
            return codecs.result_from_bytes(text.encode("utf-8"), elapsed=elapsed, input=input)
        return TextResult(text, raw=body, elapsed=elapsed, input=input)
    return codecs.result_from_bytes(body, elapsed=elapsed, input=input)
