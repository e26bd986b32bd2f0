"""How a replica process is started: its sandbox, limits, command line, environment and network.

A service's script usually hard-codes its port (``api_port``), as every pod
of a Deployment can. To run several replicas of such a script on one
machine, each replica gets its **own network namespace** with its own
loopback, and a relay inside the namespace (``socat``) listens on a Unix
socket in the replica's private directory and connects to
``127.0.0.1:<api_port>`` there. The proxy reaches replicas only through
those sockets.

Where oscar-local has a sandbox (``sandbox.Sandbox`` in ``bwrap`` or
``unshare`` mode, see :func:`contained`), that namespace is the sandbox's
own (``Sandbox.wrap(..., network="isolated")``): a replica runs exactly as
an invocation does (own PID/IPC/mount namespaces, data dir and server files
hidden, private ``/tmp``, the sandbox uid when the server is root) and its
whole tree joins a ``limits.Group`` (the service's ``memory``, ``cpu``,
``pids``) before its first instruction. The relay runs inside the sandbox
too; only the replica's own directory (script, working dir, socket) is
bound in.

Where there is no sandbox (mode ``none``, :func:`detect`), a bare network
namespace is made as before (bubblewrap's ``--unshare-net`` over the host's
file system, else ``unshare -n``) and the script runs as the server's user,
its tree still in a cgroup where one can be made. Where no namespace can be
made (or ``socat`` is missing), a replica runs on the host network: its
server binds the host's ``api_port`` itself, so only one replica can run
(``Isolation.single`` says so and why).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import psutil

from ..limits import Group, Limits
from ..slot import Containment, clean_environment, service_environment

# Inside the namespace: start the relay, then become the service's command.
_RELAY_THEN_EXEC = ('socat -b65536 "UNIX-LISTEN:$1,fork,unlink-early,mode=600,backlog=256" '
                    '"TCP:127.0.0.1:$2,nodelay" </dev/null >/dev/null 2>&1 & shift 2; exec "$@"')
_LOOPBACK_UP = "ip link set lo up || exit 97; "
RELAY = "socat"


def _relays(pid: int) -> dict[int, int] | None:
    """The relay processes in the process tree of ``pid``, each with its parent's pid (None when
    ``pid`` is gone). A process that exits while it is being read is skipped: its connection is
    closed, and it must not make the whole tree unreadable."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    parents: dict[int, int] = {}
    for proc in tree:
        with contextlib.suppress(psutil.Error):
            if proc.name() == RELAY:
                parents[proc.pid] = proc.ppid()
    return parents


def relay_connections(pid: int) -> int:
    """Connections open through the relay in the process tree of ``pid``: socat forks one child per
    connection. One child exiting mid-read must not turn the count into 0 (a drain would then
    stop a replica while other connections through its relay still carry requests)."""
    parents = _relays(pid)
    if parents is None:
        return 0  # the replica is gone, and with it every connection
    return sum(1 for parent in parents.values() if parent in parents)


def relay_listener(pid: int) -> int | None:
    """The relay's listening process (inside the replica's network namespace), if it runs."""
    parents = _relays(pid) or {}
    return next((relay for relay, parent in parents.items() if parent not in parents), None)


def _loopback(address: str) -> bool:
    """Whether a /proc/net/tcp* local address (hex, as the kernel writes it) is a loopback one."""
    if len(address) == 8:  # IPv4, little-endian: 127.0.0.0/8 ends in 7F
        return address.endswith("7F")
    mapped = address.startswith("0000000000000000FFFF0000") and address.endswith("7F")
    return address == "0" * 24 + "01000000" or mapped  # ::1, ::ffff:127.x.y.z


