"""Fixed upstream slots: how replicas enter and leave nginx's rotation without a reload.

The front door's upstream of a bay lists ``cap`` Unix socket paths
(``<dir>/N.sock``), fixed for the life of the configuration. A replica in
rotation has its relay's listening socket hard-linked (link(2)) to one free
slot path: a bound Unix socket accepts connections made through any of its
names, so nginx reaches it there. Leaving rotation unlinks the slot path:
new connections to that slot fail at connect() (nothing was sent, so nginx
moves to the next slot for any method) while requests in flight and nginx's
pooled connections (closed by nginx after ``keepalive_time``) finish on the
replica, which the deployment stops only once its relay has no connection.

A free slot is chosen by how long it has been empty (longest first), so a
name that just left rotation is not reused while nginx still holds pooled
connections made through it.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time

log = logging.getLogger(__name__)


class Slots:
    """The slot paths of one service and which replica socket each holds."""

    def __init__(self, directory: str, cap: int) -> None:
        self.directory = directory
        self.cap = cap
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.held: dict[int, str] = {}           # slot -> the replica socket linked there
        self.vacated: dict[int, float] = {}      # slot -> when it was last emptied

    def path(self, n: int) -> str:
        return os.path.join(self.directory, f"{n}.sock")

    @property
    def paths(self) -> list[str]:
        return [self.path(n) for n in range(self.cap)]

    def sync(self, sockets: list[str]) -> None:
        """Hold exactly these replica sockets (those in rotation); unlink the others' slots."""
        wanted = set(sockets)
        for n, sock in list(self.held.items()):
            if sock not in wanted:
                self._free(n)
        have = set(self.held.values())
        for sock in sockets:
            if sock in have:
                continue
            free = [n for n in range(self.cap) if n not in self.held]
            if not free:
                log.warning("no free front-door slot in %s for %s (cap %d)", self.directory, sock, self.cap)
                return
            n = min(free, key=lambda k: self.vacated.get(k, 0.0))
            target = self.path(n)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
            try:
                os.link(sock, target)
            except OSError as exc:
                log.warning("could not put %s in rotation at %s: %s", sock, target, exc)
                continue
            self.held[n] = sock

    def _free(self, n: int) -> None:
        self.held.pop(n, None)
        self.vacated[n] = time.monotonic()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(n))

    def clear(self) -> None:
        for n in list(self.held):
            self._free(n)
