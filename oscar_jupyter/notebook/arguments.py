"""Argument parsing for `%oscar` and `%%oscar_fdl` (argparse, no process exit).

Mistakes raise `IPython.core.error.UsageError`, which IPython shows as one
line; an unknown sub-command names the closest one. ``--help`` prints the help
and raises `HelpShown` so the magic stops quietly.
"""
from __future__ import annotations

import argparse
import difflib
import shlex
from typing import Dict, List, Optional, Sequence, Tuple

from IPython.core.error import UsageError


class HelpShown(Exception):
    """`--help` was given: the help text is printed, nothing else runs."""


class MagicArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting the process."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {_without_values(message)}. Try `{self.prog} --help`.")

    def exit(self, status: int = 0, message: Optional[str] = None) -> None:  # type: ignore[override]
        if status:
            raise UsageError(message or f"{self.prog}: invalid arguments")
        raise HelpShown()


_UNRECOGNIZED = "unrecognized arguments: "


def _without_values(message: str) -> str:
    """argparse's message with the words it did not recognise reduced to the options among
    them: a mistyped ``--pasword SECRET`` must not print the secret."""
    head, found, rest = message.partition(_UNRECOGNIZED)
    if not found:
        return message
    words = rest.split()
    options = [w.split("=", 1)[0] for w in words if w.startswith("-")]
    others = len(words) - len(options)
    shown = " ".join(options)
    if others:
        shown += (" " if shown else "") + f"(and {others} other word{'s' if others > 1 else ''}, not shown)"
    return head + _UNRECOGNIZED + shown


def split(line: str) -> List[str]:
    """Shell-like split of a magic line; an unbalanced quote is a usage error."""
    try:
        return shlex.split(line, posix=True)
    except ValueError as exc:
        raise UsageError(f"cannot parse the arguments ({exc}): {line.strip()}") from None


