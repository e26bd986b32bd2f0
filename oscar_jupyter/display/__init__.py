"""Rich display of oscar-jupyter objects as mime bundles.

`mimebundle(obj)` returns ``{"text/plain": ..., "text/html": ...}`` for any
object of this package: invocation results (by their `kind`), batch results,
service and job lists, storage listings, services, clusters and FDL objects.
Images are embedded once, downscaled to `options.preview_size` and squeezed
under a byte budget, so a notebook stays small; full data stays on the object.
It uses PIL and HTML strings only; nothing here imports IPython or ipywidgets.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple

from PIL import Image

from .batch import render_batch
from .exposed import (render_deployment, render_deployment_logs, render_exposed, render_model,
                      render_models)
from .fdl import render_fdl
from .gallery import render_files
from .latency import LatencyChart, render_latency
from .listings import (render_cluster, render_jobs, render_mapping, render_objects,
                       render_service, render_services)
from .options import Options, options
from .results import RENDERERS, guess_kind, render_bytes, render_image, render_text
from .table import Table, render_table
from .tree import json_text, json_tree

logger = logging.getLogger(__name__)

__all__ = ["mimebundle", "options", "Options", "renderer_for", "Table", "LatencyChart"]

Renderer = Callable[[Any], Tuple[str, str]]

_BY_KIND: Dict[str, Renderer] = dict(RENDERERS, files=render_files, batch=render_batch,
                                     pdf=render_bytes, deployment=render_deployment)
_BY_KIND.update({"deployment-logs": render_deployment_logs, "deepaas-model": render_model,
                 "deepaas-models": render_models})

_BY_CLASS: Dict[str, Renderer] = {
    "BatchResult": render_batch, "AsyncRun": render_batch, "FilesResult": render_files,
    "ServiceList": render_services, "JobList": render_jobs,
    "ObjectList": render_objects, "Listing": render_objects, "StorageListing": render_objects,
    "BucketList": render_objects,
    "Service": render_service, "Cluster": render_cluster,
    "FDL": render_fdl, "ServiceSpec": render_fdl, "Table": render_table,
    "ExposedService": render_exposed, "LatencyChart": render_latency,
}

# a list whose items all have one of these class names renders as that listing
_LIST_OF: Dict[str, Renderer] = {"Service": render_services, "Job": render_jobs}


class _PILView:
    def __init__(self, img: Image.Image) -> None:
        self.image = img


def _render_pil(obj: Image.Image) -> Tuple[str, str]:
    return render_image(_PILView(obj))


class _DataView:
    """Plain str/bytes presented to the text/bytes renderers."""

    shown_as = "bytes"

    def __init__(self, value: Any) -> None:
        if isinstance(value, str):
            self.text = value
        else:
            self.data = bytes(value)


def _render_str(obj: str) -> Tuple[str, str]:
    text, html = render_text(_DataView(obj))
    return text.split("\n", 1)[1] if "\n" in text else "", html


def _render_raw_bytes(obj: Any) -> Tuple[str, str]:
    return render_bytes(_DataView(obj))


def _render_json(obj: Any) -> Tuple[str, str]:
    return json_text(obj, limit=options.max_text), json_tree(obj, max_nodes=options.max_json_nodes)


def renderer_for(obj: Any) -> Optional[Renderer]:
    """The renderer that shows `obj`, or None when only text/plain applies."""
    kind = getattr(obj, "kind", None)
    if isinstance(kind, str) and kind in _BY_KIND:
        return _BY_KIND[kind]
    for cls in type(obj).__mro__:
        if cls.__name__ in _BY_CLASS:
            return _BY_CLASS[cls.__name__]
    if isinstance(obj, Image.Image):
        return _render_pil
    if isinstance(obj, str):
        return _render_str
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return _render_raw_bytes
    if isinstance(obj, (list, tuple)) and obj:
        names = {type(i).__name__ for i in obj}
        if len(names) == 1 and next(iter(names)) in _LIST_OF:
            return _LIST_OF[next(iter(names))]
    if hasattr(obj, "elapsed") or hasattr(obj, "raw"):
        guessed = guess_kind(obj)
        if guessed:
            return _BY_KIND[guessed]
    if isinstance(obj, Mapping) and obj and all(not isinstance(v, (Mapping, list)) for v in obj.values()):
        return lambda o: render_mapping(o, f"{len(o)} fields")
    if isinstance(obj, (Mapping, list)):
        return _render_json
    return None


def _filter(bundle: Dict[str, Any], include: Optional[Iterable[str]],
            exclude: Optional[Iterable[str]]) -> Dict[str, Any]:
    """Apply IPython's include/exclude mime-type filters, keeping text/plain."""
    if include:
        wanted = set(include) | {"text/plain"}
        bundle = {k: v for k, v in bundle.items() if k in wanted}
    if exclude:
        dropped = set(exclude) - {"text/plain"}
        bundle = {k: v for k, v in bundle.items() if k not in dropped}
    return bundle


def _plain(obj: Any) -> str:
    try:
        return repr(obj)
    except Exception:  # a broken repr must not break the display
        return f"<{type(obj).__name__}>"


def mimebundle(obj: Any, include: Optional[Iterable[str]] = None,
               exclude: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    """Return the mime bundle showing `obj` in a notebook (always has text/plain).

    Never raises: a renderer that fails falls back to the object's repr.
    """
    try:
        render = renderer_for(obj)
    except Exception:  # an attribute that raises while we look
        logger.debug("no renderer for %s", type(obj).__name__, exc_info=True)
        render = None
    bundle: Dict[str, Any]
    if render is None:
        bundle = {"text/plain": _plain(obj)}
    else:
        try:
            text, html = render(obj)
            bundle = {"text/plain": text,
                      "text/html": f'<div class="oscar-jupyter">{html}</div>'}
        except Exception:
            logger.warning("could not render %s; showing its repr", type(obj).__name__, exc_info=True)
            bundle = {"text/plain": _plain(obj)}
    return _filter(bundle, include, exclude)
