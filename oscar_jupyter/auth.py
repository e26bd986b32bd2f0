"""Credentials for an OSCAR cluster, and where they come from.

Kinds: HTTP Basic (`BasicAuth`), a fixed bearer token (`BearerAuth`: an OIDC
access token, or a service token for `/run`), an OIDC refresh token exchanged
for access tokens before they expire (`RefreshTokenAuth`, EGI Check-in by
default), and an oidc-agent account (`OidcAgentAuth`, optional dependency
`liboidcagent`). Each is a `requests` auth object. None of them ever shows its
secret: reprs name the kind and the user only.

Sources: explicit arguments, environment variables (`ClusterSettings.from_environment`)
and oscar-cli's config file (`read_oscar_cli_config`).
"""
from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import requests
from requests.auth import AuthBase

from . import errors

logger = logging.getLogger(__name__)

__all__ = ["Credentials", "BasicAuth", "BearerAuth", "RefreshTokenAuth", "OidcAgentAuth",
           "EGI_TOKEN_ENDPOINT", "EGI_CLIENT_ID", "jwt_expiry", "parse_bool", "ClusterSettings",
           "read_oscar_cli_config", "default_oscar_cli_config", "ENV_VARS"]

EGI_TOKEN_ENDPOINT = "https://aai.egi.eu/auth/realms/egi/protocol/openid-connect/token"
EGI_CLIENT_ID = "token-portal"
#: refresh an access token this many seconds before its `exp`
REFRESH_MARGIN = 60.0

ENV_VARS = {
    "OSCAR_ENDPOINT": "the cluster's URL",
    "OSCAR_USER": "Basic auth user (default 'oscar' when a password is set)",
    "OSCAR_PASSWORD": "Basic auth password",
    "OSCAR_TOKEN": "an OIDC access token",
    "OSCAR_REFRESH_TOKEN": "an OIDC refresh token",
    "OSCAR_TOKEN_ENDPOINT": "the OIDC token endpoint for the refresh token (default EGI Check-in)",
    "OSCAR_CLIENT_ID": "the OIDC client id for the refresh token (default token-portal)",
    "OSCAR_OIDC_ACCOUNT": "an oidc-agent account name",
    "OSCAR_SSL_VERIFY": "true/false, or a CA bundle path",
    "OSCAR_CLUSTER": "a cluster id in the oscar-cli config file",
    "OSCAR_CLI_CONFIG": "the oscar-cli config file (default ~/.oscar-cli/config.yaml)",
}


def parse_bool(value: Any, *, name: str = "ssl_verify") -> Union[bool, str]:
    """A real boolean from True/False, 'false', '0', 'no', 'off' ... (or a CA bundle path)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return True
    if isinstance(value, (int, float)):
        return bool(value)
    text = str(value).strip()
    lowered = text.lower()
    if lowered in ("true", "t", "yes", "y", "1", "on", ""):
        return True
    if lowered in ("false", "f", "no", "n", "0", "off"):
        return False
    if os.path.exists(text):
        return text  # requests takes a CA bundle path for `verify`
    raise errors.ConfigError(f"{name}={text!r} is neither a boolean nor a CA bundle file.",
                             hint="Use true or false (or the path of a CA bundle).")


def jwt_expiry(token: str) -> Optional[float]:
    """The `exp` claim of a JWT as a UNIX time, read WITHOUT verifying the signature."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    body = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(body.encode("ascii")))
        exp = claims.get("exp") if isinstance(claims, dict) else None
        return float(exp) if exp is not None else None
    except (ValueError, TypeError, UnicodeError):
        return None


