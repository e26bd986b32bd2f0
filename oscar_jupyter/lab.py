"""`oscar-jupyter lab`: JupyterLab on the tutorials, with the embedded cluster.

Starts oscar-local (in this process, on loopback), hands its endpoint and
credentials to JupyterLab through the environment (kernels inherit it, and
`oscar_jupyter.connect()` reads OSCAR_ENDPOINT / OSCAR_USER / OSCAR_PASSWORD),
runs JupyterLab in the foreground and stops the cluster when JupyterLab exits.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import List, Optional


def _notebooks_dir() -> Path:
    here = Path(__file__).resolve().parent.parent / "notebooks"
    return here if here.is_dir() else Path.cwd()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oscar-jupyter",
        description="Notebook toolkit for OSCAR. `lab` opens JupyterLab on the tutorials "
                    "with an embedded oscar-local cluster.")
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
    cmd: List[str] = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
                      f"--ip={args.ip}", f"--port={args.port}",
                      f"--ServerApp.root_dir={notebooks}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--ServerApp.allow_root=True")  # JupyterLab refuses root otherwise
    cmd += [a for a in args.lab_args if a != "--"]
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        return proc.wait()
    finally:
        cluster.stop()


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "lab":
        return run_lab(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
