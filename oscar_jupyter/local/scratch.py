"""Scratch directories in the temporary directory, each held by the server that made it.

What must sit at a short path (the Unix sockets of replicas' relays, the
front door's routes and configuration) lives in the system's temporary
directory, not the data dir, and so do the directories of invocations and
jobs (each run's input, output and working directory, with the caller's
data in them). A server that stops in order removes its own
(``LocalCluster.stop``, and the interpreter's exit). One killed hard (SIGKILL,
the OOM killer, a kernel restarted by force) cannot, so each directory holds
a mark file its owner keeps an exclusive ``flock`` on for as long as it runs,
and a starting server removes the marked directories whose lock it can take.

The kernel drops the lock when its owner dies, however it dies, so the test
needs no pid, no start time and no clock: an earlier design compared the
owner's start time, which moves with the wall clock (psutil adds the boot
time, and a clock step moves that), so a server started after an NTP step
took every live server's directories for leftovers and removed them. Only
directories of this user, with this mark, are touched: the temporary
directory is shared.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile

log = logging.getLogger(__name__)

MARK = ".oscar-local-owner"  # never a service name (routes are DNS labels)
# the invocations' and jobs' directories; the exposed services' runtime directory; the front door's routes
PREFIXES = ("oscar-run-", "oscar-x-", "oj")


def remove_tree(path: str, keep: str = "") -> bool:
    """Remove the directory tree at ``path`` even where a script took the write bit off a directory
    in it (each refusal is met by giving the owner its rights back and trying again); ``keep``
    names a top-level entry removed last, once everything else is gone. Whether it is gone."""
    def retry(function, failed, _exc):  # type: ignore[no-untyped-def]
        parent = os.path.dirname(failed)
        for target in (parent, failed):
            with contextlib.suppress(OSError):
                os.chmod(target, 0o700, follow_symlinks=False)
        with contextlib.suppress(OSError):
            function(failed)

    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return True
    except OSError:
        entries = []
    for entry in entries:
        if entry.name == keep:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, onerror=retry)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    shutil.rmtree(path, onerror=retry)
    return not os.path.lexists(path)


class Scratch:
    """A marked directory, held (its mark locked) by this process until ``remove``."""

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd = fd

    def remove(self) -> None:
        # the mark goes last: a tree that could not be removed whole is still marked for a sweep
        remove_tree(self.path, keep=MARK)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __repr__(self) -> str:
        return f"Scratch({self.path!r})"


def make(prefix: str, directory: str | None = None) -> Scratch:
    """A new private directory (``tempfile.mkdtemp``) held by this process. The mark is locked
    before it takes its name, so no sweep ever sees it unlocked while its owner lives."""
    path = tempfile.mkdtemp(prefix=prefix, dir=directory)
    new = os.path.join(path, MARK + ".new")
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"held by oscar-local pid {os.getpid()}\n".encode("ascii"))  # for people
        os.rename(new, os.path.join(path, MARK))
    except BaseException:
        os.close(fd)
        shutil.rmtree(path, ignore_errors=True)
        raise
    return Scratch(path, fd)


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
            fd = os.open(os.path.join(entry.path, MARK), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue  # not ours, or not marked
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # its owner runs
        try:
            if remove_tree(entry.path, keep=MARK):
                removed.append(entry.path)
        finally:
            os.close(fd)
    if removed:
        log.info("removed %d scratch directories left by oscar-local servers that were killed", len(removed))
    return removed
