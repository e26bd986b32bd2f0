"""An exposed service's replica attacks the oscar-local running it, over real HTTP, in each sandbox mode.

The replica is a small HTTP server (the service's script, on a hard-coded
port) that runs any shell command it is sent, so each test can try an
attack from inside a running replica: read the server's environment and
data dir, kill the server, its S3 endpoint and another service's replica,
leave processes behind after stop and delete, allocate past its ``memory``.
The server is the ``oscar-local`` command in a child process, once per
sandbox mode that works here (``bwrap``, ``unshare``): every attack fails
and the server stays healthy. In mode ``none`` replicas are not contained
and the deployment's reason says so (last test).
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
from typing import Any, Iterator

import psutil
import pytest
import requests

from oscar_jupyter.local.sandbox import Sandbox
from tests.reliability.oscar_process import OscarLocalProcess, wait_gone

SHELL_SERVER = r'''#!/usr/bin/env python3
import json, subprocess, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT = %(port)d
held = []

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path.endswith("/sh"):
            done = subprocess.run(query["c"], shell=True, capture_output=True, timeout=60)
            body = {"rc": done.returncode, "out": done.stdout.decode("utf-8", "replace"),
                    "err": done.stderr.decode("utf-8", "replace")}
        elif url.path.endswith("/alloc"):
            block = bytearray(int(query["mb"]) * 1024 * 1024)
            block[::4096] = b"x" * len(block[::4096])  # touch every page
            held.append(block)
            body = {"allocated": len(block)}
        else:
            body = {"ok": True}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

print("serving", flush=True)
ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _modes() -> list:
    out = []
    for mode in ("bwrap", "unshare"):
        try:
            Sandbox.probe(want=mode)
            out.append(mode)
        except RuntimeError:
            out.append(pytest.param(mode, marks=pytest.mark.skip(reason=f"the {mode} sandbox does not work here")))
    return out


class Server:
    """The oscar-local process and helpers to deploy exposed shell servers and use them."""

    def __init__(self, proc: OscarLocalProcess, mode: str) -> None:
        self.proc = proc
        self.mode = mode
        self.session = requests.Session()
        self.session.auth = proc.auth
        cfg = self.session.get(proc.endpoint + "/system/config", timeout=30).json()
        with open(os.path.join(proc.data_dir, "endpoint.json"), encoding="utf-8") as fh:
            endpoint_json = json.load(fh)
        self.secrets = [proc.password, cfg["minio_provider"]["secret_key"], endpoint_json["password"]]

    def s3_pid(self) -> int:
        for child in psutil.Process(self.proc.pid).children():
            if "s3server.py" in " ".join(child.cmdline()) or "moto" in " ".join(child.cmdline()):
                return child.pid
        raise AssertionError("no S3 endpoint process under oscar-local")

    def deploy(self, **fields: Any) -> dict:
        name = f"sbx-{uuid.uuid4().hex[:10]}"
        port = _free_port()
        definition = {"name": name, "image": "python:3", "script": SHELL_SERVER % {"port": port},
                      "memory": "256Mi", "cpu": "0.5", "expose": {"api_port": [port], "min_scale": 1}}
        definition.update(fields)
        resp = self.session.post(self.proc.endpoint + "/system/services", json=definition, timeout=60)
        assert resp.status_code == 201, resp.text
        self.wait(name, "ready")
        return self.session.get(f"{self.proc.endpoint}/system/services/{name}", timeout=30).json()

    def deployment(self, name: str) -> dict:
        return self.session.get(f"{self.proc.endpoint}/system/services/{name}/deployment", timeout=30).json()

    def wait(self, name: str, state: str, timeout: float = 90, contains: str = "") -> dict:
        deadline = time.monotonic() + timeout
        while True:
            got = self.deployment(name)
            if got["state"] == state and contains in got["reason"]:
                return got
            assert time.monotonic() < deadline, f"{name} never became {state} ({contains!r}): {got}"
            time.sleep(0.2)

    def url(self, svc: dict, path: str) -> str:
        return f"{self.proc.endpoint}/system/services/{svc['name']}/exposed/{path}"

    def sh(self, svc: dict, command: str) -> dict:
        resp = requests.get(self.url(svc, "sh"), params={"c": command}, timeout=90)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def replica_pids(self, svc: dict) -> list:
        """Host pids of the service's replica processes (their directory is named after the service)."""
        tag = f"/{svc['name']}-"
        return [p.pid for p in psutil.process_iter(["cmdline"]) if tag in " ".join(p.info["cmdline"] or [])]

    def assert_healthy(self) -> None:
        assert self.proc.proc is not None and self.proc.proc.poll() is None, "oscar-local died"
        deadline = time.monotonic() + 20
        while True:  # a killed S3 endpoint is restarted: /health says so meanwhile
            resp = requests.get(self.proc.endpoint + "/health", timeout=10)
            if resp.status_code == 200:
                break
            assert time.monotonic() < deadline, f"not healthy: {resp.status_code} {resp.text}"
            time.sleep(0.2)
        assert self.session.get(self.proc.endpoint + "/system/services", timeout=30).status_code == 200


