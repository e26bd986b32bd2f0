"""Asynchronous invocations on oscar-local: one job per uploaded object, /job, job states and logs."""
from __future__ import annotations

import io
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

COPY_SCRIPT = 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"\necho "copied $STORAGE_OBJECT_KEY"\n'


def jobs_of(local_cluster: Any, name: str) -> dict[str, dict]:
    """All jobs of a service, following next_page."""
    auth = (local_cluster.user, local_cluster.password)
    out: dict[str, dict] = {}
    page = ""
    while True:
        resp = requests.get(f"{local_cluster.endpoint}/system/logs/{name}", params={"page": page, "limit": 40},
                            auth=auth, timeout=30)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        out.update(body["jobs"])
        page = body.get("next_page", "")
        if not page:
            return out


def wait_finished(local_cluster: Any, name: str, count: int, timeout: float = 120.0) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = jobs_of(local_cluster, name)
        done = {k: v for k, v in jobs.items() if v["status"] in ("Succeeded", "Failed")}
        if len(done) >= count:
            return jobs
        if time.monotonic() > deadline:
            states = {v["status"] for v in jobs.values()}
            raise AssertionError(f"{len(done)}/{count} jobs finished within {timeout} s (states {states})")
        time.sleep(0.2)


def outputs(s3_client: Any, bucket: str) -> list[str]:
    return sorted(o.object_name for o in s3_client.list_objects(bucket, prefix="out/", recursive=True)
                  if not o.object_name.endswith("/"))


def test_one_upload_one_job_with_states_times_and_log(local_cluster: Any, make_service: Any,
                                                      s3_client: Any, admin: requests.Session) -> None:
    svc = make_service(script=COPY_SCRIPT)
    name = svc["name"]
    s3_client.put_object(name, "in/a.txt", io.BytesIO(b"alpha"), 5)
    jobs = wait_finished(local_cluster, name, 1)
    time.sleep(0.5)
    assert len(jobs_of(local_cluster, name)) == 1
    job_name, info = next(iter(jobs.items()))
    assert info["status"] == "Succeeded"
    assert info["creation_time"] <= info["start_time"] <= info["finish_time"]
    log = admin.get(admin.url(f"/system/logs/{name}/{job_name}")).text
    assert "copied in/a.txt" in log
    stamped = admin.get(admin.url(f"/system/logs/{name}/{job_name}?timestamps=true")).text
    assert stamped.splitlines()[0].startswith(info["start_time"][:4])
    assert outputs(s3_client, name) == ["out/a.txt"]
    assert s3_client.get_object(name, "out/a.txt").read() == b"alpha"


def test_keys_with_spaces_plus_and_unicode(local_cluster: Any, make_service: Any, s3_client: Any) -> None:
    svc = make_service(script=COPY_SCRIPT)
    name = svc["name"]
    keys = ["in/a b.txt", "in/c+d.txt", "in/ünï cödé.txt", "in/sub/dir/e%20f.txt"]
    for key in keys:
        s3_client.put_object(name, key, io.BytesIO(key.encode()), len(key.encode()))
    jobs = wait_finished(local_cluster, name, len(keys))
    time.sleep(0.5)
    assert len(jobs_of(local_cluster, name)) == len(keys)
    assert {v["status"] for v in jobs.values()} == {"Succeeded"}
    assert outputs(s3_client, name) == sorted("out/" + k.rsplit("/", 1)[1] for k in keys)


def test_markers_and_preexisting_objects_start_nothing(local_cluster: Any, make_service: Any,
                                                       s3_client: Any, unique_name: str) -> None:
    bucket = unique_name
    s3_client.make_bucket(bucket)
    s3_client.put_object(bucket, "in/old.txt", io.BytesIO(b"old"), 3)
    svc = make_service(script=COPY_SCRIPT, name=unique_name)
    s3_client.put_object(bucket, "in/sub/", io.BytesIO(b""), 0)  # another folder marker
    s3_client.put_object(bucket, "elsewhere/x.txt", io.BytesIO(b"x"), 1)  # outside the input folder
    s3_client.put_object(bucket, "in/new.txt", io.BytesIO(b"new"), 3)
    jobs = wait_finished(local_cluster, svc["name"], 1)
    time.sleep(1.0)
    assert len(jobs_of(local_cluster, svc["name"])) == 1
    assert outputs(s3_client, bucket) == ["out/new.txt"]
    assert list(jobs.values())[0]["status"] == "Succeeded"


