"""200 MB through the exposed-service proxy both ways, with oscar-local's memory watched.

oscar-local runs in this process (a thread), so the process's RSS is
sampled while the client streams from a generator and into a counter: a
proxy that buffered bodies would grow by the body's size.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Iterator

import psutil
import pytest
import requests

from exposed_backend import FRONTS, admin_session, backend, exposed_cluster, replica_port

SIZE = 200 * 1024 * 1024
BOUND = 64 * 1024 * 1024  # growth allowed (allocator noise, pools), well under the body size


@pytest.fixture(scope="module", params=FRONTS)
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    with exposed_cluster(request.param, str(tmp_path_factory.mktemp("exposed-stream")),
                         timings={"startup_interval": 0.1}) as c:
        s = admin_session(c)
        port = replica_port()
        spec = {"name": "stream", "image": "x", "script": backend(port), "expose": {"api_port": [port]}}
        assert s.post(c.endpoint + "/system/services", json=spec, timeout=30).status_code == 201
        deadline = time.monotonic() + 60
        while s.get(c.endpoint + "/system/services/stream/deployment", timeout=30).json()["state"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        yield c, c.endpoint + "/system/services/stream/exposed/"


class PeakRSS:
    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.base


def _chunks(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    block = b"z" * size
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield block[:n]
        sent += n


def test_200_mb_upload_streams_with_bounded_memory(service):
    _, base = service
    with PeakRSS() as rss:
        r = requests.post(base + "upload", data=_chunks(SIZE), timeout=300)
    assert r.status_code == 200 and r.json()["size"] == SIZE
    print(f"upload 200 MB: oscar-local process RSS growth {rss.growth / 2**20:.1f} MiB")
    assert rss.growth < BOUND


def test_200_mb_upload_with_content_length(service):
    _, base = service

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            return _chunks(SIZE)

        def __len__(self) -> int:
            return SIZE

    with PeakRSS() as rss:
        r = requests.post(base + "upload", data=Body(), headers={"Content-Length": str(SIZE)}, timeout=300)
    assert r.status_code == 200 and r.json()["size"] == SIZE
    assert rss.growth < BOUND


def test_200_mb_download_streams_with_bounded_memory(service):
    _, base = service
    got = 0
    with PeakRSS() as rss:
        with requests.get(base + "download", params={"size": SIZE}, stream=True, timeout=300) as r:
            assert r.status_code == 200 and int(r.headers["Content-Length"]) == SIZE
            for chunk in r.iter_content(1 << 20):
                got += len(chunk)
    assert got == SIZE
    print(f"download 200 MB: oscar-local process RSS growth {rss.growth / 2**20:.1f} MiB")
    assert rss.growth < BOUND
