"""`LatencyChart`: per-call latencies of several ways to call a service, as one picture.

One row per series on a shared logarithmic time axis: a dot per call, a bar
from p50 to p99, and the figures beside it. Plain HTML/CSS like the other
charts (no plotting library); a text table for text/plain.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from . import html as h

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
WIDTH = 360  # px of the time axis


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank `q` percentile (0-100) of `values` (nan when empty)."""
    data = sorted(float(v) for v in values)
    if not data:
        return float("nan")
    rank = max(1, math.ceil(q / 100.0 * len(data)))
    return data[min(rank, len(data)) - 1]


def _ms(seconds: float) -> str:
    ms = seconds * 1000.0
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    return f"{seconds:.2f} s"


class LatencyChart:
    """Latencies in seconds per series: ``LatencyChart({"exposed": [...], "sync": [...]})``."""

    def __init__(self, series: Mapping[str, Sequence[float]], *, title: str = "latency per call") -> None:
        self.series: Dict[str, List[float]] = {str(k): [float(v) for v in vs] for k, vs in series.items()}
        self.title = title

    def stats(self) -> Dict[str, Dict[str, float]]:
        """``{name: {"n", "p50", "p99", "min", "max"}}`` in seconds."""
        return {name: {"n": len(vs), "p50": percentile(vs, 50), "p99": percentile(vs, 99),
                       "min": min(vs) if vs else float("nan"), "max": max(vs) if vs else float("nan")}
                for name, vs in self.series.items()}

    def __repr__(self) -> str:
        return render_latency(self)[0]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        from . import mimebundle
        return mimebundle(self, include=include, exclude=exclude)


def _tick(seconds: float) -> str:
    return f"{seconds * 1000:g} ms" if seconds < 1 else f"{seconds:g} s"


def _axis(chart: LatencyChart) -> Tuple[float, float]:
    values = [v for vs in chart.series.values() for v in vs if v > 0]
    if not values:
        return 1e-3, 1.0
    low = 10 ** math.floor(math.log10(min(values)))
    high = 10 ** math.ceil(math.log10(max(values)))
    return low, high if high > low else low * 10


def render_latency(chart: LatencyChart) -> Tuple[str, str]:
    stats = chart.stats()
    text_rows = [f"  {name:<12} n={s['n']:<4} p50 {_ms(s['p50']):>9}  p99 {_ms(s['p99']):>9}"
                 for name, s in stats.items()]
    text = chart.title + ("\n" + "\n".join(text_rows) if text_rows else "")
    low, high = _axis(chart)
    span = math.log10(high) - math.log10(low)

    def x(v: float) -> float:
        return (math.log10(max(v, low)) - math.log10(low)) / span * WIDTH

    rows = []
    for i, (name, values) in enumerate(chart.series.items()):
        colour = COLORS[i % len(COLORS)]
        s = stats[name]
        dots = "".join(f'<div style="position:absolute; left:{x(v) - 2:.1f}px; top:7px; width:5px; height:5px; '
                       f'border-radius:50%; background:{colour}; opacity:0.55"></div>' for v in values)
        band = ""
        if values:
            band = (f'<div title="p50 to p99" style="position:absolute; left:{x(s["p50"]):.1f}px; top:3px; '
                    f'width:{max(2.0, x(s["p99"]) - x(s["p50"])):.1f}px; height:13px; '
                    f'border:1px solid {colour}; border-left:3px solid {colour}"></div>')
        rows.append(
            '<div style="display:flex; align-items:center; gap:8px; margin:2px 0">'
            f'<div style="width:9ch; text-align:right; white-space:nowrap">{h.esc(name)}</div>'
            f'<div style="position:relative; width:{WIDTH}px; height:19px; '
            f'background:var(--jp-layout-color2, #f3f3f3)">{dots}{band}</div>'
            f'<div style="white-space:nowrap">p50 <b>{h.esc(_ms(s["p50"]))}</b> · p99 {h.esc(_ms(s["p99"]))}'
            f' · {h.count(s["n"], "call")}</div></div>')
    ticks = []
    decade = low
    while decade <= high * 1.0001:
        ticks.append(f'<div style="position:absolute; left:{x(decade):.1f}px; transform:translateX(-50%); '
                     f'{h.MUTED}; white-space:nowrap">{h.esc(_tick(decade))}</div>')
        decade *= 10
    axis = (f'<div style="display:flex; gap:8px"><div style="width:9ch"></div>'
            f'<div style="position:relative; width:{WIDTH}px; height:16px">{"".join(ticks)}</div></div>')
    html = h.title(chart.title) + f'<div style="{h.FONT}">{"".join(rows)}{axis}</div>' + \
        h.caption("log scale; a dot per call, the box from p50 to p99")
    return text, html
