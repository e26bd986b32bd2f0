"""v4.1 service volumes in oscar-local: a managed volume's directory is mounted at ``mount_path`` in
the bubblewrap sandbox of every run of the services that name it (sync runs, replicas), lives as long
as its lifecycle policy says, and stays out of reach of services that do not name it."""
from __future__ import annotations

import base64
import glob
import os
import tempfile
import time
import uuid
from typing import Any, Iterator

import pytest
import requests

from oscar_jupyter import local


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    c = local.start(data_dir=str(tmp_path_factory.mktemp("volumes")), port=0, password=uuid.uuid4().hex,
                    api_version="4.1")
    try:
        info = requests.get(c.endpoint + "/system/info", auth=(c.user, c.password), timeout=30)
        if not info.headers.get("X-Oscar-Local-Sandbox", "").startswith("bwrap"):
            pytest.skip("volumes are mounted by the bubblewrap sandbox, which does not run here")
        yield c
    finally:
        c.stop()


def _create(c: Any, script: str, volume: dict | None = None, **fields: Any) -> tuple[int, str, str]:
    name = "vol-" + uuid.uuid4().hex[:8]
    body: dict[str, Any] = {"name": name, "image": "alpine", "script": script, **fields}
    if volume is not None:
        body["volume"] = volume
    r = requests.post(c.endpoint + "/system/services", json=body, auth=(c.user, c.password), timeout=60)
    return r.status_code, r.text, name


def _run(c: Any, name: str) -> str:
    token = requests.get(f"{c.endpoint}/system/services/{name}", auth=(c.user, c.password), timeout=30).json()["token"]
    r = requests.post(f"{c.endpoint}/run/{name}", data=base64.b64encode(b"x"), timeout=120,
                      headers={"Authorization": "Bearer " + token})
    assert r.status_code == 200, r.text
    return r.text


def _data(c: Any, volume: str) -> str:
    """Where oscar-local keeps a volume's data (``volumes/<namespace digest>/<name>``)."""
    found = glob.glob(os.path.join(c.data_dir, "volumes", "*", volume))
    assert len(found) <= 1, found
    return found[0] if found else os.path.join(c.data_dir, "volumes", "?", volume)


def _delete(c: Any, name: str) -> None:
    requests.delete(f"{c.endpoint}/system/services/{name}", auth=(c.user, c.password), timeout=60)


def test_runs_of_a_service_share_its_volume(cluster: Any) -> None:
    status, text, name = _create(cluster, 'echo run >> /cache/runs; echo "count=$(wc -l < /cache/runs)"',
                                 {"mount_path": "/cache", "size": "1Gi"})
    assert status == 201, text
    try:
        assert [("count=%d" % n) in _run(cluster, name) for n in (1, 2, 3)] == [True] * 3
        data = _data(cluster, name)
        with open(os.path.join(data, "runs"), encoding="utf-8") as fh:
            assert fh.read() == "run\n" * 3
    finally:
        _delete(cluster, name)
    assert not os.path.exists(data)  # lifecycle_policy: delete


def test_a_retained_volume_outlives_its_service_and_is_mounted_by_name(cluster: Any) -> None:
    shared = "kept-" + uuid.uuid4().hex[:6]
    status, text, writer = _create(cluster, "echo from-the-writer > /data/note",
                                   {"mount_path": "/data", "size": "1Gi", "name": shared, "lifecycle_policy": "retain"})
    assert status == 201, text
    _run(cluster, writer)
    _delete(cluster, writer)
    status, text, reader = _create(cluster, "cat /elsewhere/note", {"mount_path": "/elsewhere", "name": shared})
    assert status == 201, text
    try:
        assert "from-the-writer" in _run(cluster, reader)
        # an exposed replica mounts it too
        status, text, server = _create(cluster, "cd /srv/v && exec python3 -m http.server 8080 --bind 127.0.0.1",
                                       {"mount_path": "/srv/v", "name": shared},
                                       expose={"api_port": [8080], "min_scale": 1, "max_scale": 1})
        assert status == 201, text
        try:
            deadline = time.monotonic() + 120
            while True:
                got = requests.get(f"{cluster.endpoint}/system/services/{server}/exposed/note", timeout=30)
                if got.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            assert (got.status_code, got.text) == (200, "from-the-writer\n")
        finally:
            _delete(cluster, server)
    finally:
        _delete(cluster, reader)
    assert os.path.isdir(_data(cluster, shared))  # never deleted: retained


