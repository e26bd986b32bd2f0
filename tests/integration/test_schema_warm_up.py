"""The FDL schema's validator is built ahead of the first definition checked.

Importing jsonschema can take seconds (an optional format checker builds a
grammar at import). oscar-local builds the validator on a thread once it
serves, and ``%load_ext oscar_jupyter`` does in the kernel, so neither the
server's event loop nor a researcher's first ``%%oscar_fdl`` waits for it.
Each check runs in a fresh interpreter, where nothing has imported it yet.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_WAIT = """
import sys, threading, time
deadline = time.monotonic() + 60
while not ("validator" in SCHEMA_CACHE and "jsonschema" in sys.modules):
    assert time.monotonic() < deadline, "the validator was never built"
    time.sleep(0.05)
print("built by", sorted(t.name for t in threading.enumerate() if t.name == "oscar-fdl-schema") or "a finished thread")
"""


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_oscar_local_builds_the_validator_once_it_serves(tmp_path):
    out = _run(f"""
import sys
from oscar_jupyter import local
from oscar_jupyter.spec.schema import SCHEMA_CACHE
cluster = local.start(data_dir={str(tmp_path)!r}, port=0, password="warm-up-test")
try:
    assert "validator" not in SCHEMA_CACHE or "jsonschema" in sys.modules
{textwrap.indent(_WAIT, "    ")}
finally:
    cluster.stop()
""")
    assert "built by" in out


def test_loading_the_extension_builds_the_validator():
    out = _run(f"""
import sys
assert "jsonschema" not in sys.modules
from oscar_jupyter.notebook.testing import TestingShell
from oscar_jupyter.spec.schema import SCHEMA_CACHE
shell = TestingShell.preconfigured()
{_WAIT}
""")
    assert "built by" in out
