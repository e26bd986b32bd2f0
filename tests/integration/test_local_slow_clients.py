"""Slow and stalled clients: oscar-local bounds the time to send a request's head, not its body.

One oscar-local of this module runs with a short ``header_timeout`` so the
bound shows within seconds: a connection that stalls in its request line or
headers (or trickles them) and an idle keep-alive connection are closed,
while an upload whose body arrives slowly but keeps coming still succeeds.
"""
from __future__ import annotations

import base64
import socket
import subprocess
import sys
import time
import uuid
from typing import Any, Iterator
from urllib.parse import urlparse

import pytest
import requests

from oscar_jupyter.local.runtime import Options

BOUND = 1.5  # header_timeout of this module's server, seconds
SLACK = 3.0  # scheduling slack on 2 shared cores


@pytest.fixture(scope="module")
def slow_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from oscar_jupyter import local

    data_dir = tmp_path_factory.mktemp("oscar-local-slow-clients")
    cluster = local.start(data_dir=str(data_dir), port=0, password=uuid.uuid4().hex, header_timeout=BOUND)
    try:
        yield cluster
    finally:
        cluster.stop()


def _connect(endpoint: str) -> socket.socket:
    url = urlparse(endpoint)
    return socket.create_connection((url.hostname, url.port), timeout=BOUND + SLACK + 5)


def _seconds_until_closed(sock: socket.socket) -> float:
    """Read until the server closes the connection; how long that took (fails if it never does)."""
    t0 = time.monotonic()
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        pytest.fail(f"the server still held the connection after {time.monotonic() - t0:.1f} s")
    except ConnectionResetError:
        pass
    return time.monotonic() - t0


def test_half_sent_request_line_is_closed_within_the_bound(slow_cluster: Any) -> None:
    with _connect(slow_cluster.endpoint) as sock:
        sock.sendall(b"GET /system/in")
        assert _seconds_until_closed(sock) < BOUND + SLACK


def test_headers_that_never_end_are_closed_within_the_bound(slow_cluster: Any) -> None:
    with _connect(slow_cluster.endpoint) as sock:
        sock.sendall(b"GET /system/info HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        t0 = time.monotonic()
        try:  # a header byte every 0.2 s: progress, but the head never completes
            while time.monotonic() - t0 < BOUND + SLACK:
                sock.sendall(b"X-Slow: a\r\n")
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert time.monotonic() - t0 + _seconds_until_closed(sock) < BOUND + SLACK + 1


def test_idle_keep_alive_connection_is_closed_after_the_bound(slow_cluster: Any) -> None:
    with _connect(slow_cluster.endpoint) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first
        assert _seconds_until_closed(sock) < BOUND + SLACK


def test_slow_but_progressing_upload_succeeds(slow_cluster: Any) -> None:
    name = f"slow-{uuid.uuid4().hex[:8]}"
    spec = {"name": name, "image": "alpine", "script": 'wc -c < "$INPUT_FILE_PATH"\n', "log_level": "CRITICAL"}
    admin = (slow_cluster.user, slow_cluster.password)
    assert requests.post(slow_cluster.endpoint + "/system/services", json=spec, auth=admin,
                         timeout=60).status_code == 201
    token = requests.get(f"{slow_cluster.endpoint}/system/services/{name}", auth=admin, timeout=30).json()["token"]
    payload = base64.b64encode(bytes(range(256)) * 4096)  # 1 MiB decoded
    chunks = [payload[i:i + len(payload) // 8] for i in range(0, len(payload), len(payload) // 8)]

    def trickle() -> Iterator[bytes]:
        for chunk in chunks:  # ~8 x 0.5 s: the body takes more than twice the header bound
            time.sleep(0.5)
            yield chunk

    t0 = time.monotonic()
    resp = requests.post(f"{slow_cluster.endpoint}/run/{name}", data=trickle(), timeout=60,
                         headers={"Authorization": f"Bearer {token}"})  # chunked: the length is not known upfront
    took = time.monotonic() - t0
    assert resp.status_code == 200, resp.text
    assert resp.text.strip() == str(256 * 4096)
    assert took > 2 * BOUND


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "30", True])
def test_header_timeout_must_be_a_positive_number(bad: Any) -> None:
    with pytest.raises(ValueError, match="header_timeout must be a positive number of seconds"):
        Options(data_dir="/nonexistent", password="x", header_timeout=bad)


def test_cli_refuses_a_bad_header_timeout(tmp_path: Any) -> None:
    done = subprocess.run([sys.executable, "-m", "oscar_jupyter.local", "--port", "0", "--data-dir", str(tmp_path),
                           "--header-timeout", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--header-timeout must be a positive number of seconds, got 0.0" in done.stderr
