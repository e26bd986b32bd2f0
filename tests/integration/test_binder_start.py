"""binder/start, as Binder runs it at every launch: the embedded cluster comes up in
the background and a kernel's plain `oscar_jupyter.connect()` reaches it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_binder_start_serves_a_cluster_the_notebooks_connect_to(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSCAR_")}
    env.update(HOME=str(tmp_path), OSCAR_LOCAL_PORT=str(port))
    code = ("import os, oscar_jupyter as oj\n"
            "c = oj.connect()\n"
            "print(c.endpoint, c.info()['version'], 'OSCAR_LOCAL_PASSWORD' in os.environ)\n")
    proc = subprocess.run(["bash", str(ROOT / "binder" / "start"), sys.executable, "-c", code],
                          env=env, capture_output=True, text=True, timeout=120)
    try:
        assert proc.returncode == 0, proc.stderr
        endpoint, version, leaked = proc.stdout.split()
        assert endpoint == f"http://127.0.0.1:{port}"
        assert version == "4.1.2"  # the default release
        assert leaked == "False"  # the admin password reaches kernels only as OSCAR_PASSWORD
        assert (tmp_path / ".oscar-local" / "endpoint.json").exists()
    finally:
        for p in psutil.process_iter(["cmdline"]):
            cmd = p.info["cmdline"] or []
            if "oscar-local" in " ".join(cmd) and str(port) in cmd:
                p.send_signal(signal.SIGTERM)
                p.wait(30)
