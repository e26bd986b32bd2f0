"""Exposed services at a glance: a deployment's state and replicas, its logs, the API's link,
and DEEPaaS models with their predict arguments."""
from __future__ import annotations

import datetime as _dt
from typing import Any, List, Tuple

from . import html as h
from .options import options

#: a deployment state's colour
STATE_COLORS = {"ready": "#2e7d32", "degraded": "#ef6c00", "pending": "#1565c0", "failed": "#c62828",
                "stopped": "#6a1b9a", "unavailable": "#757575", "unknown": "#757575"}


def _ago(when: Any) -> str:
    if not isinstance(when, _dt.datetime):
        return ""
    now = _dt.datetime.now(when.tzinfo or _dt.timezone.utc)
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    return when.strftime("%Y-%m-%d %H:%M UTC") if when.tzinfo else when.isoformat(timespec="minutes")


def replica_dots(ready: int, active: int, wanted: int) -> h.Raw:
    """One dot per replica: filled green when ready, hollow orange when starting or unhealthy,
    grey rings for wanted replicas that do not exist yet."""
    dots = []
    for i in range(max(active, wanted, 0)):
        if i < ready:
            style = "background:#2e7d32; border:1px solid #2e7d32"
            tip = "ready"
        elif i < active:
            style = "background:transparent; border:2px solid #ef6c00"
            tip = "not ready"
        else:
            style = "background:transparent; border:1px dashed #999"
            tip = "wanted"
        dots.append(f'<span title="{tip}" style="display:inline-block; width:10px; height:10px; '
                    f'border-radius:50%; margin-right:3px; {style}"></span>')
    return h.Raw("".join(dots))


def render_deployment(dep: Any) -> Tuple[str, str]:
    """State badge, replica dots, reason and when it changed: one line."""
    state = str(getattr(dep, "state", "unknown"))
    active = int(getattr(dep, "active_instances", 0))
    # replicas of a stopped deployment are going away, whatever their health
    ready = int(getattr(dep, "ready_instances", 0)) if state != "stopped" else 0
    wanted = int(getattr(dep, "min_scale", 0) or 0) if getattr(dep, "exposed", False) and state != "stopped" else 0
    when = _ago(getattr(dep, "last_transition_time", None))
    text = f"{getattr(dep, 'service', '')}: {dep.summary()}" + (f" ({when})" if when else "")
    replicas = h.count(active, "replica") + " stopping" if state == "stopped" and active else \
        f"{ready}/{max(active, wanted)} ready" if max(active, wanted) else "no replicas"
    html = (f'<div style="{h.FONT}; display:flex; gap:10px; align-items:center; flex-wrap:wrap">'
            f'<b>{h.esc(getattr(dep, "service", ""))}</b>'
            f'{h.badge(state, STATE_COLORS.get(state, STATE_COLORS["unknown"]))}'
            f'<span>{replica_dots(ready, active, wanted)}</span>'
            f'<span>{h.esc(replicas)}</span>'
            f'<span style="{h.MUTED}">{h.esc(getattr(dep, "reason", ""))}'
            f'{h.esc(" · " + when) if when else ""}</span></div>')
    return text, html


def render_deployment_logs(logs: Any) -> Tuple[str, str]:
    entries = list(getattr(logs, "entries", []))
    title = f"{getattr(logs, 'service', '')}: " + (h.count(len(entries), "log line") if entries else
                                                   (getattr(logs, "message", "") or "no log lines"))
    if not entries:
        return title, h.title(title)
    text = logs.text
    limit = options.max_text
    shown = text if len(text) <= limit else text[-limit:]
    return f"{title}\n{shown}", h.title(title) + h.pre(shown, limit=limit)


def render_exposed(api: Any) -> Tuple[str, str]:
    """The base URL (a link to open in a browser) and how requests authenticate."""
    how = (f"{getattr(api, 'auth_type', 'basic')} auth (user {getattr(api, 'name', '')}, the service token)"
           if getattr(api, "set_auth", False) else "no authentication")
    link = api.browser_url() if hasattr(api, "browser_url") else api.base_url
    text = f"Exposed service {api.name}\n  url: {api.base_url}\n  auth: {how}"
    html = (h.title(f"exposed service {api.name}") +
            h.table(["field", "value"], [["url", h.Raw(f'<a href="{h.esc(link)}" target="_blank" '
                                                       f'rel="noopener">{h.esc(api.base_url)}</a>')],
                                         ["auth", how], ["port", getattr(api, "port", "")]]))
    return text, html


def _argument_rows(model: Any) -> List[List[Any]]:
    rows = []
    for arg in getattr(model, "arguments", []):
        kind = arg.type + (f" ({', '.join(map(str, arg.enum))})" if arg.enum else "")
        rows.append([arg.name + (" *" if arg.required else ""), kind, arg.location,
                     "" if arg.default is None else arg.default, arg.description])
    return rows


def render_model(model: Any) -> Tuple[str, str]:
    """A DEEPaaS model: its metadata and what predict takes."""
    meta = getattr(model, "metadata", {}) or {}
    fields = [[k, meta[k]] for k in ("description", "author", "version", "license", "url")
              if meta.get(k) not in (None, "")]
    rows = _argument_rows(model)
    text = f"DEEPaaS model {model.name}\n" + "\n".join(f"  {k}: {v}" for k, v in fields)
    if rows:
        text += "\n  predict: " + ", ".join(r[0] for r in rows)
    html = h.title(f"model {model.name}") + h.table(["field", "value"], fields)
    if rows:
        html += ('<div style="margin-top:6px">predict arguments (* required)</div>' +
                 h.table(["argument", "type", "in", "default", "description"], rows))
    return text, html


def render_models(models: Any) -> Tuple[str, str]:
    items = list(models)
    rows = [[m.name, m.metadata.get("version", ""), h.truncate(str(m.metadata.get("description", "")), 120)]
            for m in items]
    title = h.count(len(items), "model")
    text = title + "".join(f"\n  {r[0]} {r[1]}  {r[2]}" for r in rows)
    return text, h.title(title) + (h.table(["model", "version", "description"], rows) if rows else "")
