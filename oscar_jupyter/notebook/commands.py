"""What each `%oscar` sub-command does, on top of the public client API.

Every command takes the parsed arguments and a `Context` (the notebook's
namespace, settings and ways to talk to the user), shows what it has to show,
and returns the value that ``-o VAR`` stores.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, FrozenSet, List, MutableMapping, Optional

from .. import errors
from . import inputs

logger = logging.getLogger(__name__)


@dataclass
class Context:
    """The notebook side of a command: namespace, settings, and user interaction."""

    namespace: MutableMapping[str, Any]
    show: Callable[[Any], None]            # display an object (rich)
    say: Callable[[str], None]             # one status line
    ask_password: Callable[[str], str]     # masked prompt
    confirm: Callable[[str], bool]         # yes/no prompt
    default_timeout: Optional[float] = None
    map_concurrency: int = 4
    progress: bool = True
    #: the words of the magic line that were quoted (sent as text, never looked up)
    quoted: FrozenSet[str] = frozenset()


def _oj():
    import oscar_jupyter
    return oscar_jupyter


def current_cluster():
    """The current connection (`oscar_jupyter.current()`: connects as `connect()` does
    when nothing is open)."""
    return _oj().current()


def _open_clusters() -> Dict[str, Any]:
    found = _oj().clusters()
    if isinstance(found, dict):
        return dict(found)
    return {getattr(c, "id", str(i)): c for i, c in enumerate(found or [])}


def find_service(cl: Any, name: str) -> Any:
    """`cl.service(name)`; a `NotFound` names the closest deployed service."""
    try:
        return cl.service(name)
    except errors.NotFound as exc:
        from .arguments import suggest
        try:
            names = [getattr(s, "name", "") for s in cl.services()]
        except errors.OscarError:
            raise exc from None
        hint = suggest(name, names).strip() or (
            "Deployed: " + ", ".join(names[:10]) + ("…" if len(names) > 10 else "") + "."
            if names else "No services are deployed.")
        raise errors.NotFound(f"No service {name!r} on {cl.id}.", hint=hint) from None


# -- connections -------------------------------------------------------------------------

def connect(args: argparse.Namespace, ctx: Context) -> Any:
    oj = _oj()
    creds = {k: getattr(args, k) for k in ("user", "password", "token", "refresh_token",
                                           "oidc_account", "cluster_id")
             if getattr(args, k, None)}
    if args.config:
        creds["config_path"] = args.config
    if args.local:
        if args.endpoint or creds:
            raise errors.ConfigError("--local takes no endpoint or credentials.",
                                     hint="Use `%oscar connect --local` alone.")
        cl = oj.connect(local=True)
    else:
        if args.endpoint and args.user and not ({"password", "token", "refresh_token",
                                                 "oidc_account"} & set(creds)):
            creds["password"] = ctx.ask_password(f"Password for {args.user} at {args.endpoint}: ")
        if not args.verify:
            creds["ssl_verify"] = False
        cl = oj.connect(args.endpoint, **creds) if args.endpoint else oj.connect(**creds)
    try:
        version = cl.version
        version = version() if callable(version) else version
    except errors.OscarError:
        version = ""
    user = getattr(cl, "user", None)
    ctx.say(f"Connected to {cl.id} at {cl.endpoint}" + (f" as {user}" if user else "")
            + (f" (OSCAR {version})" if version else "") + ".")
    return cl


def clusters(args: argparse.Namespace, ctx: Context) -> Any:
    open_ = _open_clusters()
    cur = _oj().current() if open_ else None
    from .. import display
    rows = [["*" if c is cur else "", cid, getattr(c, "endpoint", ""), getattr(c, "user", "") or ""]
            for cid, c in open_.items()]
    ctx.show(display.Table(["", "id", "endpoint", "user"], rows,
                           title=f"{len(rows)} open connections" if rows else "no open connections"))
    return list(open_.values())


def use(args: argparse.Namespace, ctx: Context) -> Any:
    open_ = _open_clusters()
    if args.id not in open_:
        from .arguments import suggest
        known = ", ".join(open_) or "none"
        raise errors.NotFound(f"No open connection with id {args.id!r} (open: {known}).{suggest(args.id, list(open_))}")
    cl = _oj().use(args.id)
    ctx.say(f"Current cluster: {args.id} at {getattr(cl, 'endpoint', '') or open_[args.id].endpoint}.")
    return cl


def info(args: argparse.Namespace, ctx: Context) -> Any:
    cl = current_cluster()
    data = cl.info()
    flat = {"cluster": cl.id, "endpoint": cl.endpoint}
    for k, v in data.items():
        if isinstance(v, dict):
            flat.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            flat[k] = v
    from .. import display
    ctx.show(display.Table(["field", "value"], list(flat.items()), title=f"cluster {cl.id}"))
    return data


# -- services ----------------------------------------------------------------------------

def services(args: argparse.Namespace, ctx: Context) -> Any:
    found = current_cluster().services()
    ctx.show(found)
    return found


def load_fdl(value: Any, *, strict: bool = False) -> Any:
    """An FDL object from a variable's value or a path."""
    from .. import fdl
    if isinstance(value, (str, Path)) and Path(value).expanduser().is_file():
        return fdl.load(Path(value).expanduser(), strict=strict)
    if isinstance(value, str):
        return fdl.load(value, strict=strict)
    return value


