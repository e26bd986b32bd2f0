"""Stopping and starting oscar-local on the same data dir: nothing lost, nothing re-run.

Each test runs its own oscar-local (not the shared session one), since it
stops and restarts it.
"""
from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from minio import Minio

from oscar_jupyter import local
from oscar_jupyter.local.server import DataDirBusy

COPY_SCRIPT = 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"\necho "copied $STORAGE_OBJECT_KEY"\n'


def minio_for(cluster: Any) -> Minio:
    cfg = requests.get(cluster.endpoint + "/system/config", auth=(cluster.user, cluster.password)).json()
    p = cfg["minio_provider"]
    return Minio(p["endpoint"].split("://", 1)[1], access_key=p["access_key"], secret_key=p["secret_key"],
                 secure=False)


def all_jobs(cluster: Any, name: str) -> dict[str, dict]:
    resp = requests.get(f"{cluster.endpoint}/system/logs/{name}", auth=(cluster.user, cluster.password))
    assert resp.status_code == 200, resp.text
    return resp.json()["jobs"]


def wait_jobs(cluster: Any, name: str, count: int, timeout: float = 60) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = all_jobs(cluster, name)
        if sum(v["status"] in ("Succeeded", "Failed") for v in jobs.values()) >= count:
            return jobs
        assert time.monotonic() < deadline, f"jobs not finished: {jobs}"
        time.sleep(0.2)


def create(cluster: Any, name: str, script: str) -> dict:
    svc = {"name": name, "image": "alpine", "script": script,
           "input": [{"storage_provider": "minio.default", "path": f"{name}/in"}],
           "output": [{"storage_provider": "minio.default", "path": f"{name}/out"}],
           "environment": {"secrets": {"TOKEN_X": "keep-me-secret"}}}
    auth = (cluster.user, cluster.password)
    assert requests.post(cluster.endpoint + "/system/services", json=svc, auth=auth).status_code == 201
    return requests.get(f"{cluster.endpoint}/system/services/{name}", auth=auth).json()


def test_restart_keeps_services_tokens_jobs_logs_and_reruns_nothing(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    first = local.start(data_dir=data, port=0)
    try:
        assert stat.S_IMODE(os.stat(os.path.join(data, "admin-password")).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.join(data, "endpoint.json")).st_mode) == 0o600
        assert first.password not in repr(first)
        svc = create(first, "restart-svc", COPY_SCRIPT)
        s3 = minio_for(first)
        for i in range(3):
            s3.put_object("restart-svc", f"in/f{i}.txt", io.BytesIO(b"data"), 4)
        jobs_before = wait_jobs(first, "restart-svc", 3)
        logs_before = {j: requests.get(f"{first.endpoint}/system/logs/restart-svc/{j}",
                                       auth=(first.user, first.password)).text for j in jobs_before}
        password = first.password
        # a second server on the same data dir is refused; attach() finds the running one
        with pytest.raises(DataDirBusy):
            local.start(data_dir=data, port=0)
        attached = local.attach(data)
        assert attached is not None and attached.endpoint == first.endpoint and not attached.owned
        assert attached.api_version == first.api_version == "4.1"  # the default release
    finally:
        first.stop()
    assert not os.path.exists(os.path.join(data, "endpoint.json"))
    assert local.attach(data) is None

    second = local.start(data_dir=data, port=0)
    try:
        assert second.password == password  # reused from the data dir
        auth = (second.user, second.password)
        got = requests.get(f"{second.endpoint}/system/services/restart-svc", auth=auth).json()
        assert got["token"] == svc["token"]
        time.sleep(1.5)  # time for anything that would wrongly re-run
        jobs_after = all_jobs(second, "restart-svc")
        assert jobs_after == jobs_before
        for job, text in logs_before.items():
            assert requests.get(f"{second.endpoint}/system/logs/restart-svc/{job}", auth=auth).text == text
        s3 = minio_for(second)
        outs = [o.object_name for o in s3.list_objects("restart-svc", prefix="out/", recursive=True)]
        assert sorted(outs) == ["out/", "out/f0.txt", "out/f1.txt", "out/f2.txt"]
        # the token still opens /run; a new upload still triggers exactly one job
        resp = requests.post(f"{second.endpoint}/run/restart-svc", data=b"eA==",
                             headers={"Authorization": f"Bearer {svc['token']}"})
        assert resp.status_code == 200
        s3.put_object("restart-svc", "in/after.txt", io.BytesIO(b"new"), 3)
        assert len(wait_jobs(second, "restart-svc", 4)) == 4
        # the secret survived, stored but never shown
        assert got["environment"]["secrets"] == {"TOKEN_X": ""}
    finally:
        second.stop()


