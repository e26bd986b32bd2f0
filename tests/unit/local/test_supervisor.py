"""One invocation as faas-supervisor does it: real /bin/sh, real S3 endpoint."""
from __future__ import annotations

import base64
import gc
import io
import json
import os
import re
import threading
import time
import uuid
import zipfile
from typing import Any, Dict

import psutil

from oscar_jupyter.local.s3server import minio_event
from oscar_jupyter.local.s3store import S3Store
from oscar_jupyter.local.supervisor import Outcome, Slot, clean_environment, run_invocation

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - supervisor - "
                      r"(DEBUG|INFO|WARNING|ERROR) - ")


def service(script: str, **extra: Any) -> Dict[str, Any]:
    svc = {"name": "svc", "image": "x", "script": script, "log_level": "CRITICAL",
           "token": "t" * 64}
    svc.update(extra)
    return svc


def run(svc: Dict[str, Any], body: bytes = b"", **kw: Any) -> Outcome:
    kw.setdefault("store", None)
    return run_invocation(svc, body, **kw)


def env_of(outcome: Outcome) -> Dict[str, str]:
    """Parse `env -0` output."""
    pairs = [item.split("=", 1) for item in outcome.body.decode().rstrip("\n").split("\0") if "=" in item]
    return {k: v for k, v in pairs}


def test_environment_has_the_contract_variables_and_no_credentials(monkeypatch, tmp_path) -> None:
    for name, value in {"OSCAR_LOCAL_PASSWORD": "pw-local", "OSCAR_PASSWORD": "pw-oscar",
                        "AWS_SECRET_ACCESS_KEY": "aws-secret", "AWS_ACCESS_KEY_ID": "aws-id",
                        "MINIO_ROOT_PASSWORD": "minio-pw", "GITHUB_TOKEN": "gh-token",
                        "MY_API_KEY": "api-key", "HARMLESS_SETTING": "kept"}.items():
        monkeypatch.setenv(name, value)
    svc = service("cd \"$TMP_OUTPUT_DIR\" && pwd > /dev/null; env -0",
                  environment={"variables": {"A": 1, "FLAG": True, "LIST": [1, 2], "AWS_REGION": "eu"},
                               "secrets": {"S": "s3cr3t"}},
                  expose={"api_port": 8080})
    out = run(svc, b'{"x": 1}', work_dir=str(tmp_path))
    env = env_of(out)
    assert out.exit_code == 0 and out.error is None
    assert env["A"] == "1" and env["FLAG"] == "true" and env["LIST"] == "[1, 2]"
    assert env["S"] == "s3cr3t" and env["AWS_REGION"] == "eu"  # the user's own variables stay
    assert env["OSCAR_SERVICE_NAME"] == "svc" and env["OSCAR_SERVICE_TOKEN"] == "t" * 64
    assert env["OSCAR_SERVICE_BASE_PATH"] == "/system/services/svc/exposed"
    assert env["HARMLESS_SETTING"] == "kept" and env["PATH"] == os.environ["PATH"]
    for gone in ("OSCAR_LOCAL_PASSWORD", "OSCAR_PASSWORD", "AWS_SECRET_ACCESS_KEY",
                 "AWS_ACCESS_KEY_ID", "MINIO_ROOT_PASSWORD", "GITHUB_TOKEN", "MY_API_KEY"):
        assert gone not in env
    for secret in ("pw-local", "pw-oscar", "aws-secret", "minio-pw", "gh-token", "api-key"):
        assert secret not in out.body.decode()
    assert env["TMP_INPUT_DIR"].startswith(str(tmp_path)) and env["TMP_OUTPUT_DIR"].startswith(str(tmp_path))
    assert os.path.dirname(env["INPUT_FILE_PATH"]) == env["TMP_INPUT_DIR"]
    assert os.path.basename(env["INPUT_FILE_PATH"]).startswith("event-file-")
    assert "STORAGE_OBJECT_KEY" not in env and "JOB_UUID" not in env
    # the invocation's directories are gone; its answer stays beside them until the Outcome goes
    assert os.listdir(tmp_path) == [os.path.basename(out.body_file)]
    del out
    gc.collect()
    assert os.listdir(tmp_path) == []
    assert "OSCAR_SERVICE_BASE_PATH" in env_of(run(service("env -0")))  # empty without expose
    assert env_of(run(service("env -0")))["OSCAR_SERVICE_BASE_PATH"] == ""
    assert "OSCAR_LOCAL_PASSWORD" not in clean_environment()


def test_script_runs_in_its_own_working_directory(tmp_path) -> None:
    out = run(service("pwd; ls; echo made > here.txt"), work_dir=str(tmp_path))
    cwd = out.body.decode().splitlines()[0]
    assert cwd.startswith(str(tmp_path)) and cwd.endswith("/work")
    assert not os.path.exists(cwd)


