"""Fixtures for the engine of oscar-local: a real embedded S3 endpoint (moto in its own process)."""
from __future__ import annotations

import asyncio
import uuid
from typing import Iterator, List

import pytest

from oscar_jupyter.local.s3 import S3Endpoint
from oscar_jupyter.local.s3store import S3Store


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """An embedded S3 endpoint for the module, storing under a fresh data dir."""
    endpoint = S3Endpoint.start(str(tmp_path_factory.mktemp("s3data")))
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture
def store(s3_endpoint: S3Endpoint) -> S3Store:
    return s3_endpoint.store()


@pytest.fixture
def bucket(store: S3Store) -> Iterator[str]:
    """A fresh bucket, deleted with its objects afterwards."""
    name = f"b-{uuid.uuid4().hex[:12]}"
    store.ensure_bucket(name)
    yield name
    store.delete_bucket(name, force=True)


def collect_events(endpoint: S3Endpoint, count: int, timeout: float = 10.0,
                   bucket: str = "") -> List[dict]:
    """The next `count` events (of `bucket` when given), or fail after `timeout` seconds."""

    async def take() -> List[dict]:
        got: List[dict] = []
        async for event in endpoint.events():
            if bucket and event["Records"][0]["s3"]["bucket"]["name"] != bucket:
                continue
            got.append(event)
            if len(got) >= count:
                break
        return got

    async def main() -> List[dict]:
        return await asyncio.wait_for(take(), timeout)

    return asyncio.run(main())


def drain_events(endpoint: S3Endpoint, quiet: float = 0.3) -> List[dict]:
    """Every event already emitted (stops after `quiet` seconds without one)."""

    async def main() -> List[dict]:
        got: List[dict] = []
        iterator = endpoint.events().__aiter__()
        while True:
            try:
                got.append(await asyncio.wait_for(iterator.__anext__(), quiet))
            except (asyncio.TimeoutError, StopAsyncIteration):
                return got

    return asyncio.run(main())


