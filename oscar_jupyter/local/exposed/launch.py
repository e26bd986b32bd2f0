"""How a replica process is started: its command line, environment and network.

A service's script usually hard-codes its port (``api_port``), as every pod
of a Deployment can. To run several replicas of such a script on one
machine, each replica gets its **own network namespace** (bubblewrap's
``--unshare-net``, else util-linux ``unshare -n``; both work unprivileged
where user namespaces are allowed) with its own loopback, and a relay
inside the namespace (``socat``) listens on a Unix socket in the replica's
private directory and connects to ``127.0.0.1:<api_port>`` there. The proxy
reaches replicas only through those sockets.

Where no namespace can be made (or ``socat`` is missing), a replica runs on
the host network: its server binds the host's ``api_port`` itself, so only
one replica can run (``Isolation.single`` says so and why).

``wrap`` only composes argv: a containment prefix (a sandbox command that
itself execs its argument vector) is placed between the relay and the
script, so containment and network isolation compose.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..slot import clean_environment, service_environment

# Inside the namespace: start the relay, then become the service's command.
_RELAY_THEN_EXEC = ('socat -b65536 "UNIX-LISTEN:$1,fork,unlink-early,mode=600,backlog=256" '
                    '"TCP:127.0.0.1:$2,nodelay" </dev/null >/dev/null 2>&1 & shift 2; exec "$@"')
_LOOPBACK_UP = "ip link set lo up || exit 97; "


@dataclass(frozen=True)
class Isolation:
    """How replicas are isolated on this machine."""

    kind: str | None            # "bwrap", "unshare" or None (host network)
    reason: str = ""            # why there is none (said in the deployment's reason)
    prefix: tuple[str, ...] = field(default_factory=tuple)  # argv before the relay shell

    @property
    def single(self) -> bool:
        """Only one replica can run (host network: the script binds the host's port)."""
        return self.kind is None


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


@dataclass(frozen=True)
class Command:
    """A process to start: argv, environment, working directory."""

    argv: list[str]
    env: dict[str, str]
    cwd: str


def wrap(argv: Sequence[str], env: Mapping[str, str], work_dir: str, *, isolation: Isolation,
         port: int, socket_path: str | None, containment: Sequence[str] = ()) -> Command:
    """The command that runs ``argv`` as one replica.

    With isolation, ``argv`` runs in a new network namespace behind a relay
    from ``socket_path`` to ``127.0.0.1:port``; ``containment`` (an argv
    prefix that execs what follows it) wraps ``argv`` alone, inside the
    namespace. Without isolation ``socket_path`` is unused.
    """
    inner = [*containment, *argv]
    if isolation.kind is None:
        return Command(inner, dict(env), work_dir)
    if socket_path is None:
        raise ValueError("an isolated replica needs the path of its relay socket")
    shell = (_LOOPBACK_UP if isolation.kind == "unshare" else "") + _RELAY_THEN_EXEC
    out = [*isolation.prefix, "/bin/sh", "-c", shell, "oscar-replica", socket_path, str(port), *inner]
    return Command(out, dict(env), work_dir)


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
