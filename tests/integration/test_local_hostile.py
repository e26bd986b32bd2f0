"""Bad input to every endpoint of oscar-local: the right status and a message that says what was wrong."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

HOSTILE_NAMES = ["../etc", "a b", "x" * 40, "ünïcode", "UPPER", "-lead", "trail-", "a/b", "a%2Fb", "..", "a.b"]


def post_json(admin: requests.Session, path: str, body: Any, method: str = "POST") -> requests.Response:
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return admin.request(method, admin.url(path), data=raw, headers={"Content-Type": "application/json"})


# --------------------------------------------------------------------------- authentication

@pytest.mark.parametrize("path", ["/system/info", "/system/config", "/system/status", "/system/services",
                                  "/system/services/x", "/system/logs/x", "/system/buckets"])
def test_system_needs_basic_auth(local_cluster: Any, path: str) -> None:
    for auth in (None, ("oscar", "wrong"), ("root", local_cluster.password), ("", "")):
        resp = requests.get(local_cluster.endpoint + path, auth=auth)
        assert resp.status_code == 401, (path, auth)
        assert resp.headers["WWW-Authenticate"] == 'Basic realm="Authorization Required"'
        assert local_cluster.password not in resp.text
    for header in ("Basic !!!notbase64", "Basic " + "b3NjYXI=", "Bearer " + "a" * 64, "Digest x"):
        resp = requests.get(local_cluster.endpoint + path, headers={"Authorization": header})
        assert resp.status_code == 401, header


def test_paths_no_route_takes_are_gins_404_with_or_without_credentials(local_cluster: Any) -> None:
    """As on the Manager, the router answers before the /system group's auth middleware runs."""
    for auth in (None, ("oscar", "wrong"), ("oscar", local_cluster.password)):
        for method, path in (("GET", "/system/nope"), ("PATCH", "/system/services"), ("GET", "/run/x")):
            resp = requests.request(method, local_cluster.endpoint + path, auth=auth, timeout=30)
            assert (resp.status_code, resp.text) == (404, "404 page not found"), (method, path, auth)
            assert "WWW-Authenticate" not in resp.headers


