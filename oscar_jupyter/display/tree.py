"""JSON values as a collapsible tree of `<details>` elements (with a node budget)."""
from __future__ import annotations

import json
from typing import Any, List, Mapping

from .html import FONT, MUTED, Raw, esc, truncate

_SCALAR_COLORS = {str: "#a31515", bool: "#0000ff", type(None): "#0000ff"}


MAX_STRING = 2000


class _Budget:
    """What is left to show: nodes and characters of scalar text."""

    def __init__(self, nodes: int, chars: int) -> None:
        self.left = nodes
        self.chars = chars
        self.cut = 0


def _scalar(v: Any, budget: _Budget) -> str:
    color = _SCALAR_COLORS.get(type(v), "#098658")
    if isinstance(v, str):
        text = json.dumps(truncate(v, max(16, min(MAX_STRING, budget.chars))), ensure_ascii=False)
    else:
        text = truncate(json.dumps(v, ensure_ascii=False, default=str), MAX_STRING)
    budget.chars -= len(text)
    if budget.chars <= 0:
        budget.left = 0
    return f'<span style="color:{color}">{esc(text)}</span>'


def _node(key: Any, value: Any, budget: _Budget, depth: int, out: List[str]) -> None:
    budget.left -= 1
    label = "" if key is None else f'<span style="color:#001080">{esc(truncate(str(key), 200))}</span>: '
    if isinstance(value, Mapping) or isinstance(value, (list, tuple)):
        items = list(value.items()) if isinstance(value, Mapping) else list(enumerate(value))
        kind = f"{{…}} {len(items)} keys" if isinstance(value, Mapping) else f"[…] {len(items)} items"
        opened = " open" if depth < 2 else ""
        out.append(f'<details{opened} style="margin-left:{12 if depth else 0}px">'
                   f'<summary style="cursor:pointer">{label}<span style="{MUTED}">{esc(kind)}</span>'
                   "</summary>")
        for i, (k, v) in enumerate(items):
            if budget.left <= 0:
                budget.cut += len(items) - i
                out.append(f'<div style="margin-left:24px; {MUTED}">… {len(items) - i} more</div>')
                break
            _node(k, v, budget, depth + 1, out)
        out.append("</details>")
    else:
        out.append(f'<div style="margin-left:{24 if depth else 0}px">{label}{_scalar(value, budget)}</div>')


def json_tree(value: Any, *, max_nodes: int, max_chars: int = 100_000) -> Raw:
    """`value` as nested collapsible sections; the first two levels open.

    At most `max_nodes` nodes and about `max_chars` characters of values are shown.
    """
    out: List[str] = []
    budget = _Budget(max_nodes, max_chars)
    _node(None, value, budget, 0, out)
    return Raw(f'<div style="{FONT}">{"".join(out)}</div>')


def json_text(value: Any, *, limit: int) -> str:
    """Indented JSON for text/plain, truncated to `limit` characters."""
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"\n… {len(text) - limit:,} more characters"
