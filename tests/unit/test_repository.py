"""What a new user meets before any code runs: the license, what Lab shows among the
tutorials, `--version`, how the test command reports skips and installs its tools."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_license_file_is_the_one_pyproject_names() -> None:
    assert _pyproject()["project"]["license"]["text"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the whole text, not a pointer to it


def test_lab_shows_only_the_tutorials_in_notebooks() -> None:
    # JupyterLab serves notebooks/: pytest's hooks live at the root, not among the tutorials;
    # models/ holds the tutorials' own material (the digits model tutorial 05 deploys)
    extra = [p.name for p in (ROOT / "notebooks").iterdir()
             if p.suffix != ".ipynb" and p.name not in (".ipynb_checkpoints", "__pycache__", "models")]
    assert extra == []
    material = [p.relative_to(ROOT / "notebooks").as_posix() for p in (ROOT / "notebooks" / "models").rglob("*")
                if p.is_file() and "__pycache__" not in p.parts]
    assert material and all(m.startswith("models/digits/") for m in material), material


@pytest.mark.parametrize("module, prog", [("oscar_jupyter.lab", "oscar-jupyter"),
                                          ("oscar_jupyter.local", "oscar-local")])
def test_both_commands_say_their_version(module: str, prog: str) -> None:
    from oscar_jupyter import __version__
    proc = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{prog} {__version__}"
    assert _pyproject()["project"]["version"] == __version__


def test_the_test_command_lists_skips_and_installs_the_reliability_tools() -> None:
    script = (ROOT / "scripts" / "test").read_text()
    pytest_line = next(l for l in script.splitlines() if l.startswith("python3 -m pytest"))
    assert " -rs " in pytest_line  # every skip shows its reason
    assert re.search(r'--reliability.*EXTRAS="\$EXTRAS,reliability"', script, re.S)
    reliability = _pyproject()["project"]["optional-dependencies"]["reliability"]
    assert any(r.startswith("schemathesis") for r in reliability)
    # the OpenAPI fuzzing test needs exactly that module
    assert 'importorskip("schemathesis"' in (ROOT / "tests/reliability/test_schemathesis_openapi.py").read_text()


def test_tutorials_are_stored_without_outputs_and_open_with_a_title() -> None:
    import json
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), path.name
        first = "".join(nb["cells"][0]["source"])
        # the docs site (sphinx -W) needs a '# Title' first
        assert nb["cells"][0]["cell_type"] == "markdown" and first.startswith("# "), path.name