def test_stop_during_a_burst_loses_and_repeats_nothing(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    cluster = local.start(data_dir=data, port=0, cores=1.0, shutdown_grace=0.5)
    try:
        create(cluster, "burst-stop", 'sleep 0.2; cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"')
        s3 = minio_for(cluster)
        for i in range(12):
            s3.put_object("burst-stop", f"in/{i}.txt", io.BytesIO(b"x"), 1)
        time.sleep(0.3)
    finally:
        cluster.stop()
    cluster = local.start(data_dir=data, port=0, cores=2.0)
    try:
        jobs = wait_jobs(cluster, "burst-stop", 12)
        time.sleep(1.0)
        jobs = all_jobs(cluster, "burst-stop")
        assert len(jobs) == 12  # never zero, never two per object
        auth = (cluster.user, cluster.password)
        failed = [j for j, v in jobs.items() if v["status"] == "Failed"]
        for job in failed:  # only ones cut off by the stop, and they say so
            text = requests.get(f"{cluster.endpoint}/system/logs/burst-stop/{job}", auth=auth).text
            assert "stopped" in text
        s3 = minio_for(cluster)
        outs = [o for o in s3.list_objects("burst-stop", prefix="out/", recursive=True)
                if not o.object_name.endswith("/")]
        assert len(outs) == 12 - len(failed)
    finally:
        cluster.stop()


def start_cli(data: str, **env: str) -> tuple[subprocess.Popen, str]:
    """The ``oscar-local`` command on ``data`` (admin password ``cli-test-password``, ``env`` added):
    the process and the endpoint it printed."""
    environ = dict(os.environ, OSCAR_LOCAL_PASSWORD="cli-test-password", **env)
    proc = subprocess.Popen([sys.executable, "-m", "oscar_jupyter.local", "--port", "0", "--data-dir", data],
                            env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=str(Path(__file__).resolve().parents[2]))
    line = proc.stdout.readline() if proc.stdout else ""
    if "oscar-local is running at" not in line:
        proc.kill()
        raise AssertionError(line + (proc.stderr.read() if proc.stderr else ""))
    return proc, line.rsplit(" ", 1)[1].strip()


def test_cli_killed_hard_marks_running_jobs_failed(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    proc, endpoint = start_cli(data)
    try:
        info = json.loads(Path(data, "endpoint.json").read_text())
        assert info["endpoint"] == endpoint
        cluster = local.attach(data)
        assert cluster is not None and cluster.password == "cli-test-password"
        svc = create(cluster, "killed", "sleep 3")
        resp = requests.post(f"{endpoint}/job/killed", data=b"{}",
                             headers={"Authorization": f"Bearer {svc['token']}"})
        assert resp.status_code == 201
        deadline = time.monotonic() + 30
        while not any(v["status"] == "Running" for v in all_jobs(cluster, "killed").values()):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()
    again = local.start(data_dir=data, port=0, password="cli-test-password")
    try:
        jobs = all_jobs(again, "killed")
        assert [v["status"] for v in jobs.values()] == ["Failed"]
        job = next(iter(jobs))
        text = requests.get(f"{again.endpoint}/system/logs/killed/{job}", auth=(again.user, again.password)).text
        assert "not running" in text and "Failed" in text
    finally:
        again.stop()


def test_cli_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    proc = subprocess.Popen([sys.executable, "-m", "oscar_jupyter.local", "--port", "0", "--data-dir", data],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=str(Path(__file__).resolve().parents[2]),
                            env={k: v for k, v in os.environ.items() if k != "OSCAR_LOCAL_PASSWORD"})
    line = proc.stdout.readline()
    assert "running at" in line
    password_line = proc.stdout.readline() + proc.stdout.readline()
    stored = Path(data, "admin-password").read_text().strip()
    assert stored in password_line  # printed once, when generated
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert not Path(data, "endpoint.json").exists()


def test_attach_ignores_a_stale_endpoint_file(tmp_path: Path, local_cluster: Any) -> None:
    """An endpoint.json left by a crash must not attach to whatever now listens on that port."""
    data = tmp_path / "stale"
    data.mkdir()
    (data / "endpoint.json").write_text(json.dumps({
        "endpoint": local_cluster.endpoint, "user": local_cluster.user,
        "password": local_cluster.password, "instance": "0" * 32}))
    assert local.attach(str(data)) is None
    (data / "endpoint.json").write_text("{not json")
    assert local.attach(str(data)) is None
    assert local.attach(str(tmp_path / "missing")) is None
    same = local.attach(local_cluster.data_dir)
    assert same is not None and same.endpoint == local_cluster.endpoint


def test_uploads_made_while_down_run_once_after_restart(tmp_path: Path) -> None:
    """Objects written to the storage while oscar-local was not watching start one job each at start."""
    from oscar_jupyter.local.s3 import S3Endpoint

    data = str(tmp_path / "data")
    cluster = local.start(data_dir=data, port=0)
    try:
        create(cluster, "offline", COPY_SCRIPT)
    finally:
        cluster.stop()
    storage = S3Endpoint.start(data, 0)  # the same storage, with nobody listening to its events
    try:
        store = storage.store()
        for i in range(3):
            store.put_bytes("offline", f"in/while-down-{i}.txt", b"late")
    finally:
        storage.stop()
    for round_ in range(2):  # the second start must not run them again
        cluster = local.start(data_dir=data, port=0)
        try:
            jobs = wait_jobs(cluster, "offline", 3)
            time.sleep(1.0)
            jobs = all_jobs(cluster, "offline")
            assert len(jobs) == 3, (round_, jobs)
            assert {v["status"] for v in jobs.values()} == {"Succeeded"}
        finally:
            cluster.stop()


def test_ensure_from_two_notebooks_at_once_shares_one_server(tmp_path: Path) -> None:
    import threading

    data = str(tmp_path / "shared")
    handles: list[Any] = []
    errors: list[BaseException] = []

    def notebook() -> None:
        try:
            handles.append(local.ensure(data, port=0))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=notebook) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert not errors, errors
        assert len(handles) == 2
        assert handles[0].endpoint == handles[1].endpoint
        assert sorted(h.owned for h in handles) == [False, True]
    finally:
        for h in handles:
            h.stop()


@pytest.fixture
def scratch_tmp() -> Any:
    """A fresh, short temporary directory for a child interpreter (replicas' sockets live under it)."""
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="oj-exit-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _child(code: str, tmp: str, **kwargs: Any) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, TMPDIR=tmp),
                            cwd=str(Path(__file__).resolve().parents[2]), **kwargs)


