"""Previews inside panels: any value or file content shown in an `Output` widget.

Panels set `Output.outputs` directly with a display_data entry (the mime bundle
of `oscar_jupyter.display`), which works with or without a running kernel.
Raw bytes are sniffed: images are previewed downscaled, text as text, anything
else as a size line.
"""
from __future__ import annotations

import html
import io
import logging
from typing import Any, Dict, Optional

import ipywidgets as widgets
from PIL import Image, UnidentifiedImageError

from oscar_jupyter import display

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
    """The mime bundle previewing `value` (bytes are decoded first)."""
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