def deploy_fdl(definition: Any, ctx: Context, *, wait: bool, strict: bool = False,
               warnings_shown: bool = False) -> List[Any]:
    """Create or update every service of `definition` and say what was done.

    Services keyed by a cluster id that names an open connection go there;
    any other id (e.g. `oscar-cluster` from a published example) means the
    current connection. Warnings (unknown keys, ...) are said first unless
    the caller has shown them; with `strict` unknown keys are errors.
    """
    from ..service import specs_of
    specs = specs_of(definition, strict=strict)
    if not warnings_shown:
        for warning in specs.warnings:
            ctx.say(f"warning: {warning}")
    open_ = _open_clusters()
    cur = current_cluster()
    ids = []
    for s in specs:
        cid = getattr(s, "cluster_id", None)
        if cid not in ids:
            ids.append(cid)
    applied: List[Any] = []
    for cid in ids:
        target = open_.get(cid, cur) if cid is not None else cur
        with warnings.catch_warnings():  # said above, or shown with the cell's FDL
            warnings.simplefilter("ignore", errors.DefinitionWarning)
            done = target.apply(definition, wait=wait, cluster_id=cid, strict=strict)
        for svc in done:
            ctx.say(f"Deployed {svc.name} on {target.id}" + (" (ready)." if wait else "."))
        applied.extend(done)
    return applied


def deploy(args: argparse.Namespace, ctx: Context) -> Any:
    value = inputs.one(args.fdl, ctx.namespace)
    if isinstance(value, str) and not Path(value).expanduser().is_file() and "\n" not in value:
        raise errors.InvalidInput(f"No FDL file or variable named {args.fdl!r}.")
    applied = deploy_fdl(load_fdl(value, strict=args.strict), ctx, wait=args.wait,
                         strict=args.strict)
    return applied


def rm(args: argparse.Namespace, ctx: Context) -> Any:
    cl = current_cluster()
    find_service(cl, args.service)  # NotFound before asking anything
    if not args.yes and not ctx.confirm(
            f"Delete service {args.service!r} on {cl.id} (and its input/output buckets)? [y/N] "):
        ctx.say(f"Kept service {args.service}.")
        return False
    cl.delete(args.service)
    ctx.say(f"Deleted service {args.service} on {cl.id}.")
    return True


# -- invocations -------------------------------------------------------------------------

def run(args: argparse.Namespace, ctx: Context) -> Any:
    svc = find_service(current_cluster(), args.service)
    data = b"" if args.input is None else inputs.one(args.input, ctx.namespace,
                                                    text=args.text or args.input in ctx.quoted)
    kw: Dict[str, Any] = {}
    if args.encoding:
        kw["encoding"] = args.encoding
    timeout = args.timeout if args.timeout is not None else ctx.default_timeout
    if timeout is not None:
        kw["timeout"] = timeout
    result = svc.run(data, **kw)
    ctx.show(result)
    return result


def map_(args: argparse.Namespace, ctx: Context) -> Any:
    svc = find_service(current_cluster(), args.service)
    items = inputs.many([args.inputs], ctx.namespace)
    kw: Dict[str, Any] = {"concurrency": args.concurrency or ctx.map_concurrency,
                          "progress": ctx.progress}
    if ctx.default_timeout is not None:
        kw["timeout"] = ctx.default_timeout
    if args.encoding:
        kw["encoding"] = args.encoding
    batch = svc.map(items, **kw)
    ctx.show(batch)
    return batch


