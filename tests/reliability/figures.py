"""The figures a reliability test measured, printed as one summary line (``pytest -s`` shows it)."""
from __future__ import annotations


def report(title: str, **figures: object) -> None:
    """Print ``[reliability] <title>: name=value, ...`` (floats to 3 significant digits)."""
    parts = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    print(f"\n[reliability] {title}: {parts}", flush=True)
