"""The common frame of every panel: a title, a status line and error reporting.

Panels are `VBox` subclasses built from stock ipywidgets only. Every action a
button triggers is also a public method, so code and tests drive a panel the
same way a user does. Expected errors (`OscarError`) are shown as one line in
the status bar and re-raised to code callers; nothing secret is ever rendered.
"""
from __future__ import annotations

import html
import logging
import re
import threading
from typing import Any, Callable, Optional, TypeVar

import ipywidgets as widgets

from oscar_jupyter.errors import OscarError

log = logging.getLogger(__name__)

T = TypeVar("T")

_STATUS_STYLE = {
    "info": "color:#333",
    "busy": "color:#1a5fb4",
    "ok": "color:#26a269",
    "error": "color:#c01c28",
}


def resolve_cluster(cluster: Any = None) -> Any:
    """The cluster a panel works on: the one given, else the current one, else `connect()`."""
    if cluster is not None:
        return cluster
    import oscar_jupyter as oj

    current = getattr(oj, "current", None)
    if current is not None:
        try:
            found = current()
        except OscarError:
            found = None
        if found is not None:
            return found
    return oj.connect()


class Panel(widgets.VBox):
    """Base of the panels: `title`, a `status` line, `error` text, and a stoppable worker."""

    panel_title = "OSCAR"
    closes_children = True

    def __init__(self, cluster: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cluster = resolve_cluster(cluster)
        self.title = widgets.HTML(f"<b>{html.escape(self.panel_title)}</b>")
        self.status = widgets.HTML("")
        self.last_error: Optional[str] = None
        self._stop = threading.Event()
        self._worker: Optional[threading.Thread] = None
        self.add_class("oscar-panel")

    def __repr__(self) -> str:
        # The default widget repr lists every child's value (scripts, FDL text, a revealed
        # token) and ends up as the text/plain of the notebook output: keep it short.
        return f"<{type(self).__name__} on {getattr(self.cluster, 'id', '?')}>"

    # -- status line -------------------------------------------------------------------
    def set_status(self, text: str, kind: str = "info") -> None:
        """Show one line of status; `kind` is info, busy, ok or error."""
        style = _STATUS_STYLE.get(kind, _STATUS_STYLE["info"])
        redact = getattr(self.cluster, "redact", None)
        if kind == "error" and callable(redact):
            text = redact(text)  # an unexpected error's text could quote a credential
        self.status.value = f'<span class="oscar-status-{kind}" style="{style}">{html.escape(text)}</span>'
        if kind == "error":
            self.last_error = text
        else:
            self.last_error = None

    def status_text(self) -> str:
        """The status line as plain text (for code and tests)."""
        return html.unescape(re.sub(r"<[^>]+>", "", self.status.value))

    def guarded(self, action: Callable[..., T], *args: Any, **kwargs: Any) -> Optional[T]:
        """Run `action`, showing an expected error in the status line instead of raising.

        Used by button handlers, where an exception would only land in the
        browser console. Unexpected exceptions are logged with their traceback.
        """
        try:
            return action(*args, **kwargs)
        except OscarError as exc:
            self.set_status(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, "error")
            log.info("%s: %s", type(self).__name__, exc)
        except Exception as exc:  # noqa: BLE001 - a widget callback must not die silently
            self.set_status(f"{type(exc).__name__}: {exc}", "error")
            log.exception("%s action failed", type(self).__name__)
        return None

    def on_click(self, button: widgets.Button, action: Callable[[], Any]) -> None:
        """Wire `button` to `action` through `guarded`."""
        button.on_click(lambda _b: self.guarded(action))

    # -- background worker ------------------------------------------------------------
    def start_worker(self, target: Callable[[threading.Event], None], name: str) -> None:
        """Run `target(stop_event)` in a daemon thread; `stop_worker`/`close` end it."""
        self.stop_worker()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
        self._worker.start()

    def stop_worker(self, timeout: float = 5.0) -> None:
        """Signal the worker to stop and wait for it."""
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
        worker, self._worker = getattr(self, "_worker", None), None
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)

    def keep_refreshing(self, on: bool, name: str) -> None:
        """Refresh every ``self.interval`` seconds on a worker thread (``name``) while ``on``; the
        loop ends early once ``refresh_done()`` says so."""
        if not on:
            self.stop_worker()
            return

        def loop(stop: threading.Event) -> None:
            while not stop.wait(self.interval):
                self.guarded(self.refresh)
                if self.refresh_done():
                    return

        self.start_worker(loop, name=name)

    def refresh_done(self) -> bool:
        """Whether auto-refresh has nothing left to watch (a panel says when)."""
        return False

    @property
    def worker_alive(self) -> bool:
        """True while the background worker runs."""
        worker = getattr(self, "_worker", None)
        return worker is not None and worker.is_alive()

    def close(self) -> None:
        """Stop the worker, then close the panel and every widget in it."""
        self.stop_worker()
        for child in list(self.children):
            close_tree(child)
        for part in (self.layout, getattr(self, "style", None)):
            if isinstance(part, widgets.Widget):
                part.close()
        super().close()


def close_tree(widget: widgets.Widget) -> None:
    """Close `widget` and its descendants (a Box's close leaves its children open).

    Widgets with `closes_children` (panels, the token box) run their own close
    first: it stops threads and clears secrets while the children still exist.
    """
    if getattr(widget, "closes_children", False):
        widget.close()
        return
    for child in list(getattr(widget, "children", ())):
        close_tree(child)
    close_one(widget)


def close_one(widget: widgets.Widget) -> None:
    """Close `widget` and its own Layout and Style models (`close` leaves those open)."""
    for part in (getattr(widget, "layout", None), getattr(widget, "style", None)):
        if isinstance(part, widgets.Widget):
            part.close()
    widget.close()


#: Characters of a log or a document a panel sends to the browser; a longer text shows its end.
MAX_TEXT = 60_000


def pre(text: str, max_height: str = "20em", limit: int = MAX_TEXT) -> str:
    """HTML for a scrollable, escaped block of text; past `limit` characters only the end
    is shown (where a log says how it finished), after a note of what was left out."""
    note = ""
    if len(text) > limit:
        note = (f'<div style="color:#666"><i>… the first {len(text) - limit:,} of '
                f"{len(text):,} characters are not shown</i></div>")
        text = text[-limit:]
    return (f'{note}<pre style="max-height:{max_height};overflow:auto;margin:0;'
            f'white-space:pre-wrap">{html.escape(text)}</pre>')
