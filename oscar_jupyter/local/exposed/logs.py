"""Replica logs: each line stamped when it was written, kept per replica.

Like a kubelet's container log, every line a replica prints (stdout and
stderr) is stored with the time it was read, RFC 3339 with nanoseconds in
UTC. The Manager's ``GET .../deployment/logs`` answers these as
``DeploymentLogEntry`` (``timestamp`` to the second when asked for, then
``message``), merged across replicas in time order and cut to the last
``tailLines``.
"""
from __future__ import annotations

import collections
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Deque, Iterable

#: lines kept per replica (the oldest go first)
LINES_PER_REPLICA = 5000
#: longest line kept (longer lines are cut, as a log viewer would)
MAX_LINE = 16 * 1024


def rfc3339_nano(ns: int) -> str:
    """``2026-12-04T17:18:30.123456789Z`` for an epoch time in nanoseconds."""
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"


def rfc3339_seconds(ns: int) -> str:
    """The same moment to the second, as Go's ``time.RFC3339`` prints it."""
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class LogLine:
    """One line of one replica."""

    ns: int          # when it was read (epoch nanoseconds)
    replica: str
    text: str

    @property
    def stamp(self) -> str:
        return rfc3339_nano(self.ns)

    def __str__(self) -> str:  # the kubelet's file format
        return f"{self.stamp} {self.text}"


class ReplicaLog:
    """The lines of one replica (bounded)."""

    def __init__(self, replica: str, size: int = LINES_PER_REPLICA) -> None:
        self.replica = replica
        self.lines: Deque[LogLine] = collections.deque(maxlen=size)
        self._partial = b""

    def feed(self, data: bytes) -> None:
        """Bytes read from the replica's output; complete lines are stamped now."""
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        if len(self._partial) > MAX_LINE:
            complete.append(self._partial)
            self._partial = b""
        now = time.time_ns()
        for raw in complete:
            self.add(raw.rstrip(b"\r").decode("utf-8", "replace")[:MAX_LINE], now)

    def close(self) -> None:
        """The output ended: keep an unterminated last line."""
        if self._partial:
            self.add(self._partial.decode("utf-8", "replace")[:MAX_LINE], time.time_ns())
            self._partial = b""

    def add(self, text: str, ns: int | None = None) -> None:
        self.lines.append(LogLine(time.time_ns() if ns is None else ns, self.replica, text))

    def tail(self, count: int) -> list[LogLine]:
        if count <= 0:
            return []
        return list(self.lines)[-count:]


def merged_tail(logs: Iterable[ReplicaLog], count: int) -> list[LogLine]:
    """The last ``count`` lines of each replica, merged in time order, then the last ``count``."""
    lines: list[LogLine] = []
    for log in logs:
        lines.extend(log.tail(count))
    lines.sort(key=lambda line: line.ns)
    return lines[-count:] if count > 0 else []


def tail_lines(value: str | None) -> int:
    """``?tailLines=`` as the Manager reads it: 200 unless 1..1000 (capped at 1000)."""
    try:
        n = int(str(value if value is not None else "200").strip())
    except ValueError:
        return 200
    if n < 1:
        return 200
    return min(n, 1000)


def parse_bool(value: str | None) -> bool:
    """Go's ``strconv.ParseBool`` (anything else is false, as the Manager ignores the error)."""
    return str(value) in ("1", "t", "T", "true", "TRUE", "True")
