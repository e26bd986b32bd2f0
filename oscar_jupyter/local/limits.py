"""Resource limits of one invocation's process tree, as a pod's are (memory, cpu, storage, pids).

A service's FDL asks for ``memory`` ("256Mi"), ``cpu`` ("0.5") and
``ephemeral_storage`` ("1Gi"); oscar-local adds a ``pids`` limit against fork
bombs (:data:`DEFAULT_PIDS`). :class:`Cgroups` is probed once per server and
says which mechanism works on this machine:

* ``cgroup v2``: a child group of oscar-local's own cgroup with the
  ``memory``, ``pids`` and ``cpu`` controllers (``memory.max``,
  ``pids.max``, ``cpu.weight``); the out-of-memory kill is read from
  ``memory.events``.
* ``cgroup v1``: one child group per controller hierarchy
  (``memory.limit_in_bytes``, ``pids.max``, ``cpu.shares``); the kill is
  read from ``memory.oom_control``'s ``oom_kill`` counter.
* ``rlimit``: no writable cgroup. ``RLIMIT_AS`` bounds each process's address
  space to the memory limit (a process over it sees allocation failures
  rather than a kill), ``RLIMIT_NPROC`` the processes of the sandbox's uid.

``cpu`` is a share (``cpu.shares``/``cpu.weight`` proportional to the
cores asked for), never a hard quota: a busy machine divides its CPU by
what services asked, an idle one lets any script use it.
``ephemeral_storage`` bounds the size of any one file a script writes
(``RLIMIT_FSIZE``) and, in a bubblewrap sandbox, the size of its private
``/tmp``.

A :class:`Group` is made per invocation, before its processes start;
:meth:`Group.add` moves a started, still waiting process tree into it (the
sandbox's processes block on stdin until then, so nothing forks while it
moves). A cgroup v2 group is also used, where one can be made, to kill every
process of the tree at the end (``cgroup.kill``), even ones that left the
process group.
"""
from __future__ import annotations

import logging
import os
import re
import resource
import signal
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

log = logging.getLogger(__name__)

