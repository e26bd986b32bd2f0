"""Shared fixtures: a real oscar-local for the whole session, unique names, admin sessions.

``local_cluster`` starts ``oscar_jupyter.local.start(data_dir=<tmp>, port=0)``
(Manager v3.7 shapes) once per test session (per xdist worker) and stops it at
the end. ``api_cluster`` is parametrized over the Manager versions in
``API_VERSIONS``: ``local_cluster`` for 3.7 and a second session oscar-local
started with ``api_version="4.1"`` (only when a test asks for it). Tests that
create services should name them with ``unique_name`` and delete them (or use
``make_service``, which does), so tests do not see each other's services.
"""
from __future__ import annotations

import uuid
from typing import Any, Callable, Iterator

import pytest
import requests


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--reliability", action="store_true", default=False,
                     help="also run the long load/burst/restart/fuzz tests marked 'reliability'")
    parser.addoption("--reliability-doc", metavar="PATH", default=None,
                     help="with --reliability: write the figures, the machine and the date to this "
                          "Markdown page (docs/reliability.md)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--reliability"):
        return
    skip = pytest.mark.skip(reason="reliability test: run with --reliability")
    for item in items:
        if "reliability" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A running oscar-local (handle with .endpoint, .user, .password, .data_dir, .stop())."""
    from oscar_jupyter import local

    data_dir = tmp_path_factory.mktemp("oscar-local")
    cluster = local.start(data_dir=str(data_dir), port=0, password=uuid.uuid4().hex)
    try:
        yield cluster
    finally:
        cluster.stop()


#: the Manager versions ``api_cluster`` runs tests against
API_VERSIONS = ("3.7", "4.1")


@pytest.fixture(scope="session")
def local_cluster_v4(local_cluster: Any) -> Any:
    """The oscar-local answering as Manager v4.1 (the default release: ``local_cluster`` itself)."""
    assert local_cluster.api_version == "4.1"
    return local_cluster


@pytest.fixture(scope="session")
def local_cluster_v3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A running oscar-local answering as Manager v3.7.1."""
    from oscar_jupyter import local

    data_dir = tmp_path_factory.mktemp("oscar-local-v3")
    cluster = local.start(data_dir=str(data_dir), port=0, password=uuid.uuid4().hex, api_version="3.7")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session", params=API_VERSIONS, ids=[f"manager-v{v}" for v in API_VERSIONS])
def api_cluster(request: pytest.FixtureRequest) -> Any:
    """An oscar-local per Manager version in ``API_VERSIONS`` (``.api_version`` says which)."""
    cluster = request.getfixturevalue("local_cluster_v3" if request.param == "3.7" else "local_cluster")
    assert cluster.api_version == request.param
    return cluster


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A service name (valid DNS label, <= 39 chars) no other test uses: ``t-<test>-<random>``."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())
    base = "-".join(p for p in base.split("-") if p)[:24].strip("-") or "svc"
    return f"t-{base}-{uuid.uuid4().hex[:8]}"[:39].strip("-")


@pytest.fixture
def admin(local_cluster: Any) -> Iterator[requests.Session]:
    """A requests session with the admin's Basic credentials; ``admin.url(path)`` builds URLs."""
    session = requests.Session()
    session.auth = (local_cluster.user, local_cluster.password)
    session.url = lambda path: local_cluster.endpoint + path  # type: ignore[attr-defined]
    yield session
    session.close()


@pytest.fixture
def make_service(local_cluster: Any, unique_name: str) -> Iterator[Callable[..., dict]]:
    """Create services over HTTP and delete them after the test.

    ``make_service(script="...", **fields)`` -> the stored definition (GET), with
    ``name`` defaulting to ``unique_name`` (``-2``, ``-3``... for more), an
    ``alpine`` image, and ``<name>/in`` -> ``<name>/out`` MinIO input/output.
    """
    auth = (local_cluster.user, local_cluster.password)
    made: list[str] = []

    def make(script: str = "cat \"$INPUT_FILE_PATH\"\n", **fields: Any) -> dict:
        name = fields.pop("name", None) or (unique_name if not made else f"{unique_name[:36]}-{len(made) + 1}")
        bucket = name
        definition = {
            "name": name,
            "image": "alpine",
            "script": script,
            "input": [{"storage_provider": "minio.default", "path": f"{bucket}/in"}],
            "output": [{"storage_provider": "minio.default", "path": f"{bucket}/out"}],
        }
        definition.update(fields)
        resp = requests.post(local_cluster.endpoint + "/system/services", json=definition, auth=auth, timeout=60)
        assert resp.status_code == 201, f"creating {name}: {resp.status_code} {resp.text}"
        made.append(name)
        got = requests.get(f"{local_cluster.endpoint}/system/services/{name}", auth=auth, timeout=30)
        assert got.status_code == 200, got.text
        return got.json()

    yield make
    for name in made:
        requests.delete(f"{local_cluster.endpoint}/system/services/{name}", auth=auth, timeout=60)


@pytest.fixture
def s3_client(local_cluster: Any) -> Any:
    """A ``minio.Minio`` client built from ``/system/config``'s minio_provider, as a user would."""
    from urllib.parse import urlparse

    from minio import Minio

    cfg = requests.get(local_cluster.endpoint + "/system/config",
                       auth=(local_cluster.user, local_cluster.password), timeout=30).json()["minio_provider"]
    url = urlparse(cfg["endpoint"])
    return Minio(url.netloc, access_key=cfg["access_key"], secret_key=cfg["secret_key"],
                 secure=url.scheme == "https", region=cfg.get("region") or None)


@pytest.fixture
def isolated_connections(monkeypatch, tmp_path):
    """No OSCAR_* settings, a fresh HOME (no oscar-cli config, no ~/.oscar-local), and the
    clusters a test opens closed after it (clusters opened before are left alone)."""
    import oscar_jupyter as oj
    from oscar_jupyter import auth

    for name in list(auth.ENV_VARS) + ["OSCAR_LOCAL_DATA_DIR"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    before = set(oj.clusters())
    yield
    for key in set(oj.clusters()) - before:  # only what this test opened
        oj.disconnect(key)
