"""The benchmark table: one row per figure, its goal beside it and whether it was met.

Rows that time a distribution also show its n, p50 and p99 in the last
columns; baseline rows (what a figure is compared with) have no goal.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

from .stats import percentile


@dataclass
class Row:
    """One line of the table."""

    measure: str
    value: str = ""
    goal: str = ""
    met: Optional[bool] = None  # None: a baseline, nothing to meet
    samples: Sequence[float] = ()  # seconds; shown as n, p50 ms, p99 ms

    @property
    def mark(self) -> str:
        return "" if self.met is None else ("pass" if self.met else "FAIL")


def goal_row(measure: str, value: float, fmt: str, goal: float, better: str,
             samples: Sequence[float] = (), label: str = "") -> Row:
    """A figure checked against ``goal`` (``better``: ``"lower"`` or ``"higher"``), both shown with
    ``fmt``; ``label`` prefixes the figure (``"p50 "``)."""
    ok: Callable[[float, float], bool] = (lambda v, g: v < g) if better == "lower" else (lambda v, g: v > g)
    sign = "<" if better == "lower" else ">"
    return Row(measure, label + fmt.format(value), f"{sign} {fmt.format(goal)}", ok(value, goal), samples)


def render(rows: List[Row], title: str) -> str:
    """The table as text (the header line, then one line per row)."""
    head = ("measure", "figure", "goal", "ok", "n", "p50 ms", "p99 ms")
    cells = []
    for r in rows:
        dist = (str(len(r.samples)), f"{percentile(r.samples, 50) * 1e3:.1f}",
                f"{percentile(r.samples, 99) * 1e3:.1f}") if r.samples else ("", "", "")
        cells.append((r.measure, r.value, r.goal, r.mark) + dist)
    widths = [max(len(str(c[i])) for c in cells + [head]) for i in range(len(head))]
    right = {4, 5, 6}

    def line(c: Sequence[str]) -> str:
        return "  ".join(str(x).rjust(w) if i in right else str(x).ljust(w)
                         for i, (x, w) in enumerate(zip(c, widths))).rstrip()

    rule = "-" * len(line(head))
    return "\n".join([title, line(head), rule] + [line(c) for c in cells] + [rule])


def markdown(rows: List[Row], title: str, machine: Sequence[str], command: str) -> str:
    """The table as a Markdown page: what was run, on which machine, when, and the figures."""
    lines = [f"# {title}", "", f"Written by `{command}`: do not edit by hand, run it again.", ""]
    lines += [f"- {m}" for m in machine] + ["", "| measure | figure | goal | ok | n | p50 ms | p99 ms |",
                                             "|---|---|---|---|---:|---:|---:|"]
    for r in rows:
        dist = (str(len(r.samples)), f"{percentile(r.samples, 50) * 1e3:.1f}",
                f"{percentile(r.samples, 99) * 1e3:.1f}") if r.samples else ("", "", "")
        cells = (r.measure, r.value, r.goal, r.mark) + dist
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
