"""Goldens derived from the Manager's Go source, per release, where the oracle cannot answer.

test_manager_oracle.py runs the Manager's own handlers; these cases need
what its fake cluster lacks (a real S3 for presigned URLs, jobs, the wire
bytes of structs whose values are this machine's). Each golden names the Go
code it comes from (grycap/oscar at tags v3.7.1 and v4.1.2).
"""
from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests


def _auth(cluster: Any) -> tuple[str, str]:
    return cluster.user, cluster.password


# pkg/types/config.go Config (json tags, declaration order) inside handlers.ConfigForUser /
# types.ConfigForUser; serverless_backend is omitempty; oidc_groups a nil slice without OIDC_GROUPS.
CONFIG_KEYS = {
    "3.7": ["name", "namespace", "services_namespace", "controller_service_account", "gpu_available",
            "interLink_available", "serverless_backend", "yunikorn_enable", "kueue_enable", "oidc_groups"],
    "4.1": ["name", "namespace", "services_namespace", "controller_service_account", "gpu_available",
            "interLink_available", "serverless_backend", "yunikorn_enable", "kueue_enable", "volume_enable",
            "oidc_groups", "minio_quota_enabled"],
}


def test_config_golden(api_cluster: Any) -> None:
    import json

    resp = requests.get(api_cluster.endpoint + "/system/config", auth=_auth(api_cluster), timeout=30)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"  # gin's c.JSON
    text = resp.text
    assert ": " not in text and ", " not in text and not text.endswith("\n")  # json.Marshal: compact
    body = json.loads(text)
    assert list(body["config"]) == CONFIG_KEYS[api_cluster.api_version]
    assert body["config"]["controller_service_account"] == "" and body["config"]["oidc_groups"] is None
    top = ["config", "minio_provider"] + (["allowed_image_repositories"] if api_cluster.api_version == "4.1" else [])
    assert list(body) == top
    assert list(body["minio_provider"]) == ["endpoint", "verify", "access_key", "secret_key", "region"]


def test_escaping_golden(api_cluster: Any) -> None:
    """encoding/json's HTML-safe escaping (<, >, &, U+2028, U+2029) in a stored script."""
    name = "gold-" + uuid.uuid4().hex[:8]
    url = api_cluster.endpoint + "/system/services"
    body = {"name": name, "image": "alpine", "script": "a<b>&c\u2028\u2029\x08\x0c\x01"}
    assert requests.post(url, json=body, auth=_auth(api_cluster), timeout=30).status_code == 201
    try:
        text = requests.get(f"{url}/{name}", auth=_auth(api_cluster), timeout=30).text
        assert '"script":"a\\u003cb\\u003e\\u0026c\\u2028\\u2029\\u0008\\u000c\\u0001"' in text
    finally:
        requests.delete(f"{url}/{name}", auth=_auth(api_cluster), timeout=30)


def test_storage_path_goldens(api_cluster: Any) -> None:
    """v4.1.2 create.go normalizeStoragePaths: a bucket-only path p becomes <service>/p and an
    empty one is a 400; v3.7.1 fails a bucket-only MinIO input (a 500; oscar-local stores nothing)."""
    name = "gold-" + uuid.uuid4().hex[:8]
    url = api_cluster.endpoint + "/system/services"
    body = {"name": name, "image": "alpine", "script": "x",
            "input": [{"storage_provider": "minio.default", "path": " /bkt/ "}]}
    resp = requests.post(url, json=body, auth=_auth(api_cluster), timeout=30)
    try:
        if api_cluster.api_version == "4.1":
            assert resp.status_code == 201, resp.text
            svc = requests.get(f"{url}/{name}", auth=_auth(api_cluster), timeout=30).json()
            assert svc["input"][0]["path"] == f"{name}/bkt"
            empty = dict(body, name=name + "-e", input=[{"storage_provider": "minio.default", "path": "/"}])
            resp = requests.post(url, json=empty, auth=_auth(api_cluster), timeout=30)
            assert (resp.status_code, resp.text) == (400, "input path cannot be empty")
        else:
            assert resp.status_code == 500 and "input[0].path" in resp.text
            assert requests.get(f"{url}/{name}", auth=_auth(api_cluster), timeout=30).status_code == 404
    finally:
        requests.delete(f"{url}/{name}", auth=_auth(api_cluster), timeout=30)


