"""Fuzzing oscar-local's HTTP API: random methods, paths, queries, headers and bodies.

Half the requests take an operation from the server's own ``/openapi.json``
(its documented method and path, parameters filled at random); the others
mix known paths, odd segments and any method.

Against the ``oscar-local`` command run as a child process: no answer may be a
5xx other than the documented ones (503 busy with ``Retry-After``, 503 while a
service is updated or deleted, 504 out of time, 502/500 ``Storage error: ...``),
no request may hang (30 s read timeout), no answer may contain the admin
password, and afterwards the server is healthy and still runs a service.
"""
from __future__ import annotations

import base64
import collections
import json
import re
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pytest

pytest.importorskip("hypothesis", reason="fuzzing needs hypothesis (the test extra)")
import requests
from hypothesis import HealthCheck, given, settings, strategies as st

from .documented_errors import documented
from .figures import report
from .oscar_process import OscarLocalProcess

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(420)]

SETTINGS = settings(max_examples=1500, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
STATS: Dict[str, Any] = {"requests": 0, "statuses": collections.Counter(), "slowest_s": 0.0}
ECHO = "fz-echo"

SEGMENT = st.one_of(st.sampled_from([ECHO, "nope", "fz-new", "..", ".", "%2e%2e", "%00", "a" * 300, "",
                                     "fz-echo-00000000-0000-4000-8000-000000000000", "exposed", "start",
                                     "presign", "in", "UPPER", "-x-", "ñ"]),
                    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF,
                                                   blacklist_characters="/?#"), min_size=1, max_size=20))
TEMPLATES = ["/health", "/openapi.json", "/system/info", "/system/config", "/system/status",
             "/system/services", "/system/services/{}", "/system/services/{}/", "/system/logs/",
             "/system/logs/{}", "/system/logs/{}/{}", "/run/{}", "/job/{}", "/system/buckets",
             "/system/buckets/{}", "/system/buckets/{}/presign", "/system/services/{}/exposed/{}",
             "/system/services/{}/start", "/system/services/{}/stop", "/{}", "/system/{}", "/{}/{}/{}"]
JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**64, 2**64), st.floats(allow_nan=False),
                              st.text(max_size=20)),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                    max_leaves=20)
SERVICE_KEYS = ["name", "image", "script", "cpu", "memory", "input", "output", "synchronous", "expose",
                "environment", "log_level", "visibility", "allowed_users", "token", "owner", "x"]
DEFINITION = st.fixed_dictionaries({"name": SEGMENT, "image": st.just("alpine"), "script": st.text(max_size=40)},
                                   optional={k: JSON for k in SERVICE_KEYS
                                             if k not in ("name", "image", "script")})
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


def documented_operations(doc: Dict[str, Any]) -> List[Tuple[str, str]]:
    """(METHOD, path template with ``{}`` for each parameter) of every operation in an OpenAPI document."""
    ops = []
    for path, item in doc.get("paths", {}).items():
        template = re.sub(r"\{[^}]+\}", "{}", path)
        ops += [(method.upper(), template) for method in item if method in ("get", "post", "put", "delete",
                                                                             "patch", "head", "options")]
    return ops


@st.composite
def http_requests(draw: Any, documented: Sequence[Tuple[str, str]] = ()) -> Dict[str, Any]:
    if documented and draw(st.booleans()):  # half the time an operation /openapi.json documents
        method, template = draw(st.sampled_from(list(documented)))
    else:
        template = draw(st.sampled_from(TEMPLATES + ["/run/" + ECHO, "/job/" + ECHO] * 3))
        method = draw(st.sampled_from(["GET"] * 3 + ["POST"] * 4 + ["PUT", "PUT", "DELETE", "PATCH", "HEAD",
                                                                     "OPTIONS", "FUZZ"]))
    path = template.format(*[draw(SEGMENT) for _ in range(template.count("{}"))])
    query = draw(st.dictionaries(st.sampled_from(["limit", "page", "all", "timestamps", "prefix",
                                                  "operation", "expires_in", "key", "x"]),
                                 st.one_of(st.text(max_size=12), st.integers(-5, 5000).map(str)), max_size=3))
    # weighted towards valid credentials so most requests get past the auth check
    auth = draw(st.sampled_from(["admin"] * 5 + ["service-bearer"] * 3 + ["none", "wrong-basic", "random-bearer",
                                                                          "garbage"]))
    headers = draw(st.dictionaries(st.sampled_from(["Content-Type"] * 3 + ["X-Forwarded-For", "Accept", "Range",
                                                                           "Content-Encoding", "Expect", "X-Anything"]),
                                   HEADER_TEXT, max_size=3))
    kind = draw(st.sampled_from(["none", "bytes", "json", "definition", "base64"]))
    body: Optional[bytes] = None
    if kind == "bytes":
        body = draw(st.binary(max_size=2000))
    elif kind == "json":
        body = json.dumps(draw(JSON)).encode()
    elif kind == "definition":
        body = json.dumps(draw(DEFINITION)).encode()
    elif kind == "base64":
        body = base64.b64encode(draw(st.binary(max_size=200)))
    return {"method": method, "path": path, "query": query, "auth": auth, "headers": headers, "body": body,
            "bearer_garbage": draw(HEADER_TEXT)}


