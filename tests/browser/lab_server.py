"""A JupyterLab server process for browser tests: started on a free loopback port, stopped by PID."""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Optional

import requests

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LabServer:
    """`jupyter lab` serving `root` without a token, with `env` passed to its kernels."""

    def __init__(self, root: Path, env: Dict[str, str], log_path: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = dict(os.environ)
        self.env.update(env)
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO), self.env.get("PYTHONPATH", "")) if p)
        self.env["JUPYTER_CONFIG_DIR"] = str(root / ".jupyter-config")
        self.env["JUPYTER_RUNTIME_DIR"] = str(root / ".jupyter-runtime")
        self.env.setdefault("MPLBACKEND", "Agg")
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 90.0) -> "LabServer":
        """Start the server and wait until its API answers."""
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", "--ServerApp.port_retries=0",
               f"--ServerApp.root_dir={self.root}", "--IdentityProvider.token=",
               "--ServerApp.password=", "--ServerApp.allow_root=True", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.expose_app_in_browser=True"]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}; "
                                   f"see {self.log_path}")
            try:
                if requests.get(f"{self.url}/api/status", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        """Terminate the server (and its kernels) by process group."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()
