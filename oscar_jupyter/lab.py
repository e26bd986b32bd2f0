"""`oscar-jupyter lab`: JupyterLab on the tutorials, with the embedded cluster.

Starts oscar-local (in this process, on loopback), hands its endpoint and
credentials to JupyterLab through the environment (kernels inherit it, and
`oscar_jupyter.connect()` reads OSCAR_ENDPOINT / OSCAR_USER / OSCAR_PASSWORD),
runs JupyterLab in the foreground, opened on the first tutorial, and stops the
cluster when JupyterLab exits.

SIGINT and SIGTERM stop everything this command started: JupyterLab is asked
to stop (it shuts its kernels down), whatever of its process tree is still
running after a grace time is terminated, then killed, and the cluster stops
last. Nothing is left serving against a stopped cluster.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, List, Optional

#: the notebook JupyterLab opens on
FIRST_TUTORIAL = "01-getting-started.ipynb"
#: seconds JupyterLab gets to shut its kernels down before its processes are terminated
STOP_GRACE = 15.0


def _notebooks_dir() -> Path:
    here = Path(__file__).resolve().parent.parent / "notebooks"
    return here if here.is_dir() else Path.cwd()


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="oscar-jupyter",
        description="Notebook toolkit for OSCAR. `lab` opens JupyterLab on the tutorials "
                    "with an embedded oscar-local cluster.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="JupyterLab on the tutorials with the embedded cluster")
    lab.add_argument("--notebooks", type=Path, default=None,
                     help="folder to open (default: the tutorials in notebooks/)")
    lab.add_argument("--data-dir", type=Path, default=None,
                     help="oscar-local's data folder (default: $OSCAR_LOCAL_DATA_DIR or ~/.oscar-local)")
    lab.add_argument("--port", type=int, default=8888, help="JupyterLab's port")
    lab.add_argument("--ip", default="127.0.0.1", help="JupyterLab's address")
    lab.add_argument("lab_args", nargs=argparse.REMAINDER,
                     help="further arguments passed to `jupyter lab`")
    return parser


def lab_command(notebooks: Path, ip: str, port: int, extra: List[str]) -> List[str]:
    """The `jupyter lab` command line: served from `notebooks`, opened on the first
    tutorial when it is there."""
    cmd: List[str] = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
                      f"--ip={ip}", f"--port={port}", f"--ServerApp.root_dir={notebooks}"]
    if (notebooks / FIRST_TUTORIAL).is_file():
        cmd.append(f"--LabApp.default_url=/lab/tree/{FIRST_TUTORIAL}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--ServerApp.allow_root=True")  # JupyterLab refuses root otherwise
    return cmd + [a for a in extra if a != "--"]


def _descendants(pid: int) -> List[Any]:
    import psutil
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def stop_tree(proc: "subprocess.Popen[Any]", grace: float = STOP_GRACE) -> int:
    """Stop JupyterLab and every process it started (kernels run in sessions of their
    own, so a process group would miss them): SIGTERM to JupyterLab, which shuts its
    kernels down; after `grace` seconds SIGTERM to whatever is left, then SIGKILL."""
    import psutil

    tree = _descendants(proc.pid)  # taken before JupyterLab exits and they are re-parented
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    tree += [p for p in _descendants(proc.pid) if p not in tree]
    alive = [p for p in tree if p.is_running()]
    for p in alive:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(alive, timeout=5)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    return code


class _Stop(Exception):
    """SIGTERM arrived."""


def _raise_stop(signum: int, frame: Any) -> None:
    raise _Stop()


def run_lab(args: argparse.Namespace) -> int:
    from oscar_jupyter import local

    from .connections import EMBEDDED_API_VERSION
    cluster = local.ensure(data_dir=str(args.data_dir) if args.data_dir else None,
                           api_version=EMBEDDED_API_VERSION)
    print(f"oscar-local is serving {cluster.endpoint} as user {cluster.user!r} "
          f"(data in {cluster.data_dir})", flush=True)
    env = dict(os.environ)
    env.update(OSCAR_ENDPOINT=cluster.endpoint, OSCAR_USER=cluster.user,
               OSCAR_PASSWORD=cluster.password, OSCAR_SSL_VERIFY="true")
    notebooks = args.notebooks or _notebooks_dir()
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    proc: Optional["subprocess.Popen[Any]"] = None
    try:
        proc = subprocess.Popen(lab_command(notebooks, args.ip, args.port, args.lab_args), env=env)
        return proc.wait()
    except (KeyboardInterrupt, _Stop):
        return stop_tree(proc) if proc is not None else 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc is not None and proc.poll() is None:
            stop_tree(proc)
        cluster.stop()


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "lab":
        return run_lab(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
