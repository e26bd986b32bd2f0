"""Sphinx extension of the oscar-jupyter docs: pages generated from the code, and the
oscar-local the tutorials execute against while the site is built.

* ``_generated/magics.md``: every ``%oscar`` sub-command and ``%%oscar_fdl`` with the
  help text of their own argparse parsers, and the ``%config OscarMagics`` options
  from their traitlets.
* ``_generated/fdl-messages.md``: every validation message the FDL and service-spec
  code can produce, read from that code (each ``Problem(...)`` message, the lint
  table of ``/bin/sh`` pitfalls, the errors the FDL loaders raise), with where it
  comes from.
* The tutorials execute (myst-nb) with ``OSCAR_ENDPOINT``/``OSCAR_USER``/
  ``OSCAR_PASSWORD`` pointing at an oscar-local started for the build.
"""
from __future__ import annotations

import ast
import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from sphinx.util import logging

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]

#: pages written by other parts of the project, listed in the toctrees by name
OPTIONAL_PAGES = ("security.md", "exposed-services.md", "tutorials/05-exposed-model.ipynb",
                  "benchmarks.md", "reliability.md")


def copy_tutorials(docs: Path) -> None:
    """notebooks/*.ipynb and the folders beside them into docs/tutorials/ (a copy, not a link: links between tutorials
    are resolved beside the file), rewritten only when changed so the execution cache holds."""
    target = docs / "tutorials"
    target.mkdir(exist_ok=True)
    sources = {p.name: p for p in sorted((ROOT / "notebooks").glob("*.ipynb"))}
    for stale in target.glob("*.ipynb"):
        if stale.name not in sources:
            stale.unlink()
    for name, source in sources.items():
        dest = target / name
        if not dest.exists() or dest.read_bytes() != source.read_bytes():
            shutil.copyfile(source, dest)
    # what the tutorials read beside themselves (the digits model's FDLs and code)
    for folder in sorted(p for p in (ROOT / "notebooks").iterdir() if p.is_dir() and not p.name.startswith(".")):
        shutil.copytree(folder, target / folder.name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))


def missing_optional_pages(docs: Path) -> List[str]:
    return [p for p in OPTIONAL_PAGES if not (docs / p).exists()]


# -- the magics reference -----------------------------------------------------------------------

def _subparsers(parser: Any) -> Dict[str, Any]:
    import argparse
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def magics_page() -> str:
    from oscar_jupyter.notebook import arguments
    from oscar_jupyter.notebook.magics import OscarMagics

    parser = arguments.build_oscar_parser()
    out = ["# Magics reference", "",
           "Generated from the magics' own argument parsers: this is what `%oscar help COMMAND` "
           "and `%oscar COMMAND --help` print. Load them with `%load_ext oscar_jupyter`.", "",
           "## `%oscar`", "", "```text", parser.format_help().rstrip(), "```", ""]
    for name, sub in _subparsers(parser).items():
        out += [f"### `%oscar {name}`", "", "```text", sub.format_help().rstrip(), "```", ""]
    out += ["## `%%oscar_fdl`", "", "```text", arguments.build_fdl_parser().format_help().rstrip(),
            "```", "", "## Options (`%config OscarMagics.NAME = VALUE`)", "",
            "| option | default | what it does |", "|---|---|---|"]
    for name, trait in OscarMagics.class_traits(config=True).items():
        help_text = (trait.help or "").replace("|", "\\|").replace("\n", " ")
        out.append(f"| `{name}` | `{trait.default_value!r}` | {help_text} |")
    return "\n".join(out) + "\n"


# -- every FDL validation message ---------------------------------------------------------------

_SOURCES = ("oscar_jupyter/spec", "oscar_jupyter/fdl")
_ERROR_CLASSES = {"InvalidDefinition", "InvalidFDL", "InvalidInput", "ConfigError", "FDLError"}


def _text_of(node: ast.AST) -> Optional[str]:
    """A message argument as readers see it: f-string fields shown as ‹expression›."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                parts.append("‹" + ast.unparse(value.value) + "›")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text_of(node.left), _text_of(node.right)
        if left is not None and right is not None:
            return left + right
    return None


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _messages_in(path: Path) -> Iterator[Tuple[str, int, str, str]]:
    """(function, line, kind, message) for each message built in the file."""
    tree = ast.parse(path.read_text(), str(path))
    scopes: List[Tuple[ast.AST, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                scopes.append((inner, node.name))
    owner = {id(n): name for n, name in scopes}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        arg: Optional[ast.AST] = None
        kind = ""
        if name == "Problem":
            arg = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "message"), None)
            severity = next((k.value for k in node.keywords if k.arg == "severity"), None)
            kind = "warning" if isinstance(severity, ast.Constant) and severity.value == "warning" else "error"
        elif name in _ERROR_CLASSES and node.args:
            arg, kind = node.args[0], "error"
        if arg is None:
            continue
        if isinstance(arg, ast.Name) and arg.id == "message":
            continue  # built by a helper: listed from the helper's own returns
        text = _text_of(arg)
        if text is None:
            text = "‹" + ast.unparse(arg) + "›"
        yield owner.get(id(node), "(module)"), node.lineno, kind, text


def _returned_messages(path: Path) -> Iterator[Tuple[str, int, str, str]]:
    """Messages that `check_*` helpers return for their callers to put in a Problem."""
    tree = ast.parse(path.read_text(), str(path))
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or "check" not in fn.name:
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and node.value.elts:
                first = node.value.elts[0]
                text = _text_of(first)
                severity = node.value.elts[-1]
                kind = severity.value if isinstance(severity, ast.Constant) and \
                    severity.value in ("error", "warning") else "error"
                if text and " " in text:
                    yield fn.name, node.lineno, kind, text


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


_EXAMPLE_FDL = """functions:
  oscar:
  - oscar-cluster:
      name: grayify
      image: ghcr.io/grycap/imagemagick
      memory: 512MB
      script: echo hi
