"""A closed-loop HTTP load generator in its own process: ``python -m bench.exposed_load``.

``clients`` keep-alive connections each send GET requests back to back.
Given two targets (``URL`` and ``--versus URL2``), it alternates between
them in short slices for ``seconds`` in all, so both see the same machine
load (other processes come and go on a shared machine); prints one JSON
object per target: requests, seconds, throughput, p50/p99 (ms), errors.
``--unix PATH`` sends the first target's requests to a Unix socket (a
replica's relay) instead of the URL's host. Running apart from oscar-local
keeps the load generator off the server's interpreter.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field

import aiohttp


@dataclass
class Tally:
    latencies: list = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    def summary(self) -> dict:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1e3 if lat else 0.0

        return {"requests": len(lat), "errors": self.errors, "seconds": self.seconds,
                "rps": len(lat) / self.seconds if self.seconds else 0.0, "p50_ms": pct(50), "p99_ms": pct(99)}


async def _slice(session: aiohttp.ClientSession, url: str, clients: int, seconds: float,
                 tally: Tally | None, upload: bytes | None = None) -> None:
    until = time.perf_counter() + seconds

    async def one() -> None:
        while True:
            t0 = time.perf_counter()
            if t0 >= until:
                return
            try:
                if upload is not None:  # a multipart file field "data", as DEEPaaS predicts take it
                    form = aiohttp.FormData()
                    form.add_field("data", upload, filename="input.png", content_type="image/png")
                    request = session.post(url, data=form)
                else:
                    request = session.get(url)
                async with request as resp:
                    await resp.read()
                    ok = resp.status == 200
            except aiohttp.ClientError:
                ok = False
            if tally is not None:
                if ok:
                    tally.latencies.append(time.perf_counter() - t0)
                else:
                    tally.errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(clients)))
    if tally is not None:
        tally.seconds += time.perf_counter() - start


async def run(targets: list[tuple[str, str | None]], clients: int, seconds: float, slice_s: float,
              warmup: float, upload: bytes | None = None) -> list[dict]:
    sessions = [aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=unix, limit=0) if unix
                                      else aiohttp.TCPConnector(limit=0)) for _, unix in targets]
    tallies = [Tally() for _ in targets]
    try:
        for (url, _), session in zip(targets, sessions):
            await _slice(session, url, clients, warmup, None, upload)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            for (url, _), session, tally in zip(targets, sessions, tallies):
                await _slice(session, url, clients, slice_s, tally, upload)
    finally:
        for session in sessions:
            await session.close()
    return [t.summary() for t in tallies]


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.exposed_load")
    p.add_argument("url")
    p.add_argument("--unix", default=None, help="send the first target's requests to this Unix socket")
    p.add_argument("--versus", default=None, help="a second URL, measured in alternation")
    p.add_argument("--clients", type=int, default=1)
    p.add_argument("--seconds", type=float, default=3.0, help="total seconds per target")
    p.add_argument("--slice", type=float, default=0.25, help="seconds per turn of one target")
    p.add_argument("--warmup", type=float, default=0.3)
    p.add_argument("--upload", default=None, help="POST this file as the multipart field 'data'")
    a = p.parse_args()
    upload = open(a.upload, "rb").read() if a.upload else None
    targets = [(a.url, a.unix)] + ([(a.versus, None)] if a.versus else [])
    print(json.dumps(asyncio.run(run(targets, a.clients, a.seconds * len(targets), a.slice, a.warmup, upload))))


if __name__ == "__main__":
    main()
