"""Exposed services over real HTTP: replicas, the proxy path, auth, deployment state and logs.

One oscar-local answering as Manager v4.1 runs for the module, with short
probe intervals; every service's script is a real server process
(``exposed_backend``) that hard-codes its port.
"""
from __future__ import annotations

import base64
import time
from typing import Any, Callable, Iterator

import pytest
import requests

from exposed_backend import FRONTS, admin_session, backend, exposed_cluster, replica_port
from oscar_jupyter.local.exposed.launch import detect

# several replicas of a script bound to one port need a network namespace each
needs_namespaces = pytest.mark.skipif(detect().single, reason=detect().reason or "no network namespaces")

TIMINGS = {"startup_interval": 0.1, "probe_period": 0.5, "stop_grace": 5.0, "drain_timeout": 10.0}


@pytest.fixture(scope="module", params=FRONTS)
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with exposed_cluster(request.param, str(tmp_path_factory.mktemp("exposed")), timings=TIMINGS) as c:
        yield c


@pytest.fixture
def admin(cluster: Any) -> Iterator[requests.Session]:
    with admin_session(cluster) as s:
        yield s


@pytest.fixture
def deploy(cluster: Any, admin: requests.Session, unique_name: str) -> Iterator[Callable[..., dict]]:
    made: list[str] = []

    def make(script: str | None = None, wait: bool = True, host: str = "127.0.0.1", **expose: Any) -> dict:
        name = unique_name if not made else f"{unique_name[:34]}-{len(made) + 1}"
        port = replica_port()
        spec: dict[str, Any] = {"name": name, "image": "python:3", "cpu": "0.5",
                                "script": script if script is not None else backend(port, host=host),
                                "expose": {"api_port": [port], **expose}}
        spec.update(spec["expose"].pop("fields", {}))
        r = admin.post(cluster.endpoint + "/system/services", json=spec, timeout=60)
        assert r.status_code == 201, r.text
        made.append(name)
        if wait:
            wait_state(cluster, admin, name, "ready")
        return admin.get(f"{cluster.endpoint}/system/services/{name}", timeout=30).json()

    yield make
    for name in made:
        admin.delete(f"{cluster.endpoint}/system/services/{name}", timeout=60)


def wait_state(cluster: Any, admin: requests.Session, name: str, state: str, timeout: float = 60,
               instances: int | None = None) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = admin.get(f"{cluster.endpoint}/system/services/{name}/deployment", timeout=30).json()
        if got["state"] == state and (instances is None or got["active_instances"] == instances):
            return got
        assert time.monotonic() < deadline, f"{name} never became {state}/{instances}: {got}"
        time.sleep(0.1)


def url(cluster: Any, name: str, path: str = "") -> str:
    return f"{cluster.endpoint}/system/services/{name}/exposed/{path}"


@needs_namespaces
def test_replicas_with_a_hard_coded_port_all_serve(cluster, admin, deploy):
    svc = deploy(min_scale=3)
    status = wait_state(cluster, admin, svc["name"], "ready", instances=3)
    assert status["resource_kind"] == "exposed_service"
    assert status["affected_instances"] == 0 and status["namespace"] == "oscar-svc"
    assert status["last_transition_time"].endswith("Z")
    pids = {requests.get(url(cluster, svc["name"], "who"), timeout=30).json()["pid"] for _ in range(30)}
    assert len(pids) == 3  # three servers bound to the same port 8080, each in its own namespace


def test_replica_environment_has_the_service_and_not_oscar_local(cluster, admin, deploy):
    svc = deploy(fields={"environment": {"variables": {"COLOUR": "blue"}, "secrets": {"API_SECRET": "s3cr3t"}}})
    env = requests.get(url(cluster, svc["name"], "env"), timeout=30).json()
    token = admin.get(f"{cluster.endpoint}/system/services/{svc['name']}", timeout=30).json()["token"]
    assert env["OSCAR_SERVICE_BASE_PATH"] == f"/system/services/{svc['name']}/exposed"
    assert env["OSCAR_SERVICE_NAME"] == svc["name"]
    assert env["OSCAR_SERVICE_TOKEN"] == token
    assert env["COLOUR"] == "blue" and env["API_SECRET"] == "s3cr3t"
    config = admin.get(cluster.endpoint + "/system/config", timeout=30).json()["minio_provider"]
    values = set(env.values())
    assert cluster.password not in values and config["secret_key"] not in values
    assert not any(cluster.password in v or config["secret_key"] in v for v in values)