DEFAULT_PIDS = 512
CGROOT = "/sys/fs/cgroup"
_UNITS = {"": 1, "k": 1000, "m": 1000 ** 2, "g": 1000 ** 3, "t": 1000 ** 4, "p": 1000 ** 5,
          "ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30, "ti": 1 << 40, "pi": 1 << 50}


def parse_quantity(value: Any) -> Optional[int]:
    """A Kubernetes byte quantity ("256Mi", "1G", "1e9", 1024) in bytes; None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"a size must be a number of bytes such as '256Mi', got {value!r}")
    if isinstance(value, (int, float)):
        size = float(value)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([KMGTPkmgtp]i?)?\s*", str(value))
        if not match:
            raise ValueError(f"a size must be a number of bytes such as '256Mi' or '1G', got {value!r}")
        size = float(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
    if size <= 0:
        raise ValueError(f"a size must be more than 0 bytes, got {value!r}")
    return int(size)


def _cores(value: Any) -> Optional[float]:
    if value in (None, ""):
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(m?)\s*", str(value))
    if not match:
        return None
    cores = float(match.group(1)) / (1000.0 if match.group(2) else 1.0)
    return cores if cores > 0 else None


@dataclass(frozen=True)
class Limits:
    """What one invocation may use; None means unlimited."""

    memory: Optional[int] = None             # bytes
    cpu: Optional[float] = None              # cores (a share)
    ephemeral_storage: Optional[int] = None  # bytes
    pids: Optional[int] = DEFAULT_PIDS

    @classmethod
    def of_service(cls, service: Mapping[str, Any], pids: Optional[int] = DEFAULT_PIDS) -> "Limits":
        """The limits a service's definition asks for (values it cannot parse are ignored)."""
        def size(field: str) -> Optional[int]:
            try:
                return parse_quantity(service.get(field))
            except ValueError:
                log.warning("service %s: %s %r is not a size; not limited", service.get("name"),
                            field, service.get(field))
                return None
        return cls(memory=size("memory"), cpu=_cores(service.get("cpu")),
                   ephemeral_storage=size("ephemeral_storage"), pids=pids)


def _own_cgroups() -> Dict[str, str]:
    """This process's cgroup path per v1 controller, and ``""`` for the v2 (unified) one."""
    found: Dict[str, str] = {}
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as fh:
            for line in fh:
                _num, names, path = line.rstrip("\n").split(":", 2)
                for name in (names.split(",") if names else [""]):
                    found[name] = path
    except OSError:
        pass
    return found


def _write(path: str, value: str) -> None:
    with open(path, "w", encoding="ascii") as fh:
        fh.write(value)


def _v2_mount() -> Optional[str]:
    for candidate in (CGROOT, os.path.join(CGROOT, "unified")):
        if os.path.exists(os.path.join(candidate, "cgroup.controllers")):
            return candidate
    return None


def _try_base(parent: str, tag: str) -> Optional[str]:
    """Make this server's directory of groups under ``parent``; None when not writable.

    Directories left by servers that are gone (killed) are removed on the way.
    """
    try:
        for name in os.listdir(parent):
            match = re.fullmatch(r"oscar-local-(\d+)-[0-9a-f]+", name)
            if match and not os.path.exists(f"/proc/{match.group(1)}"):
                stale = os.path.join(parent, name)
                for child in os.listdir(stale):
                    if os.path.isdir(os.path.join(stale, child)):
                        _remove_group(os.path.join(stale, child), tries=1)
                _remove_group(stale, tries=1)
    except OSError:
        pass
    base = os.path.join(parent, f"oscar-local-{os.getpid()}-{tag}")
    try:
        os.mkdir(base)
        return base
    except OSError:
        return None


class Cgroups:
    """Which limit mechanism works here; makes one :class:`Group` per invocation."""

    def __init__(self) -> None:
        self.v1: Dict[str, str] = {}      # controller -> this server's base directory
        self.v2: Optional[str] = None     # base directory in the unified hierarchy
        self.v2_controllers: set = set()  # controllers enabled for groups under v2
        self.mode = "rlimit"

    @classmethod
    def probe(cls) -> "Cgroups":
        found = cls()
        own = _own_cgroups()
        mount = _v2_mount()
        tag = uuid.uuid4().hex[:8]
        if mount is not None and "" in own:
            parent = os.path.normpath(mount + own[""])
            base = _try_base(parent, tag)
            if base is not None:
                found.v2 = base
                try:
                    with open(os.path.join(base, "cgroup.controllers"), encoding="ascii") as fh:
                        offered = set(fh.read().split())
                    wanted = offered & {"memory", "pids", "cpu"}
                    if wanted:
                        _write(os.path.join(base, "cgroup.subtree_control"),
                               " ".join("+" + c for c in sorted(wanted)))
                    found.v2_controllers = wanted
                except OSError:
                    found.v2_controllers = set()
        if not {"memory", "pids"} <= found.v2_controllers:
            for ctrl in ("memory", "pids", "cpu"):
                if ctrl in own and os.path.isdir(os.path.join(CGROOT, ctrl)):
                    base = _try_base(os.path.normpath(os.path.join(CGROOT, ctrl) + own[ctrl]), tag)
                    if base is not None:
                        found.v1[ctrl] = base
        if {"memory", "pids"} <= found.v2_controllers:
            found.mode = "cgroup v2"
            found.v1 = {}
        elif "memory" in found.v1:
            found.mode = "cgroup v1"
        return found

    def describe(self) -> str:
        """One phrase for start-up lines and ``/system/info``."""
        if self.mode == "cgroup v2":
            return "cgroup v2 (" + ", ".join(sorted(self.v2_controllers)) + ")"
        if self.mode == "cgroup v1":
            return "cgroup v1 (" + ", ".join(sorted(self.v1)) + ")"
        return "rlimit (no writable cgroup: memory as RLIMIT_AS)"

    def group(self, limits: Limits) -> "Group":
        return Group(self, limits)

    def close(self) -> None:
        """Remove this server's (empty) group directories."""
        for base in list(self.v1.values()) + ([self.v2] if self.v2 else []):
            try:
                for name in os.listdir(base):
                    if os.path.isdir(os.path.join(base, name)):
                        _remove_group(os.path.join(base, name))
                os.rmdir(base)
            except OSError:
                pass


def _remove_group(path: str, tries: int = 50) -> None:
    for _ in range(tries):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:  # processes still exiting
            time.sleep(0.01)


def tree(pid: int) -> List[int]:
    """``pid`` and every descendant (through ``/proc/<pid>/task/*/children``)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for tid in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{tid}/children", encoding="ascii") as fh:
                    todo.extend(int(p) for p in fh.read().split())
        except OSError:
            continue
    return found


class Group:
    """The limits of one invocation, applied to its process tree."""

    def __init__(self, cgroups: Cgroups, limits: Limits) -> None:
        self.cgroups = cgroups
        self.limits = limits
        self.name = uuid.uuid4().hex[:16]
        self.dirs: Dict[str, str] = {}   # "v2" or a v1 controller -> the group's directory
        self.rlimits: List[tuple] = []
        mem, pids = limits.memory, limits.pids
        try:
            if cgroups.v2:
                path = os.path.join(cgroups.v2, self.name)
                os.mkdir(path)
                self.dirs["v2"] = path
                ctrls = cgroups.v2_controllers
                if mem and "memory" in ctrls:
                    _write(os.path.join(path, "memory.max"), str(mem))
                    _write_quiet(os.path.join(path, "memory.swap.max"), "0")
                if pids and "pids" in ctrls:
                    _write(os.path.join(path, "pids.max"), str(pids))
                if limits.cpu and "cpu" in ctrls:
                    _write(os.path.join(path, "cpu.weight"), str(max(1, min(10000, int(limits.cpu * 100)))))
            for ctrl, base in cgroups.v1.items():
                path = os.path.join(base, self.name)
                os.mkdir(path)
                self.dirs[ctrl] = path
                if ctrl == "memory" and mem:
                    _write(os.path.join(path, "memory.limit_in_bytes"), str(mem))
                    _write_quiet(os.path.join(path, "memory.memsw.limit_in_bytes"), str(mem))
                elif ctrl == "pids" and pids:
                    _write(os.path.join(path, "pids.max"), str(pids))
                elif ctrl == "cpu" and limits.cpu:
                    _write(os.path.join(path, "cpu.shares"), str(max(2, int(limits.cpu * 1024))))
        except OSError:
            self.close()
            raise
        memory_held = "memory" in self.dirs or "memory" in cgroups.v2_controllers
        if mem and not memory_held:
            self.rlimits.append((resource.RLIMIT_AS, mem))
        if limits.ephemeral_storage:
            self.rlimits.append((resource.RLIMIT_FSIZE, limits.ephemeral_storage))

    def prefix(self, argv: List[str], owner: Optional[tuple] = None) -> List[str]:
        """``argv`` preceded by a shell that joins the group and sets the rlimits, then execs it.

        The tree is inside the group before its first instruction runs, so
        nothing escapes. ``owner`` (uid, gid) is who runs the shell when that
        is not this server's user: the group's ``cgroup.procs`` files are
        handed to it so it may move itself in.
        """
        files = self._procs_files()
        if owner is not None:
            for procs in files:
                os.chown(procs, *owner)
        steps = ['for f; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; shift; done; shift']
        for which, value in self.rlimits:
            if which == resource.RLIMIT_AS:
                steps.append(f"ulimit -v {max(1, value // 1024)}")
            elif which == resource.RLIMIT_FSIZE:
                steps.append(f"ulimit -f {max(1, value // 512)}")
        if not files and len(steps) == 1:
            return list(argv)
        return ["/bin/sh", "-c", "; ".join(steps) + '; exec "$@"', "oscar-limits", *files, "--", *argv]

    def _procs_files(self) -> List[str]:
        return [os.path.join(path, "cgroup.procs") for path in self.dirs.values()]

    def add(self, pid: int) -> None:
        """Move ``pid`` and its descendants into the group and apply the rlimits.

        Call while the tree does not fork (its processes wait on stdin), so no
        child escapes between the listing and the move.
        """
        pids = tree(pid)
        for procs in self._procs_files():
            for member in pids:
                try:
                    _write(procs, str(member))
                except ProcessLookupError:
                    pass
        for member in pids:
            for which, value in self.rlimits:
                try:
                    resource.prlimit(member, which, (value, value))
                except (ProcessLookupError, PermissionError, ValueError):
                    pass

    def members(self) -> List[int]:
        out: set = set()
        for procs in self._procs_files():
            try:
                with open(procs, encoding="ascii") as fh:
                    out.update(int(p) for p in fh.read().split())
            except OSError:
                pass
        return sorted(out)

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the group for exceeding its memory limit."""
        if "v2" in self.dirs and "memory" in self.cgroups.v2_controllers:
            counters = _counters(os.path.join(self.dirs["v2"], "memory.events"))
            if counters.get("oom_kill", 0) > 0:
                return True
        if "memory" in self.dirs:
            counters = _counters(os.path.join(self.dirs["memory"], "memory.oom_control"))
            if counters.get("oom_kill", 0) > 0:
                return True
        return False

    def kill_all(self) -> None:
        """SIGKILL every process still in the group (``cgroup.kill`` where there is one)."""
        if "v2" in self.dirs:
            try:
                _write(os.path.join(self.dirs["v2"], "cgroup.kill"), "1")
                return
            except OSError:
                pass
        for _ in range(20):  # v1: kill until nothing is left (a fork bomb is bounded by pids.max)
            left = self.members()
            if not left:
                return
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.005)

    def close(self) -> None:
        """Kill what is left and remove the group's directories."""
        if self.dirs:
            self.kill_all()
        for path in self.dirs.values():
            _remove_group(path)
        self.dirs = {}


def _write_quiet(path: str, value: str) -> None:
    try:
        _write(path, value)
    except OSError:
        pass


def _counters(path: str) -> Dict[str, int]:
    out: Dict[str, int] = {}
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 2 and parts[1].isdigit():
                    out[parts[0]] = int(parts[1])
    except OSError:
        pass
    return out
