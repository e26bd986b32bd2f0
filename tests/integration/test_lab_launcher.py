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
