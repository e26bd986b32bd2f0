"""Service management against a real oscar-local: apply/get round trip, update, diff, conflicts,
delete warnings, jobs and logs, storage."""
from __future__ import annotations

import time
import uuid
import warnings

import pytest
import requests

import oscar_jupyter as oj
from oscar_jupyter import errors


@pytest.fixture
def cluster(local_cluster):
    c = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password,
                   id="svc-tests-" + uuid.uuid4().hex[:4])
    yield c
    oj.disconnect(c)


def _fdl(a: str, b: str, script_dir) -> str:
    (script_dir / "run.sh").write_text('echo "A got $(cat "$INPUT_FILE_PATH")"\n')
    return f"""
functions:
  oscar:
  - oscar-cluster:
      name: {a}
      image: ghcr.io/grycap/alpine
      cpu: '0.5'
      memory: 128Mi
      script: run.sh
      environment:
        Variables:
          GREETING: hola
      input:
      - storage_provider: minio.default
        path: {a}/in
      output:
      - storage_provider: minio.default
        path: {a}/out
  - oscar-cluster:
      name: {b}
      image: ghcr.io/grycap/alpine
      script: |
        echo "B says $GREETING"
      environment:
        variables:
          GREETING: hi
storage_providers:
  s3:
    aws:
      access_key: AKIAEXAMPLE
      secret_key: not-a-real-secret
      region: us-east-1
"""


def test_fdl_round_trip_apply_get_update_diff(cluster, tmp_path):
    a, b = "tf-a-" + uuid.uuid4().hex[:6], "tf-b-" + uuid.uuid4().hex[:6]
    path = tmp_path / "pipeline.yaml"
    path.write_text(_fdl(a, b, tmp_path))
    try:
        applied = cluster.apply(path, wait=True)
        assert [s.name for s in applied] == [a, b]  # every service of the FDL, not only the last
        got = cluster.service(a).spec
        assert got["cpu"] == "0.5" and got["memory"] == "128Mi"
        assert got["script"].startswith('echo "A got')  # the script file was inlined
        assert got["environment"]["variables"]["GREETING"] == "hola"  # 'Variables' normalised
        assert "aws" in got["storage_providers"]["s3"]  # top-level section copied in
        assert cluster.service(b).run().text.strip() == "B says hi"
        assert a in cluster.services() and b in cluster.services().names()
        svc = cluster.service(a)
        assert svc.diff(path) == ""
        changed = tmp_path / "changed.yaml"
        changed.write_text(path.read_text().replace("memory: 128Mi", "memory: 256Mi"))
        diff = svc.diff(changed)
        assert "-memory: 128Mi" in diff and "+memory: 256Mi" in diff
        assert "not-a-real-secret" not in diff
        cluster.apply(changed)  # exists: PUT
        assert cluster.service(a).spec["memory"] == "256Mi"
        assert cluster.service(a).diff(changed) == ""
    finally:
        for name in (a, b):
            if cluster.exists(name):
                cluster.delete(name, check_buckets=False)


def test_invalid_service_in_fdl_applies_nothing(cluster):
    good, bad = "tg-" + uuid.uuid4().hex[:6], "tb-" + uuid.uuid4().hex[:6]
    fdl = {"functions": {"oscar": [{"c": {"name": good, "image": "x", "script": "echo"}},
                                   {"c": {"name": bad, "image": "x", "script": "echo", "memory": "lots"}}]}}
    with pytest.raises(errors.InvalidDefinition) as info:
        cluster.apply(fdl)
    assert "memory" in str(info.value)
    assert not cluster.exists(good) and not cluster.exists(bad)
    with pytest.raises(errors.InvalidDefinition, match="more than once"):
        cluster.apply({"functions": {"oscar": [{"c": {"name": good, "image": "x", "script": "echo"}},
                                               {"d": {"name": good, "image": "y", "script": "echo"}}]}})
    assert not cluster.exists(good)


def test_create_twice_is_conflict_and_missing_is_not_found(cluster):
    name = "tc-" + uuid.uuid4().hex[:6]
    data = {"name": name, "image": "x", "script": "echo hi"}
    cluster.create(data)
    try:
        with pytest.raises(errors.Conflict):
            cluster.create(data)
    finally:
        cluster.delete(name)
    with pytest.raises(errors.NotFound, match="not found"):
        cluster.service(name)
    with pytest.raises(errors.NotFound):
        cluster.update(data)