@pytest.fixture(scope="module")
def echo_token(oscar_process: OscarLocalProcess) -> str:
    spec = {"name": ECHO, "image": "alpine", "script": 'cat "$INPUT_FILE_PATH"\n',
            "input": [{"storage_provider": "minio.default", "path": f"{ECHO}/in"}]}
    resp = requests.post(oscar_process.endpoint + "/system/services", json=spec, auth=oscar_process.auth,
                         timeout=60)
    assert resp.status_code == 201, resp.text
    return requests.get(f"{oscar_process.endpoint}/system/services/{ECHO}", auth=oscar_process.auth,
                        timeout=30).json()["token"]


def test_http_fuzzing(oscar_process: OscarLocalProcess, echo_token: str) -> None:
    session = requests.Session()
    secret = oscar_process.password
    doc = session.get(oscar_process.endpoint + "/openapi.json", timeout=30).json()
    operations = documented_operations(doc)
    assert len(operations) >= 10, operations

    @SETTINGS
    @given(req=http_requests(operations))
    def one(req: Dict[str, Any]) -> None:
        headers = dict(req["headers"])
        auth = None
        if req["auth"] == "admin":
            auth = oscar_process.auth
        elif req["auth"] == "wrong-basic":
            auth = ("oscar", "not-the-password")
        elif req["auth"] == "service-bearer":
            headers["Authorization"] = f"Bearer {echo_token}"
        elif req["auth"] == "random-bearer":
            headers["Authorization"] = "Bearer " + req["bearer_garbage"]
        elif req["auth"] == "garbage":
            headers["Authorization"] = req["bearer_garbage"]
        url = oscar_process.endpoint + requests.utils.requote_uri(req["path"])
        t0 = time.perf_counter()
        try:
            resp = session.request(req["method"], url, params=req["query"], headers=headers, auth=auth,
                                   data=req["body"], timeout=(5, 30), allow_redirects=False)
        except requests.exceptions.Timeout:
            raise AssertionError(f"no answer within 30 s to {req['method']} {req['path']}")
        except requests.exceptions.InvalidHeader:
            return  # requests refused to send it: nothing reached the server
        finally:
            STATS["slowest_s"] = max(STATS["slowest_s"], time.perf_counter() - t0)
        STATS["requests"] += 1
        STATS["statuses"][resp.status_code] += 1
        assert documented(resp), f"{req['method']} {req['path']} -> {resp.status_code}: {resp.text[:300]}"
        assert secret not in resp.text and all(secret not in v for v in resp.headers.values()), \
            f"the admin password is in the answer to {req['method']} {req['path']}"

    t0 = time.perf_counter()
    one()
    seconds = time.perf_counter() - t0
    session.close()

    assert requests.get(oscar_process.endpoint + "/health", timeout=10).text.strip() == "Ok"
    listing = requests.get(oscar_process.endpoint + "/system/services", auth=oscar_process.auth, timeout=30)
    assert listing.status_code == 200 and isinstance(listing.json(), list)
    spec = {"name": "fz-after", "image": "alpine", "script": "echo still-here\n", "log_level": "CRITICAL"}
    assert requests.post(oscar_process.endpoint + "/system/services", json=spec, auth=oscar_process.auth,
                         timeout=60).status_code == 201
    token = requests.get(oscar_process.endpoint + "/system/services/fz-after", auth=oscar_process.auth,
                         timeout=30).json()["token"]
    ran = requests.post(oscar_process.endpoint + "/run/fz-after", data=b"", timeout=60,
                        headers={"Authorization": f"Bearer {token}"})
    assert ran.status_code == 200 and "still-here" in ran.text, ran.text
    report("HTTP fuzzing", requests=STATS["requests"], seconds=seconds, slowest_s=STATS["slowest_s"],
           statuses=dict(sorted(STATS["statuses"].items())), rss_mib=oscar_process.rss() / 2**20)
