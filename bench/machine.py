"""What a benchmark or reliability figure was measured on: the machine, its load, the date."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from typing import List


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe() -> List[str]:
    """One line each: date, CPU, memory, OS, Python, load when measured."""
    lines = [f"date: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
             f"machine: {os.cpu_count()} cores, {cpu_model()}"]
    try:
        import psutil
        lines.append(f"memory: {psutil.virtual_memory().total / 2**30:.1f} GiB")
    except ImportError:  # pragma: no cover - psutil is a dependency
        pass
    lines.append(f"system: {platform.system()} {platform.release()}, Python {sys.version.split()[0]}")
    if hasattr(os, "getloadavg"):
        one, five, _ = os.getloadavg()
        lines.append(f"load average when measured: {one:.1f} (1 min), {five:.1f} (5 min): "
                     "other work shares the machine, ratios against same-run baselines absorb it")
    return lines
