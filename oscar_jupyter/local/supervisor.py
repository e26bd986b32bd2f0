"""One invocation of a service's script, done the way faas-supervisor does it.

The steps, the environment variables, the event handling, the output upload
rules and the response rules follow faas-supervisor 1.5.8 (the program inside
every OSCAR container); the log lines have its text and format
(``<asctime> - supervisor - <LEVEL> - <message>``) so logs read the same as on a
real cluster. Differences are deliberate and few: the script runs in a
per-invocation working directory instead of a container, it sees oscar-local's
own environment minus anything that looks like a credential, JSON values that
are not objects are written as JSON instead of crashing, and an exit status of
the script is reported (`Outcome.exit_code`) although the real supervisor
ignores it.

Each invocation runs in a `slot.Slot` (its directories, script and
environment, often prepared before the request) contained by the server's
`slot.Containment` (sandbox, cgroups, log cap). The script's output goes to a
capped, time-stamped file (`output.StampedLog`) read on the calling thread
while a pidfd says when the script ends; the response body is written to a
file and streamed from it, never held whole in memory.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import mimetypes
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid
import weakref
import zipfile
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from . import output as outlog
from .slot import (KEEPER, LARGE_EVENT, SCRIPT_FILE_NAME, Cancelled as _Cancelled, Containment, Slot,
                   clean_environment, env_value, remove_quietly as _remove_quietly, service_environment)

__all__ = ["Containment", "KEEPER", "LARGE_EVENT", "Outcome", "SCRIPT_FILE_NAME", "Slot", "clean_environment",
           "env_value", "run_invocation", "service_environment"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300.0
_FORMATTER = logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s")
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING,
           "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}
OOM_MESSAGE = ("OOMKilled: the script used more than its memory limit ({limit}) and was killed; "
               "raise the service's memory")


@dataclass
class Outcome:
    """The result of one invocation."""

    exit_code: Optional[int]          # the script's exit status; None when it was killed on timeout
    body_file: Optional[str]          # the synchronous response body (a private file, deleted with the Outcome)
    stamped_log: str                  # supervisor lines, then the script's output; each line time-stamped
    outputs: List[str] = field(default_factory=list)   # uploaded "bucket/key"s
    timed_out: bool = False
    error: Optional[str] = None       # supervisor-level failure (bad body, download/upload failed)
    warm: bool = False                # a slot prepared before the request was used
    started_at: float = 0.0           # epoch seconds
    finished_at: float = 0.0
    timings: Dict[str, float] = field(default_factory=dict)  # seconds per phase

    oom_killed: bool = False          # the kernel killed the script for exceeding its memory limit

    def __post_init__(self) -> None:
        if self.body_file:
            weakref.finalize(self, _remove_quietly, self.body_file)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.error is None

    @property
    def log(self) -> str:
        """The log without its per-line stamps."""
        return outlog.unstamp(self.stamped_log)

    @property
    def body_size(self) -> int:
        return os.path.getsize(self.body_file) if self.body_file else 0

    def body_chunks(self, size: int = 1 << 16) -> Iterator[bytes]:
        """The response body block by block (never held whole)."""
        if not self.body_file:
            return
        with open(self.body_file, "rb") as fh:
            while True:
                block = fh.read(size)
                if not block:
                    return
                yield block

    @property
    def body(self) -> bytes:
        """The whole response body (tests and small bodies; the server streams ``body_chunks``)."""
        return b"".join(self.body_chunks())

    def close(self) -> None:
        """Delete the body file now."""
        if self.body_file:
            _remove_quietly(self.body_file)


class _SupervisorLog:
    """faas-supervisor's log lines, kept when at or above the service's level."""

    def __init__(self, level_name: str) -> None:
        self.level = _LEVELS.get(str(level_name or "INFO").strip().upper(), logging.INFO)
        self.lines: List[str] = []
        self.stamps: List[str] = []

    def add(self, level: int, msg: str, *args: Any) -> None:
        if level < self.level:
            return
        record = logging.LogRecord("supervisor", level, __file__, 0, msg, args, None)
        text = _FORMATTER.format(record) + "\n"
        self.lines.append(text)
        stamp = outlog.rfc3339_nano()
        self.stamps.append("".join(f"{stamp} {line}" for line in text.splitlines(keepends=True)))

    def debug(self, msg: str, *args: Any) -> None:
        self.add(logging.DEBUG, msg, *args)

    def info(self, msg: str, *args: Any) -> None:
        self.add(logging.INFO, msg, *args)

    def warning(self, msg: str, *args: Any) -> None:
        self.add(logging.WARNING, msg, *args)

    def error(self, msg: str, *args: Any) -> None:
        self.add(logging.ERROR, msg, *args)

    def text(self) -> str:
        return "".join(self.lines)

    def stamped(self) -> str:
        return "".join(self.stamps)


# --------------------------------------------------------------------------- events

@dataclass
class _Event:
    kind: str                         # UNKNOWN | MINIO | S3
    data: Any = None                  # UNKNOWN: dict/list/... or the raw text
    bucket: str = ""
    key: str = ""
    time: str = ""
    provider_id: str = "default"
    raw: Any = None


def _parse_event(event: Any, slog: _SupervisorLog, provider: str = "default") -> _Event:
    """faas-supervisor's event identification (API Gateway and dCache events excluded)."""
    if isinstance(event, str):
        try:
            event = json.loads(event)
        except ValueError:
            return _Event("UNKNOWN", event)
        if isinstance(event, str):  # a JSON string: its content is the body
            return _Event("UNKNOWN", event)
    if isinstance(event, dict):
        if "event" in event and "subscription" not in event:
            slog.info("Delegated event found.")
            return _parse_event(event["event"], slog, str(event.get("storage_provider") or provider))
        records = event.get("Records")
        if records and isinstance(records, list) and isinstance(records[0], dict) \
                and records[0].get("eventSource") in ("minio:s3", "aws:s3"):
            slog.info("Storage event found.")
            record = records[0]
            slog.info("event_records = %s \n", record)
            kind = "MINIO" if record["eventSource"] == "minio:s3" else "S3"
            s3 = record.get("s3") or {}
            parsed = _Event(kind, raw=event, provider_id=provider,
                            bucket=str((s3.get("bucket") or {}).get("name") or ""),
                            key=urllib.parse.unquote_plus(str((s3.get("object") or {}).get("key") or "")),
                            time=str(record.get("eventTime") or ""))
            slog.info("%s event created", kind)
            return parsed
        if records:
            slog.info("event_records = %s \n", records[0])
    return _Event("UNKNOWN", event)


