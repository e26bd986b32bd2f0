"""Containing one untrusted process tree, as a pod contains a container.

Every script an invocation runs (and every long-running exposed replica) is
started through :meth:`Sandbox.wrap`. :meth:`Sandbox.probe` finds, once per
server, the strongest mode this machine allows:

``bwrap``
    bubblewrap: own PID, IPC and mount namespaces (nothing of the server is
    visible or killable; when the sandbox's first process ends, the kernel
    kills everything else in it), a read-only view of the system (``/usr``,
    ``/etc``, ``/opt``) and of the Python environment running oscar-local, a
    private ``/tmp``, only the invocation's directory writable, the data dir
    and the rest of the server's files absent. ``network="isolated"`` adds a
    network namespace with only a loopback interface.
``unshare``
    util-linux ``unshare``: own user, PID, IPC and mount namespaces with a new
    ``/proc``; the server's paths to hide (the data dir) are covered with an
    empty tmpfs, but the rest of the file system is seen as it is.
``none``
    the script runs as a plain child process.

In every mode a server running as root runs the command as an unprivileged
uid/gid (:data:`SANDBOX_UID`, ``nobody``; util-linux ``setpriv`` drops the
uid, groups and every capability right before the command starts, after
the namespaces and mounts are made), and limits come from :mod:`.limits`.

Composition (what an exposed replica or any other caller does)::

    argv, env = sandbox.wrap(["/bin/sh", "-c", "..."], work_dir=d, env=env,
                             network="isolated", extra_binds=[(src, dst, False)])
    proc = subprocess.Popen(argv, env=env, cwd=d, start_new_session=True,
                            stdin=subprocess.PIPE, **sandbox.credentials())
    group = cgroups.group(limits)   # limits.Group
    group.add(proc.pid)             # while the tree waits on stdin
    ...
    group.close()                   # kills what is left, removes the cgroups

``wrap`` never starts anything: it returns the command line and environment
to start. The caller owns the process and its :class:`limits.Group`.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

log = logging.getLogger(__name__)

MODES = ("bwrap", "unshare", "none")
SANDBOX_UID = 65534  # nobody
SANDBOX_GID = 65534
NETWORKS = ("host", "isolated")
Bind = Tuple[str, str, bool]  # (path outside, path inside, writable)


def python_paths() -> List[str]:
    """The directories the Python environment running oscar-local needs, outermost first."""
    candidates = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
                  os.path.dirname(sys.executable)]
    candidates += [p for p in sys.path if p and os.path.isabs(p)]
    found: List[str] = []
    for path in candidates:
        for variant in (path, os.path.realpath(path)):
            if os.path.isdir(variant):
                found.append(os.path.normpath(variant))
            elif os.path.isfile(variant):  # a zip on sys.path
                found.append(os.path.dirname(os.path.normpath(variant)))
    return _outermost(found)


def _outermost(paths: Sequence[str]) -> List[str]:
    """``paths`` without duplicates and without those inside another one."""
    out: List[str] = []
    for path in sorted(set(paths), key=len):
        if not any(_inside(path, other) for other in out):
            out.append(path)
    return out


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _leading_dirs(path: str, bound: Sequence[str], made: List[str]) -> List[str]:
    """bwrap arguments making the directories that lead to ``path`` in the sandbox's
    root, traversable by the sandbox uid (bwrap would copy the host's modes, and
    ``/root`` is 0700); ``made`` collects them so each is made once."""
    chain = []
    parent = os.path.dirname(path)
    while parent not in ("/", "", "/tmp") and parent not in made and not any(_inside(parent, b) for b in bound):
        chain.append(parent)
        parent = os.path.dirname(parent)
    args: List[str] = []
    for directory in reversed(chain):
        args += ["--perms", "0755", "--dir", directory]
        made.append(directory)
    return args


def _ip_tool() -> str:
    """iproute2's ``ip`` (often outside an unprivileged ``PATH``), to bring a loopback up."""
    return shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin") or "ip"


