"""What Binder would build, from repo2docker's own Dockerfile for this repository (no
container engine needed: `repo2docker --no-build --debug --no-run`)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dockerfile() -> str:
    exe = shutil.which("repo2docker")
    if exe is None:
        pytest.skip("jupyter-repo2docker (a test extra) is not installed")
    proc = subprocess.run([exe, "--no-build", "--debug", "--no-run", str(ROOT)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_binder_builds_from_binder_files_only(dockerfile: str) -> None:
    assert "python=3.11" in dockerfile  # binder/runtime.txt
    runs = [l for l in dockerfile.splitlines() if l.startswith("RUN ") and "pip install" in l]
    assert runs == ['RUN ${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r "binder/requirements.txt"'], runs
    # the root's packaging files are not used on their own (only through binder/requirements.txt)
    assert not re.search(r"pip install[^\n]*(setup\.py|pyproject)", dockerfile)
    assert 'ENV R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in dockerfile


def test_binder_installs_the_front_door_and_the_sandbox(dockerfile: str) -> None:
    # binder/apt.txt: nginx for exposed services' traffic, bubblewrap and socat for replicas
    apt = [l for l in dockerfile.splitlines() if "apt-get install" in l or l.strip().startswith(("nginx", "bubble", "socat"))]
    assert all(any(pkg in line for line in apt) for pkg in ("nginx-light", "bubblewrap", "socat")), apt


def test_binder_requirements_bring_the_tutorials_and_the_server_proxy() -> None:
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        tomllib = pytest.importorskip("tomli")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    lines = [l.strip() for l in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    [editable] = [l for l in lines if l.startswith("-e .")]
    wanted = set(re.search(r"\[(.*)\]", editable).group(1).split(","))
    assert {"tutorials", "binder"} <= wanted
    assert any(r.startswith("jupyter-server-proxy") for r in extras["binder"])
    assert any(r.startswith("numpy") for r in extras["tutorials"])


def test_the_readme_badge_launches_this_repository_on_binder() -> None:
    readme = (ROOT / "README.md").read_text()
    badge = re.search(r"\[!\[Launch on Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\((https://mybinder\.org/v2/gh/[^)]+)\)",
                      readme)
    assert badge, "no Binder badge in the README"
    assert badge.group(1).endswith("?urlpath=lab/tree/notebooks/01-getting-started.ipynb")
    assert (ROOT / "notebooks" / "01-getting-started.ipynb").exists()
