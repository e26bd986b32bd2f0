"""Tables of services, jobs and storage objects, and one-service / one-cluster cards."""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Iterable, List, Mapping, Optional, Tuple

from . import html as h
from .options import options
from .secrets import MASK, masked
from .table import text_table as _text_table

STATUS_COLORS = {"succeeded": "#2e7d32", "failed": "#c62828", "running": "#1565c0",
                 "pending": "#ef6c00", "suspended": "#6a1b9a", "unknown": "#757575"}


def field(obj: Any, name: str, default: Any = None) -> Any:
    """`obj[name]` for mappings, else `obj.name`; `default` when absent."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    try:
        return getattr(obj, name, default)
    except Exception:
        return default


def spec_of(svc: Any) -> Mapping:
    """The service definition of a Service handle or a service dict."""
    if isinstance(svc, Mapping):
        return svc
    spec = field(svc, "spec")
    if isinstance(spec, Mapping):
        return spec
    to_dict = getattr(spec, "to_dict", None) or getattr(svc, "to_dict", None)
    if callable(to_dict):
        try:
            d = to_dict()
            if isinstance(d, Mapping):
                return d
        except Exception:
            pass
    return {}


def _paths(entries: Any) -> str:
    if not isinstance(entries, list):
        return ""
    return ", ".join(str(field(e, "path", "")) for e in entries if isinstance(e, Mapping))


def render_services(obj: Any) -> Tuple[str, str]:
    items = list(obj)
    rows = []
    for svc in items:
        spec = spec_of(svc)
        name = field(svc, "name") if not isinstance(svc, Mapping) else None
        name = name or spec.get("name", "")
        rows.append([name, spec.get("image", ""), spec.get("cpu", ""), spec.get("memory", ""),
                     _paths(spec.get("input")), _paths(spec.get("output")),
                     spec.get("visibility", "") or ""])
    headers = ["name", "image", "cpu", "memory", "input", "output", "visibility"]
    title = h.count(len(items), "service") if items else "no services"
    text = _text_table(headers, rows, title)
    warnings = [str(w) for w in getattr(obj, "warnings", None) or []]
    html_out = h.title(title) + (h.table(headers, rows, max_rows=options.max_rows) if rows else "")
    for message in warnings[: options.max_rows]:
        html_out += (f'<div style="{h.FONT}"><span style="color:#c62828; font-weight:bold">'
                     f"warning:</span> {h.esc(message)}</div>")
    return "\n".join([text] + [f"warning: {m}" for m in warnings]), html_out


def _parse_time(value: Any) -> Optional[_dt.datetime]:
    if isinstance(value, _dt.datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def duration(start: Any, finish: Any) -> str:
    """Seconds between two RFC 3339 times, as short text."""
    a, b = _parse_time(start), _parse_time(finish)
    if a is None or b is None:
        return ""
    try:
        secs = (b - a).total_seconds()
    except TypeError:
        return ""
    if secs == 0 and not a.microsecond and not b.microsecond:
        return "< 1 s"  # RFC 3339 times with whole seconds
    return h.seconds(secs)


def status_badge(status: Any) -> h.Raw:
    s = str(status or "Unknown")
    return h.badge(s, STATUS_COLORS.get(s.lower(), STATUS_COLORS["unknown"]))


def _time(value: Any, day: Optional[_dt.date] = None) -> str:
    """A time as 'YYYY-MM-DD HH:MM:SS', or only 'HH:MM:SS' when it falls on `day`."""
    t = _parse_time(value)
    if t is None:
        return str(value) if value else ""
    return t.strftime("%H:%M:%S") if day is not None and t.date() == day else t.strftime("%Y-%m-%d %H:%M:%S")


def job_rows(items: Iterable[Any]) -> List[List[Any]]:
    rows = []
    for job in items:
        name = field(job, "name") or field(job, "job") or ""
        status = field(job, "status") or ""
        created, start, finish = (field(job, k) for k in ("creation_time", "start_time", "finish_time"))
        made = _parse_time(created)
        day = made.date() if made is not None else None  # started/finished that day: the time only
        rows.append([name, status, _time(created), _time(start, day), _time(finish, day),
                     duration(start, finish)])
    return rows


def render_jobs(obj: Any) -> Tuple[str, str]:
    items = list(obj.values()) if isinstance(obj, Mapping) else list(obj)
    rows = job_rows(items)
    counts: dict = {}
    for r in rows:
        counts[r[1] or "Unknown"] = counts.get(r[1] or "Unknown", 0) + 1
    service = field(obj, "service")
    sname = field(service, "name", service) if service is not None else None
    title = h.count(len(rows), "job") + (f" of {sname}" if isinstance(sname, str) else "")
    if counts:
        title += " (" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ")"
    headers = ["job", "status", "created", "started", "finished", "duration"]
    html_rows = [[r[0], status_badge(r[1])] + r[2:] for r in rows]
    text = _text_table(headers, rows, title)
    return text, h.title(title) + (h.table(headers, html_rows, max_rows=options.max_rows,
                                           nowrap=range(len(headers))) if rows else "")


def object_rows(items: Iterable[Any]) -> List[List[Any]]:
    rows = []
    for o in items:
        name = (field(o, "key") or field(o, "object_name") or field(o, "name") or field(o, "path")
                or (o if isinstance(o, str) else ""))
        is_dir = bool(field(o, "is_dir", False)) or str(name).endswith("/")
        size = "" if is_dir else h.size(field(o, "size"))
        modified = field(o, "last_modified") or field(o, "modified") or ""
        if isinstance(modified, _dt.datetime):
            modified = modified.strftime("%Y-%m-%d %H:%M:%S")
        rows.append([str(name), size, str(modified or "")])
    return rows


def render_objects(obj: Any) -> Tuple[str, str]:
    items = list(obj)
    rows = object_rows(items)
    where = field(obj, "path") or field(obj, "prefix") or field(obj, "bucket")
    title = h.count(len(rows), "object") + (f" in {where}" if isinstance(where, str) and where else "")
    headers = ["name", "size", "modified"]
    text = _text_table(headers, rows, title)
    return text, h.title(title) + (h.table(headers, rows, max_rows=options.max_rows,
                                           nowrap=(1, 2)) if rows else "")


def render_service(svc: Any) -> Tuple[str, str]:
    """One service: its main fields; the token is shown masked."""
    spec = spec_of(svc)
    name = field(svc, "name") or spec.get("name", "")
    fields = [("image", spec.get("image")), ("cpu", spec.get("cpu")), ("memory", spec.get("memory")),
              ("input", _paths(spec.get("input"))), ("output", _paths(spec.get("output"))),
              ("visibility", spec.get("visibility")), ("log level", spec.get("log_level")),
              ("token", MASK if spec.get("token") or field(svc, "token", None) else "")]
    expose = spec.get("expose")
    if isinstance(expose, Mapping) and expose:
        fields.append(("exposed port", expose.get("api_port")))
    fields.append(("volume", _volume(spec)))
    rows = [[k, v] for k, v in fields if v not in (None, "", [])]
    text = f"Service {name}\n" + "\n".join(f"  {k}: {v}" for k, v in rows)
    return text, h.title(f"service {name}") + h.table(["field", "value"], rows)


def _volume(spec: Mapping) -> str:
    """A v4.1 volume in a line: ``cache (1Gi, retain) at /data: in_use``."""
    volume, status = spec.get("volume"), spec.get("volume_status")
    if not isinstance(volume, Mapping):
        return ""
    made = ", ".join(str(volume[k]) for k in ("size", "lifecycle_policy") if volume.get(k))
    line = f"{volume.get('name') or '?'}{f' ({made})' if made else ''} at {volume.get('mount_path') or '?'}"
    if isinstance(status, Mapping) and status.get("phase"):
        line += f": {status['phase']}" + (f" ({status['error']})" if status.get("error") else "")
    return line


_URL_PASSWORD = re.compile(r"(//[^/@:\s]*):[^/@\s]*@")


def render_cluster(cl: Any) -> Tuple[str, str]:
    """A cluster connection: id, endpoint and user (never its credentials, not even a
    password written into the endpoint URL)."""
    rows = [[k, _URL_PASSWORD.sub(r"\1:" + MASK + "@", str(field(cl, k)))]
            for k in ("id", "cluster_id", "endpoint", "user")
            if field(cl, k) not in (None, "") and not callable(field(cl, k))]
    name = field(cl, "id") or field(cl, "cluster_id") or field(cl, "endpoint") or ""
    text = f"{type(cl).__name__} {name}\n" + "\n".join(f"  {k}: {v}" for k, v in rows)
    return text, h.title(f"cluster {name}") + h.table(["field", "value"], rows)


def render_mapping(obj: Mapping, title: str = "") -> Tuple[str, str]:
    """A flat mapping (cluster info, config) as a two-column table; secret values masked."""
    obj = masked(obj)
    rows = [[k, v if not isinstance(v, (Mapping, list)) else h.truncate(str(v), 200)]
            for k, v in obj.items()]
    return _text_table(["key", "value"], rows, title), h.title(title) + h.table(["key", "value"], rows)
