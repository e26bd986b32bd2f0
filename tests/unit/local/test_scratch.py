"""Scratch directories: marked with their owner process; a starting server removes those of owners
that are gone, and nothing else in the shared temporary directory."""
from __future__ import annotations

import os
import subprocess
import sys

import psutil

from oscar_jupyter.local import scratch


def _dead_owner_mark() -> str:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(proc.pid).create_time()
    proc.wait()
    return f"{proc.pid} {started:.3f}\n"


def test_only_marked_directories_of_owners_that_are_gone_are_removed(tmp_path):
    mine = scratch.make("oscar-x-", str(tmp_path))
    stale = scratch.make("oj", str(tmp_path))
    with open(os.path.join(stale, scratch.MARK), "w") as fh:
        fh.write(_dead_owner_mark())
    os.makedirs(os.path.join(stale, "_0"))
    reused = scratch.make("oscar-x-", str(tmp_path))  # a live pid, but not the process that made it
    with open(os.path.join(reused, scratch.MARK), "w") as fh:
        fh.write(f"{os.getpid()} 12345.000\n")
    unmarked = tmp_path / "ojournal"  # someone else's directory with a matching name
    unmarked.mkdir()
    garbled = scratch.make("oj", str(tmp_path))
    with open(os.path.join(garbled, scratch.MARK), "w") as fh:
        fh.write("not a mark")
    other = tmp_path / "unrelated"
    other.mkdir()
    (other / scratch.MARK).write_text(_dead_owner_mark())

    removed = scratch.sweep(str(tmp_path))

    assert sorted(removed) == sorted([stale, reused])
    assert os.path.isdir(mine) and unmarked.is_dir() and os.path.isdir(garbled) and other.is_dir()
    assert not os.path.exists(stale) and not os.path.exists(reused)


def test_a_symlink_is_never_followed(tmp_path):
    target = scratch.make("keep-", str(tmp_path))
    with open(os.path.join(target, scratch.MARK), "w") as fh:
        fh.write(_dead_owner_mark())
    os.symlink(target, tmp_path / "oscar-x-link")
    assert scratch.sweep(str(tmp_path)) == []
    assert os.path.isdir(target)
