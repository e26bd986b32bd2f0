"""The drain's count of connections through a replica's relay (a real socat, forking per connection).

A replica leaves rotation and is stopped once its relay carries no connection.
The count must hold while other connections open and close around it: a count
that drops to 0 when one child exits mid-read stops a replica under requests.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from typing import Iterator

import pytest

from oscar_jupyter.local.exposed.launch import relay_connections

pytestmark = pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")


@pytest.fixture
def relay(tmp_path) -> Iterator[tuple[int, str]]:
    """A socat relay (Unix socket -> a TCP server that holds each connection until it closes)."""
    server = socket.create_server(("127.0.0.1", 0), backlog=512)
    port = server.getsockname()[1]

    def hold(conn: socket.socket) -> None:
        with conn:
            while conn.recv(1024):
                pass

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=hold, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    path = str(tmp_path / "relay.sock")
    proc = subprocess.Popen(["/bin/sh", "-c", f'socat "UNIX-LISTEN:{path},fork" "TCP:127.0.0.1:{port}" & wait'],
                            start_new_session=True)
    deadline = time.monotonic() + 10
    while not os.path.exists(path):
        assert time.monotonic() < deadline, "socat never listened"
        time.sleep(0.02)
    yield proc.pid, path
    os.killpg(proc.pid, 9)
    proc.wait()
    server.close()


def _connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(b"x")
    return s


def _wait_count(pid: int, want: int) -> None:
    deadline = time.monotonic() + 10
    while relay_connections(pid) != want:
        assert time.monotonic() < deadline, f"{relay_connections(pid)} connections, {want} expected"
        time.sleep(0.02)


def test_the_count_holds_while_other_connections_open_and_close(relay):
    pid, path = relay
    held = [_connect(path) for _ in range(4)]
    _wait_count(pid, 4)
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            with _connect(path):
                time.sleep(0.002)

    churners = [threading.Thread(target=churn, daemon=True) for _ in range(3)]
    for t in churners:
        t.start()
    try:
        seen = [relay_connections(pid) for _ in range(150)]
    finally:
        stop.set()
        for t in churners:
            t.join()
    assert min(seen) >= 4, sorted(seen)[:10]
    for s in held:
        s.close()
    _wait_count(pid, 0)


def test_a_process_that_is_gone_has_no_connection():
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert relay_connections(proc.pid) == 0