def listens_on_loopback_only(pid: int, port: int) -> bool:
    """Whether, in the network namespace of process ``pid``, ``port`` is listened on at loopback
    addresses only (``/proc/<pid>/net/tcp`` and ``tcp6``); False when nothing says so.

    The relay reaches a replica at 127.0.0.1 inside its namespace, so a server bound there works
    here; on a cluster the Service and ingress reach a pod at its own address, and such a server
    is unreachable."""
    addresses = []
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}", encoding="ascii") as fh:
                next(fh, None)
                for line in fh:
                    fields = line.split()
                    if len(fields) > 3 and fields[3] == "0A":  # LISTEN
                        address, _, hex_port = fields[1].partition(":")
                        if int(hex_port, 16) == port:
                            addresses.append(address)
        except (OSError, ValueError):
            continue
    return bool(addresses) and all(_loopback(a) for a in addresses)


@dataclass(frozen=True)
class Isolation:
    """How replicas are isolated and contained on this machine."""

    kind: str | None            # "bwrap", "unshare" (own network namespace) or None (host network)
    reason: str = ""            # why there is none (said in the deployment's reason)
    prefix: tuple[str, ...] = field(default_factory=tuple)  # bare namespace argv (no sandbox) before the relay shell
    containment: Containment | None = field(default=None, compare=False)  # sandbox and cgroups

    @property
    def single(self) -> bool:
        """Only one replica can run (host network: the script binds the host's port)."""
        return self.kind is None

    @property
    def sandboxed(self) -> bool:
        """Replicas run in the sandbox invocations run in (not as plain processes)."""
        return self.containment is not None and self.containment.sandbox.mode != "none"

    def note(self) -> str:
        """What the deployment's reason says about containment ("" when replicas are sandboxed)."""
        if self.sandboxed:
            return ""
        return ("Replicas are not sandboxed on this machine (sandbox mode none): they run as "
                "oscar-local's user and can reach its files and processes.")

    def group(self, svc: Mapping[str, Any]) -> Group | None:
        """A new cgroup (or rlimit set) with the service's limits; None where none is made."""
        contained = self.containment
        if contained is None or contained.cgroups is None:
            return None
        return contained.cgroups.group(Limits.of_service(svc, contained.pids))


