"""nginx's bays (``exposed/bays.py``): routes as files, so services come and go without a reload."""
from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess

import pytest

from oscar_jupyter.local.exposed.bays import Bays, variant
from oscar_jupyter.local.exposed.frontdoor import FrontDoor, nginx_binary


def _sockets(tmp_path, n):
    import socket

    made = []
    for i in range(n):
        path = str(tmp_path / f"r{i}.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.listen(1)
        made.append((s, path))
    return made


def test_a_service_gets_a_bay_its_link_and_its_replicas_slots(tmp_path):
    bays = Bays(str(tmp_path / "front"), slots_per_bay=3, count=2)
    held = _sockets(tmp_path, 2)
    bays.place("web", variant(False, "none"), "tok", [p for _, p in held])
    target = os.readlink(bays.route("web"))
    assert os.path.normpath(os.path.join(bays.root, target)) == bays.route_dir(0, "sn")
    assert not os.path.isabs(target) and os.path.isdir(bays.route("web"))
    linked = sorted(os.path.basename(p) for p in os.listdir(bays.directory(0)) if p.endswith(".sock"))
    assert linked == ["0.sock", "1.sock"]
    assert os.path.samefile(os.path.join(bays.directory(0), "0.sock"), held[0][1])
    # fewer replicas in rotation: one slot emptied, the bay kept
    bays.place("web", variant(False, "none"), "tok", [held[1][1]])
    assert [p for p in os.listdir(bays.directory(0)) if p.endswith(".sock")] != [] and bays.bay_of["web"] == 0


def test_changed_settings_swap_the_link_and_basic_auth_writes_the_users_file(tmp_path):
    bays = Bays(str(tmp_path / "front"), slots_per_bay=2, count=1)
    bays.place("web", variant(False, "none"), "tok", [])
    bays.place("web", variant(True, "basic"), "s3cret", [])
    target = os.path.join(bays.root, os.readlink(bays.route("web")))
    assert os.path.normpath(target) == bays.route_dir(0, "rb")
    user, hashed = open(os.path.join(target, "users")).read().strip().split(":", 1)
    raw = base64.b64decode(hashed[len("{SSHA}"):])
    assert user == "web" and hashlib.sha1(b"s3cret" + raw[20:]).digest() == raw[:20]
    assert oct(os.stat(os.path.join(target, "users")).st_mode & 0o777) == "0o600"
    assert [n for n in os.listdir(bays.root) if n.startswith(".")] == []  # no temporary link left


def test_a_deleted_service_points_at_none_and_bays_are_reused_longest_vacated_first(tmp_path):
    bays = Bays(str(tmp_path / "front"), slots_per_bay=2, count=2)
    bays.place("a", variant(False, "basic"), "t", [])
    bays.place("b", variant(False, "none"), "t", [])
    assert (bays.bay_of["a"], bays.bay_of["b"]) == (0, 1)
    bays.release("a")
    assert os.path.realpath(bays.route("a")) == bays.gone and not os.path.exists(
        os.path.join(bays.route_dir(0, "sb"), "users"))
    bays.release("b")
    bays.place("c", variant(False, "none"), "t", [])
    assert bays.bay_of["c"] == 0  # freed first
    bays.place("d", variant(False, "none"), "t", [])
    assert bays.count == 2 and bays.bay_of["d"] == 1
    bays.place("e", variant(False, "none"), "t", [])  # full: the bays double
    assert bays.count == 4 and bays.bay_of["e"] in (2, 3)


@pytest.mark.skipif(nginx_binary("nginx") is None, reason="nginx is not installed")
@pytest.mark.parametrize("count", [1, 16, 64])
def test_the_rendered_configuration_is_accepted_by_nginx(tmp_path, count):
    (tmp_path / "x" / "front").mkdir(parents=True)
    front = FrontDoor(nginx_binary("nginx"), str(tmp_path / "x" / "front"), header_timeout=30, v4=True, bays=count)
    front.listen = "127.0.0.1:1"
    conf = tmp_path / "nginx.conf"
    conf.write_text(front.render())
    assert conf.read_text().count("upstream oscar_bay_") == count
    out = subprocess.run([front.binary, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "e.log")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    shutil.rmtree(front.bays.root)
