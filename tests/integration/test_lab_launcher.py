"""`oscar-jupyter lab`: the README's main command starts the embedded cluster,
hands it to JupyterLab's kernels and stops it when JupyterLab exits."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, timeout: float = 90.0, **kw) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = requests.get(url, timeout=5, **kw)
            if r.status_code == 200:
                return r
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout} s")
        time.sleep(0.5)


def test_lab_serves_tutorials_with_the_embedded_cluster(tmp_path: Path) -> None:
    port = _free_port()
    data_dir = tmp_path / "oscar-local"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), JUPYTER_DATA_DIR=str(tmp_path / "data"))
    env.pop("OSCAR_LOCAL_PASSWORD", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "oscar_jupyter.lab", "lab", "--port", str(port),
         "--data-dir", str(data_dir), "--", "--IdentityProvider.token=test-token",
         "--LabApp.news_url=None"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status = _wait(f"http://127.0.0.1:{port}/api/status",
                       headers={"Authorization": "token test-token"})
        assert "started" in status.json()
        # The tutorials are what JupyterLab serves.
        contents = requests.get(f"http://127.0.0.1:{port}/api/contents",
                                headers={"Authorization": "token test-token"}, timeout=10).json()
        names = {item["name"] for item in contents["content"]}
        assert "01-getting-started.ipynb" in names
        # The embedded cluster answers, with the credentials it recorded.
        info = json.loads((data_dir / "endpoint.json").read_text())
        r = requests.get(info["endpoint"] + "/system/info", auth=(info["user"], info["password"]), timeout=10)
        assert r.status_code == 200 and "version" in r.json()
        endpoint = info["endpoint"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert info["password"] not in out, "the launcher printed the cluster password"
    assert endpoint in out
    # Stopping JupyterLab stopped the cluster too.
    try:
        requests.get(endpoint + "/health", timeout=3)
        stopped = False
    except requests.RequestException:
        stopped = True
    assert stopped, "oscar-local still answers after the launcher exited"


def test_sigterm_stops_lab_its_kernels_and_the_cluster(tmp_path: Path) -> None:
    """SIGTERM (a service manager's stop, `kill`) leaves nothing running: not JupyterLab,
    not its kernels (re-parented otherwise), not oscar-local. JupyterLab opens on the
    first tutorial, not on the Launcher."""
    import psutil

    port = _free_port()
    data_dir = tmp_path / "oscar-local"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), JUPYTER_DATA_DIR=str(tmp_path / "data"))
    env.pop("OSCAR_LOCAL_PASSWORD", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "oscar_jupyter.lab", "lab", "--port", str(port),
         "--data-dir", str(data_dir), "--", "--IdentityProvider.token=test-token",
         "--LabApp.news_url=None"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    auth = {"Authorization": "token test-token"}
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{base}/api/status", headers=auth)
        landing = requests.get(f"{base}/", headers=auth, timeout=10, allow_redirects=False)
        assert landing.status_code in (301, 302) and \
            landing.headers["Location"].split("?")[0].endswith("/lab/tree/01-getting-started.ipynb"), landing.headers
        for _ in range(2):
            r = requests.post(f"{base}/api/kernels", headers=auth, json={"name": "python3"}, timeout=60)
            assert r.status_code == 201, r.text
        deadline = time.monotonic() + 60
        tree: list = []
        while time.monotonic() < deadline:
            tree = psutil.Process(proc.pid).children(recursive=True)
            if sum("ipykernel" in " ".join(p.cmdline()) for p in tree if p.is_running()) >= 2:
                break
            time.sleep(0.5)
        kernels = [p for p in tree if "ipykernel" in " ".join(p.cmdline())]
        assert len(kernels) >= 2, [p.cmdline() for p in tree]
        endpoint = json.loads((data_dir / "endpoint.json").read_text())["endpoint"]
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                for p in psutil.Process(proc.pid).children(recursive=True):
                    p.kill()
                proc.kill()
                proc.communicate()
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive, f"still running after SIGTERM: {[p.cmdline() for p in alive]}"
    try:
        requests.get(endpoint + "/health", timeout=3)
        stopped = False
    except requests.RequestException:
        stopped = True
    assert stopped, "oscar-local still answers after SIGTERM"
