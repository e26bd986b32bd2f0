"""Batch and asynchronous results: one row per item with status, timing and output."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, List, Tuple

from ..errors import cause_line
from . import html as h
from .images import img_tag, to_pil
from .options import options
from .results import dumps_short, log_section

FAILED = {"failed", "error", "timeout", "timedout", "cancelled"}
OK = {"ok", "succeeded", "success", "done", "completed"}


def items_of(obj: Any) -> List[Any]:
    """The items of a batch result (`.items` list, or the object itself iterated)."""
    items = getattr(obj, "items", None)
    if items is not None and not callable(items):
        return list(items)
    try:
        return list(obj)
    except TypeError:
        return []


def status_of(item: Any) -> str:
    """'ok', 'failed' or another lower-case status for one item."""
    if getattr(item, "error", None) is not None:
        return "failed"
    status = str(getattr(item, "status", "") or "").lower()
    if status in OK or (not status and getattr(item, "result", None) is not None):
        return "ok"
    if status in FAILED:
        return "failed"
    return status or "pending"


def _label(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return h.truncate(value.replace("\\", "/").rsplit("/", 1)[-1] or value, 60)
    if isinstance(value, (bytes, bytearray)):
        return f"{len(value):,} bytes"
    name = getattr(value, "filename", None) or getattr(value, "name", None)
    if isinstance(name, str):
        return h.truncate(name, 60)
    shape = getattr(value, "size", None)
    if type(value).__module__.startswith("PIL"):
        return f"image {shape[0]}×{shape[1]}" if isinstance(shape, tuple) else "image"
    return dumps_short(value, 60)


def _thumb(value: Any, budget: List[int]) -> str:
    if budget[0] <= 0:
        return ""
    try:
        img = to_pil(value)
    except Exception:
        img = None
    if img is None:
        return ""
    budget[0] -= 1
    return img_tag(img, max_side=options.thumb_size // 2, max_bytes=options.thumb_bytes // 2,
                   alt="", display_side=options.thumb_size // 2)


def summarise(result: Any) -> str:
    """A short text summary of one item's result."""
    if result is None:
        return ""
    kind = getattr(result, "kind", None)
    if kind in ("predictions", "prediction"):
        pairs = sorted(zip(getattr(result, "labels", []) or [], getattr(result, "probabilities", []) or []),
                       key=lambda lp: -float(lp[1]))
        return f"{pairs[0][0]} ({float(pairs[0][1]) * 100:.1f}%)" if pairs else "no classes"
    if kind in ("detections", "detection"):
        return h.count(len(getattr(result, "boxes", []) or []), "detection")
    if kind == "text":
        return h.truncate(str(getattr(result, "text", "")).strip().replace("\n", " "), 80)
    if kind == "json":
        return dumps_short(getattr(result, "value", None), 80)
    if kind == "image":
        img = to_pil(result)
        return f"image {img.width}×{img.height}" if img is not None else "image"
    if kind == "files":
        try:
            return f"{len(result)} files"
        except TypeError:
            return "files"
    if isinstance(result, str):
        return h.truncate(result, 80)
    return kind or type(result).__name__


def _error_parts(item: Any) -> Tuple[str, str, Any]:
    """(message, cause, object with the log) of a failed item; the message leaves out
    the hint to read `.log` when the log itself is at hand."""
    err = getattr(item, "error", None)
    log = getattr(err, "log", None) or getattr(item, "log", None) or ""
    if not isinstance(log, str) or not log.strip():
        log = ""
    message = (getattr(err, "summary", None) or getattr(err, "message", None)) if log else None
    if not isinstance(message, str) or not message:
        message = str(err) if str(err) else type(err).__name__
    message = message.splitlines()[0] if message.strip() else type(err).__name__
    return message, cause_line(log) if log else "", SimpleNamespace(log=log)


def _error_cell(item: Any) -> str:
    if getattr(item, "error", None) is None:
        return ""
    message, cause, with_log = _error_parts(item)
    html = f"<div>{h.esc(h.truncate(message, 200))}</div>"
    if cause:
        html += (f'<div style="color:#c62828; {h.FONT}; white-space:pre-wrap">'
                 f"{h.esc(h.truncate(cause, 300))}</div>")
    return html + log_section(with_log)


def elapsed_of(item: Any) -> str:
    """How long one item took; a job's whole-second times that are equal give '< 1 s'."""
    elapsed = getattr(item, "elapsed", None)
    if getattr(item, "job", None) and elapsed == 0:
        return "< 1 s"
    return h.seconds(elapsed)


def render_batch(obj: Any) -> Tuple[str, str]:
    items = items_of(obj)
    statuses = [status_of(i) for i in items]
    n_ok = statuses.count("ok")
    n_fail = statuses.count("failed")
    n_other = len(items) - n_ok - n_fail
    el = h.seconds(getattr(obj, "elapsed", None))
    summary = f"{h.count(len(items), 'item')}: {n_ok} ✓, {n_fail} ✗" + (f", {n_other} pending" if n_other else "") \
        + (f" in {el}" if el else "")
    budget = [options.max_thumbs]
    rows = []
    text_rows = []
    for idx, (item, st) in enumerate(zip(items, statuses)):
        mark = {"ok": h.badge("✓", "#2e7d32"), "failed": h.badge("✗", "#c62828")}.get(st) \
            or h.badge(st, "#757575")
        inp = getattr(item, "input", None)
        res = getattr(item, "result", None)
        name = getattr(item, "name", None)
        label = name if isinstance(name, str) and name and not name.isdigit() else _label(inp)
        in_cell = h.Raw(_thumb(inp, budget) + f'<div style="white-space:nowrap">{h.esc(label)}</div>')
        out_cell = h.Raw(_thumb(res, budget) + f'<div style="white-space:nowrap">{h.esc(summarise(res))}</div>')
        rows.append([idx, in_cell, mark, elapsed_of(item),
                     out_cell if st != "failed" else h.Raw(_error_cell(item))])
        if st == "failed":
            message, cause, _ = _error_parts(item)
            detail = h.truncate(message + (f" ({cause})" if cause else ""), 160)
        else:
            detail = summarise(res)
        sym = {"ok": "✓", "failed": "✗"}.get(st, st)
        text_rows.append(f"  {idx:>3} {sym} {label[:30]:<30} "
                         f"{elapsed_of(item):>8}  {detail}")
    table = h.table(["#", "input", "status", "elapsed", "output / error"], rows,
                    max_rows=options.max_rows)
    text = f"{type(obj).__name__}: {summary}\n" + "\n".join(text_rows[: options.max_rows])
    return text.rstrip(), h.title(summary) + table
