"""SIGKILL restarts: the ``oscar-local`` command killed at random points of an upload burst, restarted
on the same data dir, keeps exactly-once jobs.

Each round starts the command (the first on a fresh data dir), uploads a paced
burst from 8 threads and SIGKILLs the process at a random moment while uploads
and jobs are under way; the last round is not killed and everything is let
finish. Uploads are never retried (a retry would be a second creation, which
rightly starts a second job). In the end:

- every acknowledged upload is in S3 with its bytes, and has exactly one job;
  an upload cut by the kill has one job if its object exists, none otherwise;
- every job is Succeeded (its output holds the input's bytes), or Failed with
  the restart note (it was running when the process died); none is left over;
- no job's script started twice (each script appends to a ledger outside the
  data dir), and a job seen finished keeps its status and finish time;
- after every kill, every process that was below oscar-local (S3 endpoint,
  process keeper, scripts and their ``sleep``) is gone.
"""
from __future__ import annotations

import collections
import hashlib
import io
import os
import random
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List

import psutil
import pytest
import requests

from oscar_jupyter.local.jobs import CRASH_NOTE

from .figures import report
from .jobs_view import job_log, jobs, s3_client, wait_for
from .oscar_process import OscarLocalProcess, wait_gone

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(480)]

KILLS = 4
PER_ROUND = 60
SERVICE = "restart-copy"
SCRIPT = ('echo "start $JOB_UUID $(basename "$INPUT_FILE_PATH")" >> "$LEDGER"\n'
          "sleep 0.3\n"
          'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"\n'
          'echo "end $JOB_UUID $(basename "$INPUT_FILE_PATH")" >> "$LEDGER"\n')
KEY_IN_LOG = re.compile(r"with key 'in/([^']+)'")


def _is_sleep(p: psutil.Process) -> bool:
    try:
        return p.name() == "sleep"
    except psutil.Error:  # gone in the meantime
        return False


