"""A fresh venv gets exactly what the README's first command installs, and every
tutorial executes there against an oscar-local started from that venv: a package the
tutorials (or their service scripts) need but the install leaves out fails here.

Then Binder's own requirements (binder/requirements.txt, a superset of the README's
install: checked below) go into the same venv and the first tutorial runs as Binder
runs it, under binder/start.

pip uses its cache, so after the first run this takes about two minutes.
"""
from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import time
import venv
from pathlib import Path

import pytest
import requests

from checkout_copy import copy_checkout

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(900)

DRIVER = r'''
import sys, time, nbformat
from nbclient import NotebookClient
failed = []
for path in sys.argv[1:]:
    t0 = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}}).execute()
        print(f"ok {path} {time.perf_counter() - t0:.1f}s", flush=True)
    except Exception as exc:
        failed.append(path)
        print(f"FAILED {path}: {str(exc)[-3000:]}", flush=True)
sys.exit(1 if failed else 0)
'''


def readme_install_command() -> list:
    """The pip part of the README's first command (`pip install ... && oscar-jupyter lab`)."""
    text = (ROOT / "README.md").read_text()
    first = re.search(r"```bash\n(.*?)\n", text).group(1)
    pip_part = first.split("#")[0].split("&&")[0].strip()
    words = shlex.split(pip_part)
    assert words[:2] == ["pip", "install"], first
    return words[2:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tutorials_run_in_a_venv_made_by_the_readme_install(tmp_path: Path) -> None:
    t0 = time.monotonic()
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    py = str(bin_dir / "python")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OSCAR_", "JUPYTER", "PYTHON", "VIRTUAL_ENV", "PIP_"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(env_dir),
               HOME=os.environ.get("HOME", str(tmp_path)),  # pip's cache lives there
               JUPYTER_CONFIG_DIR=str(tmp_path / "jcfg"), JUPYTER_RUNTIME_DIR=str(tmp_path / "jrt"),
               JUPYTER_DATA_DIR=str(tmp_path / "jdata"), IPYTHONDIR=str(tmp_path / "ipython"),
               MPLBACKEND="Agg")
    # the checkout as a user has it (a copy: the editable install writes its metadata there)
    checkout = tmp_path / "checkout"
    copy_checkout(checkout)
    # --no-compile: the same packages, without byte-compiling every module of them (measured
    # 170 s instead of 271 s for this install on a loaded 2-core machine)
    install = subprocess.run([py, "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check",
                              *readme_install_command()], cwd=checkout,
                             env=env, capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    installed = time.monotonic() - t0

    # python -m bench works from any folder once installed
    bench = subprocess.run([py, "-m", "bench", "--help"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=60)
    assert bench.returncode == 0 and "usage" in bench.stdout, bench.stderr

    port = _free_port()
    password = "readme-install-test-pw"
    server = subprocess.Popen([str(bin_dir / "oscar-local"), "--port", str(port), "--data-dir",
                               str(tmp_path / "oscar-local")], env=dict(env, OSCAR_LOCAL_PASSWORD=password),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except requests.RequestException:
                assert server.poll() is None and time.monotonic() < deadline, "oscar-local did not start"
                time.sleep(0.3)
        notebooks = sorted(str(p) for p in (checkout / "notebooks").glob("*.ipynb"))
        assert len(notebooks) >= 4
        run_env = dict(env, OSCAR_ENDPOINT=f"http://127.0.0.1:{port}", OSCAR_USER="oscar",
                       OSCAR_PASSWORD=password)
        driver = tmp_path / "run_notebooks.py"
        driver.write_text(DRIVER)
        proc = subprocess.run([py, str(driver), *notebooks], cwd=checkout / "notebooks", env=run_env,
                              capture_output=True, text=True, timeout=1200)
    finally:
        server.terminate()
        server.communicate(timeout=60)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    ran = time.monotonic() - t0

    # Binder: its requirements hold everything the README installs, plus jupyter-server-proxy
    requirements = (checkout / "binder" / "requirements.txt").read_text().split()
    readme_extras = set(re.search(r"\[(.*)\]", " ".join(readme_install_command())).group(1).split(","))
    binder_line = next(r for r in requirements if r.startswith(".["))
    assert readme_extras <= set(binder_line[2:-1].split(",")), (readme_extras, binder_line)
    install = subprocess.run([py, "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check",
                              "-r", "binder/requirements.txt"],
                             cwd=checkout, env=env, capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    home = tmp_path / "binder-home"
    home.mkdir()
    binder_port = _free_port()
    binder_env = dict(env, HOME=str(home), OSCAR_LOCAL_PORT=str(binder_port))
    check = "import jupyter_server_proxy, oscar_jupyter as oj; print(oj.connect().info()['version'])"
    try:
        proc = subprocess.run(["bash", str(checkout / "binder" / "start"), "bash", "-c",
                               f"{py} -c \"{check}\" && {py} {driver} notebooks/01-getting-started.ipynb"],
                              cwd=checkout, env=binder_env, capture_output=True, text=True, timeout=600)
    finally:
        import psutil
        for p in psutil.process_iter(["cmdline"]):
            cmd = p.info["cmdline"] or []
            if any("oscar-local" in c for c in cmd) and str(binder_port) in cmd:
                p.terminate()
                p.wait(30)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    total = time.monotonic() - t0
    print(f"README install {installed:.0f} s, its tutorials done at {ran:.0f} s, with Binder's {total:.0f} s")