def test_reuploading_identical_bytes_starts_another_job(local_cluster: Any, make_service: Any,
                                                       s3_client: Any) -> None:
    svc = make_service(script=COPY_SCRIPT)
    name = svc["name"]
    for _ in range(2):
        s3_client.put_object(name, "in/same.txt", io.BytesIO(b"same"), 4)
        time.sleep(0.3)
    wait_finished(local_cluster, name, 2)
    time.sleep(1.0)
    jobs = jobs_of(local_cluster, name)
    assert len(jobs) == 2 and {v["status"] for v in jobs.values()} == {"Succeeded"}


def test_multipart_upload_starts_exactly_one_job(local_cluster: Any, make_service: Any, s3_client: Any) -> None:
    svc = make_service(script='wc -c < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/size.txt"')
    name = svc["name"]
    data = os.urandom(11 * 1024 * 1024)
    s3_client.put_object(name, "in/big.bin", io.BytesIO(data), len(data), part_size=5 * 1024 * 1024)
    stat = s3_client.stat_object(name, "in/big.bin")
    assert "-" in stat.etag  # really multipart
    wait_finished(local_cluster, name, 1)
    time.sleep(1.0)
    jobs = jobs_of(local_cluster, name)
    assert len(jobs) == 1 and list(jobs.values())[0]["status"] == "Succeeded"
    assert s3_client.get_object(name, "out/size.txt").read().strip() == str(len(data)).encode()


def test_burst_of_100_uploads_gives_100_jobs_and_100_outputs(local_cluster: Any, make_service: Any,
                                                             s3_client: Any) -> None:
    svc = make_service(script=COPY_SCRIPT)
    name = svc["name"]

    def upload(i: int) -> None:
        body = f"item {i}".encode()
        s3_client.put_object(name, f"in/item-{i:03d}.txt", io.BytesIO(body), len(body))

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(upload, range(100)))
    jobs = wait_finished(local_cluster, name, 100, timeout=240)
    time.sleep(1.0)
    jobs = jobs_of(local_cluster, name)
    assert len(jobs) == 100
    assert {v["status"] for v in jobs.values()} == {"Succeeded"}
    assert outputs(s3_client, name) == [f"out/item-{i:03d}.txt" for i in range(100)]


def test_job_endpoint_takes_any_body(local_cluster: Any, make_service: Any, admin: requests.Session) -> None:
    svc = make_service(script='echo "EVENT=$EVENT"; echo "UUID=$JOB_UUID"; cat "$INPUT_FILE_PATH"')
    name, headers = svc["name"], {"Authorization": f"Bearer {svc['token']}"}
    bodies = [json.dumps({"x": [1, "ü"]}).encode(), b"aGVsbG8=", b"", b"\x00\xff not text"]
    for body in bodies:
        resp = requests.post(f"{local_cluster.endpoint}/job/{name}", data=body, headers=headers)
        assert resp.status_code == 201 and resp.text == ""
    jobs = wait_finished(local_cluster, name, len(bodies))
    assert len(jobs) == len(bodies)
    logs = {j: admin.get(admin.url(f"/system/logs/{name}/{j}")).text for j in jobs}
    assert any('"x": [1, "\\u00fc"]' in text for text in logs.values())
    assert any("hello" in text for text in logs.values())
    for job_name, text in logs.items():
        assert f"UUID={job_name[len(name) + 1:]}" in text or jobs[job_name]["status"] == "Failed"


def test_delete_jobs_finished_only_unless_all(local_cluster: Any, make_service: Any,
                                              admin: requests.Session) -> None:
    svc = make_service(script='test "$(cat "$INPUT_FILE_PATH")" = ok')
    name, headers = svc["name"], {"Authorization": f"Bearer {svc['token']}"}
    for body in (b"b2s=", b"bm8="):  # "ok" succeeds, "no" fails
        assert requests.post(f"{local_cluster.endpoint}/job/{name}", data=body, headers=headers).status_code == 201
    jobs = wait_finished(local_cluster, name, 2)
    assert sorted(v["status"] for v in jobs.values()) == ["Failed", "Succeeded"]
    assert admin.delete(admin.url(f"/system/logs/{name}")).status_code == 204
    left = jobs_of(local_cluster, name)
    assert [v["status"] for v in left.values()] == ["Failed"]
    assert admin.delete(admin.url(f"/system/logs/{name}?all=true")).status_code == 204
    assert jobs_of(local_cluster, name) == {}
