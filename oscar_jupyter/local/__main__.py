"""``oscar-local`` / ``python -m oscar_jupyter.local``: run the cluster in the foreground.

Stops cleanly on SIGINT/SIGTERM: no new requests, running jobs get the
grace time to finish (else they are marked Failed), pending jobs stay
pending for the next start.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import Sequence

from . import datadir
from .auth import PASSWORD_ENV, load_or_create_password
from .runtime import Options
from .server import DataDirBusy, serve
from .versions import DEFAULT as DEFAULT_API_VERSION, RELEASES

S3_SECRET_ENV = "OSCAR_LOCAL_S3_SECRET_KEY"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("oscar-jupyter")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


def parser() -> argparse.ArgumentParser:
    from . import default_data_dir

    p = argparse.ArgumentParser(
        prog="oscar-local",
        description="An OSCAR-compatible cluster on this machine (Manager API, S3 storage, sync and async runs).",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default: %(default)s)")
    p.add_argument("--data-dir", default=default_data_dir(),
                   help="where services, jobs, logs and objects are kept (default: %(default)s)")
    s3 = p.add_argument_group("external S3 (default: an embedded S3 endpoint in the data dir)")
    s3.add_argument("--s3-endpoint", help="URL of an external MinIO/S3 endpoint")
    s3.add_argument("--s3-access-key", help="access key of the external endpoint")
    s3.add_argument("--s3-secret-key", help=f"secret key of the external endpoint (better: ${S3_SECRET_ENV})")
    s3.add_argument("--s3-region", default="us-east-1", help="region of the external endpoint (default: %(default)s)")
    s3.add_argument("--s3-insecure", action="store_true", help="do not verify the external endpoint's TLS certificate")
    p.add_argument("--api-version", default=DEFAULT_API_VERSION, choices=tuple(RELEASES),
                   help="the Manager release whose wire shapes to answer with (default: %(default)s)")
    oidc = p.add_argument_group("OIDC bearer tokens on /system (as on AI4OS/EGI clusters)")
    oidc.add_argument("--oidc-issuer", metavar="URL", help="issuer whose access tokens are accepted")
    oidc.add_argument("--oidc-group", metavar="VO", action="append", default=[],
                      help="group (VO) a token's user must belong to; repeat for several")
    p.add_argument("--cores", type=float, help="CPU budget for asynchronous jobs (default: all cores)")
    p.add_argument("--max-body", type=int, default=64 * 1024 * 1024,
                   help="largest /run or /job body in bytes (default: %(default)s)")
    p.add_argument("--job-timeout", type=float, default=3600.0,
                   help="seconds an asynchronous job may run before it is stopped and marked Failed, "
                        "as a Kubernetes Job's activeDeadlineSeconds (default: %(default)s)")
    p.add_argument("--sandbox", default="auto", choices=("auto", "bwrap", "unshare", "none"),
                   help="how scripts are contained: auto picks the strongest mode that works here "
                        "(bwrap, then unshare, then none; see docs/security.md) (default: %(default)s)")
    p.add_argument("--shutdown-grace", type=float, default=10.0,
                   help="seconds running jobs get to finish on stop (default: %(default)s)")
    p.add_argument("--header-timeout", type=float, default=30.0,
                   help="seconds a connection may take to send its request line and headers, and may stay "
                        "idle between requests, before it is closed (default: %(default)s)")
    p.add_argument("--log-level", default="INFO", type=str.upper,
                   choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
                   help="logging level (default: %(default)s)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not 0 <= args.port <= 65535:
        print(f"oscar-local: --port must be 0-65535, got {args.port}", file=sys.stderr)
        return 2
    if not 0 < args.header_timeout < float("inf"):
        print(f"oscar-local: --header-timeout must be a positive number of seconds, got {args.header_timeout}",
              file=sys.stderr)
        return 2
    secret_key = args.s3_secret_key or os.environ.get(S3_SECRET_ENV)
    if args.s3_endpoint and not (args.s3_access_key and secret_key):
        print(f"oscar-local: --s3-endpoint needs --s3-access-key and --s3-secret-key (or ${S3_SECRET_ENV})",
              file=sys.stderr)
        return 2
    if args.oidc_group and not args.oidc_issuer:
        print("oscar-local: --oidc-group needs --oidc-issuer", file=sys.stderr)
        return 2
    if args.oidc_issuer and not args.oidc_group:
        print("oscar-local: --oidc-issuer needs at least one --oidc-group VO "
              "(the Manager admits only members of its configured groups)", file=sys.stderr)
        return 2
    data_dir = os.path.abspath(args.data_dir)
    try:
        datadir.secure(data_dir)
    except datadir.DataDirUnsafe as exc:
        print(f"oscar-local: {exc}", file=sys.stderr)
        return 2
    password, generated = load_or_create_password(data_dir)
    opts = Options(
        data_dir=data_dir, password=password, s3_endpoint=args.s3_endpoint, s3_access_key=args.s3_access_key,
        s3_secret_key=secret_key, s3_region=args.s3_region, s3_verify=not args.s3_insecure,
        cores=args.cores, max_body=args.max_body, shutdown_grace=args.shutdown_grace,
        job_timeout=args.job_timeout, sandbox=args.sandbox,
        header_timeout=args.header_timeout,
        api_version=args.api_version, oidc_issuer=args.oidc_issuer, oidc_groups=tuple(args.oidc_group),
    )

    def ready(endpoint: str) -> None:
        print(f"oscar-local is running at {endpoint}", flush=True)
        print(f"  user: {opts.user}", flush=True)
        if generated:
            print(f"  password: {password}  (generated; stored 0600 in {data_dir}; shown only this once)", flush=True)
        elif os.environ.get(PASSWORD_ENV):
            print(f"  password: from ${PASSWORD_ENV}", flush=True)
        else:
            print(f"  password: stored in {os.path.join(data_dir, 'admin-password')}", flush=True)
        print(f"  Manager API: v{RELEASES[opts.api_version]}", flush=True)
        if opts.oidc_issuer:
            print(f"  OIDC: {opts.oidc_issuer} (groups: {', '.join(opts.oidc_groups)})",
                  flush=True)
        print("Stop with Ctrl+C.", flush=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - non-POSIX
                signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
        await serve(opts, args.host, args.port, stop, ready)

    try:
        asyncio.run(run())
    except DataDirBusy as exc:
        print(f"oscar-local: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"oscar-local: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"oscar-local: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print("oscar-local stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
