"""How Manager answers map to typed errors (v3 and v4 shapes), without leaking secrets."""
from __future__ import annotations

import pytest
import requests

from oscar_jupyter import errors
from oscar_jupyter.auth import BasicAuth
from oscar_jupyter.cluster import Cluster

SECRET = "very-secret-password"


def response(status: int, body: bytes = b"") -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body
    r.url = "https://oscar.example.org/system/services"
    return r


@pytest.fixture
def cluster():
    return Cluster("https://oscar.example.org", BasicAuth("oscar", SECRET))


@pytest.mark.parametrize("status,body,kind", [
    (401, b"", errors.AuthError),
    (403, b"forbidden", errors.AuthError),
    (404, b"", errors.NotFound),
    (409, b"", errors.Conflict),                                   # v3 duplicate
    (400, b"Service 'x' already exists", errors.Conflict),         # v4 duplicate
    (504, b"", errors.Timeout),
    (503, b"", errors.APIError),
    (500, b"boom", errors.APIError),
])
def test_status_to_error(cluster, status, body, kind):
    error = cluster.error_for(response(status, body), "create service 'x'")
    assert type(error) is kind
    assert "create service 'x'" in str(error)


def test_bodies_echoing_secrets_are_redacted(cluster):
    cluster.remember_secret("a" * 64)
    error = cluster.error_for(response(500, f"bad {SECRET} and {'a' * 64}".encode()), "x")
    assert SECRET not in str(error) and "a" * 64 not in str(error) and "***" in str(error)
    assert SECRET not in error.body


def test_every_message_says_what_to_do(cluster):
    for status in (401, 404, 409, 503, 504):
        error = cluster.error_for(response(status), "call")
        assert error.hint, status


def test_refused_connection_is_connection_failed():
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    c = Cluster(f"http://127.0.0.1:{port}", BasicAuth("oscar", SECRET), retry=0)
    with pytest.raises(errors.ConnectionFailed, match="connection refused") as info:
        c.info()
    assert SECRET not in str(info.value)
    assert c.health() is False


def test_run_retries_504_once_and_never_a_stopped_invocation():
    from urllib3.exceptions import MaxRetryError
    from urllib3.response import HTTPResponse
    from oscar_jupyter.cluster import default_run_retry

    retry = default_run_retry()
    assert retry.is_retry("POST", 502) and retry.is_retry("POST", 503) and retry.is_retry("POST", 504)
    after = retry.increment("POST", "/run/x", response=HTTPResponse(body=b"", status=504))
    assert not after.is_retry("POST", 504) and after.is_retry("POST", 503)
    stopped = HTTPResponse(body=b"", status=504, headers={"X-Oscar-Exit-Code": ""})
    with pytest.raises(MaxRetryError):
        retry.increment("POST", "/run/x", response=stopped)
    assert not retry.is_retry("GET", 503)  # /run's policy is for POST only
