"""The README's commands do what it says, run as it shows them (with a free port and a
temporary data dir in place of 8800 and ~/.oscar-local)."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_block(after_heading: str) -> str:
    """The first ```bash block after a heading of the README."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(after_heading):]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def test_the_curl_example_finds_its_password_where_the_readme_says(tmp_path: Path) -> None:
    block = readme_block("## oscar-local on its own")
    port = str(_free_port())
    lines = [l.split("  #")[0].strip().replace("8800", port).replace("~/.oscar-local", str(tmp_path / "d"))
             for l in block.strip().splitlines()]
    start, rest = lines[0], lines[1:]
    assert start.endswith("&") and any("$PASSWORD" in l for l in rest)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSCAR_")}
    server = subprocess.Popen(["bash", "-c", "exec " + start.rstrip("&").strip()], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, "oscar-local did not start"
                time.sleep(0.3)
        proc = subprocess.run(["bash", "-euc", "\n".join(rest).replace("curl ", "curl -sf ")], env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert '"version"' in proc.stdout, proc.stdout  # /system/info answered the README's credentials
    finally:
        server.terminate()
        server.communicate(timeout=60)