@pytest.mark.parametrize("rewrite", [False, True])
def test_rewrite_target(cluster, deploy, rewrite):
    svc = deploy(rewrite_target=rewrite, health_path="/health")
    got = requests.get(url(cluster, svc["name"], "a/b%20c?x=1&y=2"), timeout=30).json()
    prefix = f"/system/services/{svc['name']}/exposed" if rewrite else ""
    assert got["path"] == prefix + "/a/b%20c?x=1&y=2"
    root = requests.get(f"{cluster.endpoint}/system/services/{svc['name']}/exposed", timeout=30).json()
    assert root["path"] == prefix + "/"


def test_methods_bodies_and_headers_pass_through(cluster, deploy):
    svc = deploy()
    r = requests.put(url(cluster, svc["name"], "thing"), data=b"12345", timeout=30)
    assert r.json() == {"path": "/thing", "pid": r.json()["pid"], "method": "PUT", "body": 5}
    assert requests.head(url(cluster, svc["name"], "thing"), timeout=30).status_code == 200
    assert requests.delete(url(cluster, svc["name"], "thing"), timeout=30).json()["method"] == "DELETE"


def test_websocket_echo_through_the_proxy(cluster, deploy):
    import asyncio

    import aiohttp

    svc = deploy()

    async def talk() -> list:
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(url(cluster, svc["name"], "ws").replace("http", "ws", 1)) as ws:
                await ws.send_str("hello")
                first = await ws.receive(timeout=30)
                await ws.send_bytes(b"abc")
                second = await ws.receive(timeout=30)
                return [first.data, second.data]

    assert asyncio.run(talk()) == ["echo:hello", b"cba"]


def test_set_auth_basic_refuses_wrong_credentials(cluster, admin, deploy):
    svc = deploy(set_auth=True)
    token = admin.get(f"{cluster.endpoint}/system/services/{svc['name']}", timeout=30).json()["token"]
    target = url(cluster, svc["name"], "x")
    for creds in (None, (svc["name"], "wrong"), ("someone", token), (cluster.user, cluster.password)):
        r = requests.get(target, auth=creds, timeout=30)
        assert r.status_code == 401, creds
        assert r.headers["WWW-Authenticate"] == 'Basic realm="Authentication Required"'
        assert token not in r.text
    assert requests.get(target, auth=(svc["name"], token), timeout=30).json()["path"] == "/x"


