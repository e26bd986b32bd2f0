"""Scratch directories in the temporary directory, each marked with the server that made it.

What must sit at a short path (the Unix sockets of replicas' relays, the
front door's routes and configuration) lives in the system's temporary
directory, not the data dir. A server that stops in order removes its own
(``LocalCluster.stop``, and the interpreter's exit). One killed hard (SIGKILL,
the OOM killer, a kernel restarted by force) cannot, so each directory holds
a mark naming its owner process, by pid and start time (a reused pid is not
taken for it), and a starting server removes the marked directories of
owners that are gone. Only directories of this user, with this mark, are
touched: the temporary directory is shared.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile

import psutil

log = logging.getLogger(__name__)

MARK = ".oscar-local-owner"  # never a service name (routes are DNS labels)
PREFIXES = ("oscar-x-", "oj")  # the exposed services' runtime directory; the front door's routes


def _owner() -> str:
    me = psutil.Process()
    return f"{me.pid} {me.create_time():.3f}\n"


def make(prefix: str, directory: str | None = None) -> str:
    """A new private directory (``tempfile.mkdtemp``) marked as this process's."""
    path = tempfile.mkdtemp(prefix=prefix, dir=directory)
    with open(os.path.join(path, MARK), "w", encoding="ascii") as fh:
        fh.write(_owner())
    return path


def _gone(mark: str) -> bool:
    """Whether the process a mark names has exited (a mark that does not parse is kept)."""
    try:
        pid_text, started_text = mark.split()
        pid, started = int(pid_text), float(started_text)
    except ValueError:
        return False
    try:
        return abs(psutil.Process(pid).create_time() - started) > 1.0  # another process, same pid
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def sweep(directory: str | None = None) -> list[str]:
    """Remove the marked directories in ``directory`` (the temporary directory) whose owner
    process is gone; the paths removed."""
    directory = directory or tempfile.gettempdir()
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(PREFIXES):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.geteuid():
                continue
            with open(os.path.join(entry.path, MARK), encoding="ascii") as fh:
                mark = fh.read(200)
        except OSError:
            continue  # not ours, or not marked
        if _gone(mark):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    if removed:
        log.info("removed %d scratch directories left by oscar-local servers that were killed", len(removed))
    return removed
