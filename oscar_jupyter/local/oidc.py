"""OIDC bearer tokens on ``/system/*``, checked the way the OSCAR Manager checks them.

What the Manager does (``pkg/utils/auth/oidc.go``), and so what this does:

1. read the token's ``iss`` without verifying; a token that is not a JWT is
   400, an issuer that is not the configured one is 401
   ``'<iss>' is not listed as an authorized issuer``;
2. verify the signature against the issuer's JWKS (found through
   ``/.well-known/openid-configuration``), the ``iss`` and the expiry; no
   audience check (the Manager skips the client id check);
3. call the issuer's ``userinfo`` endpoint with the token (cached per token
   until it expires) and read the user's groups: on an issuer whose
   authorization endpoint is under ``/realms/egi`` (EGI Check-in) from the
   ``entitlements`` URNs ``urn:mace:egi.eu:group:<vo>:...`` (lower-cased,
   the 5th field), under ``/realms/ai4eosc`` from ``realm_access.roles``,
   otherwise from ``group_membership``;
4. admit the user only if one of those groups is a configured group (VO);
   otherwise 401, as on the Manager. The caller's identity is ``sub``.

Tokens are never logged nor echoed in an answer.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt

log = logging.getLogger(__name__)

EGI_GROUP_PREFIX = "urn:mace:egi.eu:group"
EGI_REALM = "/realms/egi"
AI4EOSC_REALM = "/realms/ai4eosc"
#: asymmetric algorithms only: "none" and HMAC (a shared secret) are never accepted
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
CACHE_LIMIT = 10_000
HTTP_TIMEOUT = 10.0


class OidcRefused(Exception):
    """The token is not accepted: ``status`` (400/401) and a ``message`` safe to send back."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or f"HTTP {status}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Identity:
    """Who a valid token belongs to."""

    sub: str
    name: str = ""
    groups: tuple[str, ...] = field(default=())