def job(args: argparse.Namespace, ctx: Context) -> Any:
    svc = find_service(current_cluster(), args.service)
    items: Any = inputs.many(args.inputs, ctx.namespace)
    if len(items) == 1 and isinstance(items[0], dict):
        items = items[0]  # a {name: data} variable: named inputs, as submit() reads a dict
    kw: Dict[str, Any] = {"wait": args.wait, "progress": ctx.progress}
    timeout = args.timeout if args.timeout is not None else ctx.default_timeout
    if args.wait and timeout is not None:
        kw["timeout"] = timeout
    outcome = svc.submit(items, **kw)
    if args.wait:
        ctx.show(outcome)
    else:
        ctx.say(f"Uploaded {len(items)} input(s) to {svc.name}'s input bucket: one job each. "
                f"Watch them with `%oscar jobs {svc.name}`.")
    return outcome


def jobs(args: argparse.Namespace, ctx: Context) -> Any:
    svc = find_service(current_cluster(), args.service)
    found = svc.jobs(status=args.status) if args.status else svc.jobs()
    ctx.show(found)
    return found


def _created(job: Any) -> str:
    value = job.get("creation_time") if isinstance(job, dict) else getattr(job, "creation_time", None)
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    return str(value or "")


def logs(args: argparse.Namespace, ctx: Context) -> Any:
    svc = find_service(current_cluster(), args.service)
    name = args.job
    if name is None:
        found = list(svc.jobs())
        if not found:
            raise errors.NotFound(f"Service {svc.name!r} has no jobs yet.",
                                  hint=f"Start one with `%oscar job {svc.name} FILE`.")
        latest = max(found, key=_created)
        name = latest.get("name") if isinstance(latest, dict) else latest.name
    text = svc.logs(name)
    ctx.say(f"── log of {name} ──")
    ctx.say(text.rstrip("\n"))
    return text


# -- storage -----------------------------------------------------------------------------

def put(args: argparse.Namespace, ctx: Context) -> Any:
    local = Path(args.local).expanduser()
    if not local.is_file():
        raise errors.InvalidInput(f"No such local file: {args.local!r}.")
    info = current_cluster().storage.put(local, args.remote)
    where = getattr(info, "path", None) or args.remote
    ctx.say(f"Uploaded {local} ({local.stat().st_size:,} bytes) to {where}.")
    return info


def get(args: argparse.Namespace, ctx: Context) -> Any:
    path = current_cluster().storage.get(args.remote, args.local or ".")
    ctx.say(f"Downloaded {args.remote} to {path}.")
    return path


def ls(args: argparse.Namespace, ctx: Context) -> Any:
    storage = current_cluster().storage
    if args.path:
        found = storage.ls(args.path)
        ctx.show(found)
        return found
    from .. import display
    names = storage.buckets()
    ctx.show(display.Table(["bucket"], [[n] for n in names],
                           title=f"{len(names)} buckets" if names else "no buckets"))
    return names

# -- exposed services --------------------------------------------------------------------

def _pairs(words: List[str], sep: str, what: str) -> List[tuple]:
    out = []
    for word in words:
        name, found, value = word.partition(sep)
        if not found or not name.strip():
            raise errors.InvalidInput(f"{what} {word!r} is not NAME{sep}VALUE.")
        out.append((name.strip(), value.strip() if sep == ":" else value))
    return out


def call(args: argparse.Namespace, ctx: Context) -> Any:
    svc = find_service(current_cluster(), args.service)
    api = svc.exposed
    kw: Dict[str, Any] = {"params": dict(_pairs(args.query, "=", "--query")),
                          "headers": dict(_pairs(args.header, ":", "--header"))}
    if args.json is not None:
        value = inputs.one(args.json, ctx.namespace)
        kw["json"] = json.loads(value.read_text(encoding="utf-8")) if isinstance(value, Path) else value
    if args.data is not None:
        kw["data"] = inputs.one(args.data, ctx.namespace)
    files: Dict[str, Any] = {}
    for word in args.file:
        field, found, rest = word.partition("=")
        if not found or not field.isidentifier():
            field, rest = "data", word
        files[field] = inputs.one(rest, ctx.namespace)
    if files:
        kw["files"] = files
    if args.field:
        kw["form"] = dict(_pairs(args.field, "=", "--field"))
    if args.method:
        kw["method"] = args.method
    timeout = args.timeout if args.timeout is not None else ctx.default_timeout
    if timeout is not None:
        kw["timeout"] = timeout
    try:
        result = api.call(args.path, **kw)
    finally:
        api.close()
    ctx.show(result)
    return result


