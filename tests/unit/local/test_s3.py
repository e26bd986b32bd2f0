"""The embedded S3 endpoint and S3Store, against a real moto server process."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.parse

import psutil
import pytest
import requests
from minio.commonconfig import CopySource

from oscar_jupyter.local.s3 import S3Endpoint
from oscar_jupyter.local.s3store import S3Store, StoreError

from .conftest import collect_events, drain_events


def test_put_emits_a_minio_shaped_event(s3_endpoint: S3Endpoint, store: S3Store, bucket: str) -> None:
    store.put_bytes(bucket, "in/cat 1+2.jpg", b"\xff\xd8jpeg", content_type="image/jpeg")
    (event,) = collect_events(s3_endpoint, 1, bucket=bucket)
    assert event["EventName"] == "s3:ObjectCreated:Put"
    assert event["Key"] == f"{bucket}/in/cat 1+2.jpg"
    record = event["Records"][0]
    assert record["eventSource"] == "minio:s3"
    assert record["eventName"] == "s3:ObjectCreated:Put"
    assert record["s3"]["bucket"] == {"name": bucket, "ownerIdentity": {"principalId": "minio"},
                                      "arn": f"arn:aws:s3:::{bucket}"}
    obj = record["s3"]["object"]
    # MinIO url-encodes the key like Go's url.QueryEscape; the supervisor unquote_plus-es it
    assert obj["key"] == "in%2Fcat+1%2B2.jpg"
    assert urllib.parse.unquote_plus(obj["key"]) == "in/cat 1+2.jpg"
    assert obj["size"] == 6 and obj["contentType"] == "image/jpeg" and obj["eTag"]
    assert record["eventTime"].endswith("Z") and len(record["eventTime"]) == 24


def test_multipart_and_copy_events(s3_endpoint: S3Endpoint, store: S3Store, bucket: str,
                                   tmp_path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(11 * 1024 * 1024))  # above minio's 5 MiB part size: multipart
    store.upload_file(bucket, "in/big.bin", str(big))
    store.client.copy_object(bucket, "in/copy.bin", CopySource(bucket, "in/big.bin"))
    events = collect_events(s3_endpoint, 2, bucket=bucket)
    assert [e["EventName"] for e in events] == ["s3:ObjectCreated:CompleteMultipartUpload",
                                                "s3:ObjectCreated:Copy"]
    assert [e["Records"][0]["s3"]["object"]["size"] for e in events] == [11 * 1024 * 1024] * 2
    # deletes and bucket operations are not creations: no events
    store.remove(bucket, "in/copy.bin")
    store.ensure_bucket(bucket + "-x")
    store.delete_bucket(bucket + "-x")
    assert [e for e in drain_events(s3_endpoint) if bucket in e["Key"]] == []


def test_objects_survive_a_restart_without_events(tmp_path) -> None:
    data_dir = str(tmp_path / "data")
    with S3Endpoint.start(data_dir) as first:
        st = first.store()
        st.ensure_bucket("keep")
        st.ensure_bucket("gone")
        st.ensure_bucket("empty")
        st.put_bytes("keep", "a/b.txt", b"hello", content_type="text/plain")
        st.put_bytes("keep", "deleted.txt", b"x")
        st.remove("keep", "deleted.txt")
        st.delete_bucket("gone")
        keys = (first.access_key, first.secret_key)
        assert len(collect_events(first, 2)) == 2
    with S3Endpoint.start(data_dir) as second:
        assert (second.access_key, second.secret_key) == keys  # clients keep working
        st = second.store()
        assert st.buckets() == ["empty", "keep"]
        assert [o.key for o in st.list("keep")] == ["a/b.txt"]
        assert st.get_bytes("keep", "a/b.txt") == b"hello"
        assert st.client.stat_object("keep", "a/b.txt").content_type == "text/plain"
        assert drain_events(second) == []  # restoring is not creating
        st.put_bytes("keep", "new.txt", b"new")
        assert collect_events(second, 1)[0]["Key"] == "keep/new.txt"


def test_requests_must_be_signed_with_the_endpoint_keys(s3_endpoint: S3Endpoint, store: S3Store,
                                                        bucket: str) -> None:
    store.put_bytes(bucket, "k.txt", b"secret data")
    assert requests.get(f"{s3_endpoint.endpoint}/{bucket}/k.txt", timeout=10).status_code == 403
    wrong = S3Store(s3_endpoint.endpoint, s3_endpoint.access_key, "not-the-secret")
    with pytest.raises(StoreError) as err:
        wrong.get_bytes(bucket, "k.txt")
    assert err.value.code == "SignatureDoesNotMatch"
    assert "not-the-secret" not in str(err.value)
    other = S3Store(s3_endpoint.endpoint, "SOMEONEELSE", s3_endpoint.secret_key)
    with pytest.raises(StoreError) as err:
        other.buckets()
    assert err.value.code == "InvalidAccessKeyId"
    form = requests.post(f"{s3_endpoint.endpoint}/{bucket}", files={"file": b"x"},
                         data={"key": "f.txt"}, timeout=10)
    assert form.status_code == 403 and b"presigned PUT" in form.content
    # moto's admin API (reset, dashboards) is not reachable
    assert requests.post(f"{s3_endpoint.endpoint}/moto-api/reset", timeout=10).status_code == 404
    assert store.get_bytes(bucket, "k.txt") == b"secret data"


def test_presigned_urls(store: S3Store, bucket: str) -> None:
    store.put_bytes(bucket, "dir/a b.txt", b"presigned")
    url = store.presign("GET", bucket, "dir/a b.txt", expires=60)
    assert requests.get(url, timeout=10).content == b"presigned"
    tampered = url.replace("X-Amz-Expires=60", "X-Amz-Expires=61")
    assert requests.get(tampered, timeout=10).status_code == 403
    put = store.presign("PUT", bucket, "up.bin", expires=60)
    assert requests.put(put, data=b"uploaded", timeout=10).status_code == 200
    assert store.get_bytes(bucket, "up.bin") == b"uploaded"
    with pytest.raises(StoreError, match="expiry"):
        store.presign("GET", bucket, "x", expires=0)


def test_store_listing_markers_and_forced_delete(store: S3Store, bucket: str) -> None:
    store.put_marker(bucket, "/in/")
    for name in ("in/a.txt", "in/b.txt", "in/sub/c.txt", "out/d.txt"):
        store.put_bytes(bucket, name, name.encode())
    assert [o.key for o in store.list(bucket, prefix="in/")] == \
        ["in/", "in/a.txt", "in/b.txt", "in/sub/c.txt"]
    shallow = store.list(bucket, prefix="in/", recursive=False)
    assert [(o.key, o.is_dir) for o in shallow if o.key != "in/"] == \
        [("in/a.txt", False), ("in/b.txt", False), ("in/sub/", True)]
    page = store.list(bucket, start_after="in/a.txt", limit=2)
    assert [o.key for o in page] == ["in/b.txt", "in/sub/c.txt"]
    assert store.stat(bucket, "in/a.txt").size == len(b"in/a.txt")
    assert store.stat(bucket, "in/missing") is None
    with pytest.raises(StoreError) as err:
        store.delete_bucket(bucket)  # not empty
    assert err.value.code == "BucketNotEmpty"
    assert store.delete_bucket(bucket, force=True) is True
    assert store.delete_bucket(bucket, force=True) is False
    assert not store.bucket_exists(bucket)
    store.ensure_bucket(bucket)  # the fixture deletes it again


def test_child_dies_with_its_parent(tmp_path) -> None:
    """SIGKILL the process that started the endpoint: the moto child must exit too."""
    program = textwrap.dedent(f"""
        import sys, time
        from oscar_jupyter.local.s3 import S3Endpoint
        ep = S3Endpoint.start({str(tmp_path / 'd')!r})
        print(ep.pid, flush=True)
        time.sleep(120)
    """)
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    parent = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, env=env)
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        child = psutil.Process(child_pid)
        assert child.is_running()
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not child.is_running() or child.status() == psutil.STATUS_ZOMBIE:
                break
            time.sleep(0.1)
        else:
            child.kill()
            pytest.fail("the S3 child process outlived its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_stop_ends_the_event_stream(tmp_path) -> None:
    endpoint = S3Endpoint.start(str(tmp_path / "d"))
    pid = endpoint.pid
    endpoint.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert drain_events(endpoint, quiet=2.0) == []  # ends at once instead of waiting


def test_external_endpoint_without_listen_api_has_no_events(s3_endpoint: S3Endpoint, bucket: str) -> None:
    """moto has no MinIO listen API: watching logs and gives up; events() stays empty."""
    external = S3Endpoint.external(s3_endpoint.endpoint, s3_endpoint.access_key,
                                   s3_endpoint.secret_key, verify=True)
    assert not external.embedded and "secret" not in repr(external).lower()
    external.watch(bucket)
    external.store().put_bytes(bucket, "x.txt", b"x")
    time.sleep(0.5)
    external.stop()
    assert drain_events(external, quiet=0.5) == []


def test_boto3_clients_work_and_subresources_do_not_emit(s3_endpoint: S3Endpoint, bucket: str) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client("s3", endpoint_url=s3_endpoint.endpoint, region_name="us-east-1",
                          aws_access_key_id=s3_endpoint.access_key,
                          aws_secret_access_key=s3_endpoint.secret_key,
                          config=Config(signature_version="s3v4"))
    client.put_object(Bucket=bucket, Key="in/b.txt", Body=b"boto")
    client.upload_fileobj(io.BytesIO(b"x" * 100), bucket, "in/up.bin")
    client.put_object_tagging(Bucket=bucket, Key="in/b.txt",
                              Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    events = collect_events(s3_endpoint, 2, bucket=bucket)
    assert [e["Key"] for e in events] == [f"{bucket}/in/b.txt", f"{bucket}/in/up.bin"]
    assert [e for e in drain_events(s3_endpoint) if bucket in e["Key"]] == []  # tagging: none
    url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "in/b.txt"})
    assert requests.get(url, timeout=10).content == b"boto"


def test_a_crashed_server_is_reported(tmp_path, caplog) -> None:
    endpoint = S3Endpoint.start(str(tmp_path / "d"))
    try:
        assert endpoint.alive
        os.kill(endpoint.pid, signal.SIGKILL)
        assert drain_events(endpoint, quiet=5.0) == []  # the stream ends
        assert not endpoint.alive
        assert "exited unexpectedly (status -9)" in caplog.text
    finally:
        endpoint.stop()


def test_event_sequencers_are_unique_per_creation(s3_endpoint: S3Endpoint, store: S3Store,
                                                  bucket: str) -> None:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: store.put_bytes(bucket, f"same/{i % 3}", b"same"), range(24)))
    events = collect_events(s3_endpoint, 24, bucket=bucket)
    assert len({e["Records"][0]["s3"]["object"]["sequencer"] for e in events}) == 24
