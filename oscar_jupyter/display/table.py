"""`Table`: any rows shown as an HTML table with a text fallback."""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from . import html as h
from .options import options


class Table:
    """Rows under headers, with a title; renders through `display.mimebundle`."""

    def __init__(self, headers: Sequence[Any], rows: Sequence[Sequence[Any]], *, title: str = "") -> None:
        self.headers = [str(x) for x in headers]
        self.rows = [list(r) for r in rows]
        self.title = title

    def __repr__(self) -> str:
        return render_table(self)[0]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        from . import mimebundle
        return mimebundle(self, include=include, exclude=exclude)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str) -> str:
    """Columns aligned with spaces, under `title`."""
    srows: List[List[str]] = [[str(c) for c in r] for r in rows[: options.max_rows]]
    if not srows:
        return title
    widths = [min(40, max([len(hd)] + [len(r[i]) if i < len(r) else 0 for r in srows]))
              for i, hd in enumerate(headers)]
    def line(cells: Sequence[str]) -> str:
        return "  ".join(c[:w].ljust(w) for c, w in zip(cells, widths)).rstrip()
    out = ([title] if title else []) + [line(headers)] + [line(r) for r in srows]
    if len(rows) > len(srows):
        out.append(f"… {len(rows) - len(srows)} more rows")
    return "\n".join(out)


def render_table(t: Table) -> Tuple[str, str]:
    html = (h.title(t.title) if t.title else "") + \
        (h.table(t.headers, t.rows, max_rows=options.max_rows) if t.rows else "")
    return text_table(t.headers, t.rows, t.title), html
