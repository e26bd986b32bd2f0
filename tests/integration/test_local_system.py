"""oscar-local's system, bucket and limit behaviour: OpenAPI, buckets, presign, queueing, timeouts, external S3."""
from __future__ import annotations

import base64
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from oscar_jupyter import local
from oscar_jupyter.local.s3 import S3Endpoint


def test_openapi_document_lists_every_route(local_cluster: Any) -> None:
    doc = requests.get(local_cluster.endpoint + "/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path, method in (("/system/services", "post"), ("/system/services/{serviceName}", "delete"),
                         ("/run/{serviceName}", "post"), ("/job/{serviceName}", "post"),
                         ("/system/logs/{serviceName}/{jobName}", "get"), ("/system/buckets/{bucket}/presign", "post"),
                         ("/system/status", "get"), ("/health", "get")):
        assert method in paths[path], (path, method)
    assert "X-Oscar-Exit-Code" in paths["/run/{serviceName}"]["post"]["summary"]
    assert "types.Service" in doc["components"]["schemas"]


def test_buckets_browse_with_paging_and_presign(admin: requests.Session, unique_name: str) -> None:
    bucket = unique_name
    assert admin.post(admin.url("/system/buckets"), json={"bucket_name": bucket, "visibility": "private"}).status_code == 201
    try:
        listed = {b["bucket_name"]: b for b in admin.get(admin.url("/system/buckets")).json()}
        assert listed[bucket]["visibility"] == "private"
        assert admin.put(admin.url("/system/buckets"), json={"bucket_name": bucket, "visibility": "restricted",
                                                             "allowed_users": ["ana"]}).status_code == 204
        # upload through a presigned URL, as the dashboard does
        resp = admin.post(admin.url(f"/system/buckets/{bucket}/presign"),
                          json={"object_key": "docs/readme.txt", "operation": "upload", "expires_in": 60})
        assert resp.status_code == 200, resp.text
        presigned = resp.json()
        assert presigned["method"] == "PUT" and presigned["expires_at"].endswith("Z")
        assert requests.put(presigned["url"], data=b"hello presigned").status_code == 200
        for i in range(4):
            url = admin.post(admin.url(f"/system/buckets/{bucket}/presign"),
                             json={"object_key": f"docs/n{i}.txt", "operation": "upload"}).json()["url"]
            assert requests.put(url, data=str(i).encode()).status_code == 200
        # browse two at a time
        seen: list[str] = []
        page = ""
        while True:
            body = admin.get(admin.url(f"/system/buckets/{bucket}"), params={"limit": 2, "page": page}).json()
            assert body["bucket_name"] == bucket and body["visibility"] == "restricted"
            assert body["allowed_users"] == ["ana"]
            assert body["returned_items"] == len(body["objects"]) <= 2
            seen += [o["object_name"] for o in body["objects"]]
            if not body["is_truncated"]:
                break
            page = body["next_page"]
        assert seen == ["docs/n0.txt", "docs/n1.txt", "docs/n2.txt", "docs/n3.txt", "docs/readme.txt"]
        only = admin.get(admin.url(f"/system/buckets/{bucket}"), params={"prefix": "docs/r"}).json()
        assert [o["object_name"] for o in only["objects"]] == ["docs/readme.txt"]
        assert only["objects"][0]["size_bytes"] == len(b"hello presigned")
        # download through a presigned URL
        url = admin.post(admin.url(f"/system/buckets/{bucket}/presign"),
                         json={"object_key": "docs/readme.txt", "operation": "download"}).json()["url"]
        assert requests.get(url).content == b"hello presigned"
    finally:
        assert admin.delete(admin.url(f"/system/buckets/{bucket}")).status_code == 204
    assert admin.get(admin.url(f"/system/buckets/{bucket}")).status_code == 404


def test_jobs_wait_pending_while_the_cpu_budget_is_full(local_cluster: Any, make_service: Any,
                                                        admin: requests.Session) -> None:
    cores = requests.get(local_cluster.endpoint + "/system/status",
                         auth=(local_cluster.user, local_cluster.password)).json()["cluster"]["nodes"][0]["cpu"]
    svc = make_service(script="sleep 0.6", cpu=str(cores["capacity_cores"] * 4))  # larger than the machine
    name, headers = svc["name"], {"Authorization": f"Bearer {svc['token']}"}
    for _ in range(3):
        assert requests.post(f"{local_cluster.endpoint}/job/{name}", data=b"{}", headers=headers).status_code == 201
    seen: set[tuple[str, ...]] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        jobs = admin.get(admin.url(f"/system/logs/{name}")).json()["jobs"]
        states = tuple(sorted(v["status"] for v in jobs.values()))
        seen.add(states)
        if states == ("Succeeded",) * 3:
            break
        assert states.count("Running") <= 1, states  # one at a time: each takes the whole budget
        time.sleep(0.05)
    assert ("Succeeded",) * 3 in seen
    assert any("Pending" in s and "Running" in s for s in seen), seen


