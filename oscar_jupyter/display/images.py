"""Downscaled image previews embedded in HTML.

A preview is the image shrunk to a maximum side and encoded as PNG or JPEG,
whichever is smaller, then squeezed further (lower JPEG quality, smaller side)
until it fits a byte budget. The full image stays on the result object.
"""
from __future__ import annotations

import base64
import io
import logging
import os
from typing import Any, Optional, Tuple

from PIL import Image

from .html import Raw, esc

logger = logging.getLogger(__name__)

_IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
_MAX_OPEN_BYTES = 200 * 1024 * 1024


def to_pil(value: Any) -> Optional[Image.Image]:
    """Best-effort conversion of an image-like value to a PIL image (else None).

    Accepts PIL images, image results (`.image`), numpy arrays of pixels,
    encoded image bytes and paths to image files.
    """
    if value is None:
        return None
    if isinstance(value, Image.Image):
        return value
    img = getattr(value, "image", None)
    if isinstance(img, Image.Image):
        return img
    if type(value).__module__ == "numpy" or hasattr(value, "__array_interface__"):
        return _from_array(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(value))
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if len(path) < 4096 and os.path.splitext(path)[1].lower() in _IMAGE_EXTS:
            try:
                if os.path.isfile(path) and os.path.getsize(path) < _MAX_OPEN_BYTES:
                    with Image.open(path) as im:
                        im.load()
                        return im
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                logger.debug("not an image: %s (%s)", path, exc)
    return None


def _from_bytes(data: bytes) -> Optional[Image.Image]:
    if len(data) < 8 or len(data) > _MAX_OPEN_BYTES:
        return None
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
        return im
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _from_array(arr: Any) -> Optional[Image.Image]:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is optional
        return None
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))) or a.size == 0:
        return None
    if a.dtype != np.uint8:
        a = a.astype("float64")
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        if 0.0 <= lo and hi <= 1.0:
            a = a * 255.0
        elif hi > lo:
            a = (a - lo) * (255.0 / (hi - lo))
        a = np.nan_to_num(a).clip(0, 255).astype(np.uint8)
    return Image.fromarray(a)


def _flatten(img: Image.Image) -> Image.Image:
    """RGB or L copy suitable for JPEG (alpha composed over white)."""
    if img.mode in ("RGB", "L"):
        return img
    if img.mode in ("RGBA", "LA", "P", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return img.convert("RGB")


def downscale(img: Image.Image, max_side: int) -> Image.Image:
    """A copy no larger than `max_side` on its longest side (never upscaled)."""
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)
    w, h = img.size
    scale = min(1.0, max_side / float(max(w, h, 1)))
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGBA" if "transparency" in img.info or img.mode in ("P", "PA") else "RGB")
    if scale >= 1.0:
        return img.copy()
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return img.resize(size, Image.LANCZOS, reducing_gap=3.0)


def encode_preview(img: Image.Image, max_side: int, max_bytes: int) -> Tuple[str, bytes, Tuple[int, int]]:
    """Encode a preview of `img`: returns (mime type, bytes, preview size)."""
    small = downscale(img, max_side)
    while True:
        png = io.BytesIO()
        small.save(png, "PNG")
        best = ("image/png", png.getvalue())
        for quality in (85, 70, 50):
            jpg = io.BytesIO()
            _flatten(small).save(jpg, "JPEG", quality=quality, optimize=True)
            if len(jpg.getvalue()) < len(best[1]):
                best = ("image/jpeg", jpg.getvalue())
            if len(best[1]) <= max_bytes:
                break
        if len(best[1]) <= max_bytes or max(small.size) <= 32:
            return best[0], best[1], small.size
        small = downscale(small, int(max(small.size) * 0.7))


def img_tag(img: Image.Image, *, max_side: int, max_bytes: int, alt: str = "",
            display_side: Optional[int] = None) -> Raw:
    """An `<img>` tag with the preview embedded as a data URI."""
    mime, data, (w, h) = encode_preview(img, max_side, max_bytes)
    b64 = base64.b64encode(data).decode("ascii")
    side = display_side or max_side
    return Raw(f'<img src="data:{mime};base64,{b64}" alt="{esc(alt)}" width="{w}" height="{h}" '
               f'style="max-width:{side}px; max-height:{side}px; width:auto; height:auto; '
               f'image-rendering:auto">')


def describe(img: Image.Image) -> str:
    """'640×480 JPEG RGB' style summary of an image."""
    fmt = img.format or ""
    return " ".join(p for p in (f"{img.width}×{img.height}", fmt, img.mode) if p)
