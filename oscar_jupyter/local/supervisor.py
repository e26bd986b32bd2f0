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

A `Slot` is everything that can be prepared before a request arrives: the
directories, the script file, the environment and, optionally, a `/bin/sh`
already started and waiting for its per-request variables.
`scaling.SyncExecutor` keeps `min_scale` of them ready. Without a slot,
`run_invocation` prepares one on the spot (about 1 ms). Starting `/bin/sh`
costs about 0.4 ms on Linux and the waiting shell needs one more `exec`, so the
executor prepares slots without one unless asked (`prespawn=True`).
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import mimetypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import weakref
import zipfile
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from . import output as outlog
from .limits import DEFAULT_PIDS, Cgroups, Group, Limits
from .sandbox import Sandbox

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300.0
SCRIPT_FILE_NAME = "script.sh"
_FORMATTER = logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s")
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING,
           "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}
# Variables of oscar-local's own environment a script must not see.
_CREDENTIAL_NAME = re.compile(
    r"^(AWS_|MINIO_|OSCAR_|OIDC_|JUPYTER_TOKEN$|JPY_)|"
    r"(PASSWORD|PASSWD|SECRET|TOKEN|ACCESS_KEY|CREDENTIAL|API_KEY|PRIVATE_KEY|AUTH)",
    re.IGNORECASE)
_SHELL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A pre-started shell: wait for one line on stdin, load the per-request
# variables, then become the script (so its pid, group and pipes are the slot's).
# An event too large for one environment variable is read into the shell
# instead and the script is sourced by it (``$EVENT`` is then a variable of the
# script, not exported to the programs it starts).
_WAITING_SHELL = ('IFS= read -r _oscar_go || exit 0; . "$1"; '
                  'if [ -n "${_oscar_event_file-}" ]; then EVENT=$(cat "$_oscar_event_file"); '
                  'unset _oscar_event_file; _oscar_script=$2; set --; . "$_oscar_script"; exit; fi; '
                  'exec /bin/sh "$2"')
# Events above this many bytes do not travel in the EVENT variable (Linux
# refuses any one variable over 128 KiB when a program starts).
LARGE_EVENT = 96 * 1024
OOM_MESSAGE = ("OOMKilled: the script used more than its memory limit ({limit}) and was killed; "
               "raise the service's memory")


@dataclass
class Containment:
    """How scripts are contained: the sandbox, the cgroups (None: rlimits only) and the log cap."""

    sandbox: Sandbox = field(default_factory=Sandbox)
    cgroups: Optional[Cgroups] = None
    log_cap: int = outlog.DEFAULT_CAP
    pids: Optional[int] = DEFAULT_PIDS


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


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


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


# --------------------------------------------------------------------------- environment

def clean_environment(environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """oscar-local's environment without its credentials (and without OSCAR_* settings)."""
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if not _CREDENTIAL_NAME.search(k)}


def env_value(value: Any) -> str:
    """An environment value as OSCAR (Go, YAML) would write it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _exposed_base_path(service: Mapping[str, Any]) -> str:
    expose = service.get("expose") or {}
    port = expose.get("api_port") if isinstance(expose, dict) else None
    if port in (None, 0, "", []):
        return ""
    return f"/system/services/{service.get('name', '')}/exposed"


def service_environment(service: Mapping[str, Any]) -> Dict[str, str]:
    """The variables a service's container gets: user variables, secrets, OSCAR_SERVICE_*."""
    env: Dict[str, str] = {}
    environment = service.get("environment") or {}
    for part in ("variables", "Variables", "secrets"):
        values = environment.get(part) or {}
        if isinstance(values, dict):
            for name, value in values.items():
                env[str(name)] = env_value(value)
    env["OSCAR_SERVICE_NAME"] = str(service.get("name") or "")
    env["OSCAR_SERVICE_TOKEN"] = str(service.get("token") or "")
    env["OSCAR_SERVICE_BASE_PATH"] = _exposed_base_path(service)
    return env


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


# --------------------------------------------------------------------------- orphans

