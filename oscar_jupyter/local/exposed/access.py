"""Who may reach an exposed service, and the Manager's forward-auth check.

On a cluster the ingress decides, not the service:

* ``set_auth: false``: no check at all (the service is public at its
  exposed path; it may do its own authentication);
* ``set_auth: true``, ``auth_type: basic``: HTTP Basic with user = the
  service name and password = the service token (nginx ``auth-type:
  basic``, realm ``Authentication Required``), else 401;
* ``set_auth: true``, ``auth_type: forward``: the gateway asks the Manager's
  ``GET /system/services/<name>/auth`` with the request's headers, and adds
  the ``oscar_service_<name>_auth`` cookie it sets to the answer.

``forward_auth`` is that ``/auth`` check (``pkg/utils/auth``:
``GetServiceTokenMiddleware``, Basic or OIDC, ``GetServicePermissionsMiddleware``):
Basic credentials are the admin's; else a service token as ``Bearer`` (64
characters), ``?token=``, ``?token=`` in ``X-Forwarded-Uri``, or the cookie;
else an OIDC bearer token of a user allowed to see the service.
"""
from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from .. import auth as local_auth
from .settings import ExposeSettings, base_path

BASIC_REALM = 'Basic realm="Authentication Required"'
TOKEN_LENGTH = 64


def cookie_name(service: str) -> str:
    """``oscar_service_<name>_auth`` with ``-`` as ``_``, as the Manager names it."""
    return "oscar_service_" + service.replace("-", "_") + "_auth"


def token_cookie(service: str, token: str, secure: bool) -> str:
    """The ``Set-Cookie`` value the Manager answers after a good service token."""
    parts = [f"{cookie_name(service)}={token}", f"Path={base_path(service)}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.insert(2, "Secure")
    return "; ".join(parts)


def _basic_pair(header: str | None) -> tuple[bytes, bytes] | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    return (user, password) if sep else None


def basic_service_ok(header: str | None, svc: Mapping[str, Any]) -> bool:
    """Basic credentials user = service name, password = service token (constant time)."""
    pair = _basic_pair(header)
    if pair is None:
        return False
    ok_user = hmac.compare_digest(pair[0], str(svc.get("name") or "").encode())
    ok_pw = hmac.compare_digest(pair[1], str(svc.get("token") or "").encode())
    return ok_user and ok_pw and bool(svc.get("token"))


@dataclass
class Decision:
    """The answer of an access check: ``status`` 200 lets the request through."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = ""

    @property
    def allowed(self) -> bool:
        return self.status == 200


def token_candidates(headers: Mapping[str, str], query: Mapping[str, str], service: str) -> list[str]:
    """The service tokens a request offers, in the Manager's order."""
    authorization = headers.get("Authorization") or ""
    parts = authorization.split("Bearer ")
    if len(parts) == 2:
        token = parts[1].strip()
        return [token] if len(token) == TOKEN_LENGTH else []
    found = []
    token = (query.get("token") or "").strip()
    if len(token) == TOKEN_LENGTH:
        found.append(token)
    forwarded = headers.get("X-Forwarded-Uri") or ""
    if forwarded.strip():
        try:
            values = parse_qs(urlsplit(forwarded).query).get("token") or [""]
        except ValueError:
            values = [""]
        if len(values[0].strip()) == TOKEN_LENGTH:
            found.append(values[0].strip())
    cookie = _cookie(headers.get("Cookie") or "", cookie_name(service))
    if cookie and len(cookie.strip()) == TOKEN_LENGTH:
        found.append(cookie.strip())
    return found


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


Oidc = Callable[[str], Awaitable[Any]]   # token -> identity with .sub; raises with .status/.message


async def forward_auth(svc: Mapping[str, Any] | None, service: str, headers: Mapping[str, str],
                       query: Mapping[str, str], *, admin: tuple[str, str], oidc: Any = None,
                       secure: bool = False, visible: Callable[[Mapping[str, Any], str | None], bool]
                       ) -> Decision:
    """``GET /system/services/<service>/auth`` of Manager v4.1.2."""
    authorization = headers.get("Authorization")
    is_basic = _basic_pair(authorization) is not None
    if not is_basic:
        tokens = token_candidates(headers, query, service)
        if tokens:
            if svc is None:
                return Decision(404)
            expected = str(svc.get("token") or "").encode()
            for token in tokens:
                if expected and hmac.compare_digest(token.encode(), expected):
                    return Decision(200, {"Set-Cookie": token_cookie(service, token, secure)})
            return Decision(401)
    user: str | None = None
    bearer = local_auth.bearer_of(authorization)
    if oidc is not None and bearer is not None and not is_basic:
        try:
            identity = await oidc.authenticate(bearer)
        except Exception as exc:  # OidcRefused carries the Manager's status and text
            return Decision(getattr(exc, "status", 401), message=getattr(exc, "message", ""))
        user = identity.sub
    elif not local_auth.basic_ok(authorization, *admin):
        return Decision(401, {"WWW-Authenticate": local_auth.REALM})
    if svc is None:
        return Decision(404)
    if user is not None and not visible(svc, user):
        return Decision(403)
    return Decision(200)


async def exposed_access(svc: Mapping[str, Any], settings: ExposeSettings, headers: Mapping[str, str],
                         query: Mapping[str, str], *, admin: tuple[str, str], oidc: Any = None,
                         secure: bool = False,
                         visible: Callable[[Mapping[str, Any], str | None], bool]) -> Decision:
    """Whether a request to the exposed path passes the service's ingress auth."""
    if not settings.set_auth:
        return Decision(200)
    if settings.auth_type == "forward":
        return await forward_auth(svc, settings.name, headers, query, admin=admin, oidc=oidc,
                                  secure=secure, visible=visible)
    if basic_service_ok(headers.get("Authorization"), svc):
        return Decision(200)
    return Decision(401, {"WWW-Authenticate": BASIC_REALM}, "401 Authorization Required")
