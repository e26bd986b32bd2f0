"""FDL objects shown as YAML (secrets masked) with the parser's notices and warnings."""
from __future__ import annotations

from typing import Any, List, Mapping, Tuple

import yaml

from . import html as h
from .options import options
from .secrets import masked


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
    """The plain-data form of an FDL or ServiceSpec object."""
    for name in ("to_dict", "as_dict", "dict", "to_fdl_dict"):
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


def render_fdl(obj: Any) -> Tuple[str, str]:
    data = as_dict(obj)
    text_yaml = yaml.dump(masked(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100) \
        if data is not None else repr(obj)
    notices = _messages(obj, "notices")
    warnings = _messages(obj, "warnings", "lint")
    services = getattr(obj, "services", None)
    n = len(services) if isinstance(services, (list, tuple)) else None
    title = f"{type(obj).__name__}" + (f": {n} service{'s' if n != 1 else ''}" if n is not None else "")
    parts = [h.title(title)]
    for label, msgs, color in (("warning", warnings, "#c62828"), ("notice", notices, "#1565c0")):
        for m in msgs[: options.max_rows]:
            parts.append(f'<div style="{h.FONT}"><span style="color:{color}; font-weight:bold">'
                         f"{label}:</span> {h.esc(m)}</div>")
    parts.append(h.pre(text_yaml, limit=options.max_text))
    text = "\n".join([title] + [f"warning: {m}" for m in warnings] + [f"notice: {m}" for m in notices]
                     + [text_yaml if len(text_yaml) <= options.max_text else text_yaml[: options.max_text] + "\n…"])
    return text.rstrip(), "".join(parts)