def test_token_on_admin_put_golden(api_cluster: Any) -> None:
    """update.go: v3.7.1 runs checkValues (utils.GenerateToken) again; v4.1.2 restores oldService.Token."""
    name = "gold-" + uuid.uuid4().hex[:8]
    url = api_cluster.endpoint + "/system/services"
    body = {"name": name, "image": "alpine", "script": "x"}
    assert requests.post(url, json=body, auth=_auth(api_cluster), timeout=30).status_code == 201
    try:
        before = requests.get(f"{url}/{name}", auth=_auth(api_cluster), timeout=30).json()["token"]
        resp = requests.put(url, json=dict(body, script="y"), auth=_auth(api_cluster), timeout=30)
        assert (resp.status_code, resp.text, resp.headers.get("Content-Type")) == (204, "", None)
        after = requests.get(f"{url}/{name}", auth=_auth(api_cluster), timeout=30).json()["token"]
        assert (after == before) == (api_cluster.api_version == "4.1")
        old = requests.post(f"{api_cluster.endpoint}/run/{name}", headers={"Authorization": f"Bearer {before}"},
                            timeout=60)
        assert old.status_code == (200 if api_cluster.api_version == "4.1" else 401)
    finally:
        requests.delete(f"{url}/{name}", auth=_auth(api_cluster), timeout=30)


