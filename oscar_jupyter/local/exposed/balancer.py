"""Least-outstanding-requests choice among the replicas in rotation.

Each request goes to the ready replica with the fewest requests in flight
through the proxy (ties go round-robin), so a slow request on one replica
sends the next ones to the others, as Envoy's and Traefik's ``least
request`` balancers do.
"""
from __future__ import annotations

import itertools
from typing import Iterable, Protocol, TypeVar


class Balanced(Protocol):
    inflight: int


T = TypeVar("T", bound=Balanced)


class LeastOutstanding:
    """Picks a replica; remembers where the last tie went."""

    def __init__(self) -> None:
        self._turn = itertools.count()

    def pick(self, candidates: Iterable[T], exclude: object = None) -> T | None:
        pool = [c for c in candidates if c is not exclude]
        if not pool:
            return None
        least = min(c.inflight for c in pool)
        tied = [c for c in pool if c.inflight == least]
        return tied[next(self._turn) % len(tied)]
