"""A closed-loop HTTP load generator in its own process: ``python -m bench.exposed_load``.

``clients`` keep-alive connections each send GET requests back to back for
``seconds``; prints one JSON line: requests, seconds, throughput and latency
percentiles (ms). ``--unix PATH`` connects to a Unix socket (a replica's relay)
instead of the URL's host. Running apart from oscar-local keeps the load
generator off the server's interpreter.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp


async def run(url: str, clients: int, seconds: float, unix: str | None, warmup: float) -> dict:
    connector: aiohttp.BaseConnector = (aiohttp.UnixConnector(path=unix, limit=0) if unix
                                        else aiohttp.TCPConnector(limit=0))
    latencies: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one_client(until: float, record: bool) -> None:
            nonlocal errors
            while True:
                t0 = time.perf_counter()
                if t0 >= until:
                    return
                try:
                    async with session.get(url) as resp:
                        await resp.read()
                        ok = resp.status == 200
                except aiohttp.ClientError:
                    ok = False
                if record:
                    if ok:
                        latencies.append(time.perf_counter() - t0)
                    else:
                        errors += 1

        if warmup:
            until = time.perf_counter() + warmup
            await asyncio.gather(*(one_client(until, False) for _ in range(clients)))
        start = time.perf_counter()
        await asyncio.gather(*(one_client(start + seconds, True) for _ in range(clients)))
        elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1e3 if latencies else 0.0

    return {"requests": len(latencies), "errors": errors, "seconds": elapsed,
            "rps": len(latencies) / elapsed, "p50_ms": pct(50), "p99_ms": pct(99)}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.exposed_load")
    p.add_argument("url")
    p.add_argument("--clients", type=int, default=1)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--unix", default=None)
    a = p.parse_args()
    print(json.dumps(asyncio.run(run(a.url, a.clients, a.seconds, a.unix, a.warmup))))


if __name__ == "__main__":
    main()