_START = """
import logging, requests, sys, time
logging.basicConfig(level=logging.WARNING)
from oscar_jupyter import local
c = local.start(data_dir={data!r}, port=0, password="exit-test-password")
r = requests.post(c.endpoint + "/system/services", json={{"name": "kept", "image": "x", "script": "cat"}},
                  auth=(c.user, c.password), timeout=60)
assert r.status_code in (201, 409), r.text
print("started", flush=True)
"""


_RUNNING = """
import threading
r = requests.post(c.endpoint + "/system/services", json={"name": "slow", "image": "x", "script": "sleep 600"},
                  auth=(c.user, c.password), timeout=60)
assert r.status_code == 201, r.text
token = requests.get(c.endpoint + "/system/services/slow", auth=(c.user, c.password), timeout=60).json()["token"]
threading.Thread(target=requests.post, args=(c.endpoint + "/run/slow",),
                 kwargs={"data": b"x", "headers": {"Authorization": "Bearer " + token}}, daemon=True).start()
import glob, os
deadline = time.monotonic() + 60
while not glob.glob(os.path.join(os.environ["TMPDIR"], "*", "oscar-slow-*", "work")):
    if time.monotonic() > deadline:
        print("no invocation directory in a scratch directory:", os.listdir(os.environ["TMPDIR"]), flush=True)
        break
    time.sleep(0.05)
else:
    print("running", flush=True)
"""


