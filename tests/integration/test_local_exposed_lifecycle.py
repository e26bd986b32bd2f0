"""Exposed services' lifecycle over real HTTP: crashes, stop/start/restart, autoscaling.

Short probe intervals and a 3-second scale-down window (a cluster's HPA
waits 5 minutes) keep the module quick.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import Counter
from typing import Any, Callable, Iterator

import psutil
import pytest
import requests

from exposed_backend import FRONTS, admin_session, backend, exposed_cluster, replica_port
from oscar_jupyter.local.exposed.frontdoor import WORKERS, nginx_binary
from oscar_jupyter.local.exposed.launch import detect

# several replicas of a script bound to one port need a network namespace each
needs_namespaces = pytest.mark.skipif(detect().single, reason=detect().reason or "no network namespaces")

TIMINGS = {"startup_interval": 0.1, "probe_period": 0.5, "stop_grace": 5.0, "drain_timeout": 10.0}
SCALING = {"period": 0.5, "downscale_window": 3.0}


@pytest.fixture(scope="module", params=FRONTS)
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with exposed_cluster(request.param, str(tmp_path_factory.mktemp("exposed-life")), timings=TIMINGS,
                         scaling=SCALING) as c:
        yield c


@pytest.fixture
def admin(cluster: Any) -> Iterator[requests.Session]:
    with admin_session(cluster) as s:
        yield s


@pytest.fixture
def deploy(cluster: Any, admin: requests.Session, unique_name: str) -> Iterator[Callable[..., str]]:
    made: list[str] = []

    def make(cpu: str = "0.5", **expose: Any) -> str:
        port = replica_port()
        spec = {"name": unique_name, "image": "python:3", "cpu": cpu, "script": backend(port),
                "expose": {"api_port": [port], **expose}}
        r = admin.post(cluster.endpoint + "/system/services", json=spec, timeout=60)
        assert r.status_code == 201, r.text
        made.append(unique_name)
        wait_state(cluster, admin, unique_name, "ready")
        return unique_name

    yield make
    for name in made:
        admin.delete(f"{cluster.endpoint}/system/services/{name}", timeout=60)


def status(cluster: Any, admin: requests.Session, name: str) -> dict:
    return admin.get(f"{cluster.endpoint}/system/services/{name}/deployment", timeout=30).json()


def wait_state(cluster: Any, admin: requests.Session, name: str, state: str, timeout: float = 90,
               instances: int | None = None) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = status(cluster, admin, name)
        if got["state"] == state and (instances is None or got["active_instances"] == instances):
            return got
        assert time.monotonic() < deadline, f"{name} never became {state}/{instances}: {got}"
        time.sleep(0.1)


def url(cluster: Any, name: str, path: str = "") -> str:
    return f"{cluster.endpoint}/system/services/{name}/exposed/{path}"


def pids(cluster: Any, name: str, n: int = 20) -> set[str]:
    return {requests.get(url(cluster, name, "who"), timeout=30).json()["pid"] for _ in range(n)}


class Hammer:
    """Clients sending requests in a loop, counting answers by status (``post``: every other
    request a POST with a body, which no proxy may retry once sent)."""

    def __init__(self, target: str, clients: int = 2, post: bool = False) -> None:
        self.target = target
        self.post = post
        self.counts: Counter = Counter()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        with requests.Session() as s:
            n = 0
            while not self._stop.is_set():
                n += 1
                try:
                    if self.post and n % 2:
                        r = s.post(self.target, data=b"x" * 1000, timeout=30)
                    else:
                        r = s.get(self.target, timeout=30)
                    self.counts[r.status_code] += 1
                    if r.status_code != 200:
                        self.errors.append(f"{r.status_code} {r.headers.get('Server')}: {r.text[:200]}")
                except requests.RequestException as exc:
                    self.errors.append(repr(exc))

    def __enter__(self) -> "Hammer":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)


@needs_namespaces
def test_a_killed_replica_is_restarted(cluster, admin, deploy):
    name = deploy(min_scale=2)
    before = pids(cluster, name)
    assert len(before) == 2
    # the replica's processes on this machine (inside, pids are their namespace's): those of its directory
    dirs = sorted({part.rsplit("/", 1)[0] for p in psutil.process_iter(["cmdline"])
                   for part in (p.info["cmdline"] or []) if f"/{name}-" in part and part.endswith("/script.sh")})
    assert len(dirs) == 2, dirs
    for proc in psutil.process_iter(["cmdline"]):
        if any(part.startswith(dirs[0] + "/") for part in proc.info["cmdline"] or []):
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        now = status(cluster, admin, name)
        if now["state"] == "ready" and now["active_instances"] == 2:
            after = pids(cluster, name)
            if len(after) == 2 and after != before and len(after & before) == 1:
                break
        assert time.monotonic() < deadline, now
        time.sleep(0.2)
    logs = admin.get(f"{cluster.endpoint}/system/services/{name}/deployment/logs", timeout=30).json()
    assert sum(e["message"].startswith("backend listening") for e in logs["entries"]) == 3


@needs_namespaces
def test_a_request_in_flight_when_its_replica_dies_is_a_502(cluster, admin, deploy):
    name = deploy(min_scale=2)
    r = requests.post(url(cluster, name, "die"), data=b"x", timeout=30)
    assert r.status_code == 502 and "Bad Gateway" in r.text
    wait_state(cluster, admin, name, "ready", instances=2)
    with Hammer(url(cluster, name, "x")) as h:
        time.sleep(1.0)
    assert set(h.counts) == {200} and not h.errors, h.errors


@needs_namespaces
def test_stop_start_and_a_rolling_restart_without_failed_requests(cluster, admin, deploy):
    name = deploy(min_scale=2)
    before = pids(cluster, name)
    with Hammer(url(cluster, name, "x")) as h:
        time.sleep(0.5)
        got = admin.post(f"{cluster.endpoint}/system/services/{name}/restart", timeout=30)
        assert got.status_code == 200 and got.json()["resource_kind"] == "exposed_service"
        deadline = time.monotonic() + 90
        while True:
            time.sleep(0.3)
            now = status(cluster, admin, name)
            if now["state"] == "ready" and now["active_instances"] == 2 and not (pids(cluster, name, 10) & before):
                break
            assert time.monotonic() < deadline, now
        time.sleep(0.5)
    assert set(h.counts) == {200}, h.counts
    assert not h.errors and sum(h.counts.values()) > 20

    stopped = admin.post(f"{cluster.endpoint}/system/services/{name}/stop", timeout=30).json()
    assert stopped["state"] == "stopped" and stopped["reason"] == "Deployment is stopped."
    wait_state(cluster, admin, name, "stopped", instances=0)
    deadline = time.monotonic() + 30
    while (off := requests.get(url(cluster, name, "x"), timeout=30)).status_code != 503:
        assert off.status_code == 200 and time.monotonic() < deadline  # a draining replica finishing
        time.sleep(0.1)
    assert off.headers["Retry-After"]
    started = admin.post(f"{cluster.endpoint}/system/services/{name}/start", timeout=30).json()
    assert started["state"] in ("pending", "ready")
    wait_state(cluster, admin, name, "ready", instances=2)
    assert requests.get(url(cluster, name, "x"), timeout=30).status_code == 200


@needs_namespaces
def test_rolling_restarts_and_scaling_drop_no_request(cluster, admin, deploy):
    name = deploy(min_scale=2, max_scale=4)
    spec = admin.get(f"{cluster.endpoint}/system/services/{name}", timeout=30).json()

    def scale(n: int) -> None:
        spec["expose"]["min_scale"] = n
        got = admin.put(f"{cluster.endpoint}/system/services", json=spec, timeout=30)
        assert got.status_code in (200, 204), got.text
        wait_state(cluster, admin, name, "ready", instances=n)

    with Hammer(url(cluster, name, "x"), clients=3, post=True) as h:
        for _ in range(3):
            before = pids(cluster, name, 10)
            assert admin.post(f"{cluster.endpoint}/system/services/{name}/restart", timeout=30).status_code == 200
            deadline = time.monotonic() + 90
            while not (status(cluster, admin, name)["state"] == "ready"
                       and not (pids(cluster, name, 10) & before)):
                assert time.monotonic() < deadline, status(cluster, admin, name)
                time.sleep(0.3)
            scale(4)
            scale(1)
            scale(2)
        time.sleep(0.5)
    assert not h.errors, h.errors[:5]
    assert set(h.counts) == {200} and sum(h.counts.values()) > 100, h.counts


def _nginx_workers(cluster: Any) -> set[int] | None:
    """The pids of the nginx workers serving ``cluster`` once a reload in progress has settled (None
    behind aiohttp): a reload replaces them."""
    port = int(cluster.endpoint.rsplit(":", 1)[1])
    deadline = time.monotonic() + 10
    while True:
        found = None
        for proc in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if proc.name() == "nginx" and proc.parent().name() != "nginx" and any(
                        c.laddr and c.laddr[1] == port and c.status == psutil.CONN_LISTEN
                        for c in proc.net_connections("tcp")):
                    found = {w.pid for w in proc.children() if "shutting down" not in " ".join(w.cmdline())}
        if found is None or len(found) == WORKERS or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_creating_and_deleting_services_drops_no_request_of_another(request, cluster, admin, deploy, unique_name):
    name = deploy()
    workers = _nginx_workers(cluster)
    assert (workers is not None) == (request.node.callspec.params["cluster"] == "nginx")
    # an idle keep-alive API connection, as a notebook's client holds between cells
    idle = requests.Session()
    idle.auth = (cluster.user, cluster.password)
    assert idle.get(cluster.endpoint + "/system/info", timeout=30).status_code == 200
    with Hammer(url(cluster, name, "x"), clients=3, post=True) as h:
        for i in range(4):
            other = f"{unique_name[:30]}-o{i}"
            port = replica_port()
            spec = {"name": other, "image": "python:3", "script": backend(port), "expose": {"api_port": [port]}}
            assert admin.post(cluster.endpoint + "/system/services", json=spec, timeout=60).status_code == 201
            wait_state(cluster, admin, other, "ready")
            admin.delete(f"{cluster.endpoint}/system/services/{other}", timeout=60)
            assert requests.get(url(cluster, other, "x"), timeout=30).status_code == 404
    assert sum(h.counts.values()) > 100, h.counts
    assert not h.errors, h.errors[:5]
    # nginx was never reloaded: the same workers, and the idle connection still open and served
    assert _nginx_workers(cluster) == workers
    assert idle.get(cluster.endpoint + "/system/info", timeout=30).status_code == 200


@needs_namespaces
@pytest.mark.skipif(nginx_binary("nginx") is None, reason="nginx is not installed")
def test_running_out_of_nginx_bays_reloads_once_and_routes_every_service(tmp_path):
    from oscar_jupyter import local

    with local.start(data_dir=str(tmp_path / "d"), port=0, password="pw", api_version="4.1",
                     extra={"exposed": {"timings": TIMINGS, "front": "nginx", "bays": 1}}) as c:
        s = requests.Session()
        s.auth = (c.user, c.password)
        workers = []
        for name in ("first", "second", "third"):
            spec = {"name": name, "image": "x", "script": backend(8080), "expose": {"api_port": [8080]}}
            assert s.post(c.endpoint + "/system/services", json=spec, timeout=30).status_code == 201
            wait_state(c, s, name, "ready")
            workers.append(_nginx_workers(c))
        # bays: 1, then 2 for the second service (one reload), then 4 for the third (another)
        assert workers[0] != workers[1] != workers[2]
        s.delete(c.endpoint + "/system/services/first", timeout=30)
        spec = {"name": "fourth", "image": "x", "script": backend(8080), "expose": {"api_port": [8080]}}
        assert s.post(c.endpoint + "/system/services", json=spec, timeout=30).status_code == 201
        wait_state(c, s, "fourth", "ready")
        assert _nginx_workers(c) == workers[2]  # a free bay: no reload
        for name in ("second", "third", "fourth"):
            assert requests.get(url(c, name, "who"), timeout=30).status_code == 200
        assert requests.get(url(c, "first", "who"), timeout=30).status_code == 404


@needs_namespaces
def test_scales_up_under_load_and_back_down_when_idle(cluster, admin, deploy):
    name = deploy(cpu="0.1", min_scale=1, max_scale=3, cpu_threshold=50)
    assert status(cluster, admin, name)["active_instances"] == 1
    with Hammer(url(cluster, name, "burn?s=0.2"), clients=3):
        wait_state(cluster, admin, name, "ready", timeout=60, instances=3)
    wait_state(cluster, admin, name, "ready", timeout=60, instances=1)


def test_a_script_that_never_answers_fails_its_startup_probe(tmp_path):
    from oscar_jupyter import local

    timings = dict(TIMINGS, startup_budget=2.0)
    with local.start(data_dir=str(tmp_path / "d"), port=0, password="pw", api_version="4.1",
                     extra={"exposed": {"timings": timings}}) as c:
        s = requests.Session()
        s.auth = (c.user, c.password)
        spec = {"name": "silent", "image": "x", "script": "echo never listening; sleep 600",
                "expose": {"api_port": [8080]}}
        assert s.post(c.endpoint + "/system/services", json=spec, timeout=30).status_code == 201
        got = wait_state(c, s, "silent", "failed", timeout=60)
        assert "startup probe" in got["reason"] and "8080" in got["reason"]
        assert requests.get(url(c, "silent", ""), timeout=30).status_code == 503


def test_v3_serves_the_exposed_path_but_not_the_v4_routes(tmp_path):
    from oscar_jupyter import local

    with local.start(data_dir=str(tmp_path / "d"), port=0, password="pw", api_version="3.7",
                     extra={"exposed": {"timings": TIMINGS}}) as c:
        s = requests.Session()
        s.auth = (c.user, c.password)
        port = replica_port()
        spec = {"name": "old", "image": "x", "script": backend(port), "expose": {"api_port": port}}
        assert s.post(c.endpoint + "/system/services", json=spec, timeout=30).status_code == 201
        deadline = time.monotonic() + 60
        while requests.get(url(c, "old", "x"), timeout=30).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert s.get(c.endpoint + "/system/services/old", timeout=30).json()["expose"]["api_port"] == port
        for path in ("stop", "start", "restart"):
            assert s.post(f"{c.endpoint}/system/services/old/{path}", timeout=30).status_code == 404
        # no such route on v3: gin's 404 page, credentials or not
        for auth in (s.auth, None):
            gone = requests.get(f"{c.endpoint}/system/services/old/auth", auth=auth, timeout=30)
            assert (gone.status_code, gone.text) == (404, "404 page not found")


def test_without_network_namespaces_one_replica_runs_and_the_reason_says_so(tmp_path):
    from oscar_jupyter import local

    with local.start(data_dir=str(tmp_path / "d"), port=0, password="pw", api_version="4.1",
                     extra={"exposed": {"timings": TIMINGS, "network": "none"}}) as c:
        s = requests.Session()
        s.auth = (c.user, c.password)
        spec = {"name": "single", "image": "x", "script": backend(port=free_port()),
                "expose": {"api_port": [8080], "min_scale": 2}}
        spec["expose"]["api_port"] = [int(spec["script"].split("PORT = ")[1].split()[0])]
        assert s.post(c.endpoint + "/system/services", json=spec, timeout=30).status_code == 201
        got = wait_state(c, s, "single", "ready", timeout=60, instances=1)
        assert "Only 1 replica runs on this machine" in got["reason"] and "switched off" in got["reason"]
        assert requests.get(url(c, "single", "x"), timeout=30).json()["path"] == "/x"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_stored_exposed_service_runs_again_after_oscar_local_restarts(tmp_path):
    from oscar_jupyter import local

    data = str(tmp_path / "d")
    port = replica_port()
    spec = {"name": "again", "image": "x", "script": backend(port), "expose": {"api_port": [port]}}
    with local.start(data_dir=data, port=0, password="pw", api_version="4.1",
                     extra={"exposed": {"timings": TIMINGS}}) as c:
        s = requests.Session()
        s.auth = (c.user, c.password)
        assert s.post(c.endpoint + "/system/services", json=spec, timeout=30).status_code == 201
        first = wait_state(c, s, "again", "ready")
        pid = requests.get(url(c, "again", "x"), timeout=30).json()["pid"]
    assert first["active_instances"] == 1
    with local.start(data_dir=data, port=0, password="pw", api_version="4.1",
                     extra={"exposed": {"timings": TIMINGS}}) as c:
        s = requests.Session()
        s.auth = (c.user, c.password)
        wait_state(c, s, "again", "ready", instances=1)
        assert requests.get(url(c, "again", "x"), timeout=30).json()["pid"] != pid
