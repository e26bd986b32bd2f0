"""OIDC bearer tokens as AI4OS/EGI clusters use them, end to end on real servers.

A small but real OIDC issuer (aiohttp on loopback: discovery, JWKS, userinfo,
a refresh-token endpoint; RS256 tokens) runs in the test process, shaped like
EGI Check-in (``.../realms/egi``, ``entitlements`` URNs). oscar-local runs with
``oidc_issuer`` and ``oidc_groups`` and checks tokens as the Manager does;
the client connects with ``token=`` or ``refresh_token=``.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import subprocess
import sys
import threading
import time
import uuid
from typing import Any, Dict, List

import jwt
import pytest
import requests
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import oscar_jupyter as oj
from oscar_jupyter import errors, local

VO = "vo.example.eu"
MEMBER = f"urn:mace:egi.eu:group:{VO}:role=member#aai.egi.eu"


class OidcIssuer:
    """A real OIDC issuer on 127.0.0.1 shaped like EGI Check-in."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.users: Dict[str, List[str]] = {}  # sub -> entitlements
        self.refresh_tokens: Dict[str, str] = {}  # refresh token -> sub
        self.userinfo_calls = 0
        self.token_calls: List[Dict[str, str]] = []
        self.base = ""

    @property
    def issuer(self) -> str:
        return self.base + "/auth/realms/egi"

    @property
    def token_url(self) -> str:
        return self.issuer + "/protocol/openid-connect/token"

    def user(self, *entitlements: str) -> str:
        sub = uuid.uuid4().hex + "@egi.eu"
        self.users[sub] = list(entitlements)
        return sub

    def token(self, sub: str, *, expires_in: float = 600, key: Any = None, kid: str = "k1",
              **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": self.issuer, "sub": sub, "iat": now, "exp": now + int(expires_in),
                   "aud": "token-portal", **claims}
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": kid})

    def refresh_token(self, sub: str) -> str:
        rt = "rt-" + uuid.uuid4().hex
        self.refresh_tokens[rt] = sub
        return rt

    # -- endpoints ----------------------------------------------------------
    async def discovery(self, request: web.Request) -> web.Response:
        return web.json_response({
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/protocol/openid-connect/auth",
            "token_endpoint": self.token_url,
            "userinfo_endpoint": self.issuer + "/protocol/openid-connect/userinfo",
            "jwks_uri": self.issuer + "/protocol/openid-connect/certs",
            "id_token_signing_alg_values_supported": ["RS256"],
        })

    async def jwks(self, request: web.Request) -> web.Response:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid="k1", use="sig", alg="RS256")
        return web.json_response({"keys": [jwk]})

    async def userinfo(self, request: web.Request) -> web.Response:
        self.userinfo_calls += 1
        header = request.headers.get("Authorization", "")
        try:
            claims = jwt.decode(header.removeprefix("Bearer "), self.key.public_key(), algorithms=["RS256"],
                                options={"verify_aud": False})
        except jwt.PyJWTError:
            return web.json_response({"error": "invalid_token"}, status=401)
        sub = claims["sub"]
        return web.json_response({"sub": sub, "name": "Test User", "entitlements": self.users.get(sub, [])})

    async def token_endpoint(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.token_calls.append(form)
        sub = self.refresh_tokens.get(form.get("refresh_token", ""))
        if form.get("grant_type") != "refresh_token" or sub is None:
            return web.json_response({"error": "invalid_grant", "error_description": "Token is not active"},
                                     status=400)
        return web.json_response({"access_token": self.token(sub), "token_type": "Bearer", "expires_in": 600})

    def __enter__(self) -> "OidcIssuer":
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            app = web.Application()
            realm = "/auth/realms/egi"
            app.router.add_get(realm + "/.well-known/openid-configuration", self.discovery)
            app.router.add_get(realm + "/protocol/openid-connect/certs", self.jwks)
            app.router.add_get(realm + "/protocol/openid-connect/userinfo", self.userinfo)
            app.router.add_post(realm + "/protocol/openid-connect/token", self.token_endpoint)
            self.runner = web.AppRunner(app)
            loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.runner.cleanup())
            loop.close()

        self.thread = threading.Thread(target=run, name="oidc-issuer", daemon=True)
        self.thread.start()
        assert ready.wait(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def issuer():
    with OidcIssuer() as running:
        yield running


@pytest.fixture(scope="module")
def oidc_cluster(issuer, tmp_path_factory):
    cluster = local.start(data_dir=str(tmp_path_factory.mktemp("oscar-local-oidc")), port=0,
                          password=uuid.uuid4().hex, api_version="4.1",
                          oidc_issuer=issuer.issuer, oidc_groups=(VO,))
    yield cluster
    cluster.stop()


@pytest.fixture
def alice(issuer):
    return issuer.user(MEMBER, "urn:mace:egi.eu:group:other.vo:role=member#aai.egi.eu")


@pytest.fixture
def bob(issuer):
    return issuer.user(MEMBER)


def _get(cluster, path: str, token: str) -> requests.Response:
    return requests.get(cluster.endpoint + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _definition(name: str, **extra: Any) -> dict:
    return {"name": name, "image": "alpine", "script": 'echo "hi $(cat "$INPUT_FILE_PATH")"',
            "input": [{"storage_provider": "minio.default", "path": f"{name}/in"}], **extra}


def test_token_connects_and_owns_what_it_creates(oidc_cluster, issuer, alice, caplog):
    caplog.set_level(logging.DEBUG)
    token = issuer.token(alice)
    c = oj.connect(oidc_cluster.endpoint, token=token, id="alice-" + uuid.uuid4().hex[:4])
    try:
        assert c.info()["version"] == "4.1.2"
        status = c.status()["oscar"]["oidc"]
        assert status == {"enabled": True, "issuers": [issuer.issuer], "groups": [VO]}
        name = "to-" + uuid.uuid4().hex[:8]
        [svc] = c.apply(_definition(name))
        try:
            assert svc.spec["owner"] == alice and svc.spec["visibility"] == "private"
            assert name in [s.name for s in c.services()]
            assert svc.run("there").text.strip() == "hi there"
        finally:
            c.delete(name, check_buckets=False)
        assert token not in repr(c) and token not in str(c.auth) and token not in caplog.text
    finally:
        oj.disconnect(c)


def test_refresh_token_end_to_end(oidc_cluster, issuer, bob, caplog):
    caplog.set_level(logging.DEBUG)
    rt = issuer.refresh_token(bob)
    before = len(issuer.token_calls)
    c = oj.connect(oidc_cluster.endpoint, refresh_token=rt, token_endpoint=issuer.token_url,
                   client_id="oscar-jupyter-tests", id="bob-" + uuid.uuid4().hex[:4])
    try:
        name = "tr-" + uuid.uuid4().hex[:8]
        [svc] = c.apply(_definition(name))
        try:
            assert svc.spec["owner"] == bob
            assert svc.run("bob").text.strip() == "hi bob"
        finally:
            c.delete(name, check_buckets=False)
        calls = issuer.token_calls[before:]
        assert len(calls) == 1 and calls[0]["client_id"] == "oscar-jupyter-tests"
        access = c.auth.bearer_token()
        assert rt not in caplog.text and access not in caplog.text and rt not in repr(c)
    finally:
        oj.disconnect(c)


def test_bad_expired_and_foreign_tokens_are_refused(oidc_cluster, issuer, alice):
    good = issuer.token(alice)
    assert _get(oidc_cluster, "/system/services", good).status_code == 200
    expired = issuer.token(alice, expires_in=-120)
    forged = issuer.token(alice, key=issuer.other_key)
    unknown_kid = issuer.token(alice, kid="rotated-away")
    other_issuer = jwt.encode({"iss": "https://evil.example/realms/egi", "sub": alice, "exp": time.time() + 60},
                              issuer.key, algorithm="RS256", headers={"kid": "k1"})
    for token in (expired, forged, unknown_kid, "0" * 64):
        resp = _get(oidc_cluster, "/system/services", token)
        assert resp.status_code in (400, 401), (resp.status_code, resp.text)
        assert token not in resp.text
    resp = _get(oidc_cluster, "/system/services", other_issuer)
    assert resp.status_code == 401 and "'https://evil.example/realms/egi' is not listed" in resp.text
    resp = _get(oidc_cluster, "/system/services", "not-a-jwt")
    assert resp.status_code == 400 and "malformed" in resp.text and "not-a-jwt" not in resp.text
    with pytest.raises(errors.AuthError) as info:
        oj.connect(oidc_cluster.endpoint, token=expired, id="expired")
    assert expired not in str(info.value) and expired not in repr(info.value)


def test_user_outside_the_vo_is_refused(oidc_cluster, issuer):
    """The Manager admits only members of its groups; others get 401 (not 403) on /system."""
    outsider = issuer.user("urn:mace:egi.eu:group:another.vo:role=member#aai.egi.eu")
    token = issuer.token(outsider)
    assert _get(oidc_cluster, "/system/info", token).status_code == 401
    with pytest.raises(errors.AuthError) as info:
        oj.connect(oidc_cluster.endpoint, token=token, id="outsider")
    assert token not in str(info.value)


def test_owners_and_visibility(oidc_cluster, issuer, alice, bob):
    a, b = issuer.token(alice), issuer.token(bob)
    admin = (oidc_cluster.user, oidc_cluster.password)
    url = oidc_cluster.endpoint + "/system/services"
    private, public, restricted = ("tp-" + uuid.uuid4().hex[:8] for _ in range(3))
    for name, extra in ((private, {}), (public, {"visibility": "public"}),
                        (restricted, {"visibility": "restricted", "allowed_users": [bob]})):
        resp = requests.post(url, json=_definition(name, **extra), headers={"Authorization": f"Bearer {a}"},
                             timeout=30)
        assert resp.status_code == 201, resp.text
    try:
        seen_by_bob = {s["name"] for s in _get(oidc_cluster, "/system/services", b).json()}
        assert public in seen_by_bob and restricted in seen_by_bob and private not in seen_by_bob
        resp = _get(oidc_cluster, f"/system/services/{private}", b)
        assert resp.status_code == 403 and bob in resp.text
        assert _get(oidc_cluster, f"/system/logs/{private}", b).status_code == 403
        assert _get(oidc_cluster, f"/system/services/{private}/deployment", b).status_code == 403
        spec = _get(oidc_cluster, f"/system/services/{public}", b).json()
        assert spec["owner"] == alice
        resp = requests.put(url, json=_definition(public, memory="64Mi"),
                            headers={"Authorization": f"Bearer {b}"}, timeout=30)
        assert resp.status_code == 403
        resp = requests.delete(f"{url}/{public}", headers={"Authorization": f"Bearer {b}"}, timeout=30)
        assert resp.status_code == 403
        # the admin sees everything; alice sees her own
        assert {private, public, restricted} <= {s["name"] for s in requests.get(url, auth=admin, timeout=30).json()}
        assert _get(oidc_cluster, f"/system/services/{private}", a).json()["owner"] == alice
        # a JWT on /run: allowed for a service the user may see, 403 for another's private one
        run = oidc_cluster.endpoint + "/run/"
        assert requests.post(run + public, data=b"eA==", headers={"Authorization": f"Bearer {b}"},
                             timeout=60).status_code == 200
        assert requests.post(run + private, data=b"eA==", headers={"Authorization": f"Bearer {b}"},
                             timeout=60).status_code == 403
        # through the client: another owner's private service is an AuthError naming nothing secret
        c = oj.connect(oidc_cluster.endpoint, token=b, id="bob-client")
        try:
            with pytest.raises(errors.AuthError) as info:
                c.service(private)
            assert b not in str(info.value)
            assert private not in [s.name for s in c.services()]
        finally:
            oj.disconnect(c)
    finally:
        for name in (private, public, restricted):
            requests.delete(f"{url}/{name}", auth=admin, timeout=60)


def test_userinfo_is_cached_per_token(oidc_cluster, issuer, bob):
    token = issuer.token(bob)
    before = issuer.userinfo_calls
    for _ in range(3):
        assert _get(oidc_cluster, "/system/info", token).status_code == 200
    assert issuer.userinfo_calls - before == 1


def _segment(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_hostile_tokens(oidc_cluster, issuer, alice):
    exp = int(time.time()) + 300
    claims = {"iss": issuer.issuer, "sub": alice, "exp": exp}
    public_pem = issuer.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    hostile = {
        "alg none": f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}.",
        "HS256 keyed with the public key": _hs256(claims, public_pem),
        "payload is a list": f"{_segment({'alg': 'RS256', 'kid': 'k1'})}.{_segment([1, 2])}.c2ln",
        "iss is a number": jwt.PyJWS().encode(json.dumps(dict(claims, iss=12)).encode(), issuer.key,
                                              algorithm="RS256", headers={"kid": "k1"}),
        "no exp": jwt.encode({"iss": issuer.issuer, "sub": alice}, issuer.key, algorithm="RS256",
                             headers={"kid": "k1"}),
        "header not JSON": "bm90IGpzb24." + _segment(claims) + ".c2ln",
        "huge": "a" * 6000 + "." + "b" * 1000 + ".c",
    }
    for label, token in hostile.items():
        resp = _get(oidc_cluster, "/system/services", token)
        assert resp.status_code in (400, 401), (label, resp.status_code, resp.text)
        assert token not in resp.text, label
    # the server still serves good tokens afterwards
    assert _get(oidc_cluster, "/system/services", issuer.token(alice)).status_code == 200


def _hs256(claims: dict, secret: bytes) -> str:
    import hashlib
    import hmac
    head = _segment({"alg": "HS256", "typ": "JWT", "kid": "k1"})
    body = _segment(claims)
    sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


def test_tokens_never_reach_the_server_log(oidc_cluster, issuer, alice, bob):
    tokens = [issuer.token(alice), issuer.token(bob, expires_in=-5), issuer.token(alice, key=issuer.other_key)]
    for token in tokens:
        _get(oidc_cluster, "/system/services", token)
    log = requests.get(oidc_cluster.endpoint + "/system/logs/", params={"timestamps": "true"},
                       auth=(oidc_cluster.user, oidc_cluster.password), timeout=30).text
    for token in tokens:
        assert token not in log and token.split(".")[2] not in log


def test_oidc_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match="at least one OIDC group"):
        local.start(data_dir=str(tmp_path / "a"), oidc_issuer="https://aai.example/realms/egi")
    with pytest.raises(ValueError, match="http"):
        local.start(data_dir=str(tmp_path / "b"), oidc_issuer="ftp://aai.example", oidc_groups=(VO,))
    for args, message in ((["--oidc-issuer", "https://aai.example"], "needs at least one --oidc-group"),
                          (["--oidc-group", VO], "--oidc-group needs --oidc-issuer")):
        done = subprocess.run([sys.executable, "-m", "oscar_jupyter.local", "--port", "0",
                               "--data-dir", str(tmp_path / "cli"), *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and message in done.stderr


def test_bearer_without_oidc_is_refused(local_cluster, issuer, alice):
    resp = _get(local_cluster, "/system/services", issuer.token(alice))
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Basic")


def test_buckets_follow_their_services_visibility(oidc_cluster, issuer, alice, bob):
    a, b = issuer.token(alice), issuer.token(bob)
    admin = (oidc_cluster.user, oidc_cluster.password)
    name = "tb-" + uuid.uuid4().hex[:8]
    own = "tb-" + uuid.uuid4().hex[:8]
    base = oidc_cluster.endpoint + "/system/buckets"
    assert requests.post(oidc_cluster.endpoint + "/system/services", json=_definition(name),
                         headers={"Authorization": f"Bearer {a}"}, timeout=30).status_code == 201
    try:
        resp = requests.post(base, json={"bucket_name": own}, headers={"Authorization": f"Bearer {b}"}, timeout=30)
        assert resp.status_code == 201
        listed_b = {x["bucket_name"] for x in _get(oidc_cluster, "/system/buckets", b).json()}
        listed_a = {x["bucket_name"] for x in _get(oidc_cluster, "/system/buckets", a).json()}
        assert own in listed_b and name not in listed_b
        assert name in listed_a and own not in listed_a
        assert _get(oidc_cluster, f"/system/buckets/{name}", b).status_code == 403
        assert _get(oidc_cluster, f"/system/buckets/{name}", a).status_code == 200
        presign = requests.post(f"{base}/{name}/presign", json={"object_key": "in/x", "operation": "upload"},
                                headers={"Authorization": f"Bearer {b}"}, timeout=30)
        assert presign.status_code == 403
        assert requests.delete(f"{base}/{own}", headers={"Authorization": f"Bearer {a}"},
                               timeout=30).status_code == 403
        assert requests.delete(f"{base}/{own}", headers={"Authorization": f"Bearer {b}"},
                               timeout=30).status_code == 204
        assert name in {x["bucket_name"] for x in requests.get(base, auth=admin, timeout=30).json()}
    finally:
        requests.delete(f"{oidc_cluster.endpoint}/system/services/{name}", auth=admin, timeout=60)
        requests.delete(f"{base}/{own}", auth=admin, timeout=30)