def test_an_interpreter_exiting_without_stop_shuts_oscar_local_down_in_full(tmp_path: Path, scratch_tmp: str) -> None:
    """A kernel shut down with a started cluster never stopped: the whole shutdown runs (it once
    stopped half-way, its thread hand-offs refused once the interpreter was exiting)."""
    data = str(tmp_path / "data")
    out, err = _child(_START.format(data=data), scratch_tmp).communicate(timeout=180)
    assert "started" in out, err[-3000:]
    assert "stopped with an error" not in err and "exited unexpectedly" not in err, err
    assert os.listdir(scratch_tmp) == []  # runtime directories, the front door's routes, slots
    assert not Path(data, "endpoint.json").exists()
    again = local.start(data_dir=data, port=0, password="exit-test-password")
    try:
        got = requests.get(f"{again.endpoint}/system/services/kept", auth=(again.user, again.password), timeout=30)
        assert got.status_code == 200
    finally:
        again.stop()


def test_a_server_killed_hard_leaves_scratch_directories_the_next_one_removes(tmp_path: Path,
                                                                             scratch_tmp: str) -> None:
    data = str(tmp_path / "data")
    killed = _child(_START.format(data=data) + _RUNNING + "time.sleep(600)\n", scratch_tmp)
    try:
        assert killed.stdout.readline().strip() == "started", killed.stderr.read()[-3000:]
        line = killed.stdout.readline().strip()
        assert line == "running", line
        left = sorted(os.listdir(scratch_tmp))
        assert any(n.startswith("oscar-x-") for n in left), left
        # the invocation's directory (its input, output and working dir) lies inside one of them
        slots = [d for d in left if os.path.isdir(os.path.join(scratch_tmp, d))
                 and any(n.startswith("oscar-slow-") for n in os.listdir(os.path.join(scratch_tmp, d)))]
        assert len(slots) == 1, left
    finally:
        killed.kill()
        killed.communicate(timeout=30)
    assert sorted(os.listdir(scratch_tmp)) == left  # nothing could clean up
    other = str(tmp_path / "other")  # another data dir: any server sweeps the temporary directory
    out, err = _child(_START.format(data=other) + "c.stop()\n", scratch_tmp).communicate(timeout=180)
    assert "started" in out, err[-3000:]
    assert os.listdir(scratch_tmp) == []


def test_a_server_killed_mid_answer_leaves_nothing_outside_its_scratch(tmp_path: Path) -> None:
    """An answer's body (and the run's private files) live in the server's held runs directory,
    so a server killed while it streams one leaves nothing in the temporary directory that the
    next server's sweep does not remove."""
    from oscar_jupyter.local import scratch

    data, tmp = str(tmp_path / "data"), tmp_path / "tmp"
    tmp.mkdir()
    proc, endpoint = start_cli(data, TMPDIR=str(tmp))
    try:
        auth = ("oscar", "cli-test-password")
        svc = {"name": "big-answer", "image": "alpine",
               "script": 'head -c 20000000 /dev/urandom > "$TMP_OUTPUT_DIR/out.bin"\n'}
        assert requests.post(endpoint + "/system/services", json=svc, auth=auth).status_code == 201
        token = requests.get(f"{endpoint}/system/services/big-answer", auth=auth).json()["token"]
        resp = requests.post(f"{endpoint}/run/big-answer", data=b"x", stream=True, timeout=120,
                             headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200
        assert next(resp.iter_content(65536))  # the body is being sent, and the client stops reading
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()
    stray = [p.name for p in tmp.iterdir() if not p.name.startswith(scratch.PREFIXES)]
    assert stray == []
    again, _ = start_cli(data, TMPDIR=str(tmp))
    try:
        runs = [p.name for p in tmp.iterdir() if p.name.startswith("oscar-run-")]
        assert len(runs) == 1  # the killed server's runs (its body with them) were swept
    finally:
        again.send_signal(signal.SIGTERM)
        again.communicate(timeout=60)