def _provider_id(provider: str) -> str:
    parts = str(provider or "").split(".", 1)
    return parts[1] if len(parts) == 2 else "default"


def _provider_type(provider: str) -> str:
    return str(provider or "").split(".", 1)[0].upper()


# --------------------------------------------------------------------------- the invocation

class _StorageFailure(Exception):
    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


def _minio_store(service: Mapping[str, Any], store: Any, provider_id: str,
                 cache: Dict[str, Any]) -> Any:
    if provider_id in cache:
        return cache[provider_id]
    if provider_id == "default":
        cache[provider_id] = store
        return store
    creds = (((service.get("storage_providers") or {}).get("minio") or {}).get(provider_id) or {})
    if not creds.get("access_key") or not creds.get("secret_key"):
        raise _StorageFailure("_parse_output", f"The MINIO storage provider '{provider_id}' "
                              "has no credentials in storage_providers")
    from .s3store import S3Store
    endpoint = creds.get("endpoint") or "http://minio-service.minio:9000"
    verify = creds.get("verify")
    cache[provider_id] = S3Store(str(endpoint), str(creds["access_key"]), str(creds["secret_key"]),
                                 region=str(creds.get("region") or "us-east-1"),
                                 verify=True if verify in (None, "") else bool(verify))
    return cache[provider_id]


def _save_unknown(event: _Event, input_dir: str) -> str:
    """Write a non-storage event to event-file-<uuid> as faas-supervisor does."""
    path = os.path.join(input_dir, f"event-file-{uuid.uuid4()}")
    data = event.data
    if isinstance(data, str):
        decoded = base64.b64decode(data)  # lax, like faas-supervisor; may raise
        with open(path, "wb") as fh:
            fh.write(decoded)
    else:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data))
    return path


def _matches(name: str, output: Mapping[str, Any]) -> bool:
    prefixes = output.get("prefix") or []
    suffixes = output.get("suffix") or []
    if isinstance(prefixes, str):
        prefixes = [prefixes]
    if isinstance(suffixes, str):
        suffixes = [suffixes]
    if prefixes and not any(name.startswith(str(p)) for p in prefixes):
        return False
    if suffixes and not any(name.endswith(str(s)) for s in suffixes):
        return False
    return True


def _output_files(output_dir: str) -> List[Tuple[str, str]]:
    """(absolute path, name relative to output_dir) of every file, sorted by name."""
    found = []
    for dirpath, _dirs, files in os.walk(output_dir):
        for name in files:
            full = os.path.join(dirpath, name)
            if os.path.islink(full) or not os.path.isfile(full):
                continue  # a link could name any file the server may read: never follow one
            found.append((full, os.path.relpath(full, output_dir)))
    return sorted(found, key=lambda item: item[1])