def suggest(word: str, choices: Sequence[str]) -> str:
    """' Did you mean `x`?' for the closest choice, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" Did you mean `{close[0]}`?" if close else ""


def _out(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--out", metavar="VAR", help="store the value in this notebook variable")


def _traceback(p: argparse.ArgumentParser) -> None:
    p.add_argument("--traceback", action="store_true",
                   help="show the full traceback of an error instead of one line")


# name -> (help line, builder)
COMMANDS: Dict[str, str] = {
    "help": "show this help, or a sub-command's (`%oscar help run`)",
    "connect": "connect to a cluster (an endpoint, an oscar-cli cluster, or --local)",
    "clusters": "list the open cluster connections",
    "use": "make an open connection the current one",
    "info": "the current cluster's version and backend",
    "services": "list the services",
    "deploy": "create or update the services of an FDL (file path or variable)",
    "rm": "delete a service (asks first unless --yes)",
    "run": "invoke a service synchronously and show the result",
    "map": "invoke a service on many inputs concurrently",
    "job": "upload inputs to a service's input bucket (asynchronous jobs)",
    "jobs": "list a service's jobs",
    "logs": "show a job's log (the latest job when none is named)",
    "put": "upload a local file to BUCKET/PATH",
    "get": "download BUCKET/PATH to a local file",
    "ls": "list buckets, or the objects under BUCKET/PATH",
    "call": "send an HTTP request to an exposed service's server (PATH below its root)",
    "stop": "stop an exposed service (its replicas go; definition and route stay)",
    "start": "start a stopped exposed service again",
    "restart": "replace an exposed service's replicas one by one",
    "deployment": "an exposed service's state and replicas (--logs: its recent output)",
    "panel": "open a widget panel (deploy, services, invoke, jobs, storage, exposed, deepaas)",
}

PANELS = ("deploy", "services", "invoke", "jobs", "storage", "exposed", "deepaas")

#: `%oscar panel` option (its argparse dest) -> the panels it applies to
PANEL_OPTIONS: Dict[str, Tuple[str, ...]] = {
    "service": ("invoke", "jobs", "exposed", "deepaas"), "model": ("deepaas",), "fdl": ("deploy",), "cluster_id": ("deploy",),
    "ready_timeout": ("deploy",), "timeout": ("invoke",), "concurrency": ("invoke",),
    "run": ("jobs",), "interval": ("jobs", "exposed"), "expected": ("jobs",),
    "auto_refresh": ("jobs", "exposed"),
    "path": ("storage", "exposed"),
}


def build_oscar_parser() -> MagicArgumentParser:
    """The parser of the `%oscar` line magic with one sub-parser per command."""
    parser = MagicArgumentParser(
        prog="%oscar", description="Work with OSCAR clusters from a notebook.",
        epilog="Arguments may use {var} or $var to insert notebook variables.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                parser_class=MagicArgumentParser)

    def add(name: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=COMMANDS[name].replace("%", "%%"), description=COMMANDS[name])
        _traceback(p)
        return p

    p = add("help")
    p.add_argument("topic", nargs="?", help="a sub-command")

    p = add("connect")
    p.add_argument("endpoint", nargs="?", help="the cluster's URL")
    p.add_argument("--local", action="store_true", help="start or attach the embedded oscar-local")
    p.add_argument("--user", "-u", help="user for HTTP Basic auth (prompted password)")
    p.add_argument("--password", help="password (prefer the masked prompt: leave this out)")
    p.add_argument("--token", help="an OIDC access token")
    p.add_argument("--refresh-token", dest="refresh_token", help="an OIDC refresh token")
    p.add_argument("--oidc-account", dest="oidc_account", help="an oidc-agent account")
    p.add_argument("--cluster-id", dest="cluster_id", help="a cluster of the oscar-cli config")
    p.add_argument("--config", help="the oscar-cli config file to read")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="do not verify the server's TLS certificate")
    _out(p)

    p = add("clusters")
    _out(p)

    p = add("use")
    p.add_argument("id", help="the id of an open connection (see %%oscar clusters)")
    _out(p)

    p = add("info")
    _out(p)

    p = add("services")
    _out(p)

    p = add("deploy")
    p.add_argument("fdl", help="an FDL file path, or a variable holding an FDL, dict or YAML text")
    p.add_argument("--no-wait", dest="wait", action="store_false",
                   help="return without waiting for the services to be ready")
    p.add_argument("--strict", action="store_true",
                   help="refuse keys the service schema does not know (by default they are "
                        "warnings: oscar-cli and OSCAR ignore them)")
    _out(p)

    p = add("rm")
    p.add_argument("service", help="the service to delete")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    p = add("run")
    p.add_argument("service")
    p.add_argument("input", nargs="?", help="a variable name, a file path, or a literal "
                   "(JSON or text); none sends an empty body")
    p.add_argument("--text", action="store_true", help="send INPUT as literal text")
    p.add_argument("--encoding", "-e", help="force an encoding (json, base64, raw, png, jpeg, npy, "
                   "oscar-files)")
    p.add_argument("--timeout", "-t", type=float, help="seconds to wait for the answer")
    _out(p)

    p = add("map")
    p.add_argument("service")
    p.add_argument("inputs", help="a variable holding a list, a folder, or a glob pattern")
    p.add_argument("-c", "--concurrency", type=int, help="invocations at once")
    p.add_argument("--encoding", "-e", help="force an encoding")
    _out(p)

    p = add("job")
    p.add_argument("service")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="variables, file paths, folders or glob patterns")
    p.add_argument("--wait", action="store_true", help="wait for the jobs and collect outputs")
    p.add_argument("--timeout", "-t", type=float, help="seconds to wait with --wait")
    _out(p)

    p = add("jobs")
    p.add_argument("service")
    p.add_argument("--status", help="only jobs with this status (Pending, Running, Succeeded, Failed)")
    _out(p)

    p = add("logs")
    p.add_argument("service")
    p.add_argument("job", nargs="?", help="the job's name; default the latest job")
    _out(p)

    p = add("put")
    p.add_argument("local", help="the local file")
    p.add_argument("remote", metavar="BUCKET/PATH")
    _out(p)

    p = add("get")
    p.add_argument("remote", metavar="BUCKET/PATH")
    p.add_argument("local", nargs="?", help="the local file or folder (default: the object's name)")
    _out(p)

    p = add("ls")
    p.add_argument("path", nargs="?", metavar="BUCKET/PATH")
    _out(p)

    p = add("call")
    p.add_argument("service")
    p.add_argument("path", nargs="?", default="", help="the path below the service's root, e.g. v2/models/")
    p.add_argument("--json", "-j", metavar="JSON", help="a JSON body: a literal or a variable")
    p.add_argument("--data", "-d", metavar="INPUT", help="a body: a variable, a file or a literal")
    p.add_argument("--file", "-f", action="append", default=[], metavar="[FIELD=]INPUT",
                   help="a multipart file field (repeatable; FIELD defaults to 'data')")
    p.add_argument("--field", action="append", default=[], metavar="NAME=VALUE",
                   help="a multipart text field (repeatable)")
    p.add_argument("--query", "-q", action="append", default=[], metavar="NAME=VALUE",
                   help="a query parameter (repeatable)")
    p.add_argument("--header", "-H", action="append", default=[], metavar="'NAME: VALUE'",
                   help="a request header (repeatable)")
    p.add_argument("--method", "-X", help="the HTTP method (default: POST with a body, else GET)")
    p.add_argument("--timeout", "-t", type=float, help="seconds to wait for the answer")
    _out(p)

    for action in ("stop", "start", "restart"):
        p = add(action)
        p.add_argument("service")
        p.add_argument("--wait", action="store_true", help="wait until the replicas are ready (start, "
                       "restart)")
        _out(p)

    p = add("deployment")
    p.add_argument("service")
    p.add_argument("--logs", action="store_true", help="show the replicas' recent output too")
    p.add_argument("--tail", type=int, metavar="N", help="with --logs: the last N lines (default 200)")
    _out(p)

    p = add("panel")
    p.add_argument("name", help="one of: " + ", ".join(PANELS))
    p.add_argument("--service", "-s", help="invoke, jobs, exposed, deepaas: the service selected at first")
    p.add_argument("--model", "-m", help="deepaas: the model (default: the service's only one)")
    p.add_argument("--fdl", help="deploy: an FDL file path, or a variable holding an FDL")
    p.add_argument("--cluster-id", dest="cluster_id", help="deploy: the FDL's cluster id to deploy")
    p.add_argument("--ready-timeout", dest="ready_timeout", type=float,
                   help="deploy: seconds to wait for the services to be ready")
    p.add_argument("--timeout", "-t", type=float, help="invoke: seconds to wait for an answer")
    p.add_argument("-c", "--concurrency", type=int, help="invoke: invocations at once for a batch")
    p.add_argument("--run", help="jobs: a variable holding the AsyncRun to follow")
    p.add_argument("--interval", type=float, help="jobs, exposed: seconds between refreshes")
    p.add_argument("--expected", type=int, help="jobs: how many jobs the progress bar counts to")
    p.add_argument("--auto-refresh", dest="auto_refresh", action="store_true", default=None,
                   help="jobs, exposed: refresh on its own every --interval seconds")
    p.add_argument("--path", help="storage: the BUCKET/PATH shown at first; exposed: the web UI's path "
                   "below the service (e.g. api)")
    _out(p)
    return parser


def build_fdl_parser() -> MagicArgumentParser:
    """The parser of the `%%oscar_fdl` cell magic's line."""
    p = MagicArgumentParser(prog="%%oscar_fdl",
                            description="The cell is an FDL (YAML) with inline scripts: it is "
                                        "validated, kept in a variable and optionally deployed.")
    p.add_argument("--deploy", action="store_true",
                   help="create or update the services and wait until they are ready")
    p.add_argument("--name", "-n", metavar="VAR", default="fdl",
                   help="the variable that keeps the FDL object (default: fdl)")
    p.add_argument("--strict", action="store_true",
                   help="refuse keys the service schema does not know (by default they are "
                        "warnings naming the likely field: oscar-cli and OSCAR ignore them)")
    p.add_argument("--allow-unknown", dest="allow_unknown", action="store_true",
                   help="accept unknown keys with a warning (the default; kept for old notebooks)")
    p.add_argument("--no-wait", dest="wait", action="store_false",
                   help="with --deploy, do not wait for the services to be ready")
    _traceback(p)
    return p


def parse_oscar(parser: MagicArgumentParser, line: str) -> Tuple[argparse.Namespace, List[str]]:
    """Parse a `%oscar` line; returns the namespace and the words."""
    words = split(line)
    if not words or words[0] in ("-h", "--help"):
        parser.print_help()
        raise HelpShown()
    cmd = words[0]
    if cmd.startswith("-") and cmd not in ("-h", "--help"):
        raise UsageError(f"%oscar: expected a sub-command before {cmd}. Try `%oscar help`.")
    if cmd not in COMMANDS:
        raise UsageError(f"%oscar: unknown sub-command `{cmd}`.{suggest(cmd, list(COMMANDS))} "
                         "Try `%oscar help`.")
    return parser.parse_args(words), words
