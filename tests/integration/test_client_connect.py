"""connect() modes and credentials against a real oscar-local over HTTP.

oscar-local accepts Basic credentials on /system and service tokens on /run
(no OIDC issuer), so the bearer modes are exercised on /run with a service
token; the refresh-token flow runs against a real token endpoint started
here (aiohttp) that hands out that service token.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
import uuid
from typing import Any, Dict, List

import pytest
from aiohttp import web

import oscar_jupyter as oj
from oscar_jupyter import auth, errors


pytestmark = pytest.mark.usefixtures("isolated_connections")


@pytest.fixture
def echo_service(local_cluster, unique_name):
    c = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password)
    [svc] = c.apply({"name": unique_name, "image": "local/echo",
                     "script": 'echo "hi $(cat "$INPUT_FILE_PATH")"'})
    yield svc
    c.delete(unique_name)


def test_basic_auth_and_info(local_cluster):
    c = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password)
    assert c.info()["version"] and c.health()
    assert c.config()["minio_provider"]["secret_key"] == "***"
    assert local_cluster.password not in repr(c)


def test_wrong_password_is_auth_error_without_the_password(local_cluster):
    wrong = "wrong-" + uuid.uuid4().hex
    with pytest.raises(errors.AuthError) as info:
        oj.connect(local_cluster.endpoint, user="oscar", password=wrong)
    assert wrong not in str(info.value) and "refused the credentials" in str(info.value)


def test_wrong_token_on_run_is_auth_error(local_cluster, echo_service):
    bad = "0" * 64
    c = oj.connect(local_cluster.endpoint, token=bad, check=False)
    svc = oj.Service(c, echo_service.name, spec={"name": echo_service.name, "token": bad})
    with pytest.raises(errors.AuthError) as info:
        svc.run("x")
    assert bad not in str(info.value)


def test_bearer_token_used_on_run(local_cluster, echo_service, caplog):
    caplog.set_level(logging.DEBUG)
    token = echo_service.token
    c = oj.connect(local_cluster.endpoint, token=token, check=False)
    with pytest.raises(errors.AuthError):  # /system refuses a service token
        c.info()
    svc = oj.Service(c, echo_service.name)  # no token known: the connection's bearer is used
    assert svc.run("bearer").text.strip() == "hi bearer"
    assert token not in caplog.text and token not in repr(c)


class TokenEndpoint:
    """A real OIDC-style token endpoint on loopback (refresh_token grant only)."""

    def __init__(self, access_token, refresh_token: str, expires_in: int = 3600) -> None:
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.expires_in = expires_in
        self.requests: List[Dict[str, Any]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.requests.append(form)
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return web.json_response({"error": "invalid_grant", "error_description": "Token is not active"},
                                     status=400)
        token = self.access_token() if callable(self.access_token) else self.access_token
        return web.json_response({"access_token": token, "token_type": "Bearer",
                                  "expires_in": self.expires_in})

    def __enter__(self) -> "TokenEndpoint":
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            app = web.Application()
            app.router.add_post("/token", self.handle)
            self.runner = web.AppRunner(app)
            loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}/token"
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.runner.cleanup())
            loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_refresh_token_flow_against_a_real_token_endpoint(local_cluster, echo_service, caplog):
    caplog.set_level(logging.DEBUG)
    refresh = "rt-" + uuid.uuid4().hex
    with TokenEndpoint(echo_service.token, refresh) as issuer:
        c = oj.connect(local_cluster.endpoint, refresh_token=refresh, token_endpoint=issuer.url,
                       client_id="my-client", check=False)
        svc = oj.Service(c, echo_service.name)
        assert svc.run("one").text.strip() == "hi one"
        assert svc.run("two").text.strip() == "hi two"
        assert len(issuer.requests) == 1  # reused until close to expiry
        assert issuer.requests[0]["client_id"] == "my-client"
    assert refresh not in caplog.text and echo_service.token not in caplog.text


def _jwt(exp: float) -> str:
    def part(obj: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none'})}.{part({'exp': exp})}.sig"


def test_refresh_happens_before_jwt_expiry(local_cluster):
    refresh = "rt-" + uuid.uuid4().hex
    # every token expires 61 s after issue: inside the 60 s margin one second later
    with TokenEndpoint(lambda: _jwt(time.time() + 61), refresh, expires_in=99999) as issuer:
        c = oj.connect(local_cluster.endpoint, refresh_token=refresh, token_endpoint=issuer.url, check=False)
        first = c.auth.bearer_token()
        assert c.auth.bearer_token() == first and len(issuer.requests) == 1
        time.sleep(1.2)
        c.auth.bearer_token()
        assert len(issuer.requests) == 2


def test_refused_refresh_token_is_auth_error(local_cluster):
    with TokenEndpoint("x", "the-good-one") as issuer:
        c = oj.connect(local_cluster.endpoint, refresh_token="a-bad-refresh-token",
                       token_endpoint=issuer.url, check=False)
        with pytest.raises(errors.AuthError) as info:
            c.auth.bearer_token()
    assert "a-bad-refresh-token" not in str(info.value) and "Token is not active" in str(info.value)


def test_oscar_cli_config_file(local_cluster, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(f"""
oscar:
  other:
    endpoint: https://unused.example.org
    auth_user: x
    auth_password: y
  mine:
    endpoint: {local_cluster.endpoint}
    auth_user: {local_cluster.user}
    auth_password: {local_cluster.password}
    ssl_verify: 'False'