def _upload_outputs(service: Mapping[str, Any], store: Any, output_dir: str,
                    slog: _SupervisorLog) -> List[str]:
    slog.info("Searching for files to upload in folder '%s'", output_dir)
    files = _output_files(output_dir)
    uploaded: List[str] = []
    cache: Dict[str, Any] = {}
    for output in service.get("output") or []:
        provider = str(output.get("storage_provider") or "minio.default")
        path = str(output.get("path") or "")
        slog.info("Checking files for uploading to '%s' on path: '%s'", provider, path)
        kind = _provider_type(provider)
        for full, name in files:
            if not _matches(name, output):
                continue
            if kind != "MINIO":
                slog.warning("Storage provider '%s' is not available in oscar-local; "
                             "'%s' was not uploaded", provider, name)
                continue
            bucket, _, folder = path.strip("/").partition("/")
            folder = folder.strip("/")
            key = f"{folder}/{name}" if folder else name
            slog.info("Uploading file '%s' to bucket '%s'", key, bucket)
            target = _minio_store(service, store, _provider_id(provider), cache)
            content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            try:
                target.upload_file(bucket, key, full, content_type=content_type)
            except Exception as exc:  # noqa: BLE001 - reported like the supervisor does
                raise _StorageFailure("_parse_output", str(exc)) from None
            uploaded.append(f"{bucket}/{key}")
    return uploaded


def _copy_base64(path: str, out: Any) -> None:
    """Base64 of a file into ``out``, in blocks (never held whole)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        while True:
            chunk = fh.read(3 * (1 << 18))
            if not chunk:
                break
            out.write(base64.b64encode(chunk))


def _response_payload(event: _Event, output_dir: str, zip_path: str) -> Optional[str]:
    """faas-supervisor's create_response: the file whose base64 answers (files only
    answer non-storage events; several are zipped into ``zip_path``), or None
    when the script's output does."""
    if event.kind == "UNKNOWN":
        files = _output_files(output_dir)
        if len(files) == 1:
            return files[0][0]
        if len(files) > 1:
            with zipfile.ZipFile(zip_path, "w") as zf:
                for full, name in files:
                    zf.write(full, name)
            return zip_path
    return None


def _write_body(root: str, slog: _SupervisorLog, printed: str, captured: Optional[outlog.StampedLog],
                payload: Optional[str], answered: bool) -> str:
    """The response body in a new private file: supervisor lines, then (``answered``)
    the payload's base64 or the script's (capped) output and a newline, or (a
    failed invocation) what was printed and the script's output."""
    fd, path = tempfile.mkstemp(prefix="oscar-body-", dir=root)
    with os.fdopen(fd, "wb") as out:
        out.write(slog.text().encode("utf-8", "surrogateescape"))
        if payload is not None:
            _copy_base64(payload, out)
        else:
            out.write(printed.encode("utf-8", "surrogateescape"))
            if captured is not None:
                for block in captured.chunks():
                    out.write(block)
        if answered:
            out.write(b"\n")
    return path