"""


def _example_error() -> str:
    """What loading a real, wrong FDL says (not typed here: produced by the loader)."""
    from oscar_jupyter import errors, fdl
    try:
        fdl.load(_EXAMPLE_FDL)
    except errors.OscarError as exc:
        return str(exc).split("\n")[0] + "\n" + "\n".join(str(p) for p in getattr(exc, "problems", []))
    raise AssertionError("the example FDL was accepted: it must show a problem")


def fdl_messages_page() -> str:
    from oscar_jupyter.fdl import lint

    out = ["# Every validation message", "",
           "Generated from the code that checks FDLs and service definitions (each message as it is "
           "built there; `‹…›` is filled in with the field, value or name at hand). Errors stop a "
           "deploy; warnings are shown and the deploy goes on. A message is shown after the line "
           "and the field it is about; this FDL", "", "```yaml", _EXAMPLE_FDL.rstrip(), "```", "",
           "gets", "", "```text", _example_error(), "```", ""]
    for folder in _SOURCES:
        for path in sorted((ROOT / folder).glob("*.py")):
            found = list(_messages_in(path)) + list(_returned_messages(path))
            if not found:
                continue
            rel = path.relative_to(ROOT).as_posix()
            out += [f"## `{rel}`", "", "| kind | message | checked in |", "|---|---|---|"]
            for function, line, kind, text in sorted(found, key=lambda f: f[1]):
                out.append(f"| {kind} | {_md_cell(text)} | `{function}` (line {line}) |")
            out.append("")
    out += ["Where a row reads `‹err.message›`, the message is jsonschema's own for a schema rule "
            "other than a type, a required field or an unknown field (those three are worded above).", ""]
    bashisms = getattr(lint, "_BASHISMS", ())
    if bashisms:
        out += ["## Script warnings (`/bin/sh` pitfalls)", "",
                "OSCAR runs every script with `/bin/sh` (dash on Debian and Ubuntu images); "
                "these constructs are reported as `script line N: …` warnings:", "",
                "| warning |", "|---|"]
        for _, advice in bashisms:
            out.append(f"| {_md_cell(advice.replace('{word}', '‹word›'))} |")
        out.append("")
    return "\n".join(out)


# -- build hooks --------------------------------------------------------------------------------

def _write_generated(app: Any) -> None:
    target = Path(app.srcdir) / "_generated"
    target.mkdir(exist_ok=True)
    for name, text in (("magics.md", magics_page()), ("fdl-messages.md", fdl_messages_page())):
        path = target / name
        if not path.exists() or path.read_text() != text:  # unchanged pages are not rebuilt
            path.write_text(text)
    missing = missing_optional_pages(Path(app.srcdir))
    if missing:
        logger.info("oscar-jupyter docs: not yet present, left out of the site: %s", ", ".join(missing))


def _start_cluster(app: Any) -> None:
    if app.builder.name not in ("html", "dirhtml", "singlehtml", "linkcheck", "dummy"):
        return
    from oscar_jupyter import local

    data_dir = tempfile.mkdtemp(prefix="oscar-docs-")
    cluster = local.start(data_dir=data_dir, port=0)
    app.oscar_cluster = (cluster, data_dir, {k: os.environ.get(k) for k in
                                             ("OSCAR_ENDPOINT", "OSCAR_USER", "OSCAR_PASSWORD")})
    os.environ.update(OSCAR_ENDPOINT=cluster.endpoint, OSCAR_USER=cluster.user,
                      OSCAR_PASSWORD=cluster.password)


def _stop_cluster(app: Any, exception: Optional[BaseException]) -> None:
    held = getattr(app, "oscar_cluster", None)
    if not held:
        return
    cluster, data_dir, saved = held
    with contextlib.suppress(Exception):
        cluster.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def setup(app: Any) -> Dict[str, Any]:
    app.connect("builder-inited", _write_generated)
    app.connect("builder-inited", _start_cluster)
    app.connect("build-finished", _stop_cluster)
    return {"version": "1", "parallel_read_safe": False}
