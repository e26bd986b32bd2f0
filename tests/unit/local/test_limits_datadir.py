"""Limits from an FDL, the cgroup group of one process tree, and the data dir's permissions."""
from __future__ import annotations

import os
import subprocess

import pytest

from oscar_jupyter.local import datadir
from oscar_jupyter.local.limits import Cgroups, Limits, parse_quantity


@pytest.mark.parametrize("value, expected", [("256Mi", 256 << 20), ("1G", 10 ** 9), ("1.5Gi", 3 << 29),
                                             (1024, 1024), ("100", 100), ("", None), (None, None)])
def test_sizes_as_kubernetes_writes_them(value, expected) -> None:
    assert parse_quantity(value) == expected


@pytest.mark.parametrize("bad", ["lots", "-1Mi", "0", True, "1Qi"])
def test_bad_sizes_say_what_they_got(bad) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_quantity(bad)


def test_limits_of_a_service() -> None:
    got = Limits.of_service({"memory": "64Mi", "cpu": "500m", "ephemeral_storage": "1Gi"})
    assert got == Limits(memory=64 << 20, cpu=0.5, ephemeral_storage=1 << 30, pids=512)
    assert Limits.of_service({"memory": "nonsense"}).memory is None


def test_a_group_holds_the_tree_and_kills_what_is_left() -> None:
    cgroups = Cgroups.probe()
    if cgroups.mode == "rlimit" and cgroups.v2 is None:
        pytest.skip("no writable cgroup here")
    group = cgroups.group(Limits(memory=64 << 20, pids=64))
    try:
        proc = subprocess.Popen(group.prefix(["/bin/sh", "-c", "setsid sleep 300 & echo $!; wait"]),
                                stdout=subprocess.PIPE, start_new_session=True)
        stray = int(proc.stdout.readline())
        assert stray in group.members()
        group.kill_all()
        proc.wait(10)
        for _ in range(100):
            if not os.path.exists(f"/proc/{stray}") or open(f"/proc/{stray}/stat").read().split()[2] == "Z":
                break
            __import__("time").sleep(0.05)
        else:
            raise AssertionError("the setsid child survived the group's end")
    finally:
        group.close()
        cgroups.close()


def test_a_data_dir_others_may_write_is_refused(tmp_path) -> None:
    loose = tmp_path / "data"
    loose.mkdir()
    os.chmod(loose, 0o777)
    with pytest.raises(datadir.DataDirUnsafe, match="may be written by other users"):
        datadir.secure(str(loose))


def test_everything_in_the_data_dir_becomes_private(tmp_path) -> None:
    root = tmp_path / "data"
    (root / "s3" / "buckets" / "b").mkdir(parents=True)
    for path in (root / "state.sqlite3-wal", root / "s3" / "buckets" / "b" / "obj"):
        path.write_text("x")
        os.chmod(path, 0o644)
    os.chmod(root / "s3", 0o755)
    os.chmod(root, 0o755)
    os.symlink("/etc/passwd", root / "link")
    datadir.secure(str(root))
    assert os.stat(root).st_mode & 0o777 == 0o700
    assert os.stat(root / "s3").st_mode & 0o777 == 0o700
    assert os.stat(root / "state.sqlite3-wal").st_mode & 0o777 == 0o600
    assert os.stat(root / "s3" / "buckets" / "b" / "obj").st_mode & 0o777 == 0o600
    assert os.stat("/etc/passwd").st_mode & 0o777 == 0o644  # links are not followed