def run_invocation(service: Mapping[str, Any], body: bytes, *, store: Any, mode: str = "sync",
                   job_uuid: Optional[str] = None, timeout: Optional[float] = DEFAULT_TIMEOUT,
                   slot: Optional[Slot] = None, work_dir: Optional[str] = None,
                   resource_id: Optional[str] = None) -> Outcome:
    """Run one invocation of `service` for request `body` (sync) or job event `body` (async).

    Blocking; `scaling` runs it on worker threads. `slot` is a prepared `Slot`
    for this service (consumed and discarded here); without one a slot is made.
    """
    t_start = time.perf_counter()
    started_at = time.time()
    timings: Dict[str, float] = {}
    if slot is None:
        slot = Slot(service, work_dir, prespawn=False)
        warm = False
        timings["prepare"] = slot.prepared_in
    else:
        warm = slot.prepared_ahead
        timings["prepare"] = 0.0 if warm else slot.prepared_in
    slog = _SupervisorLog(str(service.get("log_level") or "INFO"))
    text = body.decode("utf-8", "surrogateescape") if isinstance(body, (bytes, bytearray)) else str(body)
    request_env: Dict[str, str] = {}
    captured: Optional[outlog.StampedLog] = None
    oom = False
    exit_code: Optional[int] = None
    timed_out = False
    error: Optional[str] = None
    uploaded: List[str] = []
    printed = ""  # what faas-supervisor prints on stdout besides the response
    payload: Optional[str] = None
    answered = False
    try:
        slog.debug("EVENT received: %s", text)
        # 1-2. event, storage configuration, input
        event = _parse_event(text, slog)
        if mode == "async":
            request_env["EVENT"] = text
            request_env["JOB_UUID"] = job_uuid or ""
            request_env["RESOURCE_ID"] = resource_id or socket.gethostname()
        if event.kind != "UNKNOWN":
            request_env["STORAGE_OBJECT_KEY"] = event.key
            request_env["EVENT_TIME"] = event.time
            request_env["EVENT"] = json.dumps(event.raw)
        slog.info("Reading storage configuration")
        if not service.get("output"):
            slog.warning("There is no output defined for this function.")
        if not service.get("input"):
            slog.warning("There is no input defined for this function.")
        slog.info("SUPERVISOR: Initializing Binary supervisor")
        t0 = time.perf_counter()
        if event.kind == "UNKNOWN":
            slog.info("Found 'LOCAL' input provider")
            try:
                input_path = _save_unknown(event, slot.input_dir)
            except (ValueError, binascii.Error) as exc:
                raise _StorageFailure("_parse_input",
                                      f"the request body is neither JSON nor base64: "
                                      f"{type(exc).__module__}.{type(exc).__name__}: {exc}") from None
        else:
            slog.info("Found '%s' input provider", "MINIO" if event.kind == "MINIO" else "S3")
            input_path = os.path.join(slot.input_dir, os.path.basename(event.key))
            slog.info("Downloading item from bucket '%s' with key '%s'", event.bucket, event.key)
            try:
                source = _minio_store(service, store, _provider_id(event.provider_id)
                                      if "." in event.provider_id else event.provider_id, {})
                source.download_file(event.bucket, event.key, input_path)
            except Exception as exc:  # noqa: BLE001
                raise _StorageFailure("_parse_input", str(exc)) from None
            slog.info("Successful download of file '%s' from bucket '%s' in path '%s'",
                      event.key, event.bucket, input_path)
        if os.path.isfile(input_path):
            request_env["INPUT_FILE_PATH"] = input_path
            slog.info("INPUT_FILE_PATH variable set to '%s'", input_path)
        timings["input"] = time.perf_counter() - t0
        # 3. the script
        slog.info("Script file created in '%s'", slot.script_path)
        t0 = time.perf_counter()
        captured = outlog.StampedLog(slot.private_file("output-"), slot.containment.log_cap)
        proc = slot.launch(request_env)
        timings["spawn"] = time.perf_counter() - t0
        captured.write(slot.early_output)
        assert proc.stdout is not None
        remaining = (None if timeout is None
                     else max(0.001, timeout - (time.perf_counter() - t_start)))
        try:
            timed_out = not outlog.follow(proc.stdout.fileno(), captured, proc.pid, remaining)
        finally:
            # the invocation ends with its script: strays die with it
            oom = slot.group.oom_killed() if slot.group is not None else False
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            slot.end_group()
            try:
                proc.wait(5)
                exit_code = None if timed_out else proc.returncode
            except subprocess.TimeoutExpired:
                pass
            # what is still in the pipe (a stray outside any cgroup may hold it: no-sandbox mode)
            outlog.drain(proc.stdout.fileno(), captured, 2.0)
            captured.close()
        timings["script"] = time.perf_counter() - t0
        if slog.level <= logging.DEBUG:
            slog.debug("CONTAINER OUTPUT:\n %s", "")
            for line in captured.read().decode("utf-8", "ignore").splitlines():
                slog.debug(line.strip())
        if slot.cancelled:
            raise _Cancelled()
        if oom:
            error = OOM_MESSAGE.format(limit=service.get("memory"))
            slog.error("%s", error)
        if timed_out:
            error = f"the script ran longer than {timeout:g} s and was killed"
            slog.error("Timeout: %s", error)
        elif not oom:
            # 4. outputs
            t0 = time.perf_counter()
            uploaded = _upload_outputs(service, store, slot.output_dir, slog)
            timings["output"] = time.perf_counter() - t0
            # 5. response
            slog.info("Creating response")
            t0 = time.perf_counter()
            payload = _response_payload(event, slot.output_dir, slot.private_file("response-"))
            answered = True
            timings["response"] = time.perf_counter() - t0
    except _Cancelled:
        error = "the invocation was cancelled (oscar-local is stopping or the job was deleted)"
        slog.error("%s", error)
        exit_code = None
    except _StorageFailure as failure:
        printed = f"There was an exception in {failure.step}\n{failure}\n"
        slog.error("%s", failure)
        error = str(failure)
        exit_code = 1
    finally:
        try:
            body_file = _write_body(slot.root, slog, printed, captured, payload, answered)
            stamp = outlog.rfc3339_nano()
            stamped = slog.stamped() + "".join(f"{stamp} {line}" for line in printed.splitlines(keepends=True))
            if captured is not None:
                stamped += captured.read(stamped=True).decode("utf-8", "replace")
        finally:
            slot.discard()
    timings["total"] = time.perf_counter() - t_start
    return Outcome(exit_code=exit_code, body_file=body_file, stamped_log=stamped, outputs=uploaded,
                   timed_out=timed_out, error=error, warm=warm, started_at=started_at,
                   finished_at=time.time(), timings=timings, oom_killed=oom)
