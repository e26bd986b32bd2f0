"""`python -m bench` runs end to end and prints its table (tiny counts; speed is not asserted here)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_bench_prints_its_table(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    page = tmp_path / "benchmarks.md"
    proc = subprocess.run([sys.executable, "-m", "bench", "--sync", "5", "--uploads", "3", "--gap", "0.05",
                           "--first", "2", "-n", "5", "--files", "3", "--parses", "10", "--official", "2",
                           "--markdown", str(page), "--exposed-seconds", "0.5", "--exposed-clients", "1", "4",
                           "--model-sync", "2", "--model-exposed", "5"],
                          cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for row in ("/bin/sh direct", "oscar-local POST /run", "upload -> job script start", "ratio",
                "replica direct, 4 clients (baseline)", "p50 added, 1 client",
                "digits model per-invocation sync", "digits model exposed"):
        assert row in out, out
    line = next(l for l in out.splitlines() if l.startswith("oscar-local POST /run"))
    n, p50, p99 = line.split()[-3:]
    assert int(n) == 5 and 0 < float(p50) <= float(p99)
    # the official client is the baseline of the same call, both sizes
    for case in ("600x600 PNG -> grayscale", "10 MB answer"):
        assert f"oscar-python run_service, {case} (baseline)" in out and f"client Service.run, {case}" in out
    # the documentation's page: the same rows, the machine and the date
    text = page.read_text()
    assert text.startswith("# Benchmarks") and "- date: " in text and "- machine: " in text
    assert "| client Service.run, 10 MB answer | p50 ratio " in text
