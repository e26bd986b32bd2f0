"""The layering the architecture promises: the core knows nothing of notebooks,
and oscar-local shares only the service model with the client."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "oscar_jupyter"


def test_importing_the_core_loads_no_notebook_machinery() -> None:
    code = ("import sys, oscar_jupyter, oscar_jupyter.cluster, oscar_jupyter.service, "
            "oscar_jupyter.results, oscar_jupyter.display, oscar_jupyter.fdl;"
            "print(sorted(m for m in ('IPython', 'ipywidgets', 'ipykernel') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the file's package
                parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)[:-node.level]
                base = ".".join(parts + ([base] if base else []))
                found.update(f"{base}.{alias.name}" for alias in node.names)
            found.add(base)
    return found


def test_no_core_module_imports_ipython_or_widgets() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "notebook" in path.relative_to(PACKAGE).parts:
            continue
        bad = {m for m in _imports(path) if m.split(".")[0] in ("IPython", "ipywidgets", "ipykernel")}
        if bad:
            offenders.append(f"{path.relative_to(PACKAGE)}: {sorted(bad)}")
    assert not offenders, offenders


def test_oscar_local_imports_only_the_service_model_from_the_client() -> None:
    offenders = []
    for path in (PACKAGE / "local").rglob("*.py"):
        for name in _imports(path):
            if name.startswith("oscar_jupyter.") and not (
                    name.startswith("oscar_jupyter.local") or name.startswith("oscar_jupyter.spec")):
                offenders.append(f"{path.name}: {name}")
    assert not offenders, offenders