def test_json_body_is_reserialised_like_python_json_dumps() -> None:
    out = run(service('cat "$INPUT_FILE_PATH"'), '{"b":"é","a":[1,2.50,true,null]}'.encode())
    assert out.body == b'{"b": "\\u00e9", "a": [1, 2.5, true, null]}\n'


def test_base64_body_is_decoded_to_bytes() -> None:
    data = bytes(range(256))
    out = run(service('od -An -tx1 -v "$INPUT_FILE_PATH" | tr -d " \\n"'), base64.b64encode(data) + b"\n")
    assert out.body.decode().strip() == data.hex()


def test_invalid_base64_fails_like_the_real_supervisor(tmp_path) -> None:
    marker = tmp_path / "ran"
    out = run(service(f"touch {marker}", log_level="INFO"), b"not base64!!")
    assert out.exit_code == 1 and not marker.exists()
    assert "neither JSON nor base64" in out.error
    assert "There was an exception in _parse_input" in out.body.decode()
    # raw binary (not UTF-8) is not base64 either
    assert run(service("true"), b"\xff\xd8\xff\xe0").exit_code == 1


def test_delegated_event_is_unwrapped() -> None:
    out = run(service('cat "$INPUT_FILE_PATH"'), b'{"event": {"k": "v"}}')
    assert out.body == b'{"k": "v"}\n'


def test_exit_status_is_reported_and_output_still_answers() -> None:
    out = run(service("echo partial; echo oops >&2; exit 3"))
    assert out.exit_code == 3 and out.body == b"partial\noops\n\n"
    assert not out.ok


def test_log_lines_precede_the_payload_unless_critical() -> None:
    script = 'echo "from the script"'
    info = run(service(script, log_level="INFO"), b"e30=")
    assert info.body.endswith(b"from the script\n\n")  # the script's newline, then print's
    lines = info.body.decode().rstrip("\n").splitlines()
    assert lines[-1] == "from the script"
    assert lines[:-1] and all(LOG_LINE.match(line) for line in lines[:-1])
    messages = [line.split(" - ", 3)[3] for line in lines[:-1]]
    assert messages[0] == "Reading storage configuration"
    assert "SUPERVISOR: Initializing Binary supervisor" in messages
    assert messages[-1] == "Creating response"
    assert info.log.endswith("from the script\n") and info.log.startswith(lines[0])
    assert run(service(script, log_level="CRITICAL")).body == b"from the script\n\n"
    assert run(service(script, log_level="nonsense")).body.decode().startswith(lines[0][:4])
    debug = run(service(script, log_level="DEBUG"), b"e30=").body.decode()
    assert " - DEBUG - EVENT received: e30=" in debug and " - DEBUG - from the script" in debug


def test_one_output_file_answers_its_base64() -> None:
    data = os.urandom(5000)
    script = ('python3 -c "import sys; open(sys.argv[1], \'wb\').write(bytes.fromhex(sys.argv[2]))" '
              f'"$TMP_OUTPUT_DIR/o.bin" {data.hex()}; echo log')
    out = run(service(script))
    assert base64.b64decode(out.body) == data and out.body.endswith(b"\n")


def test_several_output_files_answer_a_base64_zip() -> None:
    script = ('mkdir -p "$TMP_OUTPUT_DIR/sub"; echo one > "$TMP_OUTPUT_DIR/a.txt"; '
              'echo two > "$TMP_OUTPUT_DIR/sub/b.txt"; echo log')
    out = run(service(script))
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(out.body)))
    assert sorted(archive.namelist()) == ["a.txt", "sub/b.txt"]
    assert archive.read("sub/b.txt") == b"two\n"


def test_outputs_are_uploaded_by_prefix_and_suffix(store: S3Store, bucket: str) -> None:
    script = ('mkdir -p "$TMP_OUTPUT_DIR/sub"; cd "$TMP_OUTPUT_DIR"; '
              'echo > res.png; echo > other.txt; echo > sub/deep.txt; echo > res.txt')
    outputs = [
        {"storage_provider": "minio.default", "path": f"{bucket}/all"},
        {"storage_provider": "minio", "path": f"{bucket}/png", "suffix": [".png"]},
        {"storage_provider": "minio.default", "path": f"{bucket}/res/", "prefix": ["res"]},
        {"storage_provider": "minio.default", "path": f"{bucket}/both", "prefix": ["sub/", "x"],
         "suffix": [".txt"]},
        {"storage_provider": "minio.default", "path": bucket, "suffix": [".zzz"]},
    ]
    out = run(service(script, output=outputs), store=store)
    assert out.exit_code == 0, out.log
    expected = {f"{bucket}/{k}" for k in (
        "all/other.txt", "all/res.png", "all/res.txt", "all/sub/deep.txt",
        "png/res.png", "res/res.png", "res/res.txt", "both/sub/deep.txt")}
    assert set(out.outputs) == expected
    assert {f"{bucket}/{o.key}" for o in store.list(bucket)} == expected
    assert store.client.stat_object(bucket, "png/res.png").content_type == "image/png"


