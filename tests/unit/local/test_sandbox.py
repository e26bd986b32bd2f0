"""Sandbox.wrap composes as the exposed replicas use it: isolated network, extra binds, hidden paths."""
from __future__ import annotations

import os
import subprocess

import pytest

from oscar_jupyter.local.sandbox import Sandbox


def _bwrap(hidden=()) -> Sandbox:
    try:
        return Sandbox.probe(hidden=hidden, want="bwrap")
    except RuntimeError as exc:
        pytest.skip(str(exc))


def _run(box: Sandbox, script: str, work: str, **kw) -> subprocess.CompletedProcess:
    if box.drop_to:
        box.own(work)
    argv, env = box.wrap(["/bin/sh", "-c", script], work_dir=work, env={"PATH": "/usr/bin:/bin"}, **kw)
    return subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True, timeout=60, **box.credentials())


def test_isolated_network_has_only_loopback(tmp_path) -> None:
    box = _bwrap()
    host = _run(box, "cat /proc/net/dev", str(tmp_path))
    alone = _run(box, "cat /proc/net/dev", str(tmp_path), network="isolated")
    assert alone.returncode == 0, alone.stderr
    interfaces = [line.split(":")[0].strip() for line in alone.stdout.splitlines()[2:]]
    assert interfaces == ["lo"]
    assert host.stdout.count("\n") >= alone.stdout.count("\n")


def test_extra_binds_read_only_or_writable(tmp_path) -> None:
    box = _bwrap()
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "model.txt").write_text("weights")
    os.chmod(shared, 0o755)
    os.chmod(shared / "model.txt", 0o644)
    work = tmp_path / "work"
    work.mkdir()
    done = _run(box, "cat /srv/model/model.txt; touch /srv/model/x 2>&1 || echo refused", str(work),
                extra_binds=[(str(shared), "/srv/model", False)])
    assert done.stdout.startswith("weights") and "refused" in done.stdout
    assert not (shared / "x").exists()


def test_a_hidden_path_inside_a_bound_one_is_covered(tmp_path) -> None:
    work = tmp_path / "work"
    secret_dir = work / "data"
    secret_dir.mkdir(parents=True)
    (secret_dir / "admin-password").write_text("hunter2")
    box = _bwrap(hidden=[str(secret_dir)])
    done = _run(box, f"cat {secret_dir}/admin-password; ls -A {secret_dir}; echo end", str(work))
    assert "hunter2" not in done.stdout and done.stdout.strip().endswith("end")


def test_the_command_runs_unprivileged_when_the_server_is_root(tmp_path) -> None:
    box = _bwrap()
    done = _run(box, "id -u; grep CapEff /proc/self/status", str(tmp_path))
    if os.geteuid() == 0:
        uid, caps = done.stdout.split("\n", 1)
        assert uid == "65534" and caps.split()[-1] == "0000000000000000"


def test_unknown_network_or_mode_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="network must be one of host, isolated"):
        Sandbox().wrap(["true"], work_dir=str(tmp_path), env={}, network="bridge")
    with pytest.raises(ValueError, match="sandbox must be one of"):
        Sandbox.probe(want="docker")


def test_a_work_dir_below_private_directories_is_reachable(tmp_path) -> None:
    box = _bwrap()
    work = tmp_path / "deep" / "work"
    work.mkdir(parents=True)
    os.chmod(tmp_path / "deep", 0o700)
    (work / "script.sh").write_text("echo from the script")
    done = _run(box, f"sh {work}/script.sh; touch {work}/made", str(work))
    assert done.stdout == "from the script\n", done.stderr
    assert (work / "made").exists()