def test_a_service_without_the_volume_cannot_reach_its_data(cluster: Any) -> None:
    secret = "secret-" + uuid.uuid4().hex
    status, text, owner = _create(cluster, f"echo {secret} > /data/private; cat /data/private",
                                  {"mount_path": "/data", "size": "1Gi"})
    assert status == 201, text
    try:
        assert secret in _run(cluster, owner)
        path = os.path.join(_data(cluster, owner), "private")
        status, text, other = _create(cluster, f"cat {path} /data/private 2>&1; ls / ; true")
        assert status == 201, text
        try:
            seen = _run(cluster, other)
            assert secret not in seen
        finally:
            _delete(cluster, other)
    finally:
        _delete(cluster, owner)


def test_a_volume_belongs_to_its_owners_namespace() -> None:
    """As on the Manager, each OIDC user's volumes live in a namespace of their own: another user
    cannot mount one by its name (400), and making one of the same name is theirs (201), leaving
    the first user's data as it was."""
    from tests.integration.test_local_oidc import MEMBER, VO, OidcIssuer

    with OidcIssuer() as issuer:
        c = local.start(data_dir=tempfile.mkdtemp(prefix="volumes-oidc-"), port=0, password=uuid.uuid4().hex,
                        api_version="4.1", oidc_issuer=issuer.issuer, oidc_groups=(VO,))
        try:
            info = requests.get(c.endpoint + "/system/info", auth=(c.user, c.password), timeout=30)
            if not info.headers.get("X-Oscar-Local-Sandbox", "").startswith("bwrap"):
                pytest.skip("volumes are mounted by the bubblewrap sandbox, which does not run here")
            alice, bob = ({"Authorization": "Bearer " + issuer.token(issuer.user(MEMBER))} for _ in range(2))

            def post(who: dict, name: str, script: str, volume: dict) -> requests.Response:
                return requests.post(c.endpoint + "/system/services", headers=who, timeout=60, json={
                    "name": name, "image": "alpine", "script": script, "volume": volume})

            def run(who: dict, name: str) -> str:
                token = requests.get(f"{c.endpoint}/system/services/{name}", headers=who, timeout=30).json()["token"]
                return requests.post(f"{c.endpoint}/run/{name}", data=base64.b64encode(b"x"), timeout=120,
                                     headers={"Authorization": "Bearer " + token}).text

            secret = "alice-" + uuid.uuid4().hex
            assert post(alice, "a-svc", f"echo {secret} > /data/s; cat /data/s",
                        {"mount_path": "/data", "size": "1Gi", "name": "shared"}).status_code == 201
            assert secret in run(alice, "a-svc")
            refused = post(bob, "b-svc", "cat /data/s", {"mount_path": "/data", "name": "shared"})
            assert (refused.status_code, refused.text) == (400, "Referenced volume does not exist in the caller namespace")
            assert post(bob, "b-two", "cat /data/s 2>&1; true",
                        {"mount_path": "/data", "size": "1Gi", "name": "shared"}).status_code == 201
            assert secret not in run(bob, "b-two")
            status = requests.get(f"{c.endpoint}/system/services/a-svc", headers=alice, timeout=30).json()
            assert status["volume_status"] == {"enabled": True, "name": "shared", "phase": "in_use"}
            assert secret in run(alice, "a-svc")
        finally:
            c.stop()