def test_upload_to_a_missing_bucket_fails_the_invocation(store: S3Store) -> None:
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    out = run(service('echo x > "$TMP_OUTPUT_DIR/f"',
                      output=[{"storage_provider": "minio.default", "path": f"{missing}/o"}]), store=store)
    assert out.exit_code == 1 and "NoSuchBucket" in out.error
    assert "There was an exception in _parse_output" in out.body.decode()


def test_storage_event_downloads_the_object_and_sets_variables(store: S3Store, bucket: str) -> None:
    store.put_bytes(bucket, "in/my cat.jpg", b"JPEGDATA")
    event = minio_event(bucket, "in/my cat.jpg", "s3:ObjectCreated:Put", size=8)
    script = ('echo "file=$(basename "$INPUT_FILE_PATH") $(cat "$INPUT_FILE_PATH")"; '
              'echo "key=$STORAGE_OBJECT_KEY time=$EVENT_TIME job=$JOB_UUID res=$RESOURCE_ID"; '
              'echo "$EVENT" > "$TMP_OUTPUT_DIR/event.json"')
    body = json.dumps(event).encode()
    out = run(service(script), body, store=store, mode="async", job_uuid="svc-1234",
              resource_id="node-1")
    lines = out.body.decode().rstrip("\n").splitlines()
    assert lines[0] == "file=my cat.jpg JPEGDATA"
    assert lines[1] == f"key=in/my cat.jpg time={event['Records'][0]['eventTime']} job=svc-1234 res=node-1"
    # a storage event answers the script's output even when there are output files
    assert len(lines) == 2


def test_async_job_variables_with_a_prepared_shell(tmp_path) -> None:
    """The pre-started shell gets per-request values exactly, quotes and all."""
    slot = Slot(service('printf "%s|%s|%s" "$JOB_UUID" "$EVENT" "$(cat "$INPUT_FILE_PATH")"'),
                str(tmp_path), prespawn=True)
    slot.prepared_ahead = True
    assert slot.warm
    tricky = "it's $HOME `x` \"q\"\nline2"
    body = json.dumps({"v": tricky}).encode()
    out = run(service("ignored: the slot has its script"), body, slot=slot, mode="async",
              job_uuid="job-'quoted'")
    assert out.warm and out.exit_code == 0
    job, event, content = out.body.decode().rstrip("\n").split("|")
    assert job == "job-'quoted'" and json.loads(event) == {"v": tricky}
    assert json.loads(content) == {"v": tricky}


def test_timeout_kills_the_whole_process_group(tmp_path) -> None:
    pidfile = tmp_path / "pids"
    script = f'sleep 60 & echo $! > {pidfile}; (sleep 61; echo late) & echo started; sleep 62'
    t0 = time.monotonic()
    out = run(service(script), timeout=1.0)
    assert time.monotonic() - t0 < 10
    assert out.timed_out and out.exit_code is None and "killed" in out.error
    assert "started" in out.body.decode()
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the background child survived the timeout"
        time.sleep(0.05)


def test_cancel_from_another_thread_stops_the_script(tmp_path) -> None:
    slot = Slot(service("echo begin; sleep 30"), str(tmp_path), prespawn=False)
    threading.Timer(0.5, slot.cancel).start()
    t0 = time.monotonic()
    out = run(service("sleep 30"), slot=slot)
    assert time.monotonic() - t0 < 10
    assert "cancelled" in out.error and out.exit_code is None and not out.outputs


def test_timings_are_reported() -> None:
    out = run(service("true"))
    assert {"prepare", "input", "spawn", "script", "output", "response", "total"} <= set(out.timings)
    assert out.finished_at >= out.started_at > 0 and not out.warm


def test_scripts_die_when_oscar_local_is_killed(tmp_path) -> None:
    """SIGKILL the process running an invocation: the keeper kills the script's whole group."""
    import signal
    import subprocess
    import sys
    import textwrap

    pidfile = tmp_path / "pid"
    program = textwrap.dedent(f"""
        from oscar_jupyter.local.supervisor import run_invocation
        svc = {{"name": "k", "script": "sleep 60 & echo $! > {pidfile}; sleep 61", "log_level": "CRITICAL"}}
        run_invocation(svc, b"", store=None, timeout=120)
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    runner = subprocess.Popen([sys.executable, "-c", program], env=env)
    try:
        deadline = time.monotonic() + 20
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert time.monotonic() < deadline, "the script did not start"
            time.sleep(0.05)
        background = psutil.Process(int(pidfile.read_text()))
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)
        deadline = time.monotonic() + 10
        while background.is_running() and background.status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the script's child outlived oscar-local"
            time.sleep(0.05)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