def _unverified_claims(token: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise OidcRefused(400, "token is malformed: expected a JWT (header.payload.signature)") from None
    if not isinstance(claims, dict):
        raise OidcRefused(400, "token is malformed: its payload is not a JSON object")
    return claims


def groups_from_userinfo(info: dict[str, Any], authorization_endpoint: str) -> list[str]:
    """The user's groups from the userinfo claims, by the Manager's rules for this issuer."""
    if EGI_REALM in authorization_endpoint:
        groups = []
        for urn in info.get("entitlements") or []:
            if not isinstance(urn, str):
                continue
            urn = urn.strip().lower()
            if urn.startswith(EGI_GROUP_PREFIX):
                fields = urn.split(":")
                if len(fields) >= 5:
                    groups.append(fields[4])
        return groups
    if AI4EOSC_REALM in authorization_endpoint:
        roles = (info.get("realm_access") or {}).get("roles") if isinstance(info.get("realm_access"), dict) else None
        return [r for r in roles or [] if isinstance(r, str)]
    return [g for g in info.get("group_membership") or [] if isinstance(g, str)]


class OidcValidator:
    """Checks bearer tokens of one issuer for membership of the configured groups."""

    def __init__(self, issuer: str, groups: tuple[str, ...] | list[str]) -> None:
        issuer = (issuer or "").strip()
        if not issuer.startswith(("http://", "https://")):
            raise ValueError(f"oidc_issuer must be an http(s) URL, got {issuer!r}")
        groups = tuple(g.strip() for g in groups if g and g.strip())
        if not groups:
            raise ValueError("oidc_issuer needs at least one OIDC group (VO): the Manager admits only "
                             "members of its configured groups (--oidc-group VO)")
        self.issuer = issuer.rstrip("/")
        self.groups = groups
        self._session: aiohttp.ClientSession | None = None
        self._config: dict[str, Any] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._keys_fetched = 0.0
        self._cache: dict[str, tuple[Identity, float]] = {}
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- issuer metadata ---------------------------------------------------
    async def _get_json(self, url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT))
        async with self._session.get(url, headers=headers or {}) as resp:
            raw = await resp.read()
            if resp.status != 200:
                return resp.status, None
            try:
                return resp.status, json.loads(raw)
            except ValueError:
                return resp.status, None

    async def _discover(self) -> dict[str, Any]:
        if self._config is not None:
            return self._config
        url = self.issuer + "/.well-known/openid-configuration"
        try:
            status, doc = await self._get_json(url)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.warning("OIDC discovery at %s failed: %s", url, type(exc).__name__)
            raise OidcRefused(401) from None
        if status != 200 or not isinstance(doc, dict):
            log.warning("OIDC discovery at %s answered HTTP %s without a JSON document", url, status)
            raise OidcRefused(401)
        if str(doc.get("issuer", "")).rstrip("/") != self.issuer:
            log.warning("OIDC discovery at %s names another issuer; refusing tokens", url)
            raise OidcRefused(401)
        if not doc.get("jwks_uri") or not doc.get("userinfo_endpoint"):
            log.warning("OIDC discovery at %s has no jwks_uri or userinfo_endpoint", url)
            raise OidcRefused(401)
        self._config = doc
        return doc

    async def _key(self, kid: str | None, force: bool) -> jwt.PyJWK | None:
        config = await self._discover()
        if force or not self._keys:
            if force and time.monotonic() - self._keys_fetched < 5.0:
                return self._keys.get(kid or "")  # at most one forced refresh every 5 s
            try:
                status, doc = await self._get_json(str(config["jwks_uri"]))
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                log.warning("fetching the issuer's JWKS failed: %s", type(exc).__name__)
                raise OidcRefused(401) from None
            keys: dict[str, jwt.PyJWK] = {}
            for entry in (doc or {}).get("keys", []) if isinstance(doc, dict) else []:
                try:
                    key = jwt.PyJWK(entry)
                except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                    continue  # a key type or algorithm this server does not take
                keys[str(entry.get("kid", ""))] = key
            self._keys = keys
            self._keys_fetched = time.monotonic()
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid or "")

    # -- tokens ------------------------------------------------------------
    async def authenticate(self, token: str) -> Identity:
        """The identity of a valid token of a member of a configured group; else `OidcRefused`."""
        claims = _unverified_claims(token)
        iss = claims.get("iss")
        if not isinstance(iss, str) or iss.rstrip("/") != self.issuer:
            shown = iss if isinstance(iss, str) else ""
            raise OidcRefused(401, f"'{shown[:200]}' is not listed as an authorized issuer")
        cached = self._cache.get(token)
        if cached is not None and cached[1] > time.time():
            identity = cached[0]
        else:
            async with self._lock:
                await self._verify(token)
                identity = await self._userinfo(token)
                self._remember(token, identity, claims)
        if not set(identity.groups) & set(self.groups):
            log.info("OIDC user %s is not in any of the groups %s", identity.sub, ", ".join(self.groups))
            raise OidcRefused(401)
        return identity

    def _auth_url(self) -> str:
        return str((self._config or {}).get("authorization_endpoint") or "")

    async def _verify(self, token: str) -> None:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise OidcRefused(400, "token is malformed: its header is not valid") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise OidcRefused(401)
        kid = header.get("kid")
        key = await self._key(kid, force=False)
        if key is None:
            key = await self._key(kid, force=True)  # the issuer may have rotated its keys
        if key is None:
            raise OidcRefused(401)
        try:
            jwt.decode(token, key=key.key, algorithms=[alg], issuer=self.issuer,
                       options={"verify_aud": False, "require": ["exp", "iss", "sub"]}, leeway=0)
        except jwt.InvalidIssuerError:
            raise OidcRefused(401) from None
        except jwt.PyJWTError as exc:
            log.info("OIDC token refused: %s", type(exc).__name__)
            raise OidcRefused(401) from None

    async def _userinfo(self, token: str) -> Identity:
        config = await self._discover()
        try:
            status, info = await self._get_json(str(config["userinfo_endpoint"]),
                                                {"Authorization": f"Bearer {token}", "Accept": "application/json"})
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.warning("the issuer's userinfo endpoint failed: %s", type(exc).__name__)
            raise OidcRefused(401) from None
        if status != 200 or not isinstance(info, dict) or not isinstance(info.get("sub"), str) or not info["sub"]:
            log.info("the issuer's userinfo endpoint refused a token (HTTP %s)", status)
            raise OidcRefused(401)
        groups = groups_from_userinfo(info, self._auth_url())
        name = info.get("name") if isinstance(info.get("name"), str) else ""
        return Identity(sub=info["sub"], name=name, groups=tuple(groups))

    def _remember(self, token: str, identity: Identity, claims: dict[str, Any]) -> None:
        now = time.time()
        try:
            expires = float(claims.get("exp"))
        except (TypeError, ValueError):
            return
        if len(self._cache) >= CACHE_LIMIT:
            for old in [t for t, (_, exp) in self._cache.items() if exp <= now]:
                del self._cache[old]
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
        self._cache[token] = (identity, expires)
