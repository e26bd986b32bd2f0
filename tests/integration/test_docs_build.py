"""The documentation site builds offline with warnings as errors, the tutorials executed
against an oscar-local the build starts, and the generated pages hold what the code says."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("myst_nb", reason="the docs extra (sphinx, myst-nb, furo) is not installed")
pytestmark = pytest.mark.timeout(900)


def test_the_docs_build_with_warnings_as_errors(tmp_path: Path) -> None:
    out = tmp_path / "html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSCAR_")}
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=840)
    print(f"docs built in {time.monotonic() - t0:.0f} s")
    assert proc.returncode == 0, proc.stderr[-6000:]

    # the magics reference is their argparse help
    from oscar_jupyter.notebook import arguments
    magics = (out / "_generated" / "magics.html").read_text()
    for name in arguments.COMMANDS:
        assert f"%oscar {name}" in magics
    assert "--encoding" in magics and "map_concurrency" in magics
    # every Problem message of the rules is in the FDL guide's list
    messages = (out / "_generated" / "fdl-messages.html").read_text()
    assert "must be a Kubernetes quantity like" in messages and "did you mean" in messages
    # the API reference comes from the docstrings
    api = (out / "api.html").read_text()
    assert "oscar_jupyter.Service.run" in api and "Invoke synchronously" in api
    # tutorials are rendered with their outputs (images produced while building)
    first = (out / "tutorials" / "01-getting-started.html").read_text()
    assert "cell_output" in first and ("<img" in first or "image/png" in first)
    assert (out / "tutorials" / "06-real-cluster.html").exists()
    assert "deploy-panel" in (out / "panels.html").read_text()