@pytest.fixture(scope="module", params=_modes())
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp(f"sandbox-exposed-{request.param}")
    proc = OscarLocalProcess(str(data_dir), uuid.uuid4().hex, extra_args=["--sandbox", request.param]).start()
    try:
        yield Server(proc, request.param)
    finally:
        below = proc.descendants()
        proc.stop()
        wait_gone(below, 15)


@pytest.fixture(scope="module")
def shell(server: Server) -> dict:
    return server.deploy()


def test_a_replica_runs_in_its_own_namespaces_as_an_unprivileged_user(server: Server, shell: dict) -> None:
    got = server.sh(shell, "id -u; echo $$; ls /proc | grep -c '^[0-9]'; hostname")
    uid, pid, count, host = got["out"].split()
    if os.geteuid() == 0:
        assert uid == "65534"
    assert int(pid) < 50 and int(count) < 20  # a PID namespace of its own: a handful of processes
    assert str(server.proc.pid) not in server.sh(shell, "ls /proc")["out"].split()


def test_the_servers_environment_is_out_of_reach(server: Server, shell: dict) -> None:
    got = server.sh(shell, f"cat /proc/{server.proc.pid}/environ; cat /proc/1/environ; "
                           "for p in /proc/[0-9]*; do cat $p/environ; done; env")
    assert f"/proc/{server.proc.pid}/environ: No such file or directory" in got["err"]  # not in its PID namespace
    for secret in server.secrets:
        assert secret not in got["out"] + got["err"]
    assert "OSCAR_SERVICE_NAME=" + shell["name"] in got["out"]  # its own environment is there
    server.assert_healthy()


def test_the_data_dir_is_out_of_reach(server: Server, shell: dict) -> None:
    d = server.proc.data_dir
    got = server.sh(shell, f"ls -la {d}; cat {d}/endpoint.json {d}/admin-password; base64 {d}/state.sqlite3; "
                           "find / -xdev \\( -name state.sqlite3 -o -name admin-password -o -name endpoint.json \\) "
                           "2>/dev/null | while read f; do base64 \"$f\"; done; echo end")
    text = got["out"] + got["err"]
    assert got["out"].rstrip().endswith("end")
    for secret in server.secrets:
        assert secret not in text
    assert "state.sqlite3" not in got["out"]
    server.assert_healthy()


