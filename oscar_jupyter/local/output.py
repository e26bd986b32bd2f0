"""What a script prints, kept on disk with a cap and a time stamp per line.

A :class:`StampedLog` is one file in which every line starts with the moment
its first byte arrived (RFC 3339 in UTC with nanoseconds, fixed width, as
``kubectl logs --timestamps`` prints them) and a space. The file keeps the
*end* of the output: once it grows past twice ``cap`` it is rewritten with
its last ``cap`` bytes (and so once more when it is closed), so disk use
stays under ``2 * cap`` and memory under one chunk, whatever a script prints. :meth:`StampedLog.chunks` gives the
output back, with or without the stamps, preceded by a note saying how much
was cut. Bytes are kept as written (a final line without a newline stays
without one), so a synchronous response body is the script's exact output
when nothing was cut.
"""
from __future__ import annotations

import os
import re
import select
import threading
import time
from typing import BinaryIO, Iterator, Optional

DEFAULT_CAP = 10 * 1024 * 1024
STAMP_WIDTH = len("2006-01-02T15:04:05.000000000Z")
_PREFIX = STAMP_WIDTH + 1  # the stamp and one space
STAMP_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")
_READ = 1 << 16


def rfc3339_nano(ns: Optional[int] = None) -> str:
    """UTC time with nanoseconds and a ``Z`` (the width is always :data:`STAMP_WIDTH`)."""
    ns = time.time_ns() if ns is None else ns
    seconds, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac:09d}Z"


def cut_note(cut: int, kept: int) -> str:
    return (f"[oscar-local: the first {cut} bytes of this output were cut; "
            f"the last {kept} bytes are kept]\n")


class StampedLog:
    """An append-only, capped, per-line stamped log file (thread-safe writes)."""

    def __init__(self, path: str, cap: int = DEFAULT_CAP) -> None:
        self.path = path
        self.cap = max(int(cap), 1024)
        self._fh: BinaryIO = open(path, "wb")
        os.chmod(path, 0o600)
        self._lock = threading.Lock()
        self._at_line_start = True
        self.size = 0          # bytes in the file (stamps included)
        self.written = 0       # bytes the script wrote in all
        self.lines = 0         # lines started in all
        self.kept_lines = 0    # lines started in the kept part
        self.open_end = False  # the output's last line has no newline

    # -- writing -----------------------------------------------------------
    def write(self, data: bytes, ns: Optional[int] = None) -> None:
        if not data:
            return
        with self._lock:
            stamp = (rfc3339_nano(ns) + " ").encode("ascii")
            out = bytearray()
            start = 0
            while start < len(data):
                if self._at_line_start:
                    out += stamp
                    self.lines += 1
                    self.kept_lines += 1
                end = data.find(b"\n", start)
                if end < 0:
                    out += data[start:]
                    self._at_line_start = False
                    break
                out += data[start:end + 1]
                self._at_line_start = True
                start = end + 1
            self.written += len(data)
            self._fh.write(out)
            self.size += len(out)
            self.open_end = not self._at_line_start
            if self.size > 2 * self.cap:
                self._compact()

    def write_line(self, text: str, ns: Optional[int] = None) -> None:
        """Add one whole line (a newline is added when missing)."""
        with self._lock:
            if not self._at_line_start:
                self._fh.write(b"\n")
                self.size += 1
                self._at_line_start = True
        self.write((text if text.endswith("\n") else text + "\n").encode("utf-8", "surrogateescape"), ns)

    def _compact(self) -> None:
        """Keep the last ``cap`` bytes, starting at a line (re-stamped when no line starts there)."""
        self._fh.flush()
        with open(self.path, "rb") as src:
            src.seek(self.size - self.cap)
            tail = src.read()
        newline = tail.find(b"\n")
        if 0 <= newline < len(tail) - 1:
            kept = tail[newline + 1:]
        else:  # one enormous line: keep its end under a fresh stamp
            kept = (rfc3339_nano() + " ").encode("ascii") + tail[-(self.cap - _PREFIX):]
        self.kept_lines = kept.count(b"\n") + (0 if kept.endswith(b"\n") else 1)
        tmp = self.path + ".compact"
        with open(tmp, "wb") as dst:
            dst.write(kept)
        os.chmod(tmp, 0o600)
        self._fh.close()
        os.replace(tmp, self.path)
        self._fh = open(self.path, "ab")
        self.size = len(kept)

    def close(self) -> None:
        """Stop writing; what is kept is then at most ``cap`` bytes."""
        with self._lock:
            if not self._fh.closed:
                if self.size > self.cap:
                    self._compact()
                self._fh.close()

    # -- reading -----------------------------------------------------------
    @property
    def kept(self) -> int:
        """Bytes of the script's output still in the file."""
        return max(0, self.size - self.kept_lines * _PREFIX)

    @property
    def cut(self) -> int:
        """Bytes of the script's output dropped from the front."""
        return max(0, self.written - self.kept)

    def chunks(self, stamped: bool = False, note: bool = True) -> Iterator[bytes]:
        """The kept output, block by block (the cut note first when something was cut)."""
        with self._lock:
            if not self._fh.closed:
                self._fh.flush()
            size = self.size
        if note and self.cut:
            text = cut_note(self.cut, self.kept).encode()
            yield ((rfc3339_nano() + " ").encode() + text) if stamped else text
        with open(self.path, "rb") as fh:
            remaining = size
            pending = b""
            while remaining > 0:
                block = fh.read(min(_READ, remaining))
                if not block:
                    break
                remaining -= len(block)
                if stamped:
                    yield block
                    continue
                pending += block
                lines = pending.split(b"\n")
                pending = lines.pop()
                if lines:
                    yield b"".join(line[_PREFIX:] + b"\n" for line in lines)
            if pending and not stamped:
                yield pending[_PREFIX:]

    def read(self, stamped: bool = False, note: bool = True) -> bytes:
        return b"".join(self.chunks(stamped, note))