def _lifecycle(action: str) -> Callable[[argparse.Namespace, Context], Any]:
    def command(args: argparse.Namespace, ctx: Context) -> Any:
        svc = find_service(current_cluster(), args.service)
        deployment = getattr(svc, action)()
        if args.wait and action != "stop":
            svc.wait_ready(progress=ctx.progress)
            deployment = svc.deployment()
        ctx.say(f"{action.capitalize()}{'ped' if action == 'stop' else 'ed'} {svc.name}.")
        ctx.show(deployment)
        return deployment
    command.__name__ = action
    return command


def deployment(args: argparse.Namespace, ctx: Context) -> Any:
    svc = find_service(current_cluster(), args.service)
    state = svc.deployment()
    ctx.show(state)
    if args.logs:
        logs = svc.deployment_logs(timestamps=True, tail_lines=args.tail)
        ctx.show(logs)
        return logs
    return state


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def panel(args: argparse.Namespace, ctx: Context) -> Any:
    """Open a panel with the options given for it (each option belongs to some panels)."""
    from .arguments import PANEL_OPTIONS, PANELS, suggest
    if args.name not in PANELS:
        raise errors.NotFound(f"No panel named {args.name!r} (panels: {', '.join(PANELS)})."
                              f"{suggest(args.name, PANELS)}")
    given = {dest: getattr(args, dest, None) for dest in PANEL_OPTIONS}
    given = {dest: value for dest, value in given.items() if value is not None}
    wrong = [dest for dest in given if args.name not in PANEL_OPTIONS[dest]]
    if wrong:
        own = [_flag(d) for d, names in PANEL_OPTIONS.items() if args.name in names]
        raise errors.InvalidInput(
            f"{_flag(wrong[0])} is not an option of the {args.name} panel.",
            hint=f"Its options: {', '.join(own)}." if own else "It takes no options.")
    for dest in ("timeout", "ready_timeout", "interval"):
        if dest in given and given[dest] <= 0:
            raise errors.InvalidInput(f"{_flag(dest)} must be a positive number of seconds, "
                                      f"not {given[dest]:g}.")
    for dest in ("concurrency", "expected"):
        if dest in given and given[dest] < 1:
            raise errors.InvalidInput(f"{_flag(dest)} must be at least 1, not {given[dest]}.")
    cl = current_cluster()
    if "service" in given:
        given["service"] = find_service(cl, given["service"]).name
    if "fdl" in given:
        value = inputs.one(given["fdl"], ctx.namespace)
        if isinstance(value, str) and not Path(value).expanduser().is_file() and "\n" not in value:
            raise errors.InvalidInput(f"No FDL file or variable named {given['fdl']!r}.")
        given["fdl"] = load_fdl(value)
    if "run" in given:
        from ..jobs import AsyncRun
        value = ctx.namespace.get(given["run"]) if given["run"].isidentifier() else None
        if not isinstance(value, AsyncRun):
            raise errors.InvalidInput(f"--run {given['run']!r} is not a variable holding an AsyncRun.",
                                      hint="Keep one with `%oscar job SVC FILES -o run`.")
        given["run"] = value
    if args.name in ("invoke", "deepaas"):
        given.setdefault("namespace", ctx.namespace)
    from .panels import open_panel
    widget = open_panel(args.name, cl, **given)
    ctx.show(widget)
    return widget


COMMANDS: Dict[str, Callable[[argparse.Namespace, Context], Any]] = {
    "connect": connect, "clusters": clusters, "use": use, "info": info,
    "services": services, "deploy": deploy, "rm": rm, "run": run, "map": map_,
    "job": job, "jobs": jobs, "logs": logs, "put": put, "get": get, "ls": ls,
    "call": call, "stop": _lifecycle("stop"), "start": _lifecycle("start"),
    "restart": _lifecycle("restart"), "deployment": deployment, "panel": panel,
}
