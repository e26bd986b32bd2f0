"""Scratch directories: held by their owner process; a starting server removes those of owners
that are gone, and nothing else in the shared temporary directory."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

from oscar_jupyter.local import scratch

_OWNER = textwrap.dedent("""
    import sys, time
    from oscar_jupyter.local import scratch
    s = scratch.make(sys.argv[1], sys.argv[2])
    print(s.path, flush=True)
    if sys.argv[3] == "stay":
        time.sleep(600)
""")


def _owner(tmp_path, prefix: str, stay: bool) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", _OWNER, prefix, str(tmp_path), "stay" if stay else "exit"],
                            stdout=subprocess.PIPE, text=True)
    path = proc.stdout.readline().strip()
    assert path, "the owner did not make its directory"
    return proc, path


def test_only_marked_directories_of_owners_that_are_gone_are_removed(tmp_path):
    mine = scratch.make("oscar-x-", str(tmp_path))
    dead, stale = _owner(tmp_path, "oj", stay=False)  # exited without removing it, as if killed
    dead.wait()
    os.makedirs(os.path.join(stale, "_0"))
    live, held = _owner(tmp_path, "oscar-x-", stay=True)
    unmarked = tmp_path / "ojournal"  # someone else's directory with a matching name
    unmarked.mkdir()
    other = tmp_path / "unrelated"  # marked and unheld, but not one of ours by name
    other.mkdir()
    (other / scratch.MARK).write_text("held by oscar-local pid 1\n")
    try:
        removed = scratch.sweep(str(tmp_path))
        assert removed == [stale]
        assert os.path.isdir(mine.path) and os.path.isdir(held) and unmarked.is_dir() and other.is_dir()
        live.kill()
        live.wait()
        assert scratch.sweep(str(tmp_path)) == [held]  # a SIGKILL drops the lock with the process
    finally:
        live.kill()
        live.wait()
    mine.remove()
    assert not os.path.exists(mine.path)
    assert sorted(os.listdir(tmp_path)) == ["ojournal", "unrelated"]


def test_a_live_owner_is_told_by_its_lock_whatever_its_mark_says(tmp_path):
    """The mark's text is never read: a clock step (which moves a process's start time as psutil
    computes it) or another pid namespace made an earlier pid-and-start-time mark name a live
    server as gone, and the sweep removed a running cluster's sockets."""
    live, held = _owner(tmp_path, "oj", stay=True)
    try:
        with open(os.path.join(held, scratch.MARK), "r+") as fh:  # same file, lock kept
            fh.write("999999999 12345.000\n")
        assert scratch.sweep(str(tmp_path)) == []
        assert os.path.isdir(held)
    finally:
        live.kill()
        live.wait()


def test_a_symlink_is_never_followed(tmp_path):
    dead, target = _owner(tmp_path, "keep-", stay=False)
    dead.wait()
    os.symlink(target, tmp_path / "oscar-x-link")
    assert scratch.sweep(str(tmp_path)) == []
    assert os.path.isdir(target)


def test_the_mark_is_private_to_its_owner(tmp_path):
    s = scratch.make("oj", str(tmp_path))
    assert os.stat(os.path.join(s.path, scratch.MARK)).st_mode & 0o077 == 0
    assert os.listdir(s.path) == [scratch.MARK]
    s.remove()


_LOCKED_TREE = textwrap.dedent("""
    import importlib.util, os, sys
    spec = importlib.util.spec_from_file_location("scratch", sys.argv[2])  # stdlib only: any Python
    scratch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scratch)
    d = sys.argv[1]
    os.makedirs(d + "/run/work/deep")
    open(d + "/run/work/deep/f", "w").write("x")
    open(d + "/" + scratch.MARK, "w").write("m")
    for p in (d + "/run/work/deep", d + "/run/work"):
        os.chmod(p, 0o500)  # what a script may do to its own directories
    print(scratch.remove_tree(d, keep=scratch.MARK), os.path.exists(d))
""")


def test_a_tree_a_script_made_read_only_is_removed_whole():
    """As the user that owns it (not root, whom modes do not stop): directories without their write
    bit are given it back, and the mark goes last."""
    python, kw = sys.executable, {}
    if os.geteuid() == 0:  # as a user that modes stop, with a Python that user can run
        python, kw = shutil.which("python3", path="/usr/bin:/bin") or sys.executable, {"user": 65534, "group": 65534}
    top = tempfile.mkdtemp()  # in the shared temporary directory, which that user can reach
    try:
        os.chmod(top, 0o777)
        out = subprocess.run([python, "-c", _LOCKED_TREE, os.path.join(top, "tree"), scratch.__file__],
                             capture_output=True, text=True, check=False, cwd=top, **kw)
        assert out.stdout.split() == ["True", "False"], out.stderr
    finally:
        scratch.remove_tree(top)