def unstamp(text: str) -> str:
    """A stored log without its per-line stamps (lines without one are kept as they are)."""
    return "".join(line[_PREFIX:] if STAMP_LINE.match(line.encode("utf-8", "surrogateescape")[:_PREFIX])
                   else line for line in text.splitlines(keepends=True))


def stamp_lines(text: str, default: str) -> str:
    """A stored log with a stamp on every line (``default`` for lines stored without one)."""
    out = []
    for line in text.splitlines(keepends=True):
        if STAMP_LINE.match(line.encode("utf-8", "surrogateescape")[:_PREFIX]):
            out.append(line)
        else:
            out.append(f"{default} {line}")
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    return "".join(out)


def _exited(pid: int) -> bool:
    """Whether ``pid`` (a child) has exited, without reaping it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def follow(fd: int, log: StampedLog, pid: int, timeout: Optional[float]) -> bool:
    """Copy pipe ``fd`` into ``log`` until child ``pid`` exits (True) or ``timeout`` passes (False).

    One thread, no polling: the pipe and a pidfd of the child are watched
    together, so the exit is seen the moment it happens (the child is not
    reaped here).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        pidfd: Optional[int] = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd: look every 10 ms
        pidfd = None
    pipe_open = True
    try:
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if pidfd is None:
                wait = 0.01 if wait is None else min(wait, 0.01)
            fds = ([fd] if pipe_open else []) + ([pidfd] if pidfd is not None else [])
            ready, _, _ = select.select(fds, [], [], wait)
            if fd in ready:
                block = os.read(fd, _READ)
                if block:
                    log.write(block)
                else:
                    pipe_open = False
            if (pidfd is not None and pidfd in ready) or (pidfd is None and _exited(pid)):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return _exited(pid)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def drain(fd: int, log: StampedLog, grace: float) -> None:
    """Copy what is left in pipe ``fd`` into ``log`` until end of file or ``grace`` seconds."""
    deadline = time.monotonic() + grace
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return
        block = os.read(fd, _READ)
        if not block:
            return
        log.write(block)
