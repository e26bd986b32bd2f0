"""The figures a reliability test measured: printed as one summary line (``pytest -s`` shows
it) and, with ``--reliability-doc PATH``, written with the machine and the date as the
documentation's page (docs/reliability.md)."""
from __future__ import annotations

import json
import os
from typing import Dict, List, Sequence

#: set while a run writes the page: the file the figures are collected in (one JSON line each)
FIGURES_ENV = "OSCAR_RELIABILITY_FIGURES"


def _shown(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def report(title: str, **figures: object) -> None:
    """Print ``[reliability] <title>: name=value, ...`` (floats to 3 significant digits)."""
    parts = ", ".join(f"{k}={_shown(v)}" for k, v in figures.items())
    print(f"\n[reliability] {title}: {parts}", flush=True)
    path = os.environ.get(FIGURES_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"title": title, "figures": {k: _shown(v) for k, v in figures.items()}}) + "\n")


def write_page(figures_file: str, page: str, machine: Sequence[str], outcomes: Dict[str, str],
               command: str) -> None:
    """docs/reliability.md from the collected figures and each test's outcome."""
    rows: List[dict] = []
    if os.path.exists(figures_file):
        with open(figures_file, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    lines = ["# Reliability", "",
             f"Written by `{command}`: do not edit by hand, run it again. Each long run (load, bursts, "
             "SIGKILL restarts, stalled connections, fuzzing) against a real `oscar-local` process, "
             "with the figures it measured.", ""]
    lines += [f"- {m}" for m in machine] + ["", "## Figures", ""]
    for row in rows:
        lines += [f"### {row['title']}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {k} | {str(v).replace('|', '/')} |" for k, v in row["figures"].items()] + [""]
    lines += ["## Tests", "", "| test | outcome |", "|---|---|"]
    lines += [f"| `{name}` | {outcome} |" for name, outcome in sorted(outcomes.items())]
    with open(page, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
