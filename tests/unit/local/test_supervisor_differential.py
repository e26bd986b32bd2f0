"""oscar-local's invocation against the real faas-supervisor 1.5.8, same script, same body.

The real supervisor runs as an OSCAR container runs it:
``SCRIPT=<base64> FUNCTION_CONFIG=<base64 yaml> python -m faassupervisor.supervisor < body``
(its stderr log lines first, then what it prints). Skipped when faas-supervisor
is not installed (``pip install --no-deps faas-supervisor==1.5.8``).
"""
from __future__ import annotations

import base64
import importlib.util
import io
import os
import re
import subprocess
import sys
import uuid
import zipfile
from typing import Any, Dict, List, Optional, Tuple

import pytest
import yaml

from oscar_jupyter.local.s3 import S3Endpoint
from oscar_jupyter.local.s3store import S3Store
from oscar_jupyter.local.supervisor import run_invocation

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("faassupervisor") is None,
    reason="faas-supervisor is not installed (pip install --no-deps faas-supervisor==1.5.8)")


def real(script: str, body: bytes, config: Dict[str, Any], tmp_path) -> Tuple[int, bytes, bytes]:
    """Run the real supervisor: (exit status, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["SCRIPT"] = base64.b64encode(script.encode()).decode()
    env["FUNCTION_CONFIG"] = base64.b64encode(yaml.safe_dump(config).encode()).decode()
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "faassupervisor.supervisor"], input=body,
                          capture_output=True, env=env, timeout=120, cwd=str(tmp_path))
    return proc.returncode, proc.stdout, proc.stderr


def ours(script: str, body: bytes, config: Dict[str, Any], store: Optional[S3Store] = None):
    svc = {"name": "diff", "image": "x", "script": script, "token": "0" * 64}
    svc.update(config)
    return run_invocation(svc, body, store=store, mode="sync", timeout=60)


CASES = {
    "json-body": ('cat "$INPUT_FILE_PATH"', '{"z": 1, "a": "é\\u00e8", "n": null, "l": [1, 2.50, true]}'.encode()),
    "json-delegated": ('cat "$INPUT_FILE_PATH"', b'{"event": {"b": 2, "a": 1}}'),
    "base64-body": ('cat "$INPUT_FILE_PATH"', base64.b64encode(b"hello world, bytes \x01\x02")),
    "base64-with-newlines": ('wc -c < "$INPUT_FILE_PATH"', base64.encodebytes(os.urandom(300))),
    "json-string": ('cat "$INPUT_FILE_PATH"', b'"aGVsbG8="'),
    "empty-body": ('wc -c < "$INPUT_FILE_PATH"; echo done', b""),
    "no-output": ('echo out; echo err >&2; printf "no newline"', b"e30="),
    "one-output": ('printf "result \\001" > "$TMP_OUTPUT_DIR/r.bin"; echo ignored', b"e30="),
    "failing-script": ('echo before; exit 7', b"e30="),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_response_as_faas_supervisor(case: str, tmp_path) -> None:
    script, body = CASES[case]
    status, stdout, _stderr = real(script, body, {"log_level": "CRITICAL"}, tmp_path)
    assert status == 0
    mine = ours(script, body, {"log_level": "CRITICAL"})
    assert mine.body == stdout


def test_several_outputs_zip_like_faas_supervisor(tmp_path) -> None:
    script = ('mkdir -p "$TMP_OUTPUT_DIR/d/e"; echo 1 > "$TMP_OUTPUT_DIR/a.txt"; '
              'printf "\\000\\377" > "$TMP_OUTPUT_DIR/d/e/b.bin"; echo 3 > "$TMP_OUTPUT_DIR/d/c"')
    status, stdout, _ = real(script, b"e30=", {"log_level": "CRITICAL"}, tmp_path)
    mine = ours(script, b"e30=", {"log_level": "CRITICAL"})
    assert status == 0 and stdout.endswith(b"\n") and mine.body.endswith(b"\n")
    theirs_zip = zipfile.ZipFile(io.BytesIO(base64.b64decode(stdout)))
    ours_zip = zipfile.ZipFile(io.BytesIO(base64.b64decode(mine.body)))
    assert sorted(ours_zip.namelist()) == sorted(theirs_zip.namelist()) == ["a.txt", "d/c", "d/e/b.bin"]
    for name in theirs_zip.namelist():
        assert ours_zip.read(name) == theirs_zip.read(name)


def test_invalid_base64_fails_in_both(tmp_path) -> None:
    marker = tmp_path / "ran"
    status, stdout, stderr = real(f"touch {marker}", b"not base64!!", {"log_level": "CRITICAL"}, tmp_path)
    assert status != 0 and stdout == b"" and b"binascii.Error" in stderr and not marker.exists()
    mine = ours(f"touch {marker}", b"not base64!!", {"log_level": "CRITICAL"})
    assert mine.exit_code == 1 and not marker.exists() and "binascii.Error" in mine.error


def _messages(text: str) -> List[Tuple[str, str]]:
    """(level, message) of each log line, temp paths replaced by <path>."""
    found = []
    for line in text.splitlines():
        match = re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - supervisor - (\w+) - (.*)$", line)
        if match:
            found.append((match.group(1), re.sub(r"'/[^']*'", "'<path>'", match.group(2))))
    return found


def test_uploads_and_log_lines_match_faas_supervisor(s3_endpoint: S3Endpoint, store: S3Store,
                                                     tmp_path) -> None:
    """Same outputs with prefix/suffix filters: the real supervisor uploads (boto3) to our S3."""
    theirs_bucket, ours_bucket = (f"d-{uuid.uuid4().hex[:10]}" for _ in range(2))
    for b in (theirs_bucket, ours_bucket):
        store.ensure_bucket(b)
    script = ('mkdir -p "$TMP_OUTPUT_DIR/sub"; cd "$TMP_OUTPUT_DIR"; echo a > res.png; '
              'echo b > other.txt; echo c > sub/deep.txt; echo d > res.txt; echo "done"')

    def config(bucket: str) -> Dict[str, Any]:
        return {
            "log_level": "INFO",
            "output": [
                {"storage_provider": "minio.default", "path": f"{bucket}/all"},
                {"storage_provider": "minio.default", "path": f"{bucket}/png", "suffix": [".png"]},
                {"storage_provider": "minio.default", "path": f"{bucket}/res", "prefix": ["res"]},
                {"storage_provider": "minio.default", "path": f"{bucket}/both",
                 "prefix": ["sub/"], "suffix": [".txt"]},
            ],
            "storage_providers": {"minio": {"default": {
                "endpoint": s3_endpoint.endpoint, "access_key": s3_endpoint.access_key,
                "secret_key": s3_endpoint.secret_key, "region": "us-east-1", "verify": True}}},
        }

    status, stdout, stderr = real(script, b"e30=", config(theirs_bucket), tmp_path)
    assert status == 0, stderr.decode()
    mine = ours(script, b"e30=", config(ours_bucket), store)
    assert mine.exit_code == 0, mine.log
    theirs_keys = {o.key: store.get_bytes(theirs_bucket, o.key) for o in store.list(theirs_bucket)}
    ours_keys = {o.key: store.get_bytes(ours_bucket, o.key) for o in store.list(ours_bucket)}
    assert ours_keys == theirs_keys and len(ours_keys) == 8
    # the response (several files -> zip) is the same too
    payload_theirs = stdout.decode().strip()
    payload_ours = mine.body.decode().rstrip("\n").splitlines()[-1]
    theirs_zip = zipfile.ZipFile(io.BytesIO(base64.b64decode(payload_theirs)))
    ours_zip = zipfile.ZipFile(io.BytesIO(base64.b64decode(payload_ours)))
    assert sorted(theirs_zip.namelist()) == sorted(ours_zip.namelist())
    # and the log lines say the same things in the same order (files within one
    # output in any order: faas-supervisor follows the directory's order, we sort)
    theirs_lines = _messages(stderr.decode().replace(theirs_bucket, "<bucket>"))
    ours_lines = _messages(mine.body.decode().replace(ours_bucket, "<bucket>"))
    assert [m for m in ours_lines if "Uploading file" not in m[1]] == \
        [m for m in theirs_lines if "Uploading file" not in m[1]]
    assert sorted(ours_lines) == sorted(theirs_lines)
    assert len(ours_lines) > 10
    for b in (theirs_bucket, ours_bucket):
        store.delete_bucket(b, force=True)


def test_storage_event_from_our_endpoint_reads_the_same(s3_endpoint: S3Endpoint, store: S3Store,
                                                        tmp_path) -> None:
    """An event our S3 endpoint emitted, fed to both: same download, same variables, same answer."""
    import json

    from .conftest import collect_events

    bucket = f"e-{uuid.uuid4().hex[:10]}"
    store.ensure_bucket(bucket)
    store.put_bytes(bucket, "in/a photo+1.jpg", b"PIXELS")
    (event,) = collect_events(s3_endpoint, 1, bucket=bucket)
    body = json.dumps(event).encode()
    script = ('echo "$(basename "$INPUT_FILE_PATH") $(cat "$INPUT_FILE_PATH")"; '
              'echo "$STORAGE_OBJECT_KEY $EVENT_TIME"; echo x > "$TMP_OUTPUT_DIR/o.txt"')
    config = {"log_level": "CRITICAL", "storage_providers": {"minio": {"default": {
        "endpoint": s3_endpoint.endpoint, "access_key": s3_endpoint.access_key,
        "secret_key": s3_endpoint.secret_key, "region": "us-east-1"}}}}
    status, stdout, stderr = real(script, body, config, tmp_path)
    assert status == 0, stderr.decode()
    mine = ours(script, body, config, store)
    assert mine.body == stdout
    assert stdout.decode().startswith("a photo+1.jpg PIXELS\nin/a photo+1.jpg ")
    store.delete_bucket(bucket, force=True)