def test_killing_the_server_s3_and_another_replica_fails(server: Server, shell: dict) -> None:
    victim = server.deploy()
    before = server.sh(victim, "echo $$")["out"]
    victim_pids = server.replica_pids(victim)
    assert victim_pids
    targets = " ".join(str(p) for p in [server.proc.pid, server.s3_pid(), *victim_pids])
    attacker = server.deploy()
    try:
        requests.get(server.url(attacker, "sh"), timeout=90,
                     params={"c": f"kill -9 {targets}; pkill -9 -f oscar; pkill -9 python3; kill -9 -1; echo tried"})
    except requests.RequestException:
        pass  # kill -1 may end the attacker's own server mid-answer
    time.sleep(1)
    server.assert_healthy()
    assert all(psutil.pid_exists(p) for p in victim_pids), "another service's replica was killed"
    assert server.sh(victim, "echo $$")["out"] != before  # answers (a new shell each time)
    assert server.deployment(victim["name"])["state"] == "ready"


def test_no_process_outlives_a_stopped_or_deleted_replica(server: Server) -> None:
    svc = server.deploy()
    for step in ("stop", "delete"):
        marker = 900000 + int(uuid.uuid4().int % 99999)
        server.sh(svc, f'setsid sh -c "sleep {marker}" </dev/null >/dev/null 2>&1 & '
                       f'nohup sleep {marker + 1} >/dev/null 2>&1 & echo left')
        assert any(f"sleep {marker}" in " ".join(p.info["cmdline"] or [])
                   for p in psutil.process_iter(["cmdline"]))
        if step == "stop":
            assert server.session.post(f"{server.proc.endpoint}/system/services/{svc['name']}/stop",
                                       timeout=60).status_code in (200, 204)
            server.wait(svc["name"], "stopped")
        else:
            assert server.session.delete(f"{server.proc.endpoint}/system/services/{svc['name']}",
                                         timeout=60).status_code in (200, 204)
        deadline = time.monotonic() + 20
        while True:
            left = [p for p in psutil.process_iter(["cmdline"])
                    if any(f"sleep {m}" in " ".join(p.info["cmdline"] or []) for m in (marker, marker + 1))]
            if not left:
                break
            assert time.monotonic() < deadline, f"processes outlived the replica after {step}: {left}"
            time.sleep(0.2)
        if step == "stop":
            assert server.session.post(f"{server.proc.endpoint}/system/services/{svc['name']}/start",
                                       timeout=60).status_code in (200, 204)
            server.wait(svc["name"], "ready")
    server.assert_healthy()


def test_a_replica_allocating_past_its_memory_is_oomkilled_and_restarted(server: Server) -> None:
    svc = server.deploy(memory="96Mi")
    limits = server.session.get(server.proc.endpoint + "/system/info", timeout=30).headers["X-Oscar-Local-Sandbox"]
    try:
        resp = requests.get(server.url(svc, "alloc"), params={"mb": 400}, timeout=90)
        status = resp.status_code
    except requests.RequestException:
        status = 0
    assert status != 200, "the replica allocated 400 MB under a 96Mi limit"
    if "cgroup" in limits:
        got = server.wait(svc["name"], "ready", timeout=90, contains="OOMKilled")
        assert "96Mi" in got["reason"]
        logs = server.session.get(f"{server.proc.endpoint}/system/services/{svc['name']}/deployment/logs",
                                  timeout=30).text
        assert "OOMKilled" in logs
    assert server.sh(svc, "echo back")["out"] == "back\n"  # a new replica serves
    server.assert_healthy()


def test_without_a_sandbox_the_reason_says_replicas_are_not_contained(tmp_path) -> None:
    proc = OscarLocalProcess(str(tmp_path / "d"), uuid.uuid4().hex, extra_args=["--sandbox", "none"]).start()
    try:
        server = Server(proc, "none")
        svc = server.deploy()
        got = server.deployment(svc["name"])
        assert "not sandboxed" in got["reason"] and "sandbox mode none" in got["reason"]
        assert server.sh(svc, "echo hi")["out"] == "hi\n"
    finally:
        below = proc.descendants()
        proc.stop()
        wait_gone(below, 15)
