"""Renderers for one invocation result, by its `kind`.

Each renderer takes the result and returns ``(text, html)``. Results are read
through duck-typed attributes (`kind`, `image`, `value`, `labels`, ...) so any
object with the documented attributes renders.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import html as h
from .boxes import Box, color_for, draw_boxes, normalise
from .charts import bar_chart, text_bars, top_classes
from .images import describe, downscale, img_tag, to_pil
from .options import options
from .tree import json_text, json_tree

Rendered = Tuple[str, str]


def name_of(obj: Any) -> str:
    """The type name shown in text/plain headers."""
    return getattr(type(obj), "shown_as", None) or type(obj).__name__


def elapsed_of(obj: Any) -> str:
    return h.seconds(getattr(obj, "elapsed", None))


def input_image(obj: Any):
    """The input of a result as a PIL image, when it was an image."""
    try:
        return to_pil(getattr(obj, "input", None))
    except Exception:  # an odd input must never break the display
        return None


def preview(img, label: str, *, side: Optional[int] = None) -> h.Raw:
    """One preview with a caption under it."""
    side = side or options.preview_size
    return h.Raw(img_tag(img, max_side=side, max_bytes=options.preview_bytes, alt=label)
                 + h.caption(label, describe(img)))


def with_input(obj: Any, output_html: str) -> str:
    """Put the input image, when there is one, beside the rendered output."""
    img = input_image(obj)
    if img is None:
        return output_html
    return h.row(preview(img, "input"), h.Raw(output_html))


def log_section(obj: Any) -> str:
    """A collapsed excerpt of the result's log (its tail), if it has one."""
    log = getattr(obj, "log", None)
    if not isinstance(log, str) or not log.strip():
        return ""
    tail = log[-options.log_excerpt:]
    lines = len(log.rstrip("\n").splitlines())
    note = f"log ({lines} lines, last {len(tail):,} characters)" if len(tail) < len(log) \
        else f"log ({lines} lines)"
    return h.details(note, h.pre(tail, limit=options.log_excerpt))


def _header(obj: Any, summary: str) -> str:
    el = elapsed_of(obj)
    return f"{name_of(obj)}: {summary}" + (f" ({el})" if el else "")


def render_image(obj: Any) -> Rendered:
    img = to_pil(obj) or to_pil(getattr(obj, "raw", None))
    if img is None:
        return _header(obj, "image (not decodable)"), h.esc("image could not be decoded")
    cap = h.caption("output", describe(img), h.size(len(getattr(obj, "raw", b"") or b"")) if
                    isinstance(getattr(obj, "raw", None), (bytes, bytearray)) else "", elapsed_of(obj))
    out = h.Raw(img_tag(img, max_side=options.preview_size, max_bytes=options.preview_bytes,
                        alt="output") + cap)
    return _header(obj, describe(img)), with_input(obj, out) + log_section(obj)


def render_predictions(obj: Any) -> Rendered:
    labels = list(getattr(obj, "labels", None) or [])
    probs = list(getattr(obj, "probabilities", None) or [])
    top = top_classes(labels, probs, options.top_k)
    ranked = top_classes(labels, probs, len(labels))
    table = h.table(["#", "label", "probability"],
                    ([i + 1, lbl, f"{p * 100:.2f}%"] for i, (lbl, p) in enumerate(ranked)),
                    max_rows=options.max_rows)
    best = f"{top[0][0]} ({top[0][1] * 100:.1f}%)" if top else "no classes"
    body = h.Raw(h.title(f"top {len(top)} of {len(labels)} classes") + bar_chart(top)
                 + h.details("all classes", table) + h.caption(elapsed_of(obj)))
    text = _header(obj, best) + ("\n" + text_bars(top) if top else "")
    return text, with_input(obj, body) + log_section(obj)


def _box_label(label: str, labels: List[str]) -> h.Raw:
    """A label with a swatch of the colour its boxes are drawn in."""
    r, g, b = color_for(label, labels)
    return h.Raw(f'<span style="display:inline-block; width:10px; height:10px; margin-right:5px; '
                 f'background:rgb({r},{g},{b})"></span>{h.esc(label)}')


def render_detections(obj: Any) -> Rendered:
    """Boxes drawn over the input; a table (and text) listing them, most confident first,
    each label beside a swatch of its box colour."""
    boxes = normalise(getattr(obj, "boxes", None) or [])
    base = input_image(obj) or to_pil(getattr(obj, "image", None))
    parts = []
    if base is not None:
        small = downscale(base, options.preview_size)
        if boxes and all(max(b.x2, b.y2) <= 1.0 for b in boxes):
            # relative coordinates (fractions of the image): turn them into pixels
            boxes = [Box(b.label, b.confidence, b.x1 * base.width, b.y1 * base.height,
                         b.x2 * base.width, b.y2 * base.height) for b in boxes]
        scale = small.width / float(base.width or 1)
        drawn = draw_boxes(small, boxes, scale=scale)
        parts.append(img_tag(drawn, max_side=options.preview_size, max_bytes=options.preview_bytes,
                             alt="detections")
                     + h.caption(h.count(len(boxes), "detection"), describe(base), elapsed_of(obj)))
    labels = sorted({b.label for b in boxes})
    ranked = sorted(boxes, key=lambda b: -b.confidence if b.confidence is not None else float("inf"))
    table = h.table(["label", "confidence", "x1", "y1", "x2", "y2"],
                    ([_box_label(b.label, labels), "" if b.confidence is None else f"{b.confidence:.3f}",
                      f"{b.x1:.0f}", f"{b.y1:.0f}", f"{b.x2:.0f}", f"{b.y2:.0f}"] for b in ranked),
                    max_rows=options.max_rows, nowrap=(0,))
    parts.append(table)
    text = _header(obj, h.count(len(boxes), "detection"))
    for b in ranked[:10]:
        conf = "" if b.confidence is None else f" {b.confidence:.2f}"
        text += f"\n  {b.label}{conf} [{b.x1:.0f}, {b.y1:.0f}, {b.x2:.0f}, {b.y2:.0f}]"
    return text, h.row(*parts) + log_section(obj)