def _marked(mark: str) -> List[psutil.Process]:
    """Live processes whose environment carries the service's MARK variable."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("RELIABILITY_MARK") == mark and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def test_sigkill_restarts_keep_exactly_once(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    # Scripts append to a ledger outside their invocation, a side channel a sandbox
    # forbids: this server runs them unsandboxed (exactly-once does not depend on
    # the sandbox), and the ledger lives where the uid scripts run as may write.
    witness = Path(tempfile.mkdtemp(prefix="sigkill-ledger-"))
    os.chmod(witness, 0o777)
    ledger = witness / "ledger.txt"
    ledger.touch()
    os.chmod(ledger, 0o666)
    mark = uuid.uuid4().hex
    proc = OscarLocalProcess(str(data_dir), uuid.uuid4().hex, cores=1.0, extra_args=["--sandbox", "none"])
    payloads: Dict[str, bytes] = {}
    acked: set = set()
    cut: set = set()
    finished_seen: Dict[str, tuple] = {}
    kill_points: List[float] = []
    killed_running: List[int] = []
    start_times: List[float] = []

    def start() -> None:
        t0 = time.monotonic()
        proc.start()
        start_times.append(time.monotonic() - t0)
        for name, info in jobs(proc.endpoint, proc.auth, SERVICE).items() if rounds_done else ():
            if info["status"] in ("Succeeded", "Failed"):
                before = finished_seen.setdefault(name, (info["status"], info["finish_time"]))
                assert before == (info["status"], info["finish_time"]), f"finished job {name} changed"

    rounds_done = 0
    try:
        start()
        spec = {"name": SERVICE, "image": "alpine", "script": SCRIPT, "cpu": "0.25",
                "environment": {"variables": {"LEDGER": str(ledger), "RELIABILITY_MARK": mark}},
                "input": [{"storage_provider": "minio.default", "path": f"{SERVICE}/in"}],
                "output": [{"storage_provider": "minio.default", "path": f"{SERVICE}/out"}]}
        resp = requests.post(proc.endpoint + "/system/services", json=spec, auth=proc.auth, timeout=60)
        assert resp.status_code == 201, resp.text

        for round_no in range(KILLS + 1):
            s3 = s3_client(proc.endpoint, proc.auth, retry=False)  # one PUT attempt per upload
            keys = [f"r{round_no}-{i:03d}.txt" for i in range(PER_ROUND)]
            for key in keys:
                payloads[key] = f"{key} {uuid.uuid4().hex}\n".encode() * rng.randint(1, 50)
            lock = threading.Lock()

            def put(key: str) -> None:
                time.sleep(rng.uniform(0.05, 0.35))  # spread the burst over ~1.5 s
                data = payloads[key]
                try:
                    s3.put_object(SERVICE, f"in/{key}", io.BytesIO(data), len(data))
                except Exception:  # cut by the kill: never retried
                    with lock:
                        cut.add(key)
                    return
                with lock:
                    acked.add(key)

            pool = ThreadPoolExecutor(8)
            futures = [pool.submit(put, key) for key in keys]
            if round_no < KILLS:
                point = rng.uniform(0.2, 2.5)
                time.sleep(point)
                below = proc.descendants()
                killed_running.append(sum(1 for p in below if _is_sleep(p)))
                proc.kill()
                kill_points.append(point)
                for future in futures:
                    future.result()
                pool.shutdown()
                alive = wait_gone(below, 15)
                assert not alive, f"after SIGKILL {len(alive)} process(es) below oscar-local survived: " + \
                    ", ".join(f"{p.pid} {p.cmdline()}" for p in alive)
                assert not _marked(mark), "a service script survived the SIGKILL"
                rounds_done += 1
                start()
            else:
                for future in futures:
                    future.result()
                pool.shutdown()

        def settled() -> bool:
            found = jobs(proc.endpoint, proc.auth, SERVICE)
            return all(j["status"] in ("Succeeded", "Failed") for j in found.values())

        time.sleep(3)  # let the last events arrive
        wait_for(settled, 180, "every job to finish", interval=1.0)
        found = jobs(proc.endpoint, proc.auth, SERVICE)
        logs = {name: job_log(proc.endpoint, proc.auth, SERVICE, name) for name in found}
        s3 = s3_client(proc.endpoint, proc.auth)
        inputs = {o.object_name[3:]: o for o in s3.list_objects(SERVICE, prefix="in/", recursive=True)
                  if o.object_name != "in/"}
        outputs = {o.object_name[4:] for o in s3.list_objects(SERVICE, prefix="out/", recursive=True)
                   if o.object_name != "out/"}
        for key in acked:
            assert key in inputs, f"acknowledged upload {key} is missing from S3"
        for key in inputs:
            got = s3.get_object(SERVICE, f"in/{key}").read()
            assert got == payloads[key], f"input {key} changed"
        for key in outputs:
            assert s3.get_object(SERVICE, f"out/{key}").read() == payloads[key], f"output {key} differs"
    finally:
        below = proc.descendants()
        status = proc.stop()
        wait_gone(below, 15)
    assert status == 0, "".join(proc.output[-20:])
    assert not _marked(mark)
    ledger_text = ledger.read_text()
    shutil.rmtree(witness, ignore_errors=True)

    # which key each job was for: the supervisor's download line, else the event the job was recorded with
    db = sqlite3.connect(f"file:{data_dir / 'state.sqlite3'}?mode=ro", uri=True)
    events = dict(db.execute("SELECT name, event FROM jobs WHERE service = ?", (SERVICE,)).fetchall())
    db.close()
    key_of: Dict[str, str] = {}
    for name in found:
        match = KEY_IN_LOG.search(logs[name])
        if match:
            key_of[name] = match.group(1)
        else:
            raw = events[name].decode() if isinstance(events[name], bytes) else events[name]
            key_of[name] = requests.utils.unquote(re.search(r'"key": ?"in%2F([^"]+)"', raw).group(1))
    jobs_per_key = collections.Counter(key_of.values())
    statuses = collections.Counter(j["status"] for j in found.values())

    assert not [k for k in jobs_per_key if k not in inputs], "jobs for objects that do not exist"
    twice = {k: n for k, n in jobs_per_key.items() if n > 1}
    assert not twice, f"uploads with more than one job: {twice}"
    missing = [k for k in inputs if k not in jobs_per_key]
    assert not missing, f"uploads without a job: {missing}"
    for name, info in found.items():
        if info["status"] == "Succeeded":
            assert key_of[name] in outputs, f"{name} Succeeded without its output"
        else:
            assert info["status"] == "Failed" and CRASH_NOTE in logs[name], (name, info, logs[name][-300:])
    starts = collections.Counter(line.split()[1] for line in ledger_text.splitlines()
                                 if line.startswith("start "))
    rerun = {u: n for u, n in starts.items() if n > 1}
    assert not rerun, f"scripts started more than once for jobs {rerun}"
    for name, (status_then, finish_then) in finished_seen.items():
        assert (found[name]["status"], found[name]["finish_time"]) == (status_then, finish_then), name

    report("SIGKILL restarts", seed=seed, kills=KILLS, uploads=len(payloads), acknowledged=len(acked),
           cut_by_kill=len(cut), cut_but_stored=len(cut & set(inputs)), jobs=len(found),
           statuses=dict(statuses), scripts_running_at_kills=killed_running,
           kill_points_s=[round(p, 2) for p in kill_points],
           restart_s_max=max(start_times[1:]) if len(start_times) > 1 else 0.0)