@dataclass
class Sandbox:
    """How this server contains scripts: ``mode`` and the paths it hides."""

    mode: str = "none"
    hidden: Tuple[str, ...] = ()          # server paths a script must not see (the data dir)
    drop_to: Optional[Tuple[int, int]] = None  # (uid, gid) when the server runs as root
    reason: str = ""                      # why a stronger mode is not used
    _static: List[str] = field(default_factory=list, repr=False)
    _bound: List[str] = field(default_factory=list, repr=False)

    # -- probing ---------------------------------------------------------
    @classmethod
    def probe(cls, hidden: Sequence[str] = (), want: str = "auto") -> "Sandbox":
        """The strongest working mode (``want``: "auto" or one of :data:`MODES`).

        A requested mode that does not work here is a ``RuntimeError`` naming why.
        """
        if want not in ("auto",) + MODES:
            raise ValueError(f"sandbox must be one of auto, {', '.join(MODES)}; got {want!r}")
        hidden_t = tuple(os.path.realpath(h) for h in hidden)
        drop = (SANDBOX_UID, SANDBOX_GID) if hasattr(os, "geteuid") and os.geteuid() == 0 else None
        reasons: List[str] = []
        for mode in (MODES if want == "auto" else (want,)):
            box = cls(mode, hidden_t, drop)
            problem = box._check()
            if problem is None:
                box.reason = "; ".join(reasons)
                return box
            reasons.append(f"{mode}: {problem}")
            if mode == "none":  # no setpriv: scripts run as the server's own user
                box.drop_to = None
                box.reason = "; ".join(reasons)
                return box
            if want != "auto":
                raise RuntimeError(f"the {mode} sandbox does not work here: {problem}")
        raise RuntimeError("no sandbox mode works")  # unreachable: "none" always works

    def _check(self) -> Optional[str]:
        tools = {"bwrap": ["bwrap"], "unshare": ["unshare"]}.get(self.mode, [])
        tools += ["setpriv"] if self.drop_to and self.mode != "none" else []
        for tool in tools:
            if shutil.which(tool) is None:
                return f"{tool} is not installed"
        if self.mode == "bwrap":
            self._prepare_bwrap()
        probe_dir = None
        try:
            import tempfile
            probe_dir = tempfile.mkdtemp(prefix="oscar-sandbox-probe-")
            if self.drop_to:
                os.chown(probe_dir, *self.drop_to)
            argv, env = self.wrap(["/bin/sh", "-c", "echo ok"], work_dir=probe_dir,
                                  env={"PATH": "/usr/bin:/bin"})
            done = subprocess.run(argv, env=env, cwd=probe_dir, capture_output=True, timeout=20,
                                  **self.credentials())
        except (OSError, subprocess.SubprocessError) as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            if probe_dir:
                shutil.rmtree(probe_dir, ignore_errors=True)
        if done.returncode != 0 or done.stdout.strip() != b"ok":
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            return (message[-1] if message else f"exit status {done.returncode}")[:200]
        return None

    def describe(self) -> str:
        """One line for start-up output, ``/system/info`` and logs."""
        user = f", uid {self.drop_to[0]}" if self.drop_to else ""
        text = {
            "bwrap": "bwrap (own PID/IPC/mount namespaces, private /tmp, data dir not mounted",
            "unshare": "unshare (own PID/IPC/mount namespaces, data dir covered",
            "none": "none (scripts run as plain child processes",
        }[self.mode]
        return text + user + ")"

    def credentials(self) -> Dict[str, Any]:
        """``subprocess.Popen`` keyword arguments for the wrapped command.

        In bwrap and unshare modes a server running as root starts the
        wrapper as root (namespaces and mounts need it) and the wrapped
        command line drops to the sandbox uid with ``setpriv`` right before
        the command itself; in ``none`` mode ``Popen`` drops it (no extra
        program to start).
        """
        if self.mode == "none" and self.drop_to is not None:
            return {"user": self.drop_to[0], "group": self.drop_to[1], "extra_groups": []}
        return {}

    def _drop(self) -> List[str]:
        if self.drop_to is None or self.mode == "none":
            return []
        uid, gid = self.drop_to
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]

    def own(self, path: str) -> None:
        """Give a directory tree the sandbox uid/gid can write to (no-op when not root)."""
        if self.drop_to is None:
            return
        uid, gid = self.drop_to
        os.chown(path, uid, gid)
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), uid, gid)

    def let_through(self, path: str) -> None:
        """Let the sandbox uid pass through a private directory to its own one inside (unshare
        mode, where the host's paths are seen as they are; no-op when not root)."""
        if self.drop_to is not None:
            os.chmod(path, 0o711)

    # -- wrapping ---------------------------------------------------------
    def wrap(self, argv: Sequence[str], *, work_dir: str, env: Mapping[str, str],
             limits: Any = None, network: str = "host", extra_binds: Sequence[Bind] = (),
             cwd: Optional[str] = None) -> Tuple[List[str], Dict[str, str]]:
        """The command line and environment that run ``argv`` contained.

        ``work_dir`` is the one writable directory (seen at the same path);
        ``cwd`` (default ``work_dir``) where the command starts; ``limits`` a
        :class:`limits.Limits` (its ``ephemeral_storage`` sizes the private
        ``/tmp``); ``network`` "host" (the machine's network, as a pod
        reaches the cluster network) or "isolated" (loopback only; bwrap and
        unshare modes); ``extra_binds`` further (outside, inside, writable)
        mounts (bwrap mode; other modes see the host's paths anyway).
        """
        if network not in NETWORKS:
            raise ValueError(f"network must be one of {', '.join(NETWORKS)}; got {network!r}")
        out_env = dict(env)
        work_dir = os.path.abspath(work_dir)
        cwd = os.path.abspath(cwd or work_dir)
        if self.mode == "bwrap":
            if not self._static:
                self._prepare_bwrap()
            args = ["bwrap"] + self._static
            if network == "isolated":
                args.append("--unshare-net")
            size = getattr(limits, "ephemeral_storage", None)
            if size:
                args += ["--size", str(int(size))]
            args += ["--tmpfs", "/tmp"]
            made: List[str] = []
            # further mounts first: one over /tmp (a volume) then holds the run's directory
            for source, target, writable in [*extra_binds, (work_dir, work_dir, True)]:
                args += _leading_dirs(target, self._bound, made)
                args += ["--bind" if writable else "--ro-bind", source, target]
            for path in self.hidden:  # the data dir lies inside something bound: cover it
                if any(_inside(path, b) for b in self._bound + [work_dir] + [t for _, t, _ in extra_binds]):
                    args += ["--tmpfs", path]
            args += ["--chdir", cwd, "--"] + self._drop()  # root's uid and capabilities gone
            if not _inside(out_env.get("HOME", "/"), work_dir):
                out_env["HOME"] = "/tmp"
            return args + list(argv), out_env
        if self.mode == "unshare":
            args = ["unshare", "--pid", "--ipc", "--mount", "--fork", "--kill-child", "--mount-proc",
                    "--propagation", "private"]
            if os.geteuid() != 0:
                args += ["--user", "--map-root-user"]
            lo_up = ""
            if network == "isolated":  # a new network namespace's loopback starts down
                args.append("--net")
                lo_up = (f'{_ip_tool()} link set lo up || '
                         '{ echo "oscar-local: cannot bring up the sandbox loopback" >&2; exit 125; }; ')
            if self.hidden or lo_up:
                cover = (lo_up + 'for d; do [ "$d" = -- ] && break; '
                         'mount -t tmpfs -o size=4k,mode=000 none "$d" 2>/dev/null || ! ls "$d" >/dev/null 2>&1 '
                         '|| { echo "oscar-local: cannot hide $d from the script" >&2; exit 125; }; '
                         'shift; done; shift; exec "$@"')
                args += ["/bin/sh", "-c", cover, "oscar-cover", *self.hidden, "--"]
            return args + self._drop() + list(argv), out_env
        return self._drop() + list(argv), out_env

    def _prepare_bwrap(self) -> None:
        static = ["--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                  "--hostname", "oscar-local-sandbox"]
        bound: List[str] = []
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                static += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                static += ["--ro-bind", top, top]
                bound.append(top)
        for top in ("/usr", "/etc", "/opt"):
            if os.path.isdir(top):
                static += ["--ro-bind", top, top]
                bound.append(top)
        made: List[str] = []
        for path in python_paths():
            if not any(_inside(path, b) for b in bound):
                static += _leading_dirs(path, bound, made) + ["--ro-bind", path, path]
                bound.append(path)
        static += ["--proc", "/proc", "--dev", "/dev"]
        self._static = static
        self._bound = bound