def test_delete_warns_when_buckets_hold_objects(cluster):
    name = "tw-" + uuid.uuid4().hex[:6]
    cluster.apply({"name": name, "image": "x", "script": "true",
                   "input": [{"storage_provider": "minio.default", "path": f"{name}/in"}]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # empty buckets (folder markers only): no warning
        assert cluster.storage.count(name) == 0
    cluster.storage.put(b"data", f"{name}/keep/file.bin")
    with pytest.warns(UserWarning, match=f"bucket '{name}'.*1 object"):
        cluster.delete(name)
    assert name not in cluster.storage.buckets()


def test_jobs_logs_and_storage(cluster, tmp_path):
    name = "tj-" + uuid.uuid4().hex[:6]
    [svc] = cluster.apply({"name": name, "image": "x", "script": 'echo "job saw $(cat "$INPUT_FILE_PATH")"',
                           "input": [{"storage_provider": "minio.default", "path": f"{name}/in"}]})
    try:
        storage = cluster.storage
        big = tmp_path / "big.bin"
        big.write_bytes(b"\x01" * 300_000)
        storage.put(big, f"{name}/in/big.bin", progress=True)
        storage.put("hello", f"{name}/in/one.txt")
        listing = storage.ls(f"{name}/in")
        assert sorted(o.name for o in listing) == ["big.bin", "one.txt"]
        assert storage.get(f"{name}/in/one.txt") == b"hello"
        target = storage.get(f"{name}/in/big.bin", tmp_path / "down.bin", progress=True)
        assert target.read_bytes() == big.read_bytes()
        url = storage.presign(f"{name}/in/one.txt", expires=60)
        assert requests.get(url, timeout=10).content == b"hello"
        assert svc.job_api.wait([], timeout=1) == {}  # nothing to wait for
        deadline = time.monotonic() + 30
        while len(svc.jobs()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        finished = svc.job_api.wait(svc.jobs().names(), timeout=30, poll=0.2)
        assert len(finished) == 2 and all(j.done for j in finished.values())
        jobs = svc.jobs()
        assert len(jobs) == 2 and all(j.status == "Succeeded" for j in jobs)
        from oscar_jupyter.jobs import Jobs
        # the Manager ignores ?limit: its page is JOB_LISTING_LIMIT (70) jobs, so both come in one page
        pages = list(Jobs(cluster, name, page_size=1).pages())
        assert len(pages) == 1 and len(pages[0].jobs) == 2 and pages[0].next_page is None
        assert sorted(j.name for p in pages for j in p.jobs) == sorted(jobs.names())
        logs = "".join(svc.logs(j) for j in jobs)
        assert "job saw hello" in logs
        with pytest.raises(errors.InvalidInput, match="Unknown job status"):
            svc.jobs(status="Done")
        svc.delete_jobs()
        assert svc.jobs() == []
        assert storage.rm(f"{name}/in", recursive=True) >= 2
        with pytest.raises(errors.NotFound):
            storage.read(f"{name}/in/one.txt")
    finally:
        cluster.delete(name, check_buckets=False)


def test_a_service_the_cluster_refuses_rolls_back_the_ones_created(cluster):
    first, second = "tr-a-" + uuid.uuid4().hex[:6], "tr-b-" + uuid.uuid4().hex[:6]
    # valid by the schema, but oscar-local watches only its own storage for inputs: 400
    fdl = {"functions": {"oscar": [
        {"c": {"name": first, "image": "x", "script": "echo"}},
        {"c": {"name": second, "image": "x", "script": "echo",
               "input": [{"storage_provider": "webdav.dcache", "path": "other-bucket/in"}]}}]},
        "storage_providers": {"webdav": {"dcache": {"hostname": "https://dcache.example.org",
                                                    "login": "ak", "password": "sk-secret-value"}}}}
    with pytest.raises(errors.InvalidDefinition) as info:
        cluster.apply(fdl)
    assert "cluster rejected service" in str(info.value) and f"removed again: {first}" in str(info.value)
    assert info.value.rolled_back == [first] and info.value.applied == []
    assert not cluster.exists(first) and not cluster.exists(second)
    assert "sk-secret-value" not in str(info.value)


def test_apply_only_the_services_of_one_cluster_key(cluster):
    a, b = "tk-a-" + uuid.uuid4().hex[:6], "tk-b-" + uuid.uuid4().hex[:6]
    fdl = {"functions": {"oscar": [{"here": {"name": a, "image": "x", "script": "echo"}},
                                   {"elsewhere": {"name": b, "image": "x", "script": "echo"}}]}}
    try:
        applied = cluster.apply(fdl, cluster_id="here")
        assert [s.name for s in applied] == [a]
        assert cluster.exists(a) and not cluster.exists(b)
    finally:
        if cluster.exists(a):
            cluster.delete(a)
