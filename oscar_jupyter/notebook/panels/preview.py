"""Previews inside panels: any value or file content shown in an `Output` widget.

Panels set `Output.outputs` directly with a display_data entry (the mime bundle
of `oscar_jupyter.display`), which works with or without a running kernel.
Raw bytes are sniffed: images are previewed downscaled, text as text, anything
else as a size line.
"""
from __future__ import annotations

import copy
import html
import io
import logging
from typing import Any, Dict, Optional

import ipywidgets as widgets
from PIL import Image, UnidentifiedImageError

from oscar_jupyter import display
from oscar_jupyter.display.images import describe, img_tag, to_pil

log = logging.getLogger(__name__)

MAX_TEXT = 20_000


def bytes_to_value(data: bytes, name: str = "") -> Any:
    """Decode file content for display: a PIL image, text, or the bytes themselves."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        return image
    except (UnidentifiedImageError, OSError, ValueError):
        pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def bundle_for(value: Any, name: str = "") -> Dict[str, Any]:
    """The mime bundle previewing `value` (bytes are decoded first).

    Images get a plain downscaled preview; results are shown without their
    input (the panel shows the input beside them); anything else goes through
    `oscar_jupyter.display`.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        decoded = bytes_to_value(bytes(value), name)
        if isinstance(decoded, (bytes, bytearray)):
            label = f"{name}: " if name else ""
            return {"text/plain": f"{label}{len(decoded):,} bytes of binary data",
                    "text/html": f"<i>{html.escape(label)}{len(decoded):,} bytes of binary data</i>"}
        value = decoded
    if isinstance(value, str):
        text = value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "\n…"
        return {"text/plain": text,
                "text/html": f'<pre style="white-space:pre-wrap;margin:0">{html.escape(text)}</pre>'}
    image = to_pil(value) if not hasattr(value, "kind") else None
    if image is not None:
        opts = display.options
        tag = img_tag(image, max_side=opts.preview_size, max_bytes=opts.preview_bytes, alt=name)
        about = html.escape(describe(image))
        return {"text/plain": f"image {describe(image)}",
                "text/html": f'<div>{tag}<div style="color:#666;font-size:12px">{about}</div></div>'}
    if getattr(value, "input", None) is not None:
        value = copy.copy(value)
        value.input = None
    return display.mimebundle(value)


def show(output: widgets.Output, value: Any, name: str = "", caption: Optional[str] = None) -> None:
    """Replace what `output` shows with a preview of `value` (and an optional caption)."""
    entries = []
    if caption:
        entries.append({"output_type": "display_data", "metadata": {},
                        "data": {"text/plain": caption,
                                 "text/html": f"<b>{html.escape(caption)}</b>"}})
    entries.append({"output_type": "display_data", "metadata": {}, "data": bundle_for(value, name)})
    output.outputs = tuple(entries)


def show_text(output: widgets.Output, text: str) -> None:
    """Replace what `output` shows with plain text."""
    output.outputs = ({"output_type": "stream", "name": "stdout", "text": text},)