# The keeper: a helper process that holds the process groups of running
# scripts and kills them when oscar-local's end of its stdin closes - also
# when oscar-local is killed with SIGKILL, which would otherwise leave the
# scripts (each in its own session) running.
_KEEPER_CODE = r"""# oscar-local process keeper
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
try:
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)
except Exception:
    pass
groups = set()
def kill_all(*_):
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            pass
    os._exit(0)
signal.signal(signal.SIGTERM, kill_all)
for line in sys.stdin:
    try:
        op, group = line[0], int(line[1:])
    except ValueError:
        continue
    if op == "+":
        groups.add(group)
    else:
        groups.discard(group)
kill_all()
"""


class _Keeper:
    """Registers script process groups with the keeper process (started on first use)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: Optional[subprocess.Popen] = None
        self._pid = 0

    def _send(self, line: str) -> None:
        with self._lock:
            if self._proc is None or self._pid != os.getpid() or self._proc.poll() is not None:
                if self._pid != os.getpid():
                    self._proc = None  # forked: the parent's keeper is not ours
                try:
                    self._proc = subprocess.Popen([sys.executable, "-c", _KEEPER_CODE],
                                                  stdin=subprocess.PIPE, close_fds=True,
                                                  stdout=subprocess.DEVNULL)
                    self._pid = os.getpid()
                except OSError:
                    log.warning("could not start the process keeper; scripts may outlive "
                                "oscar-local if it is killed")
                    return
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(line.encode() + b"\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                self._proc = None

    def hold(self, group: int) -> None:
        self._send(f"+{group}")

    def release(self, group: int) -> None:
        self._send(f"-{group}")

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc is not None else None


KEEPER = _Keeper()


# --------------------------------------------------------------------------- slots

class Slot:
    """A prepared invocation: directories, script file and (optionally) a waiting shell."""

    def __init__(self, service: Mapping[str, Any], work_dir: Optional[str] = None, *,
                 prespawn: bool = False, containment: Optional[Containment] = None) -> None:
        t0 = time.perf_counter()
        self.containment = containment or Containment()
        self.limits = Limits.of_service(service, self.containment.pids)
        self.group: Optional[Group] = None
        self.service_name = re.sub(r"[^A-Za-z0-9_-]", "_", str(service.get("name") or "service"))[:40]
        self.script = str(service.get("script") or "")
        root = work_dir or tempfile.gettempdir()
        os.makedirs(root, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix=f"oscar-{self.service_name}-", dir=root)
        self.input_dir = os.path.join(self.dir, "input")
        self.output_dir = os.path.join(self.dir, "output")
        self.cwd = os.path.join(self.dir, "work")
        for d in (self.input_dir, self.output_dir, self.cwd):
            os.mkdir(d)
        self.script_path = os.path.join(self.input_dir, SCRIPT_FILE_NAME)
        with open(self.script_path, "w", encoding="utf-8") as fh:
            fh.write(self.script)
        self._private: List[str] = []  # files only the server reads and writes, outside the sandbox
        self.containment.sandbox.own(self.dir)
        self.env_file = os.path.join(self.dir, "request.env")
        env = clean_environment()
        env["PATH"] = _interpreter_first(env.get("PATH", os.defpath))
        env.update(service_environment(service))
        env["TMP_INPUT_DIR"] = self.input_dir
        env["TMP_OUTPUT_DIR"] = self.output_dir
        self.env = env
        self.proc: Optional[subprocess.Popen] = None
        if prespawn:
            self.proc = self._spawn(["/bin/sh", "-c", _WAITING_SHELL, "oscar-slot",
                                     self.env_file, self.script_path], env)
        self.prepared_in = time.perf_counter() - t0
        self.created = time.monotonic()
        self.used = False
        self.prepared_ahead = False  # set by whoever prepares slots before requests arrive
        self._cancelled = threading.Event()

    @property
    def warm(self) -> bool:
        """True when a shell is already waiting."""
        return self.proc is not None and self.proc.poll() is None

    def _spawn(self, argv: List[str], env: Dict[str, str]) -> subprocess.Popen:
        box = self.containment.sandbox
        cgroups = self.containment.cgroups
        argv, env = box.wrap(argv, work_dir=self.dir, env=env, limits=self.limits, cwd=self.cwd)
        if self.group is not None:
            self.group.close()
        self.group = cgroups.group(self.limits) if cgroups is not None else None
        if self.group is not None:
            argv = self.group.prefix(argv)  # run by this server's user, before any uid is dropped
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, cwd=self.cwd, env=env,
                                start_new_session=True, close_fds=True, **box.credentials())
        KEEPER.hold(proc.pid)  # its own session: the group id is its pid
        return proc

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        """Stop this invocation from any thread: the script is killed or never started."""
        self._cancelled.set()
        self.signal_group()

    def signal_group(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the slot's process group (safe while another thread reads its output)."""
        proc = self.proc
        if proc is not None:
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def launch(self, request_env: Dict[str, str]) -> subprocess.Popen:
        """Start the script with the per-request variables; returns the running process."""
        if self.cancelled:
            raise _Cancelled()
        self.used = True
        request_env = dict(request_env)
        event_file = None
        if len(request_env.get("EVENT", "")) > LARGE_EVENT:
            event_file = os.path.join(self.dir, "event.json")
            with open(event_file, "x", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write(request_env.pop("EVENT"))
            self.containment.sandbox.own(event_file)
        names_ok = all(_SHELL_NAME.match(k) for k in request_env)
        if (self.warm or event_file) and names_ok:
            if not self.warm:
                self.kill()
                self.proc = self._spawn(["/bin/sh", "-c", _WAITING_SHELL, self.script_path,
                                         self.env_file, self.script_path], self.env)
            with open(self.env_file, "x", encoding="utf-8", errors="surrogateescape") as fh:
                for name, value in request_env.items():
                    fh.write(f"export {name}={_shell_quote(value)}\n")
                if event_file:
                    fh.write(f"_oscar_event_file={_shell_quote(event_file)}\n")
            assert self.proc is not None and self.proc.stdin is not None
            try:
                self.proc.stdin.write(b"go\n")
                self.proc.stdin.close()
                self.proc.stdin = None  # the script reads end-of-file
                return self.proc
            except BrokenPipeError:
                pass
        self.kill()
        env = dict(self.env)
        env.update(request_env)
        self.proc = self._spawn(["/bin/sh", self.script_path], env)
        if self.cancelled:  # cancel() ran while we were spawning
            self.kill()
            raise _Cancelled()
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.stdin = None
        return self.proc

    def kill(self) -> None:
        """Kill the slot's process group (the waiting shell or the script and its children)."""
        proc = self.proc
        if proc is None:
            return
        self.signal_group()
        for pipe in (proc.stdin, proc.stdout):
            try:
                if pipe:
                    pipe.close()
            except OSError:
                pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            log.warning("process %d did not die after SIGKILL", proc.pid)
        KEEPER.release(proc.pid)
        self.end_group()

    def end_group(self) -> None:
        """Kill every process of the invocation's cgroup now; remove the cgroup in the background
        (the kernel lets a cgroup go only once its killed processes are gone: not worth a wait)."""
        group, self.group = self.group, None
        if group is not None:
            group.kill_all()
            threading.Thread(target=group.close, name="cgroup removal", daemon=True).start()

    def discard(self) -> None:
        """Kill anything left and delete the directories."""
        self.kill()
        self.end_group()
        shutil.rmtree(self.dir, ignore_errors=True)
        for path in self._private:
            _remove_quietly(path)

    def private_file(self, prefix: str) -> str:
        """A new 0600 file out of the script's reach, removed with the slot."""
        fd, path = tempfile.mkstemp(prefix=f"oscar-{self.service_name}-{prefix}")
        os.close(fd)
        self._private.append(path)
        return path


def _interpreter_first(path: str) -> str:
    """``PATH`` with the directory of the interpreter running oscar-local first."""
    here = os.path.dirname(sys.executable)
    return os.pathsep.join([here] + [p for p in path.split(os.pathsep) if p and p != here])


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

class _Cancelled(Exception):
    """The invocation was cancelled before its script started."""


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
    from .s3 import S3Store
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
            body_file = _write_body(tempfile.gettempdir(), slog, printed, captured, payload, answered)
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