def render_json(obj: Any) -> Rendered:
    value = getattr(obj, "value", None)
    text = _header(obj, "JSON") + "\n" + json_text(value, limit=options.max_text)
    body = json_tree(value, max_nodes=options.max_json_nodes) + h.caption(elapsed_of(obj))
    return text, with_input(obj, body) + log_section(obj)


def render_text(obj: Any) -> Rendered:
    text = getattr(obj, "text", None)
    if not isinstance(text, str):
        text = str(getattr(obj, "raw", "") or "")
    shown = text if len(text) <= options.max_text else \
        text[: options.max_text] + f"\n… {len(text) - options.max_text:,} more characters"
    body = h.pre(text, limit=options.max_text) + h.caption(f"{len(text):,} characters", elapsed_of(obj))
    return _header(obj, f"{len(text):,} characters") + "\n" + shown, with_input(obj, body) + log_section(obj)


def _hexdump(data: bytes, n: int = 256) -> str:
    lines = []
    for off in range(0, min(len(data), n), 16):
        chunk = data[off: off + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{off:08x}  {hexes:<47}  {ascii_}")
    return "\n".join(lines)


def render_bytes(obj: Any) -> Rendered:
    data = getattr(obj, "data", None)
    if not isinstance(data, (bytes, bytearray)):
        data = getattr(obj, "raw", b"") or b""
    data = bytes(data)
    img = to_pil(data)
    if img is not None:
        return render_image(_ImageView(obj, img))
    summary = f"{h.size(len(data))} of binary data"
    body = h.Raw(h.title(summary) + h.pre(_hexdump(data), limit=options.max_text)
                 + h.caption(elapsed_of(obj)))
    return _header(obj, summary), with_input(obj, body) + log_section(obj)


class _ImageView:
    """Presents a non-image result whose payload is an image to `render_image`."""

    def __init__(self, obj: Any, img: Any) -> None:
        self._obj, self.image = obj, img

    def __getattr__(self, name: str) -> Any:
        return getattr(self._obj, name)


def render_array(obj: Any) -> Rendered:
    arr = getattr(obj, "array", None)
    shape = getattr(arr, "shape", None)
    dtype = getattr(arr, "dtype", None)
    summary = f"array shape={tuple(shape) if shape is not None else '?'} dtype={dtype}"
    parts = [h.title(summary)]
    img = None
    if shape is not None and len(shape) in (2, 3) and min(shape[:2]) >= 8:
        img = to_pil(arr)
    if img is not None:
        parts.append(img_tag(img, max_side=options.preview_size, max_bytes=options.preview_bytes,
                             alt="array"))
    try:
        import numpy as np
        rep = np.array2string(np.asarray(arr), threshold=200, edgeitems=3)
    except Exception:
        rep = repr(arr)
    parts.append(h.pre(rep, limit=options.max_text))
    parts.append(h.caption(elapsed_of(obj)))
    return _header(obj, summary) + "\n" + h.truncate(rep, options.max_text), \
        with_input(obj, h.Raw("".join(parts))) + log_section(obj)


RENDERERS: Dict[str, Callable[[Any], Rendered]] = {
    "image": render_image,
    "predictions": render_predictions,
    "prediction": render_predictions,
    "detections": render_detections,
    "detection": render_detections,
    "json": render_json,
    "text": render_text,
    "bytes": render_bytes,
    "array": render_array,
}


def guess_kind(obj: Any) -> Optional[str]:
    """The kind of a result-like object from its attributes (when `kind` is missing)."""
    if getattr(obj, "boxes", None) is not None:
        return "detections"
    if getattr(obj, "labels", None) is not None and getattr(obj, "probabilities", None) is not None:
        return "predictions"
    if to_pil(getattr(obj, "image", None)) is not None:
        return "image"
    if getattr(obj, "array", None) is not None:
        return "array"
    if isinstance(getattr(obj, "text", None), str):
        return "text"
    if isinstance(getattr(obj, "data", None), (bytes, bytearray)):
        return "bytes"
    if hasattr(obj, "value"):
        return "json"
    return None


def dumps_short(value: Any, limit: int = 80) -> str:
    """A compact one-line JSON-ish view of `value`."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(value)
    return h.truncate(text, limit)