def test_forward_auth_takes_the_token_once_then_the_cookie(cluster, admin, deploy):
    svc = deploy(set_auth=True, auth_type="forward")
    name = svc["name"]
    token = admin.get(f"{cluster.endpoint}/system/services/{name}", timeout=30).json()["token"]
    assert requests.get(url(cluster, name, "x"), timeout=30).status_code == 401
    browser = requests.Session()
    first = browser.get(url(cluster, name, "x") + f"?token={token}", timeout=30)
    assert first.status_code == 200
    cookie = "oscar_service_" + name.replace("-", "_") + "_auth"
    assert browser.cookies.get(cookie) == token
    assert browser.get(url(cluster, name, "y"), timeout=30).json()["path"] == "/y"
    bearer = requests.get(url(cluster, name, "z"), headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert bearer.status_code == 200


def test_the_auth_endpoint_checks_as_the_manager(cluster, admin, deploy):
    svc = deploy(wait=False)
    name = svc["name"]
    token = admin.get(f"{cluster.endpoint}/system/services/{name}", timeout=30).json()["token"]
    auth = f"{cluster.endpoint}/system/services/{name}/auth"
    ok = requests.get(auth, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert ok.status_code == 200
    assert f"Path=/system/services/{name}/exposed" in ok.headers["Set-Cookie"]
    assert requests.get(auth, params={"token": token}, timeout=30).status_code == 200
    cookie = {"oscar_service_" + name.replace("-", "_") + "_auth": token}
    assert requests.get(auth, cookies=cookie, timeout=30).status_code == 200
    assert requests.get(auth, headers={"X-Forwarded-Uri": f"/x?token={token}"}, timeout=30).status_code == 200
    assert requests.get(auth, headers={"Authorization": "Bearer " + "0" * 64}, timeout=30).status_code == 401
    assert requests.get(auth, params={"token": "f" * 64}, timeout=30).status_code == 401
    anonymous = requests.get(auth, timeout=30)
    assert anonymous.status_code == 401 and "Basic" in anonymous.headers["WWW-Authenticate"]
    assert requests.get(auth, auth=(cluster.user, cluster.password), timeout=30).status_code == 200
    assert requests.get(auth, auth=(cluster.user, "nope"), timeout=30).status_code == 401
    missing = f"{cluster.endpoint}/system/services/no-such-svc/auth"
    assert requests.get(missing, params={"token": token}, timeout=30).status_code == 404


@needs_namespaces
def test_deployment_logs_are_stamped_per_line(cluster, admin, deploy):
    svc = deploy(min_scale=2)
    base = f"{cluster.endpoint}/system/services/{svc['name']}/deployment/logs"
    got = admin.get(base, params={"timestamps": "true"}, timeout=30).json()
    assert got["available"] is True and got["service_name"] == svc["name"]
    starts = [e for e in got["entries"] if e["message"].startswith("backend listening on 8080")]
    assert len(starts) == 2  # one line per replica
    assert all(len(e["timestamp"]) == 20 and e["timestamp"].endswith("Z") for e in got["entries"])
    plain = admin.get(base, params={"tailLines": "1"}, timeout=30).json()
    assert len(plain["entries"]) == 1 and "timestamp" not in plain["entries"][0]


def test_a_server_on_loopback_only_is_told_a_pod_would_not_be_reached(cluster, admin, deploy):
    # the relay (or the aiohttp proxy) reaches 127.0.0.1, a cluster's ingress reaches the pod's address
    told = "at a loopback address only"
    local_only = deploy()
    everywhere = deploy(host="0.0.0.0")
    assert requests.get(url(cluster, everywhere["name"], "x"), timeout=30).status_code == 200

    def said(name: str) -> list:
        got = admin.get(f"{cluster.endpoint}/system/services/{name}/deployment/logs", timeout=30).json()
        return [e["message"] for e in got["entries"] if told in e["message"]]

    lines = said(local_only["name"])
    assert len(lines) == 1 and "0.0.0.0" in lines[0] and lines[0].startswith("[oscar-local]"), lines
    assert said(everywhere["name"]) == []


@pytest.mark.parametrize("script", ["", None])
def test_default_command_without_a_script_is_refused(cluster, admin, unique_name, script):
    spec = {"name": unique_name, "image": "nginx", "script": script,
            "expose": {"api_port": [80], "default_command": True}}
    r = admin.post(cluster.endpoint + "/system/services", json=spec, timeout=30)
    assert r.status_code == 400
    assert "default_command" in r.text and "script" in r.text
    assert admin.get(f"{cluster.endpoint}/system/services/{unique_name}", timeout=30).status_code == 404


def test_not_ready_is_503_with_retry_after(cluster, admin, deploy):
    port = replica_port()
    svc = deploy(script=backend(port, delay=4), wait=False, api_port=[port])
    r = requests.get(url(cluster, svc["name"], "x"), timeout=30)
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert admin.get(f"{cluster.endpoint}/system/services/{svc['name']}/deployment",
                     timeout=30).json()["state"] == "pending"
    wait_state(cluster, admin, svc["name"], "ready")
    assert requests.get(url(cluster, svc["name"], "x"), timeout=30).status_code == 200


def test_unknown_or_unexposed_services_are_404(cluster, admin, unique_name):
    assert requests.get(url(cluster, "no-such-service", "x"), timeout=30).status_code == 404
    r = admin.post(cluster.endpoint + "/system/services", timeout=30,
                   json={"name": unique_name, "image": "alpine", "script": "echo hi"})
    assert r.status_code == 201
    try:
        assert requests.get(url(cluster, unique_name, "x"), timeout=30).status_code == 404
        r = admin.post(f"{cluster.endpoint}/system/services/{unique_name}/stop", timeout=30)
        assert r.status_code == 400 and r.text == f'service "{unique_name}" is not exposed'
    finally:
        admin.delete(f"{cluster.endpoint}/system/services/{unique_name}", timeout=30)


def test_lifecycle_routes_need_the_admin(cluster, deploy):
    svc = deploy(wait=False)
    r = requests.post(f"{cluster.endpoint}/system/services/{svc['name']}/stop", timeout=30)
    assert r.status_code == 401


def test_basic_header_value_is_not_logged(cluster, admin, deploy):
    svc = deploy(set_auth=True)
    bad = base64.b64encode(b"x:" + b"y" * 70).decode()
    assert requests.get(url(cluster, svc["name"]), headers={"Authorization": "Basic " + bad},
                        timeout=30).status_code == 401
    logs = admin.get(f"{cluster.endpoint}/system/services/{svc['name']}/deployment/logs", timeout=30).json()
    assert all("y" * 70 not in e["message"] for e in logs["entries"])