def test_job_listing_ignores_limit(api_cluster: Any) -> None:
    """logs.go MakeJobsInfoHandler lists with Limit: cfg.JobListingLimit (JOB_LISTING_LIMIT, 70) and
    never reads ?limit; the body is types.JobsResponse (jobs, next_page?, remaining_jobs?)."""
    name = "gold-" + uuid.uuid4().hex[:8]
    url = api_cluster.endpoint + "/system/services"
    body = {"name": name, "image": "alpine", "script": "true"}
    assert requests.post(url, json=body, auth=_auth(api_cluster), timeout=30).status_code == 201
    try:
        token = requests.get(f"{url}/{name}", auth=_auth(api_cluster), timeout=30).json()["token"]
        for _ in range(3):
            resp = requests.post(f"{api_cluster.endpoint}/job/{name}", data=b"x",
                                 headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert resp.status_code == 201
        listing = requests.get(f"{api_cluster.endpoint}/system/logs/{name}", params={"limit": 1},
                               auth=_auth(api_cluster), timeout=30)
        assert listing.status_code == 200 and list(listing.json()) == ["jobs"]
        assert len(listing.json()["jobs"]) == 3
        for info in listing.json()["jobs"].values():
            assert list(info)[0] == "status"  # types.JobInfo order: status, creation_time, start_time...
    finally:
        requests.delete(f"{url}/{name}", auth=_auth(api_cluster), timeout=60)


def test_presign_signs_content_type(local_cluster: Any) -> None:
    """presign_bucket.go buildSignedHeaders: an upload's content_type (and extra headers, in
    canonical form) are signed headers of the URL; a download's is response-content-type."""
    bucket = "gold-" + uuid.uuid4().hex[:8]
    base = local_cluster.endpoint + "/system/buckets"
    assert requests.post(base, json={"bucket_name": bucket}, auth=_auth(local_cluster),
                         timeout=30).status_code == 201
    try:
        resp = requests.post(f"{base}/{bucket}/presign", auth=_auth(local_cluster), timeout=30,
                             json={"object_key": "a.json", "operation": "upload", "content_type": "application/json",
                                   "extra_headers": {"x-amz-meta-origin": "nb"}})
        assert resp.status_code == 200, resp.text
        out = resp.json()
        assert list(out) == ["object_key", "operation", "method", "url", "expires_at", "headers"]
        assert out["headers"] == {"Content-Type": "application/json", "X-Amz-Meta-Origin": "nb"}
        assert "X-Amz-SignedHeaders=content-type%3Bhost%3Bx-amz-meta-origin" in out["url"]
        wrong = requests.put(out["url"], data=b"{}", headers={"Content-Type": "text/plain",
                                                              "X-Amz-Meta-Origin": "nb"}, timeout=30)
        assert wrong.status_code == 403, wrong.text
        right = requests.put(out["url"], data=b"{}", headers=out["headers"], timeout=30)
        assert right.status_code == 200, right.text
        resp = requests.post(f"{base}/{bucket}/presign", auth=_auth(local_cluster), timeout=30,
                             json={"object_key": "a.json", "operation": "download", "content_type": "text/x-golden"})
        out = resp.json()
        assert "headers" not in out and "response-content-type=text%2Fx-golden" in out["url"]
        got = requests.get(out["url"], timeout=30)
        assert got.status_code == 200 and got.content == b"{}"
    finally:
        requests.delete(f"{base}/{bucket}", auth=_auth(local_cluster), timeout=30)


@pytest.mark.parametrize("body, status", [
    ({"visibility": "Public"}, 201),  # stored as sent: checkValues only fills an empty one
    ({"expose": {"api_port": [8080], "cpu_threshold": 250}}, 201),  # handed to the autoscaler as is
    ({"allowed_users": ["  bob  ", " "]}, 201),  # sanitizeUsers trims, drops blanks
])
def test_manager_accepts(local_cluster: Any, body: dict, status: int) -> None:
    name = "gold-" + uuid.uuid4().hex[:8]
    url = local_cluster.endpoint + "/system/services"
    resp = requests.post(url, json=dict({"name": name, "image": "alpine", "script": "x"}, **body),
                         auth=_auth(local_cluster), timeout=30)
    try:
        assert resp.status_code == status, resp.text
        svc = requests.get(f"{url}/{name}", auth=_auth(local_cluster), timeout=30).json()
        if "allowed_users" in body:
            assert svc["allowed_users"] == ["bob"]
        if "visibility" in body:
            assert svc["visibility"] == "Public"
    finally:
        requests.delete(f"{url}/{name}", auth=_auth(local_cluster), timeout=30)


def test_system_logs_golden(api_cluster: Any) -> None:
    """logs.go MakeGetSystemLogsHandler + auth.GetLoggerMiddleware: {"logs": [executionLogEntry]} of the
    POST /run and /job lines; timestamps=true parses the Kubernetes-prefixed lines as the Manager does;
    previous=true asks for a container that never restarted (Kubernetes' 400)."""
    name = "gold-" + uuid.uuid4().hex[:8]
    url = api_cluster.endpoint + "/system/services"
    assert requests.post(url, json={"name": name, "image": "alpine", "script": "echo hi"},
                         auth=_auth(api_cluster), timeout=30).status_code == 201
    try:
        token = requests.get(f"{url}/{name}", auth=_auth(api_cluster), timeout=30).json()["token"]
        assert requests.post(f"{api_cluster.endpoint}/run/{name}", headers={"Authorization": f"Bearer {token}"},
                             timeout=60).status_code == 200
        assert requests.post(f"{api_cluster.endpoint}/run/{name}", timeout=60).status_code == 401
        resp = requests.get(api_cluster.endpoint + "/system/logs", auth=_auth(api_cluster), timeout=30)
        assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/json; charset=utf-8"
        mine = [e for e in resp.json()["logs"] if e["path"] == f"/run/{name}"]
        assert [e["status"] for e in mine] == [200, 401]
        assert list(mine[0]) == ["timestamp", "status", "latency", "client_ip", "method", "path", "user", "raw"]
        assert mine[0]["method"] == "POST" and mine[0]["user"] == "oscar"
        assert mine[0]["raw"].startswith("[GIN-EXECUTIONS-LOGGER] " + mine[0]["timestamp"] + " | 200 | ")
        assert token not in resp.text
        stamped = requests.get(api_cluster.endpoint + "/system/logs", params={"timestamps": "true"},
                               auth=_auth(api_cluster), timeout=30).json()["logs"]
        entry = [e for e in stamped if e["path"] == f"/run/{name}"][0]
        assert entry["timestamp"].endswith("[GIN-EXECUTIONS-LOGGER] " + mine[0]["timestamp"])
        previous = requests.get(api_cluster.endpoint + "/system/logs", params={"previous": "true"},
                                auth=_auth(api_cluster), timeout=30)
        assert previous.status_code == 400 and "previous terminated container" in previous.text
        assert requests.get(api_cluster.endpoint + "/system/logs", timeout=30).status_code == 401
    finally:
        requests.delete(f"{url}/{name}", auth=_auth(api_cluster), timeout=30)


def test_quota_routes_golden(api_cluster: Any) -> None:
    """v3.7.1 main.go registers the quota routes always (quotas.go answers as below without Kueue);
    v4.1.2 only with Kueue or volumes enabled, so gin's 404."""
    base = api_cluster.endpoint + "/system/quotas/user"
    own = requests.get(base, auth=_auth(api_cluster), timeout=30)
    other = requests.get(base + "/alice", auth=_auth(api_cluster), timeout=30)
    put = requests.put(base + "/alice", json={}, auth=_auth(api_cluster), timeout=30)
    if api_cluster.api_version == "3.7":
        assert (own.status_code, own.text) == (401, "missing user identificator: missing user identificator")
        assert other.status_code == 500 and "Kueue" in other.text
        assert (put.status_code, put.text) == (400, "cpu or memory must be provided")
        assert requests.get(base, timeout=30).status_code == 401
    else:  # no such route: gin's 404 page, before any credentials are asked for
        for resp in (own, other, put, requests.get(base, timeout=30)):
            assert (resp.status_code, resp.text) == (404, "404 page not found")


def test_read_names_and_include_deployment(api_cluster: Any) -> None:
    """v4.1.2 read.go validateServiceName (400 `invalid serviceName` for what is no label value) and
    ?include=deployment (types.ServiceDeploymentSummary on each service); v3.7.1: 404 and no summary."""
    url = api_cluster.endpoint + "/system/services"
    v4 = api_cluster.api_version == "4.1"
    bad = requests.get(url + "/a%20b", auth=_auth(api_cluster), timeout=30)
    assert (bad.status_code, bad.text) == ((400, "invalid serviceName") if v4 else (404, ""))
    upper = requests.get(url + "/UPPER", auth=_auth(api_cluster), timeout=30)
    assert (upper.status_code, upper.text) == (404, "")
    name = "gold-" + uuid.uuid4().hex[:8]
    assert requests.post(url, json={"name": name, "image": "alpine", "script": "x"},
                         auth=_auth(api_cluster), timeout=30).status_code == 201
    try:
        one = requests.get(f"{url}/{name}", params={"include": "Deployment"}, auth=_auth(api_cluster),
                           timeout=30).json()
        listed = [s for s in requests.get(url, params={"include": "x,deployment"}, auth=_auth(api_cluster),
                                          timeout=30).json() if s["name"] == name]
        plain = requests.get(f"{url}/{name}", auth=_auth(api_cluster), timeout=30).json()
        assert "deployment" not in plain
        if v4:
            assert list(one)[-2:] == ["volume_status", "deployment"] and one["deployment"]["state"] == "ready"
            assert list(one["deployment"]) == ["state", "reason", "last_transition_time", "active_instances",
                                               "affected_instances", "resource_kind"]
            assert listed[0]["deployment"]["state"] == "ready"
        else:
            assert "deployment" not in one and "deployment" not in listed[0]
    finally:
        requests.delete(f"{url}/{name}", auth=_auth(api_cluster), timeout=30)


def test_bucket_listing_order_golden(local_cluster: Any) -> None:
    """pkg/utils/minio.go MinIOBucket and get_bucket.go BucketListResponse: fields in struct order."""
    bucket = "gold-" + uuid.uuid4().hex[:8]
    base = local_cluster.endpoint + "/system/buckets"
    assert requests.post(base, json={"bucket_name": bucket}, auth=_auth(local_cluster),
                         timeout=30).status_code == 201
    try:
        listed = [b for b in requests.get(base, auth=_auth(local_cluster), timeout=30).json()
                  if b["bucket_name"] == bucket]
        assert list(listed[0]) == ["bucket_name", "visibility", "allowed_users", "owner", "metadata"]
        one = requests.get(f"{base}/{bucket}", auth=_auth(local_cluster), timeout=30)
        assert list(one.json()) == ["bucket_name", "visibility", "allowed_users", "owner", "metadata",
                                    "is_truncated", "returned_items"]  # no objects: omitempty
    finally:
        requests.delete(f"{base}/{bucket}", auth=_auth(local_cluster), timeout=30)
