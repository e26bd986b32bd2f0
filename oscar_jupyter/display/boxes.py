"""Detection boxes: normalising the shapes detectors return and drawing them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, List, Mapping, Optional, Tuple

from PIL import Image, ImageDraw, ImageFont

PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40)]


@dataclass
class Box:
    """One detection in pixel coordinates of the input image."""

    label: str
    confidence: Optional[float]
    x1: float
    y1: float
    x2: float
    y2: float


def _num(v: Any) -> Optional[float]:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _get(obj: Any, *names: str) -> Any:
    for n in names:
        if isinstance(obj, Mapping) and n in obj:
            return obj[n]
        if not isinstance(obj, Mapping) and hasattr(obj, n):
            return getattr(obj, n)
    return None


def normalise(boxes: Iterable[Any]) -> List[Box]:
    """Read boxes given as DEEPaaS dicts (`{"name","confidence","box":{x1..}}`),
    flat dicts/objects (`label/score/x1..y2`, `bbox=[x1,y1,x2,y2]`), or `Box`."""
    out: List[Box] = []
    for b in boxes or ():
        if isinstance(b, Box):
            out.append(b)
            continue
        label = _get(b, "label", "name", "class", "cls")
        conf = _num(_get(b, "confidence", "score", "probability", "prob"))
        inner = _get(b, "box", "bbox", "bounding_box")
        coords: Tuple[Optional[float], ...]
        if isinstance(inner, (list, tuple)) and len(inner) == 4:
            coords = tuple(_num(v) for v in inner)
        else:
            src = inner if inner is not None else b
            coords = tuple(_num(_get(src, k)) for k in ("x1", "y1", "x2", "y2"))
            if None in coords:
                x, y, w, h = (_num(_get(src, k)) for k in ("x", "y", "width", "height"))
                if None not in (x, y, w, h):
                    coords = (x, y, x + w, y + h)
        if None in coords:
            continue
        x1, y1, x2, y2 = coords  # type: ignore[misc]
        out.append(Box("" if label is None else str(label), conf,
                       min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
    return out


def color_for(label: str, labels: List[str]) -> Tuple[int, int, int]:
    """A stable palette color per distinct label."""
    return PALETTE[labels.index(label) % len(PALETTE)] if label in labels else PALETTE[0]


def draw_boxes(image: Image.Image, boxes: Iterable[Box], *, scale: float = 1.0) -> Image.Image:
    """A copy of `image` with each box outlined and labelled; coordinates times `scale`."""
    out = image.convert("RGB") if image.mode != "RGB" else image.copy()
    draw = ImageDraw.Draw(out)
    width = max(2, round(max(out.size) / 170))
    font_size = max(10, round(max(out.size) / 40))
    try:
        font = ImageFont.load_default(size=font_size)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    boxes = list(boxes)
    labels = sorted({b.label for b in boxes})
    for b in boxes:
        color = color_for(b.label, labels)
        rect = [b.x1 * scale, b.y1 * scale, b.x2 * scale, b.y2 * scale]
        draw.rectangle(rect, outline=color, width=width)
        text = b.label if b.confidence is None else f"{b.label} {b.confidence:.2f}"
        if text:
            left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
            tw, th = right - left, bottom - top
            ty = rect[1] - th - 4 if rect[1] - th - 4 >= 0 else rect[1]
            draw.rectangle([rect[0], ty, rect[0] + tw + 4, ty + th + 4], fill=color)
            draw.text((rect[0] + 2 - left, ty + 2 - top), text, fill=(255, 255, 255), font=font)
    return out