class Credentials(AuthBase):
    """Base of every credential kind: a requests auth that never prints its secret."""

    kind = "none"

    def secrets(self) -> List[str]:
        """Every secret this credential holds (to be redacted from any text)."""
        return []

    def bearer_token(self) -> Optional[str]:
        """A bearer token usable on `/run` and `/job` (OIDC kinds), else None."""
        return None

    def describe(self) -> str:
        return self.kind

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    __str__ = __repr__

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class BasicAuth(Credentials):
    """HTTP Basic (the cluster admin `oscar`, or a user of the cluster)."""

    kind = "basic"

    def __init__(self, user: str, password: str) -> None:
        if not user or password is None or password == "":
            raise errors.ConfigError("Basic auth needs both a user and a password.")
        self.user = user
        self._password = password

    def secrets(self) -> List[str]:
        return [self._password]

    def describe(self) -> str:
        return f"basic user={self.user!r}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        pair = f"{self.user}:{self._password}".encode("utf-8")
        request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return request


class _BearerBase(Credentials):
    def _token(self) -> str:
        raise NotImplementedError

    def bearer_token(self) -> Optional[str]:
        return self._token()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = "Bearer " + self._token()
        return request


class BearerAuth(_BearerBase):
    """A fixed bearer token: an OIDC access token, or a service's token on `/run`."""

    kind = "token"

    def __init__(self, token: str) -> None:
        token = (token or "").strip()
        if not token:
            raise errors.ConfigError("An empty token was given.", hint="Pass the access token itself.")
        self._value = token

    def _token(self) -> str:
        exp = jwt_expiry(self._value)
        if exp is not None and exp < time.time():
            logger.warning("The OIDC access token expired %.0f s ago; requests will be refused.",
                           time.time() - exp)
        return self._value

    def secrets(self) -> List[str]:
        return [self._value]

    def describe(self) -> str:
        exp = jwt_expiry(self._value)
        if exp is None:
            return "bearer token"
        return f"bearer token, expires in {int(exp - time.time())} s"


class RefreshTokenAuth(_BearerBase):
    """An OIDC refresh token, exchanged at `token_endpoint` for access tokens.

    A new access token is fetched when the current one is within `margin`
    seconds of its `exp` claim (read without verifying the JWT), or of
    `expires_in` when the token is opaque.
    """

    kind = "refresh-token"

    def __init__(self, refresh_token: str, *, token_endpoint: str = EGI_TOKEN_ENDPOINT,
                 client_id: str = EGI_CLIENT_ID, client_secret: Optional[str] = None,
                 scope: Optional[str] = None, timeout: float = 15.0, ssl_verify: Any = True,
                 margin: float = REFRESH_MARGIN) -> None:
        if not refresh_token:
            raise errors.ConfigError("An empty refresh token was given.")
        self._refresh_token = refresh_token
        self._client_secret = client_secret
        self.token_endpoint = token_endpoint
        self.client_id = client_id
        self.scope = scope
        self.timeout = timeout
        self.ssl_verify = ssl_verify
        self.margin = margin
        self._access: Optional[str] = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self._session = requests.Session()
        self.refreshes = 0

    def secrets(self) -> List[str]:
        return [s for s in (self._refresh_token, self._client_secret, self._access) if s]

    def describe(self) -> str:
        return f"refresh token at {self.token_endpoint} (client {self.client_id!r})"

    def _token(self) -> str:
        with self._lock:
            if self._access is None or time.time() >= self._expires_at - self.margin:
                self._refresh()
            assert self._access is not None
            return self._access

    def _refresh(self) -> None:
        data = {"grant_type": "refresh_token", "refresh_token": self._refresh_token,
                "client_id": self.client_id}
        if self._client_secret:
            data["client_secret"] = self._client_secret
        if self.scope:
            data["scope"] = self.scope
        try:
            response = self._session.post(self.token_endpoint, data=data, timeout=self.timeout,
                                          verify=self.ssl_verify,
                                          headers={"Accept": "application/json"})
        except requests.Timeout:
            raise errors.Timeout(f"The token endpoint {self.token_endpoint} did not answer in "
                                 f"{self.timeout:.0f} s.", hint="Try again later.") from None
        except requests.RequestException as exc:
            raise errors.ConnectionFailed(
                f"Cannot reach the token endpoint {self.token_endpoint} ({type(exc).__name__}).",
                hint="Check token_endpoint and your network.") from None
        payload: Dict[str, Any] = {}
        try:
            payload = response.json()
        except ValueError:
            pass
        if response.status_code != 200 or not isinstance(payload, dict) or "access_token" not in payload:
            reason = payload.get("error_description") or payload.get("error") if isinstance(payload, dict) else ""
            reason = errors.redact(str(reason or f"HTTP {response.status_code}"), self.secrets())
            raise errors.AuthError(
                f"The token endpoint {self.token_endpoint} refused the refresh token ({reason}).",
                hint="Get a new refresh token (e.g. from the EGI Check-in token portal) "
                     "or check client_id/token_endpoint.")
        self._access = str(payload["access_token"])
        if payload.get("refresh_token"):  # rotating refresh tokens
            self._refresh_token = str(payload["refresh_token"])
        exp = jwt_expiry(self._access)
        if exp is None:
            try:
                exp = time.time() + float(payload.get("expires_in", 300))
            except (TypeError, ValueError):
                exp = time.time() + 300
        self._expires_at = exp
        self.refreshes += 1
        logger.info("Fetched an OIDC access token from %s (valid %.0f s).",
                    self.token_endpoint, exp - time.time())


