"""``GET /system/logs``: the Manager's execution log, as its own pod log would give it.

On a cluster, ``auth.GetLoggerMiddleware`` (on ``/run`` and ``/job``) prints
one line per invocation to the Manager's stdout::

    [GIN-EXECUTIONS-LOGGER] <RFC 3339 nano UTC> | <status %3d> | <latency %13v> | <client ip> | <method %-7s> <path> | <user>

and ``MakeGetSystemLogsHandler`` reads the newest Manager pod's log
(``?timestamps=true``: Kubernetes prefixes each line with its own time;
``?previous=true``: the previous container's log) and answers ``{"logs":
[executionLogEntry...]}`` with the POST ``/run``/``/job`` lines
(``parseExecutionLogs``, v3.7.1 and v4.1.2 alike). OIDC callers get 403
``OIDC tokens are not allowed for system logs`` (no admin users here).

oscar-local keeps the same lines in memory (the last ``size``) and parses
them the same way. There is no previous container: ``previous=true`` is the
400 Kubernetes gives for a container that never restarted.
"""
from __future__ import annotations

import collections
import datetime as _dt
import time
from typing import Deque

from .gojson import Struct

PREFIX = "[GIN-EXECUTIONS-LOGGER]"
NO_PREVIOUS = 'previous terminated container "oscar" in pod "oscar-local" not found'


def rfc3339_nano(moment: float) -> str:
    """Go's ``time.RFC3339Nano`` in UTC (trailing zeros of the fraction dropped)."""
    whole = int(moment)
    nanos = int(round((moment - whole) * 1e9))
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    base = _dt.datetime.fromtimestamp(whole, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f".{nanos:09d}".rstrip("0") if nanos else ""
    return f"{base}{frac}Z"


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration`` ``%v`` for a latency (``1.234567ms``, ``812.5µs``, ``2.5s``)."""
    nanos = int(round(seconds * 1e9))
    if nanos < 1000:
        return f"{nanos}ns"
    for unit, size in (("µs", 1_000), ("ms", 1_000_000)):
        if nanos < size * 1000:
            return f"{nanos / size:.9f}".rstrip("0").rstrip(".") + unit
    return f"{nanos / 1e9:.9f}".rstrip("0").rstrip(".") + "s"


class ExecutionLog:
    """The last invocation lines, each with the time it was written."""

    def __init__(self, size: int = 5000) -> None:
        self.lines: Deque[tuple[float, str]] = collections.deque(maxlen=size)

    def record(self, started: float, status: int, client_ip: str, method: str, path: str,
               user: str = "oscar") -> None:
        now = time.time()
        line = (f"{PREFIX} {rfc3339_nano(now)} | {status:3d} | {go_duration(now - started):>13} | "
                f"{client_ip} | {method:<7} {path} | {user}")
        self.lines.append((now, line))

    def text(self, timestamps: bool) -> str:
        """The log as the pod log API returns it (``timestamps``: each line prefixed with its time)."""
        return "".join(f"{rfc3339_nano(t)} {line}\n" if timestamps else line + "\n" for t, line in self.lines)


def parse(raw: str) -> list[Struct]:
    """``parseExecutionLogs``: the POST /run and /job lines as ``executionLogEntry`` values."""
    out: list[Struct] = []
    for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        raw_line = line.strip()
        if not raw_line or PREFIX not in raw_line:
            continue
        rest = raw_line[len(PREFIX):].strip() if raw_line.startswith(PREFIX) else raw_line
        parts = rest.split("|")
        if len(parts) < 6:
            continue
        stamp = parts[0].strip()
        try:
            status = int(parts[1].strip())
        except ValueError:
            status = 0
        fields = parts[4].strip().split()
        if len(fields) < 2:
            continue
        method, path = fields[0], fields[1]
        if method != "POST" or not (path.startswith("/run") or path.startswith("/job")):
            continue
        out.append(Struct(timestamp=_timestamp(stamp), status=status, latency=parts[2].strip(),
                          client_ip=parts[3].strip(), method=method, path=path, user=parts[5].strip(),
                          raw=raw_line))
    return out


def _timestamp(text: str) -> str:
    """Go's parse-then-format of an RFC 3339 time in UTC; the text itself when it does not parse."""
    try:
        if not text.endswith("Z") or "T" not in text:
            raise ValueError(text)
        head, _, frac = text[:-1].partition(".")
        _dt.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S")
        if frac and not frac.isdigit():
            raise ValueError(text)
        frac = frac.rstrip("0")
        return f"{head}.{frac}Z" if frac else f"{head}Z"
    except ValueError:
        return text
