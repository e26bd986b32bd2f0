"""A prepared invocation: its directories, script, environment and (optionally) a waiting shell.

A `Slot` is everything that can be prepared before a request arrives: the
directories, the script file, the environment (oscar-local's own minus
anything that looks like a credential, then the service's variables, as
OSCAR gives a container) and, optionally, a `/bin/sh` already started in its
sandbox and cgroup and waiting for its per-request variables.
`scaling.SyncExecutor` keeps `min_scale` of them ready and prepares the next
one after each request, so the sandbox's set-up is not paid by the request.
Scripts run through `sandbox.Sandbox.wrap` and `limits.Group.prefix` (see
`Containment`); the keeper process kills their process groups if oscar-local
itself is killed.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from . import output as outlog
from .limits import DEFAULT_PIDS, Cgroups, Group, Limits
from .sandbox import Sandbox

log = logging.getLogger(__name__)

SCRIPT_FILE_NAME = "script.sh"
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
_WAITING_SHELL = ('printf R; IFS= read -r _oscar_go || exit 0; . "$1"; '
                  'if [ -n "${_oscar_event_file-}" ]; then EVENT=$(cat "$_oscar_event_file"); '
                  'unset _oscar_event_file; _oscar_script=$2; set --; . "$_oscar_script"; exit; fi; '
                  'exec /bin/sh "$2"')
# Events above this many bytes do not travel in the EVENT variable (Linux
# refuses any one variable over 128 KiB when a program starts).
LARGE_EVENT = 96 * 1024

@dataclass
class Containment:
    """How scripts are contained: the sandbox, the cgroups (None: rlimits only) and the log cap."""

    sandbox: Sandbox = field(default_factory=Sandbox)
    cgroups: Optional[Cgroups] = None
    log_cap: int = outlog.DEFAULT_CAP
    pids: Optional[int] = DEFAULT_PIDS
    volumes: Any = None  # volumes.Volumes: the service's volume mounted in the sandbox (bwrap mode)

    def binds(self, service: Mapping[str, Any]) -> list:
        """The sandbox's extra mounts for a run of ``service`` (its v4.1 volume)."""
        return self.volumes.binds(service) if self.volumes is not None else []


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
# scripts (each in its own session) running. The pipe's write end is
# close-on-exec and held by this process alone, so its end of file is this
# process's death. (No parent-death signal: Linux sends that when the *thread*
# that started the keeper ends, and one process may run several servers, each
# on a thread of its own: stopping one would kill the others' processes.)
_KEEPER_CODE = r"""# oscar-local process keeper
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
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
        self.binds = self.containment.binds(service)
        root = work_dir or tempfile.gettempdir()
        os.makedirs(root, exist_ok=True)
        self.root = root  # the server's runs directory: what a crash leaves there is swept
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
        self.early_output = b""  # what the sandbox printed instead of starting (kept for the log)
        if prespawn:
            self.proc = self._spawn(env)
        self.prepared_in = time.perf_counter() - t0
        self.created = time.monotonic()
        self.used = False
        self.prepared_ahead = False  # set by whoever prepares slots before requests arrive
        self._cancelled = threading.Event()

    @property
    def warm(self) -> bool:
        """True when a shell is already waiting."""
        return self.proc is not None and self.proc.poll() is None

    def _spawn(self, env: Dict[str, str]) -> subprocess.Popen:
        """Start the waiting shell in the sandbox; once it is up (it prints ``R`` and waits
        on stdin, so nothing forks meanwhile) move its whole tree into the cgroup."""
        box = self.containment.sandbox
        cgroups = self.containment.cgroups
        argv, env = box.wrap(["/bin/sh", "-c", _WAITING_SHELL, self.script_path, self.env_file,
                              self.script_path], work_dir=self.dir, env=env, limits=self.limits, cwd=self.cwd,
                             extra_binds=self.binds)
        if self.group is not None:
            self.group.close()
        self.group = cgroups.group(self.limits) if cgroups is not None else None
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, cwd=self.cwd, env=env,
                                start_new_session=True, close_fds=True, **box.credentials())
        KEEPER.hold(proc.pid)  # its own session: the group id is its pid
        assert proc.stdout is not None
        first = os.read(proc.stdout.fileno(), 1)
        if first != b"R":  # the sandbox failed to start: what it printed belongs to the log
            self.early_output = first
        elif self.group is not None:
            self.group.add(proc.pid)
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
            raise Cancelled()
        self.used = True
        request_env = dict(request_env)
        event_file = None
        if len(request_env.get("EVENT", "")) > LARGE_EVENT:
            event_file = os.path.join(self.dir, "event.json")
            with open(event_file, "x", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write(request_env.pop("EVENT"))
            self.containment.sandbox.own(event_file)
        spawn_env = dict(self.env)
        if not all(_SHELL_NAME.match(k) for k in request_env):  # not exportable by a shell
            spawn_env.update(request_env)
            request_env = {}
        for attempt in (1, 2):
            if not self.warm or spawn_env != self.env:
                self.kill()
                self.proc = self._spawn(spawn_env)
            if self.cancelled:  # cancel() ran while we were spawning
                self.kill()
                raise Cancelled()
            if os.path.lexists(self.env_file):
                os.unlink(self.env_file)
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
            except BrokenPipeError:  # the waiting shell is gone: start another once
                self.kill()
                self.proc = None
        raise OSError("the script's shell ended before the script could start")

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
            remove_quietly(path)

    def private_file(self, prefix: str) -> str:
        """A new 0600 file out of the script's reach (beside its directory), removed with the slot."""
        fd, path = tempfile.mkstemp(prefix=f"oscar-{self.service_name}-{prefix}", dir=self.root)
        os.close(fd)
        self._private.append(path)
        return path


def _interpreter_first(path: str) -> str:
    """``PATH`` with the directory of the interpreter running oscar-local first."""
    here = os.path.dirname(sys.executable)
    return os.pathsep.join([here] + [p for p in path.split(os.pathsep) if p and p != here])



class Cancelled(Exception):
    """The invocation was cancelled before its script started."""



def remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
