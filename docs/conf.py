"""Sphinx configuration of the oscar-jupyter documentation site.

Built offline: ``sphinx-build -W -b html docs docs/_build/html`` (the test suite
runs it). Pages generated from the code (the magics reference from their
argparse help, every FDL validation message) are written into ``_generated/``
when the build starts, and the tutorials are executed against an oscar-local
that the build starts and stops (see ``_ext/oscar_docs.py``).
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "_ext"))

import oscar_jupyter  # noqa: E402

project = "oscar-jupyter"
author = "the oscar-jupyter authors"
copyright = "the oscar-jupyter authors, Apache-2.0"
release = version = oscar_jupyter.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "oscar_docs",
]
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
html_theme = "furo"
html_title = f"oscar-jupyter {release}"
html_static_path: list = []

# -- the tutorials: executed at build time with their outputs ------------------------------
nb_execution_mode = "cache"
nb_execution_cache_path = str(HERE / "_build" / ".jupyter_cache")
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- the API reference ---------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# Pages that land from other work: listed in the toctrees by name; while one is absent the
# build says which (see oscar_docs.optional_pages) instead of failing on the reference.
# Syntax highlighting of magic cells (`%%oscar_fdl` then YAML) falls back to plain text:
# cosmetic, not a problem in the page.
suppress_warnings: list = ["misc.highlighting_failure"]
from oscar_docs import copy_tutorials, missing_optional_pages  # noqa: E402

copy_tutorials(HERE)

if missing_optional_pages(HERE):
    suppress_warnings.append("toc.not_readable")