def test_run_and_job_refuse_basic_and_bad_tokens(local_cluster: Any, make_service: Any) -> None:
    svc = make_service(script="echo ok")
    name, token = svc["name"], svc["token"]
    base = local_cluster.endpoint
    for path in (f"/run/{name}", f"/job/{name}"):
        cases = [
            {},
            {"Authorization": "Basic b3NjYXI6" + "eA=="},
            {"Authorization": f"Bearer {token[:-1]}0" if token[-1] != "0" else f"Bearer {token[:-1]}1"},
            {"Authorization": "Bearer short"},
            {"Authorization": f"Bearer {token}x"},
            {"Authorization": f"bearer"},
        ]
        for headers in cases:
            resp = requests.post(base + path, data=b"x", headers=headers)
            assert resp.status_code == 401, (path, headers)
            assert resp.text == ""
        resp = requests.post(base + path, data=b"x", auth=(local_cluster.user, local_cluster.password))
        assert resp.status_code == 401
    # the token of one service does not open another
    other = make_service(script="echo other")
    resp = requests.post(f"{base}/run/{other['name']}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401


@pytest.mark.parametrize("bad", HOSTILE_NAMES + ["nosuchservice"])
def test_unknown_or_hostile_service_names_in_paths(local_cluster: Any, admin: requests.Session, bad: str) -> None:
    base = local_cluster.endpoint
    token = {"Authorization": "Bearer " + "0" * 64}
    v4 = local_cluster.api_version == "4.1"
    label_value = len(bad) <= 63 and re.fullmatch(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", bad)
    for method, path in (("GET", f"/system/services/{bad}"), ("DELETE", f"/system/services/{bad}"),
                         ("GET", f"/system/logs/{bad}"), ("DELETE", f"/system/logs/{bad}"),
                         ("GET", f"/system/logs/{bad}/{bad}-job")):
        resp = admin.request(method, base + path)
        if "/" in bad:  # another route, or none; v4's job delete writes 403 over its 404
            assert resp.status_code in ((403, 404, 405) if v4 else (404, 405)), (method, path)
        elif v4 and path == f"/system/services/{bad}" and method == "GET" and not label_value \
                and bad != "..":  # the client resolves a ".." segment before sending
            assert (resp.status_code, resp.text) == (400, "invalid serviceName"), (method, path)  # read.go
        else:
            assert resp.status_code == 404, (method, path)
    for path in (f"/run/{bad}", f"/job/{bad}"):
        resp = requests.post(base + path, data=b"x", headers=token)
        assert resp.status_code in (404, 405) if "/" in bad else resp.status_code == 404, path


# --------------------------------------------------------------------------- service definitions

@pytest.mark.parametrize("bad", HOSTILE_NAMES)
def test_create_refuses_hostile_names(admin: requests.Session, bad: str) -> None:
    resp = post_json(admin, "/system/services", {"name": bad, "image": "alpine", "script": "echo"})
    if len(bad) > 39:  # gin's binding:"max=39" on types.Service.Name
        assert resp.status_code == 400
        assert "name" in resp.text and "not valid" in resp.text
    else:  # the Manager hands it to Kubernetes, which refuses the ConfigMap name: a 500
        assert resp.status_code == 500, resp.text
        assert resp.text.startswith("Error creating the service: name: ") and "DNS label" in resp.text
    assert admin.get(admin.url("/system/services")).status_code == 200


@pytest.mark.parametrize("body, words", [
    (b"{not json", ["is not valid: invalid character 'n' looking for beginning of object key string"]),
    (b'{"name": "x",\n "image": }', ["invalid character '}' looking for beginning of value"]),
    (b'{"name": "x"', ["is not valid: unexpected EOF"]),
    (b"", ["is not valid: EOF"]),
    (b" \r\n", ["is not valid: EOF"]),
    (b"\xff\xfe\x00", ["invalid character 'ÿ' looking for beginning of value"]),
    (b"[1, 2]", ["json: cannot unmarshal array into Go value of type types.Service"]),
    (b'"just a string"', ["json: cannot unmarshal string into Go value of type types.Service"]),
    (b"null", ["Key: 'Service.Name' Error:Field validation for 'Name' failed on the 'required' tag"]),
    (b"[" * 100000 + b"]" * 100000, ["invalid character '[' exceeded max depth"]),
    (b"[" * 5000 + b"]" * 5000, ["nested too deeply"]),  # Go reads it; Python's decoder stops at ~1000
])
def test_create_refuses_malformed_bodies(admin: requests.Session, body: bytes, words: list[str]) -> None:
    for method in ("POST", "PUT"):
        resp = post_json(admin, "/system/services", body, method)
        assert resp.status_code == 400, (method, resp.text)
        for word in words:
            assert word in resp.text, (method, word, resp.text)
        assert resp.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("patch, field, status", [
    ({"name": 42}, "name", 400),
    ({"image": ["alpine"]}, "image", 400),
    ({"script": None}, "Script", 400),  # gin's binding:"required": a null is the zero value
    # the Manager's backend parses quantities itself and answers 500 in resource.ParseQuantity's
    # words, which name no field (spec.quantity)
    ({"memory": "lots"}, "quantities must match the regular expression", 500),
    ({"cpu": "1e"}, "unable to parse quantity's suffix", 500),
    ({"cpu": "-1"}, "cpu: must not be negative", 500),  # parsed; Kubernetes refuses the pod
    ({"synchronous": {"min_scale": "one"}}, "synchronous.min_scale", 400),
    ({"input": [{"storage_provider": "minio.default", "path": "BAD_BUCKET/in"}]}, "input[0].path", 400),
    # createBuckets' own words, which name the provider (local/providers.py)
    ({"input": [{"storage_provider": "minio.nothere", "path": "abc/in"}]}, '"minio.nothere" is not defined', 500),
    ({"input": [{"storage_provider": "s3.x", "path": "abc/in"}]}, "unrecognized input", 400),
    ({"input": "abc/in"}, "input", 400),
    # Kubernetes refuses the pod's variable name: a 500 through the Manager
    ({"environment": {"variables": {"1BAD": "x"}}}, "environment", 500),
    ({"environment": {"variables": {"OK": "nul\u0000inside"}}}, "NUL", 400),
    ({"environment": {"secrets": {"S": "a\u0000"}}}, "NUL", 400),
    ({"synchronous": {"min_scale": 5, "max_scale": 1}}, "synchronous.min_scale", 500),
])
def test_create_refuses_wrong_fields_naming_them(admin: requests.Session, unique_name: str,
                                                patch: dict, field: str, status: int) -> None:
    body = {"name": unique_name, "image": "alpine", "script": "echo"}
    body.update(patch)
    resp = post_json(admin, "/system/services", body)
    assert resp.status_code == status, resp.text
    assert field in resp.text, resp.text
    assert "\x00" not in resp.text
    assert admin.get(admin.url(f"/system/services/{unique_name}")).status_code == 404  # nothing half-applied


def test_create_requires_name_image_script(admin: requests.Session, unique_name: str) -> None:
    for missing in ("name", "image", "script"):
        body = {"name": unique_name, "image": "alpine", "script": "echo"}
        del body[missing]
        resp = post_json(admin, "/system/services", body)
        assert resp.status_code == 400, resp.text  # gin's binding:"required", in its validator's words
        assert resp.text == ("The service specification is not valid: Key: 'Service.{0}' Error:Field validation "
                             "for '{0}' failed on the 'required' tag").format(missing.capitalize())


def test_duplicate_create_is_409_and_update_of_missing_is_404(admin: requests.Session, make_service: Any,
                                                               unique_name: str) -> None:
    svc = make_service()
    resp = post_json(admin, "/system/services", {"name": svc["name"], "image": "alpine", "script": "echo"})
    # create.go: 409 up to v3, 400 from v4 (serviceWithSameNameExists), the same text
    assert resp.status_code in (400, 409) and resp.text == "A service with the provided name already exists"
    resp = post_json(admin, "/system/services", {"name": "t-missing-" + unique_name[-8:], "image": "a",
                                                 "script": "e"}, "PUT")
    assert resp.status_code == 404


def test_secrets_are_blanked_and_survive_an_update(admin: requests.Session, make_service: Any,
                                                   local_cluster: Any) -> None:
    svc = make_service(script='echo "key=$API_KEY"',
                       environment={"variables": {"A": "1"}, "secrets": {"API_KEY": "top-secret-42"}})
    assert svc["environment"]["secrets"] == {"API_KEY": ""}
    listed = admin.get(admin.url("/system/services")).text
    assert "top-secret-42" not in listed
    assert local_cluster.password not in listed
    # PUT the GET result back (secret blank): the stored secret is kept
    resp = post_json(admin, "/system/services", svc, "PUT")
    assert resp.status_code == 204, resp.text
    token = admin.get(admin.url(f"/system/services/{svc['name']}")).json()["token"]  # v3 makes a new one on PUT
    resp = requests.post(f"{local_cluster.endpoint}/run/{svc['name']}",
                         headers={"Authorization": f"Bearer {token}"})
    assert "key=top-secret-42" in resp.text


def test_provider_and_cluster_credentials_are_hidden_and_kept(admin: requests.Session, make_service: Any,
                                                              local_cluster: Any) -> None:
    svc = make_service(
        storage_providers={"s3": {"aws": {"access_key": "AKIAEXAMPLE", "secret_key": "aws-secret-1",
                                          "region": "eu-west-1"}},
                           "minio": {"other": {"endpoint": "https://minio.example", "access_key": "mk",
                                               "secret_key": "minio-secret-3", "region": "", "verify": True}}},
        clusters={"other": {"endpoint": "https://other.example", "auth_user": "u", "auth_password": "pw-2",
                            "ssl_verify": True}},
        output=[{"storage_provider": "s3.aws", "path": "somebucket/out"}])
    text = admin.get(admin.url(f"/system/services/{svc['name']}")).text
    for secret in ("aws-secret-1", "pw-2", "minio-secret-3", local_cluster.password):
        assert secret not in text
    assert svc["storage_providers"]["s3"]["aws"]["secret_key"] == "hidden"
    assert svc["clusters"]["other"]["auth_password"] == "hidden"
    assert post_json(admin, "/system/services", svc, "PUT").status_code == 204
    stored = stored_definition(local_cluster, svc["name"])
    assert stored["storage_providers"]["s3"]["aws"]["secret_key"] == "aws-secret-1"
    assert stored["clusters"]["other"]["auth_password"] == "pw-2"
    assert stored["storage_providers"]["minio"]["other"]["secret_key"] == "minio-secret-3"


def stored_definition(local_cluster: Any, name: str) -> dict:
    """A service as stored in the cluster's SQLite state (read-only, beside the running server)."""
    import os
    import sqlite3

    path = os.path.join(local_cluster.data_dir, "state.sqlite3")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT definition FROM services WHERE name = ?", (name,)).fetchone()
    finally:
        db.close()
    return json.loads(row[0])


def test_oversized_bodies_get_a_clear_413(admin: requests.Session, local_cluster: Any, make_service: Any) -> None:
    big = b"{" + b" " * (5 * 1024 * 1024) + b"}"
    resp = post_json(admin, "/system/services", big)
    assert resp.status_code == 413 and "limit" in resp.text and "bytes" in resp.text
    svc = make_service(script="echo ok")
    limit = 64 * 1024 * 1024
    # declared length over the limit: refused before the body is read
    resp = requests.post(f"{local_cluster.endpoint}/run/{svc['name']}",
                         headers={"Authorization": f"Bearer {svc['token']}", "Content-Length": str(limit + 1)},
                         data=b"")
    assert resp.status_code == 413 and str(limit) in resp.text

    def chunks():  # chunked upload with no declared length
        for _ in range(70):
            yield b"x" * (1024 * 1024)
    resp = requests.post(f"{local_cluster.endpoint}/job/{svc['name']}",
                         headers={"Authorization": f"Bearer {svc['token']}"}, data=chunks())
    assert resp.status_code == 413


def test_run_bodies_neither_json_nor_base64_say_so(local_cluster: Any, make_service: Any) -> None:
    svc = make_service(script='cat "$INPUT_FILE_PATH"')
    headers = {"Authorization": f"Bearer {svc['token']}"}
    for body in (b"not base64 !!", "ünïcode".encode(), b"\xff\xfe", b"[1,2"):
        resp = requests.post(f"{local_cluster.endpoint}/run/{svc['name']}", data=body, headers=headers)
        # as on a cluster the invocation answers 200; the exit status and the text say what went wrong
        assert resp.status_code == 200
        assert resp.headers["X-Oscar-Exit-Code"] == "1"
        assert "neither JSON nor base64" in resp.text
    resp = requests.post(f"{local_cluster.endpoint}/run/{svc['name']}", data=b'{"a": 1}', headers=headers)
    assert resp.headers["X-Oscar-Exit-Code"] == "0" and resp.text.rstrip().endswith('{"a": 1}')


# --------------------------------------------------------------------------- jobs and logs

def test_logs_bad_queries_and_unknown_jobs(admin: requests.Session, make_service: Any) -> None:
    svc = make_service()
    name = svc["name"]
    assert admin.get(admin.url(f"/system/logs/{name}")).json() == {"jobs": {}}
    for query in ("?page=abc", "?page=-1"):
        resp = admin.get(admin.url(f"/system/logs/{name}{query}"))
        assert resp.status_code == 400 and "page" in resp.text, query
    for query in ("?limit=0", "?limit=x", "?limit=100000"):  # the Manager ignores ?limit (JOB_LISTING_LIMIT)
        assert admin.get(admin.url(f"/system/logs/{name}{query}")).json() == {"jobs": {}}, query
    for job in (f"{name}-00000000-0000-4000-8000-000000000000", "../../etc/passwd", "other-job", "%2e%2e"):
        assert admin.get(admin.url(f"/system/logs/{name}/{job}")).status_code == 404, job
        assert admin.delete(admin.url(f"/system/logs/{name}/{job}")).status_code == 404, job


# --------------------------------------------------------------------------- buckets

@pytest.mark.parametrize("bad", ["../etc", "a b", "AB", "x", "ünï", "a" * 64, "..a", 7, None])
def test_bucket_create_refuses_bad_names(admin: requests.Session, bad: Any) -> None:
    resp = post_json(admin, "/system/buckets", {"bucket_name": bad})
    assert resp.status_code == 400 and "bucket_name" in resp.text


@pytest.mark.parametrize("bad", ["..", "a b", "AB", "ünï", "a" * 64, "x", "-ab", "a..b"])
def test_bucket_paths_refuse_bad_names(admin: requests.Session, bad: str) -> None:
    for method, path, body in (("GET", f"/system/buckets/{bad}", None), ("DELETE", f"/system/buckets/{bad}", None),
                               ("POST", f"/system/buckets/{bad}/presign", {"object_key": "k", "operation": "download"})):
        resp = admin.request(method, admin.url(path), json=body)
        assert resp.status_code in (400, 404), (method, path, resp.status_code)
        if resp.status_code == 400:
            assert "bucket name" in resp.text


def test_update_with_wrong_fields_changes_nothing(admin: requests.Session, make_service: Any) -> None:
    svc = make_service(script="echo before", memory="128Mi")
    for patch, field, status in (({"memory": "lots"}, "quantities must match", 500), ({"script": ["echo"]}, "script", 400),
                                 ({"input": [{"storage_provider": "minio.default", "path": "Bad_Bucket/in"}]},
                                  "input[0].path", 400)):
        body = dict(svc, **patch)
        resp = post_json(admin, "/system/services", body, "PUT")
        assert resp.status_code == status and field in resp.text, resp.text
    after = admin.get(admin.url(f"/system/services/{svc['name']}")).json()
    assert after == svc
    big = dict(svc, script="#" * (5 * 1024 * 1024))
    resp = post_json(admin, "/system/services", big, "PUT")
    assert resp.status_code == 413
    assert admin.get(admin.url(f"/system/services/{svc['name']}")).json() == svc


def test_bucket_endpoints_bad_input(admin: requests.Session, unique_name: str) -> None:
    bucket = unique_name
    assert post_json(admin, "/system/buckets", b"{oops").status_code == 400
    assert post_json(admin, "/system/buckets", {"bucket_name": bucket, "visibility": "world"}).status_code == 400
    assert post_json(admin, "/system/buckets", {"bucket_name": bucket, "allowed_users": "bob"}).status_code == 400
    assert admin.get(admin.url(f"/system/buckets/{bucket}")).status_code == 404
    assert admin.delete(admin.url(f"/system/buckets/{bucket}")).status_code == 404
    assert post_json(admin, "/system/buckets", {"bucket_name": bucket}, "PUT").status_code == 404
    resp = post_json(admin, f"/system/buckets/{bucket}/presign", {"object_key": "a", "operation": "download"})
    assert resp.status_code == 404
    assert post_json(admin, "/system/buckets", {"bucket_name": bucket}).status_code == 201
    try:
        assert post_json(admin, "/system/buckets", {"bucket_name": bucket}).status_code == 409
        for body, word in (({"operation": "download"}, "object_key"),
                           ({"object_key": "a", "operation": "delete"}, "operation"),
                           ({"object_key": "../x", "operation": "upload"}, "object_key"),
                           ({"object_key": "a", "operation": "upload", "expires_in": 99999}, "expiration"),
                           ({"object_key": "a", "operation": "upload", "expires_in": "soon"}, "expires_in"),
                           ([], "Go value of type buckets.PresignRequest")):
            resp = post_json(admin, f"/system/buckets/{bucket}/presign", body)
            assert resp.status_code == 400 and word in resp.text, (body, resp.text)
        for query in ("?page=%%%", "?limit=0", "?limit=abc"):
            assert admin.get(admin.url(f"/system/buckets/{bucket}{query}")).status_code == 400, query
    finally:
        assert admin.delete(admin.url(f"/system/buckets/{bucket}")).status_code == 204