def test_queue_timeout_is_503_and_run_timeout_is_504(tmp_path: Path) -> None:
    with local.start(data_dir=str(tmp_path / "d"), port=0, queue_timeout=0.5, sync_timeout=3.0) as cluster:
        auth = (cluster.user, cluster.password)
        svc = {"name": "slow", "image": "alpine", "script": "sleep \"$(cat \"$INPUT_FILE_PATH\")\"",
               "synchronous": {"max_scale": 1}}
        assert requests.post(cluster.endpoint + "/system/services", json=svc, auth=auth).status_code == 201
        token = requests.get(cluster.endpoint + "/system/services/slow", auth=auth).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        results: list[requests.Response] = []

        def call(seconds: str) -> None:
            results.append(requests.post(cluster.endpoint + "/run/slow", headers=headers,
                                         data=base64.b64encode(seconds.encode())))

        first = threading.Thread(target=call, args=("2",))
        first.start()
        time.sleep(0.8)
        call("0")  # waits behind the first for longer than the queue timeout
        first.join()
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 503], [(r.status_code, r.text) for r in results]
        busy = next(r for r in results if r.status_code == 503)
        assert "slow" in busy.text and "max_scale" in busy.text and busy.headers.get("Retry-After")
        resp = requests.post(cluster.endpoint + "/run/slow", headers=headers, data=base64.b64encode(b"5"))
        assert resp.status_code == 504 and "time limit" in resp.text


def test_external_s3_endpoint(tmp_path: Path) -> None:
    """--s3-endpoint: storage elsewhere; uploads still start jobs (found by listing)."""
    external = S3Endpoint.start(str(tmp_path / "external"), 0)
    try:
        with local.start(data_dir=str(tmp_path / "d"), port=0, s3_endpoint=external.endpoint,
                         s3_access_key=external.access_key, s3_secret_key=external.secret_key) as cluster:
            auth = (cluster.user, cluster.password)
            cfg = requests.get(cluster.endpoint + "/system/config", auth=auth).json()["minio_provider"]
            assert cfg["endpoint"] == external.endpoint and cfg["secret_key"] == external.secret_key
            svc = {"name": "ext", "image": "alpine", "script": 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"',
                   "input": [{"storage_provider": "minio.default", "path": "ext-bucket/in"}],
                   "output": [{"storage_provider": "minio.default", "path": "ext-bucket/out"}]}
            assert requests.post(cluster.endpoint + "/system/services", json=svc, auth=auth).status_code == 201
            store = external.store()
            assert store.bucket_exists("ext-bucket")
            store.put_bytes("ext-bucket", "in/one.txt", b"one")
            deadline = time.monotonic() + 30
            while store.stat("ext-bucket", "out/one.txt") is None:
                assert time.monotonic() < deadline, "no output from the external bucket"
                time.sleep(0.2)
            time.sleep(2.5)  # a later listing pass must not start it again
            jobs = requests.get(cluster.endpoint + "/system/logs/ext", auth=auth).json()["jobs"]
            assert [v["status"] for v in jobs.values()] == ["Succeeded"]
            assert store.get_bytes("ext-bucket", "out/one.txt") == b"one"
            external.stop()  # the storage goes away: a clear 5xx, not a crash
            resp = requests.get(cluster.endpoint + "/system/buckets", auth=auth, timeout=60)
            assert resp.status_code == 502 and resp.text.startswith("Storage error:"), resp.text
            assert external.secret_key not in resp.text
    finally:
        external.stop()


def test_server_log_never_shows_secrets(local_cluster: Any, make_service: Any, admin: requests.Session,
                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="oscar_jupyter.local")
    svc = make_service(script='echo "$PASSWORD_X" > /dev/null',
                       environment={"secrets": {"PASSWORD_X": "very-private-value"}})
    requests.post(f"{local_cluster.endpoint}/run/{svc['name']}", headers={"Authorization": f"Bearer {svc['token']}"})
    requests.post(f"{local_cluster.endpoint}/run/{svc['name']}", headers={"Authorization": "Bearer " + "f" * 64})
    logs = admin.get(admin.url("/system/logs/")).text
    assert "created service " + svc["name"] in logs
    assert "ext-bucket" not in logs  # only this cluster's lines
    cfg = admin.get(admin.url("/system/config")).json()["minio_provider"]
    for secret in ("very-private-value", svc["token"], local_cluster.password, cfg["secret_key"]):
        assert secret not in logs
        assert secret not in caplog.text
    assert local_cluster.password not in repr(local_cluster)
