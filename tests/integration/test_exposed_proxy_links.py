"""A browser behind JupyterHub/Binder reaches an exposed service on oscar-local through the
Jupyter server: the link `ExposedService.browser_url` builds goes through jupyter-server-proxy
(a real Jupyter server with a hub-like base URL, a real oscar-local, a real replica)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

import oscar_jupyter as oj

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from exposed_backend import backend  # noqa: E402

BASE = "/user/ana/"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`jupyter server` on a free loopback port under a JupyterHub-like base URL, no token."""
    pytest.importorskip("jupyter_server_proxy")
    root = tmp_path_factory.mktemp("jupyter")
    port = _free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_RUNTIME_DIR=str(root / "runtime"))
    cmd = [sys.executable, "-m", "jupyter", "server", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--ServerApp.base_url={BASE}", "--IdentityProvider.token=",
           "--ServerApp.password=", "--ServerApp.allow_root=True", f"--ServerApp.root_dir={root}"]
    with open(root / "server.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (root / "server.log").read_text()[-2000:]
            try:
                if requests.get(f"{url}{BASE}api/status", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "jupyter server did not start"
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from oscar_jupyter import local

    lc = local.start(data_dir=str(tmp_path_factory.mktemp("proxy-links")), port=0, password=uuid.uuid4().hex,
                     api_version="4.1",
                     extra={"exposed": {"timings": {"startup_interval": 0.1, "probe_period": 0.5}}})
    cl = oj.connect(lc.endpoint, user=lc.user, password=lc.password, id="proxy-links")
    try:
        [svc] = cl.apply({"name": "ui-" + uuid.uuid4().hex[:6], "image": "python:3", "cpu": "0.5",
                          "script": backend(), "expose": {"api_port": 8080, "health_path": "/health"}},
                         timeout=120)
        yield svc
    finally:
        oj.disconnect("proxy-links")
        lc.stop()


def test_the_link_behind_a_hub_goes_through_the_jupyter_server(jupyter, exposed, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", BASE)
    api = exposed.exposed
    link = api.browser_url("ui/page?x=1")
    port = api.base_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]
    assert link == f"{BASE}proxy/{port}/system/services/{exposed.name}/exposed/ui/page?x=1"
    answer = requests.get(jupyter + link, timeout=30)  # what the browser would fetch
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["path"] == "/ui/page?x=1"  # the replica got it, prefix stripped by OSCAR


def test_without_a_hub_the_link_is_direct(exposed, monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    monkeypatch.delenv("OSCAR_JUPYTER_PROXY_BASE", raising=False)
    api = exposed.exposed
    assert api.browser_url("x") == api.base_url + "x"
    assert requests.get(api.browser_url("x"), timeout=30).json()["path"] == "/x"


def test_the_models_web_ui_works_through_the_jupyter_proxy(jupyter, exposed, monkeypatch):
    """The digits model's page, opened by a real browser through the hub-style link: its script's
    relative requests reach the model through jupyter-server-proxy and OSCAR's route."""
    import shutil

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", BASE)
    [model] = exposed.cluster.apply(ROOT / "notebooks" / "models" / "digits" / "digits-exposed.yaml", timeout=300)
    try:
        link = model.exposed.browser_url("api")
        assert link.startswith(f"{BASE}proxy/")
        dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000",
                              "--dump-dom", jupyter + link], capture_output=True, text=True, timeout=120).stdout
        assert "Held-out accuracy" in dom, dom[-1500:]  # filled in by fetch('v2/models/digits/')
    finally:
        exposed.cluster.delete(model.name)