def _works(argv: Sequence[str]) -> bool:
    try:
        return subprocess.run(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.lru_cache(maxsize=None)
def detect(preferred: str | None = None) -> Isolation:
    """The best isolation that works here (checked once per process by running it).

    ``preferred`` ("bwrap", "unshare" or "none") restricts the choice (tests, and
    ``$OSCAR_LOCAL_REPLICA_NETWORK``).
    """
    preferred = preferred or os.environ.get("OSCAR_LOCAL_REPLICA_NETWORK") or None
    if preferred == "none":
        return Isolation(None, "replica network namespaces are switched off "
                               "(OSCAR_LOCAL_REPLICA_NETWORK=none)")
    if shutil.which("socat") is None:
        return Isolation(None, "socat is not installed, so replicas cannot be reached inside "
                               "their own network namespaces")
    bwrap = shutil.which("bwrap")
    if preferred in (None, "bwrap") and bwrap:
        prefix = (bwrap, "--dev-bind", "/", "/", "--unshare-net", "--die-with-parent", "--")
        if _works(prefix + ("/bin/sh", "-c", "exec 3<>/dev/null")):
            return Isolation("bwrap", prefix=prefix)
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if preferred in (None, "unshare") and unshare and ip:
        for flags in (("-n",), ("-r", "-n")):
            prefix = (unshare, *flags, "--")
            if _works(prefix + ("/bin/sh", "-c", _LOOPBACK_UP + "true")):
                return Isolation("unshare", prefix=prefix)
    return Isolation(None, "no network namespace can be created here (bubblewrap and unshare "
                           "failed: user namespaces may be disabled)")


def contained(containment: Containment, preferred: str | None = None) -> Isolation:
    """Replicas in ``containment``'s sandbox, each in the sandbox's own network namespace.

    Checked once by running an isolated sandbox. ``preferred`` "none" (or
    ``$OSCAR_LOCAL_REPLICA_NETWORK=none``) keeps the sandbox on the host
    network (one replica). A sandbox of mode ``none`` falls back to
    :func:`detect` (bare namespaces, no containment).
    """
    box = containment.sandbox
    if box.mode == "none":
        return dataclasses.replace(detect(preferred), containment=containment)
    preferred = preferred or os.environ.get("OSCAR_LOCAL_REPLICA_NETWORK") or None
    if preferred == "none":
        return Isolation(None, "replica network namespaces are switched off "
                               "(OSCAR_LOCAL_REPLICA_NETWORK=none)", containment=containment)
    if shutil.which("socat") is None:
        return Isolation(None, "socat is not installed, so replicas cannot be reached inside "
                               "their own network namespaces", containment=containment)
    import tempfile
    probe_dir = tempfile.mkdtemp(prefix="oscar-replica-probe-")
    try:
        box.own(probe_dir)
        argv, env = box.wrap(["/bin/sh", "-c", "exec 3<>/dev/null"], work_dir=probe_dir,
                             env={"PATH": os.environ.get("PATH", os.defpath)}, network="isolated")
        try:
            ok = subprocess.run(argv, env=env, cwd=probe_dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, timeout=20, **box.credentials()).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    if not ok:
        return Isolation(None, f"the {box.mode} sandbox cannot make a network namespace here",
                         containment=containment)
    return Isolation(box.mode, containment=containment)


@dataclass(frozen=True)
class Command:
    """A process to start: argv, environment, working directory."""

    argv: list[str]
    env: dict[str, str]
    cwd: str


def wrap(argv: Sequence[str], env: Mapping[str, str], work_dir: str, *, isolation: Isolation,
         port: int, socket_path: str | None, root: str | None = None, group: Group | None = None,
         binds: Sequence[tuple[str, str, bool]] = ()) -> Command:
    """The command that runs ``argv`` as one replica, starting in ``work_dir``.

    With a network namespace, ``argv`` runs behind a relay from
    ``socket_path`` to ``127.0.0.1:port`` (without one ``socket_path`` is
    unused). With a sandbox, relay and ``argv`` run in it, ``root`` (the
    replica's directory, holding ``work_dir`` and the socket) being the one
    writable directory. ``group`` (made by ``isolation.group``) is joined
    by the first process, outside the sandbox, before anything else runs.
    ``binds`` are the sandbox's further mounts (the service's volume).
    """
    if isolation.kind is not None and socket_path is None:
        raise ValueError("an isolated replica needs the path of its relay socket")
    relay = ["/bin/sh", "-c", _RELAY_THEN_EXEC, "oscar-replica", str(socket_path), str(port)]
    box = isolation.containment.sandbox if isolation.sandboxed and isolation.containment else None
    if box is not None:
        inner = [*relay, *argv] if isolation.kind is not None else list(argv)
        out, out_env = box.wrap(inner, work_dir=root or work_dir, env=env, cwd=work_dir,
                                limits=group.limits if group is not None else None, extra_binds=binds,
                                network="isolated" if isolation.kind is not None else "host")
    elif isolation.kind is None:
        out, out_env = list(argv), dict(env)
    else:
        shell = (_LOOPBACK_UP if isolation.kind == "unshare" else "") + _RELAY_THEN_EXEC
        out = [*isolation.prefix, "/bin/sh", "-c", shell, "oscar-replica", str(socket_path), str(port), *argv]
        out_env = dict(env)
    if group is not None:
        out = group.prefix(out)
    return Command(out, out_env, work_dir)


def replica_environment(service: Mapping[str, object], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a replica sees: oscar-local's environment minus credentials, the service's
    variables and secrets, ``OSCAR_SERVICE_NAME``/``TOKEN``/``BASE_PATH``; the Python
    running oscar-local first on ``PATH`` (scripts' ``python3``)."""
    env = clean_environment()
    here = os.path.dirname(sys.executable)
    parts = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and p != here]
    env["PATH"] = os.pathsep.join([here, *parts])
    env.update(service_environment(service))
    env["OSCAR_SERVICE_BASE_PATH"] = f"/system/services/{service.get('name', '')}/exposed"
    if extra:
        env.update(extra)
    return env
