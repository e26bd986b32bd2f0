"""Stalled and aborted connections: 200 clients that stop half-way do not starve the others.

While 100 connections hold half-sent headers and 100 hold half-sent ``/run``
bodies, ``/health`` and a real ``/run`` still answer promptly; connections
reset in the middle of a request leave nothing behind; once all are closed,
oscar-local's open descriptors come back near where they were.
"""
from __future__ import annotations

import base64
import socket
import struct
import time
from typing import List
from urllib.parse import urlparse

import psutil
import pytest
import requests

from .figures import report
from .jobs_view import wait_for
from .oscar_process import OscarLocalProcess

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(180)]

STALLED = 100


def _connect(endpoint: str) -> socket.socket:
    url = urlparse(endpoint)
    return socket.create_connection((url.hostname, url.port), timeout=10)


def test_stalled_and_reset_connections(oscar_process: OscarLocalProcess) -> None:
    endpoint = oscar_process.endpoint
    spec = {"name": "stall-echo", "image": "alpine", "script": 'cat "$INPUT_FILE_PATH"\n', "log_level": "CRITICAL"}
    assert requests.post(endpoint + "/system/services", json=spec, auth=oscar_process.auth,
                         timeout=60).status_code == 201
    token = requests.get(endpoint + "/system/services/stall-echo", auth=oscar_process.auth, timeout=30).json()["token"]
    server = psutil.Process(oscar_process.pid)
    fds_before = server.num_fds()

    held: List[socket.socket] = []
    try:
        for i in range(STALLED):  # headers that never end
            s = _connect(endpoint)
            s.sendall(b"GET /system/info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            held.append(s)
        for i in range(STALLED):  # bodies that never arrive in full
            s = _connect(endpoint)
            s.sendall(b"POST /run/stall-echo HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                      token.encode() + b"\r\nContent-Length: 1000000\r\n\r\naGVsbG8=")
            held.append(s)
        time.sleep(0.5)
        t0 = time.perf_counter()
        health = requests.get(endpoint + "/health", timeout=10)
        health_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        ran = requests.post(endpoint + "/run/stall-echo", data=base64.b64encode(b"still served"), timeout=30,
                            headers={"Authorization": f"Bearer {token}"})
        run_s = time.perf_counter() - t0
        fds_held = server.num_fds()
    finally:
        for s in held:
            s.close()
    assert health.status_code == 200 and health_s < 2.0, health_s
    assert ran.status_code == 200 and ran.text.strip() == "still served" and run_s < 5.0, (ran.text, run_s)

    for i in range(100):  # reset (RST) in the middle of a request
        s = _connect(endpoint)
        s.sendall(b"POST /system/services HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500\r\n\r\n{\"name\":")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    settle = wait_for(lambda: server.num_fds() - fds_before < 20, 30, "oscar-local's descriptors to come back")
    assert requests.get(endpoint + "/health", timeout=10).status_code == 200
    names = [s["name"] for s in requests.get(endpoint + "/system/services", auth=oscar_process.auth,
                                             timeout=30).json()]
    assert names == ["stall-echo"], names  # nothing half-created by the cut requests
    report("stalled connections", stalled=2 * STALLED, reset=100, health_s=health_s, run_s=run_s,
           fds_before=fds_before, fds_while_held=fds_held, fds_after=server.num_fds(), settle_s=settle)
