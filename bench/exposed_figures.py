"""Exposed services: proxy throughput against straight-to-replica, with a trivial backend.

One exposed service (an aiohttp "hello" server hard-coding port 8080) runs
in one replica. The same closed-loop load (``bench.exposed_load``, in its
own process so it never shares oscar-local's interpreter) is sent with 1, 8
and 32 keep-alive clients, alternating between the two paths every quarter
second so both see the same machine load:

* straight to the replica: its relay's Unix socket (the replica's network
  namespace is reached only through it, as the proxy reaches it too);
* through oscar-local: ``/system/services/<name>/exposed/`` on its endpoint
  (nginx where installed, else the aiohttp proxy).

Ratios of throughput and the p50 latency the proxy adds are the figures.
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import requests

HELLO = r'''#!/usr/bin/env python3
from aiohttp import web
async def hello(request):
    return web.Response(text="hello")
app = web.Application()
app.router.add_get("/{tail:.*}", hello)
web.run_app(app, host="127.0.0.1", port=8080, print=None, access_log=None)
'''


@dataclass
class Pair:
    clients: int
    direct: dict
    proxied: dict

    @property
    def ratio(self) -> float:
        return self.proxied["rps"] / self.direct["rps"] if self.direct["rps"] else 0.0

    @property
    def added_p50_ms(self) -> float:
        return self.proxied["p50_ms"] - self.direct["p50_ms"]


def _load_pair(direct_url: str, unix: str, proxied_url: str, clients: int, seconds: float,
               upload: str | None = None) -> Tuple[dict, dict]:
    """Both targets in alternating slices by one load-generator process."""
    cmd = [sys.executable, "-m", "bench.exposed_load", direct_url, "--unix", unix, "--versus", proxied_url,
           "--clients", str(clients), "--seconds", str(seconds), "--slice", str(min(0.25, seconds / 2))]
    if upload:
        cmd += ["--upload", upload]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=root, timeout=seconds * 4 + 60)
    direct, proxied = json.loads(out.stdout)
    return direct, proxied


def _replica_socket(name: str, timeout: float = 30) -> str:
    """The relay socket of the service's first replica (named after the service)."""
    pattern = os.path.join(tempfile.gettempdir(), "oscar-x-*", f"{name}-1-*", "s")
    deadline = time.monotonic() + timeout
    while True:
        found = glob.glob(pattern)
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise RuntimeError(f"no relay socket for {name}: replicas run without network namespaces here")
        time.sleep(0.1)


def proxy_vs_direct(endpoint: str, auth: Tuple[str, str], clients: Sequence[int], seconds: float,
                    api_version: str | None = None, *, script: str = HELLO, port: int = 8080,
                    path: str = "hello", upload: str | None = None, prefix: str = "bench-hello-",
                    ready_timeout: float = 120) -> Tuple[List[Pair], str]:
    """Throughput and p50 straight to the replica and through oscar-local, per client count
    (``upload``: each request POSTs that file as the multipart field ``data``)."""
    name = prefix + uuid.uuid4().hex[:8]
    ports: object = [port] if api_version == "4.1" else port
    # one replica, pinned: the autoscaler (15 s period) would otherwise add replicas, each
    # starting up on the same cores, in the middle of the run
    svc = {"name": name, "image": "python:3", "script": script,
           "expose": {"api_port": ports, "min_scale": 1, "max_scale": 1}}
    requests.post(endpoint + "/system/services", json=svc, auth=auth, timeout=60).raise_for_status()
    try:
        deadline = time.monotonic() + ready_timeout
        url = f"{endpoint}/system/services/{name}/exposed/{path}"
        while requests.get(url, timeout=30).status_code not in (200, 405):
            if time.monotonic() > deadline:
                raise RuntimeError("the benchmark's exposed service never became ready")
            time.sleep(0.2)
        time.sleep(0.5)  # settle after readiness
        front = requests.get(url, timeout=30).headers.get("Server", "")
        via = "nginx" if front.startswith("nginx") else "aiohttp"
        sock = _replica_socket(name)
        pairs = []
        for n in clients:
            direct, proxied = _load_pair(f"http://replica/{path}", sock, url, n, seconds, upload)
            pairs.append(Pair(n, direct, proxied))
        return pairs, via
    finally:
        requests.delete(f"{endpoint}/system/services/{name}", auth=auth, timeout=60)
