"""Several output files (a zip answer, `FilesResult`) as a thumbnail gallery."""
from __future__ import annotations

from typing import Any, List, Tuple

from . import html as h
from .images import img_tag, to_pil
from .options import options


def entries(obj: Any) -> List[Tuple[str, Any]]:
    """(name, entry) pairs of a files result: a mapping, or one with `.files`."""
    files = getattr(obj, "files", None)
    source = files if files is not None else obj
    try:
        if hasattr(source, "items") and callable(source.items):
            return [(str(k), v) for k, v in source.items()]
    except Exception:
        pass
    return []


def _entry_size(entry: Any) -> str:
    raw = getattr(entry, "raw", None)
    if raw is None and isinstance(entry, (bytes, bytearray)):
        raw = entry
    return h.size(len(raw)) if isinstance(raw, (bytes, bytearray)) else ""


def _entry_kind(entry: Any) -> str:
    kind = getattr(entry, "kind", None)
    return str(kind) if kind else type(entry).__name__


def render_files(obj: Any) -> Tuple[str, str]:
    items = entries(obj)
    thumbs, others = [], []
    for name, entry in items:
        img = to_pil(entry) if len(thumbs) < options.max_thumbs else None
        if img is not None:
            thumbs.append(
                '<figure style="margin:0; width:%dpx; text-align:center">' % options.thumb_size
                + img_tag(img, max_side=options.thumb_size, max_bytes=options.thumb_bytes, alt=name,
                          display_side=options.thumb_size)
                + f'<figcaption style="{h.FONT}; overflow-wrap:anywhere">{h.esc(name)}</figcaption>'
                "</figure>")
        else:
            others.append((name, _entry_kind(entry), _entry_size(entry)))
    n_img = len(items) - len(others)
    gallery = ""
    if thumbs:
        more = n_img - len(thumbs)
        note = h.caption(f"{more} more images not shown") if more > 0 else ""
        gallery = ('<div style="display:flex; flex-wrap:wrap; gap:8px">' + "".join(thumbs)
                   + "</div>" + note)
    table = h.table(["file", "kind", "size"], others, max_rows=options.max_rows) if others else ""
    el = h.seconds(getattr(obj, "elapsed", None))
    head = h.title(h.count(len(items), "file") + (f" ({h.count(n_img, 'image')})" if n_img else ""))
    text = f"{type(obj).__name__}: {h.count(len(items), 'file')}" + (f" ({el})" if el else "")
    for name, entry in items[: options.max_rows]:
        text += f"\n  {name}  {_entry_kind(entry)} {_entry_size(entry)}".rstrip()
    return text, head + gallery + table + h.caption(el)
