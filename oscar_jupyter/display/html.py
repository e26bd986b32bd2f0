"""Small HTML building blocks: escaping, tables, captions, collapsible sections.

Every string that reaches the page goes through `esc` unless it is wrapped in
`Raw`, which only this package's own renderers build.
"""
from __future__ import annotations

import html as _html
from typing import Any, Iterable, Optional, Sequence

FONT = "font-family: var(--jp-code-font-family, monospace); font-size: 12px"
MUTED = "color: var(--jp-ui-font-color2, #666)"


MAX_CELL = 500  # characters of one plain table cell


class Raw(str):
    """A string already safe to insert as HTML (Raw + Raw stays Raw)."""

    def __add__(self, other: str) -> str:
        joined = str.__add__(self, other)
        return Raw(joined) if isinstance(other, Raw) else joined


def esc(value: Any) -> str:
    """HTML-escape `value` (quotes too) unless it is `Raw`."""
    if isinstance(value, Raw):
        return str(value)
    return _html.escape("" if value is None else str(value), quote=True)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def table(headers: Sequence[Any], rows: Iterable[Sequence[Any]], *, max_rows: int = 200,
          total: Optional[int] = None, caption: Any = None, nowrap: Sequence[int] = ()) -> Raw:
    """An HTML table; cells are escaped unless `Raw`; rows beyond `max_rows` are counted.

    Cells of the columns numbered in `nowrap` stay on one line (names, times)."""
    th = "".join(f'<th style="text-align:left; padding:2px 8px">{esc(h)}</th>' for h in headers)
    body = []
    shown = 0
    count = 0
    for row in rows:
        count += 1
        if shown >= max_rows:
            continue
        shown += 1
        tds = "".join(f'<td style="text-align:left; padding:2px 8px; vertical-align:top'
                      f'{"; white-space:nowrap" if i in nowrap else ""}">'
                      f"{esc(c if isinstance(c, Raw) else truncate(str(c), MAX_CELL))}</td>"
                      for i, c in enumerate(row))
        body.append(f"<tr>{tds}</tr>")
    total = count if total is None else total
    more = ""
    if total > shown:
        more = (f'<tr><td colspan="{len(headers)}" style="{MUTED}; padding:2px 8px">'
                f"… {total - shown} more rows not shown</td></tr>")
    cap = f'<caption style="caption-side:bottom; text-align:left; {MUTED}">{esc(caption)}</caption>' \
        if caption else ""
    return Raw(f'<table style="border-collapse:collapse; {FONT}">{cap}<thead><tr>{th}</tr></thead>'
               f"<tbody>{''.join(body)}{more}</tbody></table>")


def caption(*parts: Any) -> Raw:
    """A muted one-line caption joining the non-empty `parts` with ' · '."""
    text = " · ".join(str(p) for p in parts if p not in (None, ""))
    return Raw(f'<div style="{MUTED}; {FONT}; margin-top:2px">{esc(text)}</div>')


def details(summary: Any, body: Any, *, open: bool = False) -> Raw:
    """A collapsible `<details>` section."""
    flag = " open" if open else ""
    return Raw(f"<details{flag}><summary style=\"cursor:pointer\">{esc(summary)}</summary>"
               f"{esc(body)}</details>")


def pre(text: str, *, limit: int) -> Raw:
    """Escaped preformatted text, truncated to `limit` characters with a note."""
    note = ""
    if len(text) > limit:
        note = (f'<div style="{MUTED}; {FONT}">… {len(text) - limit:,} more characters '
                "not shown</div>")
        text = text[:limit]
    return Raw(f'<pre style="white-space:pre-wrap; margin:0; {FONT}">{esc(text)}</pre>{note}')


def row(*cells: Any, gap: int = 12) -> Raw:
    """Blocks side by side, wrapping on narrow screens."""
    inner = "".join(f'<div style="flex:0 1 auto; min-width:0">{esc(c)}</div>' for c in cells)
    return Raw(f'<div style="display:flex; flex-wrap:wrap; gap:{gap}px; '
               f'align-items:flex-start">{inner}</div>')


def badge(text: str, color: str) -> Raw:
    """A small colored status label."""
    return Raw(f'<span style="color:#fff; background:{esc(color)}; border-radius:3px; '
               f'padding:0 5px; {FONT}">{esc(text)}</span>')


def title(text: Any) -> Raw:
    """A bold heading line for a rendered object."""
    return Raw(f'<div style="font-weight:bold; margin-bottom:4px">{esc(text)}</div>')


def seconds(value: Any) -> str:
    """A duration in seconds as short text ('' when unknown)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return ""
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def count(n: int, noun: str) -> str:
    """'1 job', '3 jobs': a number with its noun, plural with an 's' when not one."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def size(n: Any) -> str:
    """A byte count as short text."""
    try:
        n = float(n)
    except (TypeError, ValueError):
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""
