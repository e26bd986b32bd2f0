"""oscar-local as a new user meets it: the official oscar-python client, the minio client and curl."""
from __future__ import annotations

import base64
import io
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from oscar_python.client import Client

FDL_SCRIPT = """#!/bin/sh
echo "processing $(basename "$INPUT_FILE_PATH")"
tr 'a-z' 'A-Z' < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH").upper"
"""


def wait_for(predicate: Any, timeout: float = 60.0, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(step)


@pytest.fixture
def client(local_cluster: Any) -> Client:
    return Client({"cluster_id": "oscar-local", "endpoint": local_cluster.endpoint,
                   "user": local_cluster.user, "password": local_cluster.password, "ssl": "True"})


@pytest.fixture
def fdl(tmp_path: Path, unique_name: str) -> Path:
    (tmp_path / "upper.sh").write_text(FDL_SCRIPT)
    doc = {"functions": {"oscar": [{"oscar-local": {
        "name": unique_name, "memory": "128Mi", "cpu": "0.5", "image": "alpine",
        "script": "upper.sh", "log_level": "info",
        "input": [{"storage_provider": "minio.default", "path": f"{unique_name}/in"}],
        "output": [{"storage_provider": "minio.default", "path": f"{unique_name}/out"}],
        "environment": {"variables": {"GREETING": "hi"}, "secrets": {"API_KEY": "s3cr3t-value"}},
    }}]}}
    path = tmp_path / "upper.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_official_client_reads_info_config_status(client: Client, local_cluster: Any) -> None:
    assert client.health_check().text.strip() == "Ok"
    info = client.get_cluster_info().json()
    assert set(info) >= {"version", "git_commit", "architecture", "kubernetes_version", "serverless_backend"}
    config = client.get_cluster_config().json()
    provider = config["minio_provider"]
    assert provider["endpoint"].startswith("http://127.0.0.1:")
    assert provider["access_key"] and provider["secret_key"] not in ("", "hidden")
    status = client.get_cluster_status().json()
    node = status["cluster"]["nodes"][0]
    assert node["memory"]["capacity_bytes"] > 0 and node["cpu"]["capacity_cores"] >= 1
    assert status["cluster"]["metrics"]["memory"]["total_free_bytes"] > 0
    assert "buckets_count" in status["minio"]


def test_official_client_full_service_lifecycle(client: Client, fdl: Path, unique_name: str,
                                                local_cluster: Any, s3_client: Any, tmp_path: Path) -> None:
    name = unique_name
    resp = client.create_service(str(fdl))
    assert resp.status_code == 201 and resp.text == ""
    try:
        listed = [s["name"] for s in client.list_services().json()]
        assert name in listed
        svc = client.get_service(name).json()
        assert svc["script"] == FDL_SCRIPT
        assert len(svc["token"]) == 64 and int(svc["token"], 16) >= 0
        assert svc["owner"] == "cluster_admin" and svc["log_level"] == "INFO"
        assert svc["environment"]["secrets"] == {"API_KEY": ""}
        assert svc["storage_providers"]["minio"]["default"]["secret_key"] == "hidden"
        # buckets and folder markers exist
        keys = {o.object_name for o in s3_client.list_objects(name, recursive=True)}
        assert {"in/", "out/"} <= keys

        # update from the same FDL with a change
        doc = yaml.safe_load(fdl.read_text())
        doc["functions"]["oscar"][0]["oscar-local"]["memory"] = "256Mi"
        fdl.write_text(yaml.safe_dump(doc))
        resp = client.update_service(name, str(fdl))
        assert resp.status_code == 204
        updated = client.get_service(name).json()
        assert updated["memory"] == "256Mi" and updated["token"] == svc["token"]

        # synchronous run with the service token (the client fetches it)
        out = tmp_path / "out.bin"
        resp = client.run_service(name, input="hello world", output=str(out), timeout=60)
        assert resp.status_code == 200
        assert resp.headers["X-Oscar-Exit-Code"] == "0"
        assert base64.b64decode(resp.text.strip().splitlines()[-1]) == b"HELLO WORLD"

        # upload to the input bucket with the minio_provider credentials; find the output
        data = b"from the bucket\n"
        s3_client.put_object(name, "in/note.txt", io.BytesIO(data), len(data))
        wait_for(lambda: any(o.object_name == "out/note.txt.upper"
                             for o in s3_client.list_objects(name, prefix="out/", recursive=True)))
        got = s3_client.get_object(name, "out/note.txt.upper").read()
        assert got == b"FROM THE BUCKET\n"

        # jobs and their logs
        def succeeded() -> Any:
            jobs = client.list_jobs(name).json()["jobs"]
            done = {k: v for k, v in jobs.items() if v["status"] == "Succeeded"}
            return done or None
        jobs = wait_for(succeeded)
        job_name = next(iter(jobs))
        assert job_name.startswith(name + "-") and len(job_name) == len(name) + 37
        info = jobs[job_name]
        assert info["creation_time"].endswith("Z") and info["finish_time"].endswith("Z")
        log = client.get_job_logs(name, job_name).text
        assert "processing note.txt" in log
        assert "s3cr3t-value" not in log

        # the storage helper of the official client reads through the same credentials
        storage = client.create_storage_client(name)
        listing = storage.list_files_from_path("minio.default", f"{name}/out/")
        assert any(o["Key"] == "out/note.txt.upper" for o in listing.get("Contents", []))

        assert client.remove_job(name, job_name).status_code == 204
        assert job_name not in client.list_jobs(name).json()["jobs"]
    finally:
        resp = client.remove_service(name)
    assert resp.status_code == 204
    assert not s3_client.bucket_exists(name)
    assert requests.get(f"{local_cluster.endpoint}/system/services/{name}",
                        auth=(local_cluster.user, local_cluster.password)).status_code == 404


def curl(*args: str, data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """Run curl; return (status, headers, body)."""
    proc = subprocess.run(["curl", "-sS", "-i", *args], input=data, capture_output=True, timeout=60, check=True)
    head, _, body = proc.stdout.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def test_curl_as_a_new_user(local_cluster: Any, unique_name: str, tmp_path: Path) -> None:
    base = local_cluster.endpoint
    user = f"{local_cluster.user}:{local_cluster.password}"
    status, _, body = curl(f"{base}/health")
    assert (status, body) == (200, b"Ok")
    status, headers, body = curl(f"{base}/system/info")
    assert status == 401 and headers["www-authenticate"] == 'Basic realm="Authorization Required"'
    status, _, body = curl("-u", user, f"{base}/system/info")
    assert status == 200 and "version" in json.loads(body)

    svc = {"name": unique_name, "image": "alpine", "script": "echo \"got: $(cat $INPUT_FILE_PATH)\"; exit 3"}
    status, _, body = curl("-u", user, "-X", "POST", "-H", "Content-Type: application/json",
                           "--data-binary", "@-", f"{base}/system/services", data=json.dumps(svc).encode())
    assert status == 201 and body == b""
    try:
        status, _, body = curl("-u", user, f"{base}/system/services/{unique_name}")
        token = json.loads(body)["token"]
        status, headers, body = curl("-X", "POST", "-H", f"Authorization: Bearer {token}",
                                     "--data-binary", "@-", f"{base}/run/{unique_name}",
                                     data=base64.b64encode(b"plain text"))
        # a failing script still answers 200; the exit status is in the header
        assert status == 200 and headers["x-oscar-exit-code"] == "3"
        assert b"got: plain text" in body
        # Basic credentials are refused on /run
        status, _, body = curl("-u", user, "-X", "POST", "--data-binary", "x", f"{base}/run/{unique_name}")
        assert status == 401 and body == b""
        # async: arbitrary body, 201, empty body, then the job appears
        status, _, body = curl("-X", "POST", "-H", f"Authorization: Bearer {token}",
                               "--data-binary", '{"any": ["json", 1]}', f"{base}/job/{unique_name}")
        assert status == 201 and body == b""

        def job_done() -> Any:
            st, _, b = curl("-u", user, f"{base}/system/logs/{unique_name}")
            jobs = json.loads(b)["jobs"]
            return [k for k, v in jobs.items() if v["status"] in ("Succeeded", "Failed")]
        names = wait_for(job_done)
        status, _, body = curl("-u", user, f"{base}/system/logs/{unique_name}/{names[0]}")
        assert status == 200 and b"got: " in body
        status, _, body = curl("-u", user, f"{base}/system/logs/{unique_name}")
        assert json.loads(body)["jobs"][names[0]]["status"] == "Failed"  # exit 3
        status, _, _ = curl("-u", user, f"{base}/openapi.json")
        assert status == 200
    finally:
        status, _, _ = curl("-u", user, "-X", "DELETE", f"{base}/system/services/{unique_name}")
    assert status == 204


def test_official_client_bucket_calls(client: Client, unique_name: str) -> None:
    bucket = unique_name
    assert client.create_bucket(bucket, visibility="public").status_code == 201
    try:
        assert any(b["bucket_name"] == bucket and b["visibility"] == "public"
                   for b in client.list_buckets().json())
        assert client.update_bucket(bucket, "private").status_code == 204
        presigned = client.presign_bucket(bucket, "hello.txt", operation="upload").json()
        assert requests.put(presigned["url"], data=b"hi there").status_code == 200
        details = client.get_bucket(bucket).json()
        assert details["visibility"] == "private"
        assert [o["object_name"] for o in details["objects"]] == ["hello.txt"]
        url = client.presign_bucket(bucket, "hello.txt").json()["url"]
        assert requests.get(url).content == b"hi there"
    finally:
        assert client.delete_bucket(bucket).status_code == 204