class OidcAgentAuth(_BearerBase):
    """Access tokens from a running oidc-agent for `account` (needs `liboidcagent`)."""

    kind = "oidc-agent"

    def __init__(self, account: str, *, min_valid_period: int = 60) -> None:
        try:
            import liboidcagent  # noqa: F401  (optional dependency: present?)
        except ImportError:
            raise errors.ConfigError(
                "oidc-agent accounts need the optional package 'liboidcagent', which is not installed.",
                hint="pip install 'oscar-jupyter[oidc]' (or liboidcagent), or pass token=/refresh_token=.") from None
        if not account:
            raise errors.ConfigError("An oidc-agent account name is needed.")
        self.account = account
        self.min_valid_period = min_valid_period
        self._last: Optional[str] = None

    def secrets(self) -> List[str]:
        return [self._last] if self._last else []

    def describe(self) -> str:
        return f"oidc-agent account {self.account!r}"

    def _token(self) -> str:
        import liboidcagent
        try:
            token = liboidcagent.get_access_token(self.account, self.min_valid_period,
                                                  application_hint="oscar-jupyter")
        except liboidcagent.OidcAgentError as exc:
            raise errors.AuthError(
                f"oidc-agent could not give a token for account {self.account!r} ({exc}).",
                hint="Start oidc-agent and `oidc-add` the account (OIDC_SOCK must be set).") from None
        self._last = token
        return token


# -- where settings come from ----------------------------------------------------------------

@dataclass
class ClusterSettings:
    """Everything needed to open one cluster (secrets hidden from repr)."""

    endpoint: str
    user: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    token: Optional[str] = field(default=None, repr=False)
    refresh_token: Optional[str] = field(default=None, repr=False)
    token_endpoint: Optional[str] = None
    client_id: Optional[str] = None
    oidc_account: Optional[str] = None
    ssl_verify: Union[bool, str] = True
    cluster_id: Optional[str] = None
    source: str = "arguments"

    def credentials(self) -> Credentials:
        """The credential object these settings describe (token > refresh > agent > basic)."""
        if self.token:
            return BearerAuth(self.token)
        if self.refresh_token:
            return RefreshTokenAuth(self.refresh_token,
                                    token_endpoint=self.token_endpoint or EGI_TOKEN_ENDPOINT,
                                    client_id=self.client_id or EGI_CLIENT_ID)
        if self.oidc_account:
            return OidcAgentAuth(self.oidc_account)
        if self.password:
            return BasicAuth(self.user or "oscar", self.password)
        raise errors.ConfigError(
            f"No credentials for {self.endpoint} (from {self.source}).",
            hint="Give user= and password=, token=, refresh_token= or oidc_account=.")

    @classmethod
    def from_environment(cls, environ: Optional[Mapping[str, str]] = None) -> Optional["ClusterSettings"]:
        """Settings from OSCAR_* variables, or None when OSCAR_ENDPOINT is unset."""
        env = os.environ if environ is None else environ
        endpoint = env.get("OSCAR_ENDPOINT", "").strip()
        if not endpoint:
            return None
        return cls(endpoint=endpoint, user=env.get("OSCAR_USER") or None,
                   password=env.get("OSCAR_PASSWORD") or None,
                   token=env.get("OSCAR_TOKEN") or None,
                   refresh_token=env.get("OSCAR_REFRESH_TOKEN") or None,
                   token_endpoint=env.get("OSCAR_TOKEN_ENDPOINT") or None,
                   client_id=env.get("OSCAR_CLIENT_ID") or None,
                   oidc_account=env.get("OSCAR_OIDC_ACCOUNT") or None,
                   ssl_verify=parse_bool(env.get("OSCAR_SSL_VERIFY", "true"), name="OSCAR_SSL_VERIFY"),
                   cluster_id=env.get("OSCAR_CLUSTER") or None,
                   source="environment variables")


