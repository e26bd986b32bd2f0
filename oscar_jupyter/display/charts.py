"""Bar charts of class probabilities in plain HTML/CSS (no plotting library)."""
from __future__ import annotations

from typing import Any, List, Sequence, Tuple

from .html import FONT, Raw, esc

BAR_COLOR = "#1f77b4"


def top_classes(labels: Sequence[Any], probabilities: Sequence[Any], k: int) -> List[Tuple[str, float]]:
    """The `k` most probable (label, probability) pairs, highest first."""
    pairs = []
    for label, p in zip(labels, probabilities):
        try:
            pairs.append((str(label), float(p)))
        except (TypeError, ValueError):
            continue
    pairs.sort(key=lambda lp: lp[1], reverse=True)
    return pairs[:k]


def bar_chart(pairs: Sequence[Tuple[str, float]], *, width: int = 220) -> Raw:
    """Horizontal bars, one per (label, probability); widths are proportional to p in [0, 1].

    The label column is as wide as the longest label (at most 20 characters; longer ones
    are cut with an ellipsis and shown whole on hover)."""
    label_ch = min(20, max([4] + [len(label) for label, _ in pairs]))
    rows = []
    for label, p in pairs:
        frac = min(max(p, 0.0), 1.0)
        px = round(frac * width)
        rows.append(
            '<div style="display:flex; align-items:center; gap:6px; margin:1px 0">'
            f'<div style="width:{label_ch}ch; flex:none; text-align:right; overflow:hidden; text-overflow:ellipsis; '
            f'white-space:nowrap" title="{esc(label)}">{esc(label)}</div>'
            f'<div style="width:{width}px; background:var(--jp-layout-color2, #eee)">'
            f'<div class="oj-bar" style="width:{px}px; height:12px; background:{BAR_COLOR}"></div></div>'
            f'<div style="width:54px">{p * 100:.1f}%</div></div>')
    return Raw(f'<div style="{FONT}">{"".join(rows)}</div>')


def text_bars(pairs: Sequence[Tuple[str, float]], *, width: int = 20) -> str:
    """The same chart as text, for text/plain."""
    if not pairs:
        return ""
    lw = min(24, max(len(lbl) for lbl, _ in pairs))
    lines = []
    for label, p in pairs:
        n = round(min(max(p, 0.0), 1.0) * width)
        lines.append(f"  {label[:lw]:<{lw}} {'█' * n}{' ' * (width - n)} {p * 100:5.1f}%")
    return "\n".join(lines)
