"""FDL files (oscar-cli's Functions Definition Language) <-> :class:`FDL`.

An FDL is YAML::

    functions:
      oscar:
      - oscar-cluster:            # the cluster id key; several items may repeat it
          name: grayify
          image: ghcr.io/grycap/imagemagick
          script: script.sh       # a path relative to the FDL file, or the script itself
    storage_providers: {...}      # merged into every service
    clusters: {...}               # merged into every service

A bare service mapping (``name``, ``image``, ``script``, ...) is accepted too.

The text is read as a YAML node tree (libyaml's ``CSafeLoader`` when present:
it reads the trailing tabs published FDLs have), so every problem carries the
line and column of the bad value, of the unknown key, or of the mapping that
lacks a required field. All problems are collected before
:class:`~oscar_jupyter.errors.InvalidDefinition` is raised.

Script values are decided by one rule (:func:`script_is_path`): a value with
a line break is the script itself; a single line is a *path* when a file of
that name exists next to the FDL, or when it has no spaces or shell
characters and contains a ``/`` or ends in an extension (``run.sh``,
``scripts/x.py``); any other single line (``echo hello``) is the script
itself. Paths are read relative to the FDL's directory (the working
directory for cell text) and inlined, as ``oscar-cli apply`` does.

Values are read as oscar-cli's YAML decoder reads them (``normalise(...,
source="fdl")``): a number or boolean written for a text field is its text.

The parts: ``yaml_tree.py`` (YAML nodes with line marks), ``builder.py``
(data -> checked services, problems placed on lines), ``scripts.py`` (script
path or content), ``lint.py`` (bash-only constructs), ``document.py`` (the
:class:`FDL`), ``writer.py`` (write-back for oscar-cli), ``diff.py``
(local vs deployed), ``loading.py`` (:func:`load`).
"""
from __future__ import annotations

from .builder import TOP_LEVEL_KEYS
from .diff import diff_service
from .document import FDL
from .lint import lint_script
from .loading import load
from .scripts import script_is_path
from .writer import DEFAULT_CLUSTER_ID
from .yaml_tree import HAVE_LIBYAML, MAX_NODES

__all__ = ["DEFAULT_CLUSTER_ID", "FDL", "HAVE_LIBYAML", "MAX_NODES", "TOP_LEVEL_KEYS",
           "diff_service", "lint_script", "load", "script_is_path"]
