"""FDL objects shown as YAML (secrets masked) with the parser's notices and warnings."""
from __future__ import annotations

from typing import Any, List, Mapping, Tuple

import yaml

from . import html as h
from .options import options
from .secrets import masked
from .table import text_table


class _Dumper(yaml.SafeDumper):
    """Safe YAML with multi-line strings (scripts) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        text = "\n".join(line.rstrip() for line in value.splitlines())
        if value.endswith("\n"):
            text += "\n"
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def as_dict(obj: Any) -> Any:
    """The plain-data form of an FDL or ServiceSpec object (its redacted form when it has one)."""
    for name in ("redacted", "to_dict", "as_dict", "dict", "to_fdl_dict"):
        fn = getattr(obj, name, None)
        if callable(fn):
            try:
                return fn()
            except TypeError:
                continue
    spec = getattr(obj, "spec", None)
    if isinstance(spec, Mapping):
        return dict(spec)
    return None


def _messages(obj: Any, *names: str) -> List[str]:
    out: List[str] = []
    for name in names:
        value = getattr(obj, name, None)
        if value and isinstance(value, (list, tuple)):
            out.extend(str(v) for v in value)
    return out


def _service_rows(obj: Any) -> List[List[Any]]:
    services = getattr(obj, "services", None)
    if not isinstance(services, (list, tuple)):
        services = [obj]
    rows = []
    for svc in services:
        data = getattr(svc, "data", None)
        if not isinstance(data, Mapping):
            data = svc if isinstance(svc, Mapping) else (as_dict(svc) or {})
        paths = lambda key: ", ".join(str(e.get("path", "")) for e in (data.get(key) or [])  # noqa: E731
                                      if isinstance(e, Mapping))
        rows.append([getattr(svc, "cluster_id", None) or "", data.get("name", ""), data.get("image", ""),
                     data.get("cpu", ""), data.get("memory", ""), paths("input"), paths("output")])
    return rows


def render_fdl(obj: Any) -> Tuple[str, str]:
    """A summary table of the services, warnings and notices, and the YAML (collapsed)."""
    data = as_dict(obj)
    text_yaml = yaml.dump(masked(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100) \
        if data is not None else repr(obj)
    notices = _messages(obj, "notices")
    warnings = _messages(obj, "warnings", "lint")
    rows = _service_rows(obj)
    n = len(rows)
    title = f"{type(obj).__name__}: {n} service{'s' if n != 1 else ''}"
    headers = ["cluster key", "name", "image", "cpu", "memory", "input", "output"]
    parts = [h.title(title), h.table(headers, rows, max_rows=options.max_rows)]
    for label, msgs, color in (("warning", warnings, "#c62828"), ("notice", notices, "#1565c0")):
        for m in msgs[: options.max_rows]:
            parts.append(f'<div style="{h.FONT}"><span style="color:{color}; font-weight:bold">'
                         f"{label}:</span> {h.esc(m)}</div>")
    parts.append(h.details("YAML (secrets masked)", h.pre(text_yaml, limit=options.max_text)))
    text = "\n".join([text_table(headers, rows, title)] + [f"warning: {m}" for m in warnings]
                     + [f"notice: {m}" for m in notices])
    return text, "".join(parts)