def default_oscar_cli_config(environ: Optional[Mapping[str, str]] = None) -> Path:
    """`$OSCAR_CLI_CONFIG`, else `~/.oscar-cli/config.yaml`."""
    env = os.environ if environ is None else environ
    if env.get("OSCAR_CLI_CONFIG"):
        return Path(env["OSCAR_CLI_CONFIG"]).expanduser()
    return Path("~/.oscar-cli/config.yaml").expanduser()


def read_oscar_cli_config(path: Union[str, Path, None] = None) -> Tuple[Dict[str, ClusterSettings], Optional[str]]:
    """The clusters in an oscar-cli config file and its default id.

    Format: ``{oscar: {<id>: {endpoint, auth_user, auth_password, oidc_account_name,
    oidc_refresh_token, ssl_verify}}, default: <id>}``. Raises `ConfigError` when
    the file is missing or malformed (saying where).
    """
    import yaml
    config_path = Path(path).expanduser() if path else default_oscar_cli_config()
    if not config_path.is_file():
        raise errors.ConfigError(f"No oscar-cli config file at {str(config_path)!r}.",
                                 hint="Create it with `oscar-cli cluster add`, or pass endpoint=.")
    try:
        document = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise errors.ConfigError(f"{str(config_path)!r} is not valid YAML{where}.") from None
    clusters_node = document.get("oscar") if isinstance(document, dict) else None
    if not isinstance(clusters_node, dict):
        raise errors.ConfigError(f"{str(config_path)!r} has no 'oscar:' map of clusters.",
                                 hint="Expected {oscar: {<id>: {endpoint, auth_user, ...}}, default: <id>}.")
    clusters: Dict[str, ClusterSettings] = {}
    for cluster_id, entry in clusters_node.items():
        if not isinstance(entry, dict) or not entry.get("endpoint"):
            raise errors.ConfigError(f"{str(config_path)!r}: cluster {cluster_id!r} has no endpoint.")
        clusters[str(cluster_id)] = ClusterSettings(
            endpoint=str(entry["endpoint"]),
            user=entry.get("auth_user") or None,
            password=None if entry.get("auth_password") is None else str(entry.get("auth_password")),
            token=entry.get("oidc_token") or None,
            refresh_token=entry.get("oidc_refresh_token") or None,
            token_endpoint=entry.get("oidc_token_endpoint") or None,
            client_id=entry.get("oidc_client_id") or None,
            oidc_account=entry.get("oidc_account_name") or None,
            ssl_verify=parse_bool(entry.get("ssl_verify", True), name=f"oscar.{cluster_id}.ssl_verify"),
            cluster_id=str(cluster_id),
            source=f"{config_path} ({cluster_id})")
    default = document.get("default")
    return clusters, (str(default) if default is not None else None)
