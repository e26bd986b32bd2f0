"""Deleting after a confirmation: a hidden "Delete …?" strip and the ask / confirm / cancel flow.

A panel that deletes things mixes in `ConfirmedDelete`, calls
`init_confirmation(...)` in its constructor, places `confirm_box` among its
children, asks with `confirm_box.ask(name, question_html)` and does the
deletion in `delete_confirmed(name)`. `confirm_delete()` and
`cancel_delete()` are the public steps (also wired to the strip's buttons).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import ipywidgets as widgets

from oscar_jupyter.errors import OscarError


class DeleteConfirmation(widgets.HBox):
    """The strip: a question, a Delete and a Cancel button; hidden while nothing is pending.

    `pending` is the name asked about (None when nothing is). `nothing_pending`
    is the error `take()` raises when Delete is pressed with nothing pending.
    """

    def __init__(self, nothing_pending: str) -> None:
        self.nothing_pending = nothing_pending
        self.pending: Optional[str] = None
        self.question = widgets.HTML("")
        self.confirm_button = widgets.Button(description="Delete", button_style="danger", icon="trash")
        self.cancel_button = widgets.Button(description="Cancel")
        super().__init__([self.question, self.confirm_button, self.cancel_button],
                         layout=widgets.Layout(display="none"))

    def ask(self, name: str, question_html: str) -> None:
        """Show `question_html` (already escaped) about `name` and remember `name`."""
        self.pending = name
        self.question.value = f'<span style="color:#c01c28">{question_html}</span>'
        self.layout.display = None

    def take(self) -> str:
        """The pending name, forgetting it and hiding the strip; OscarError when none is pending."""
        name = self.pending
        if not name:
            raise OscarError(self.nothing_pending)
        self.cancel()
        return name

    def cancel(self) -> None:
        """Forget the pending name and hide the strip."""
        self.pending = None
        self.layout.display = "none"
        self.question.value = ""


class ConfirmedDelete:
    """Mixin for a `Panel`: `confirm_box.ask` → `confirm_delete()` (runs `delete_confirmed`) / `cancel_delete()`."""

    confirm_box: DeleteConfirmation
    on_click: Callable[[widgets.Button, Callable[[], Any]], None]

    def init_confirmation(self, nothing_pending: str) -> None:
        """Build `confirm_box` and wire its buttons (through the panel's error guard)."""
        self.confirm_box = DeleteConfirmation(nothing_pending)
        self.on_click(self.confirm_box.confirm_button, self.confirm_delete)
        self.on_click(self.confirm_box.cancel_button, self.cancel_delete)

    @property
    def pending_delete(self) -> Optional[str]:
        """The name waiting for a confirmation, or None."""
        return self.confirm_box.pending

    @property
    def confirm_html(self) -> widgets.HTML:
        """The question shown in the strip."""
        return self.confirm_box.question

    @property
    def confirm_button(self) -> widgets.Button:
        return self.confirm_box.confirm_button

    @property
    def cancel_button(self) -> widgets.Button:
        return self.confirm_box.cancel_button

    def confirm_delete(self) -> None:
        """Delete what was asked about (OscarError when nothing was)."""
        self.delete_confirmed(self.confirm_box.take())

    def cancel_delete(self) -> None:
        """Forget the pending deletion."""
        self.confirm_box.cancel()

    def delete_confirmed(self, name: str) -> None:
        """Delete `name`; the panel says how."""
        raise NotImplementedError