default: mine
""")
    c = oj.connect(config_path=path)
    assert c.id == "mine" and c.ssl_verify is False and c.services() is not None
    home_cfg = tmp_path / "home" / ".oscar-cli"
    home_cfg.mkdir(parents=True)
    (home_cfg / "config.yaml").write_text(path.read_text())
    assert oj.connect(cluster_id="mine").endpoint == local_cluster.endpoint


def test_environment_variables(local_cluster, monkeypatch):
    monkeypatch.setenv("OSCAR_ENDPOINT", local_cluster.endpoint)
    monkeypatch.setenv("OSCAR_USER", local_cluster.user)
    monkeypatch.setenv("OSCAR_PASSWORD", local_cluster.password)
    monkeypatch.setenv("OSCAR_SSL_VERIFY", "0")
    c = oj.connect()
    assert c.endpoint == local_cluster.endpoint and c.ssl_verify is False
    assert isinstance(c.services(), list)


def test_several_clusters_and_use(local_cluster):
    a = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password, id="a")
    b = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password, id="b")
    assert oj.current() is b and set(oj.clusters()) >= {"a", "b"}
    assert oj.use("a") is a and oj.current() is a


def test_local_on_demand_then_attach(tmp_path, monkeypatch):
    monkeypatch.setenv("OSCAR_LOCAL_DATA_DIR", str(tmp_path / "local"))
    first = oj.connect()  # nothing configured: oscar-local starts
    try:
        assert first.local is not None and first.local.owned and first.info()["version"]
        second = oj.connect()  # attaches to the one running on the same data dir
        assert second.endpoint == first.endpoint and not second.local.owned
    finally:
        first.local.stop()


def test_recreated_service_gets_its_new_token(local_cluster, unique_name):
    c = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password)
    data = {"name": unique_name, "image": "x", "script": "echo again"}
    [svc] = c.apply(data)
    old = svc.token
    c.delete(unique_name)
    c.apply(data)  # a new service, a new token; `svc` still holds the old one
    try:
        assert svc.run().text.strip() == "again" and svc.token != old
    finally:
        c.delete(unique_name)


def test_missing_service_is_not_found(local_cluster):
    c = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password)
    with pytest.raises(errors.NotFound):
        oj.Service(c, "no-such-service-here").run("x")
