"""Services browser: a filterable table of services with per-service actions.

Actions: invoke (opens the invoke panel below the table), jobs and logs (the
jobs monitor), FDL (the definition as oscar-cli reads it, token removed), edit
(the deploy panel on that FDL),
token (masked; revealed in a text box for a few seconds so it can be copied,
never written into the notebook's outputs) and delete with a confirmation.
"""
from __future__ import annotations

import html
import logging
import threading
from typing import Any, Callable, Dict, List, Optional

import ipywidgets as widgets
import yaml

from oscar_jupyter import fdl as fdl_module
from oscar_jupyter.errors import InvalidDefinition
from oscar_jupyter.spec import redact_service

from .base import Panel, close_one, close_tree, pre
from .confirm import ConfirmedDelete
from .deploy import DeployPanel
from .invoke import InvokePanel
from .jobs import JobsPanel

log = logging.getLogger(__name__)

# Fields the Manager sets or reports that do not belong in an FDL a user applies.
_SERVER_FIELDS = ("token", "owner", "interlink_node_name")


def _spec(svc: Any) -> Dict[str, Any]:
    spec = getattr(svc, "spec", None)
    if callable(spec):
        spec = spec()
    if hasattr(spec, "to_dict"):
        spec = spec.to_dict()
    return dict(spec or {})


def _kind(spec: Dict[str, Any]) -> str:
    if spec.get("expose") and (spec["expose"].get("api_port") not in (None, 0, [], "")):
        return "exposed"
    if spec.get("input"):
        return "async + sync"
    return "sync"


class TokenBox(widgets.HBox):
    """A service token, masked; `reveal()` shows it in a text box for `seconds`, then clears it.

    The token travels only in the widget's model while revealed: it is never
    part of an HTML string or a notebook output.
    """

    def __init__(self, token_getter: Callable[[], str], seconds: float = 20.0) -> None:
        self._getter = token_getter
        self.seconds = seconds
        self._timer: Optional[threading.Timer] = None
        self.masked = widgets.HTML("<code>••••••••••••••••</code>")
        self.field = widgets.Text(value="", placeholder="click Reveal to copy",
                                  layout=widgets.Layout(width="36em", display="none"))
        self.reveal_button = widgets.Button(description="Reveal to copy", icon="eye",
                                            tooltip=f"Show the token for {seconds:g} s")
        self.hide_button = widgets.Button(description="Hide", icon="eye-slash",
                                          layout=widgets.Layout(display="none"))
        self.reveal_button.on_click(lambda _b: self.reveal())
        self.hide_button.on_click(lambda _b: self.hide())
        super().__init__([self.masked, self.field, self.reveal_button, self.hide_button])

    def __repr__(self) -> str:
        return f"<TokenBox {'revealed' if self.revealed else 'hidden'}>"

    @property
    def revealed(self) -> bool:
        """True while the token is in the text box."""
        return bool(self.field.value)

    def reveal(self) -> None:
        """Put the token in the text box (select it and copy) and hide it again later."""
        self.field.value = self._getter()
        self.field.layout.display = None
        self.masked.layout.display = "none"
        self.hide_button.layout.display = None
        self.reveal_button.layout.display = "none"
        self._cancel()
        self._timer = threading.Timer(self.seconds, self.hide)
        self._timer.daemon = True
        self._timer.start()

    def hide(self) -> None:
        """Clear the token from the widget."""
        self._cancel()
        self.field.value = ""
        self.field.layout.display = "none"
        self.masked.layout.display = None
        self.hide_button.layout.display = "none"
        self.reveal_button.layout.display = None

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    closes_children = True

    def close(self) -> None:
        """Clear the token, then close the box and its widgets."""
        self.hide()
        for child in list(self.children):
            close_one(child)
        self.layout.close()
        super().close()


class ServicesPanel(ConfirmedDelete, Panel):
    """Browse the cluster's services.

    From code: `refresh()`, `filter.value = "text"`, `invoke(name)`,
    `show_jobs(name)`, `show_fdl(name)`, `edit(name)`, `show_token(name)`,
    `ask_delete(name)` then `confirm_delete()` / `cancel_delete()`;
    `row_buttons[name][action]` are the table's buttons.
    """

    panel_title = "Services"
    ACTIONS = ("invoke", "jobs", "fdl", "edit", "token", "delete")

    def __init__(self, cluster: Any = None, **kwargs: Any) -> None:
        super().__init__(cluster, **kwargs)
        self.services: List[Any] = []
        self.row_buttons: Dict[str, Dict[str, widgets.Button]] = {}
        self.filter = widgets.Text(placeholder="filter by name or image", description="Filter",
                                   continuous_update=True, layout=widgets.Layout(width="24em"))
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.count = widgets.HTML("")
        self.table = widgets.GridBox([], layout=widgets.Layout(
            grid_template_columns="minmax(10em, 1fr) minmax(12em, 2fr) 4em 6em 7em auto",
            grid_gap="2px 8px", align_items="center"))
        self.init_confirmation("Nothing to delete: press a service's delete button first.")
        self.detail = widgets.VBox([])

        self.filter.observe(lambda _ch: self._draw(), names="value")
        self.on_click(self.refresh_button, self.refresh)
        self.children = [self.title,
                         widgets.HBox([self.filter, self.refresh_button, self.count]),
                         self.table, self.confirm_box, self.detail, self.status]
        self.refresh()

    # -- public API -------------------------------------------------------------------
    def refresh(self) -> List[Any]:
        """Reload the services and redraw the table."""
        self.services = list(self.cluster.services())
        self._draw()
        count = len(self.services)
        self.set_status(f"{count} service{'' if count == 1 else 's'} on the cluster", "info")
        return self.services

    @property
    def visible_names(self) -> List[str]:
        """Names of the services the filter lets through."""
        return [s.name for s in self._filtered()]

    def invoke(self, name: str) -> InvokePanel:
        """Open the invoke panel for `name` below the table."""
        panel = InvokePanel(self.cluster, service=name)
        self._set_detail(panel)
        return panel

    def show_jobs(self, name: str) -> JobsPanel:
        """Open the jobs monitor (statuses and logs) for `name` below the table."""
        panel = JobsPanel(self.cluster, service=name)
        self._set_detail(panel)
        return panel

    def fdl_text(self, name: str) -> str:
        """The service's definition as an oscar-cli FDL (server-set fields and token removed)."""
        spec = _spec(self.cluster.service(name))
        for key in _SERVER_FIELDS:
            spec.pop(key, None)
        try:
            return fdl_module.load(spec).to_yaml(inline_scripts=True)
        except InvalidDefinition as exc:
            # a service this client would not accept (older Manager rules): show it as it is
            log.info("FDL of %s shown unvalidated: %s", name, exc.message)
            spec.pop("storage_providers", None)
            spec = redact_service(spec)  # cluster passwords, delegation headers: never shown
            return yaml.safe_dump({"functions": {"oscar": [{fdl_module.DEFAULT_CLUSTER_ID: spec}]}},
                                  sort_keys=False, allow_unicode=True)

    def show_fdl(self, name: str) -> str:
        """Show the service's FDL below the table."""
        text = self.fdl_text(name)
        self._set_detail(widgets.VBox([widgets.HTML(f"<b>FDL of {html.escape(name)}</b>"),
                                       widgets.HTML(pre(text, "30em"))]))
        return text

    def edit(self, name: str) -> DeployPanel:
        """Open the deploy panel on the service's FDL below the table; deploying refreshes the table."""
        panel = DeployPanel(self.cluster, fdl=self.fdl_text(name))
        panel.on_deployed(lambda _services: self.guarded(self.refresh))
        self._set_detail(panel)
        return panel

    def show_token(self, name: str) -> TokenBox:
        """Show the service's token masked, with a button that reveals it for copying."""
        box = TokenBox(lambda: str(self.cluster.service(name).token or ""))
        self._set_detail(widgets.VBox([widgets.HTML(f"<b>Token of {html.escape(name)}</b> "
                                                    "(for <code>Authorization: Bearer</code>)"), box]))
        return box

    def ask_delete(self, name: str) -> None:
        """Ask for a confirmation before deleting `name`."""
        spec = _spec(next((s for s in self.services if s.name == name), None))
        buckets = sorted({str(e.get("path", "")).split("/")[0]
                          for e in (spec.get("input") or []) + (spec.get("output") or [])
                          if isinstance(e, dict) and e.get("path")})
        also = f" and its buckets {', '.join(buckets)}" if buckets else ""
        self.confirm_box.ask(name, f"Delete service <b>{html.escape(name)}</b>{html.escape(also)}?")

    def delete_confirmed(self, name: str) -> None:
        """Delete the service `ask_delete` named (`confirm_delete()` calls this)."""
        self.set_status(f"deleting {name}…", "busy")
        self.cluster.delete(name)
        self.refresh()
        self.set_status(f"deleted {name}", "ok")

    def close(self) -> None:
        """Close the open detail (stopping its threads) and the panel."""
        self._set_detail(None)
        super().close()

    # -- internals --------------------------------------------------------------------
    def _filtered(self) -> List[Any]:
        needle = self.filter.value.strip().lower()
        if not needle:
            return list(self.services)
        return [s for s in self.services
                if needle in s.name.lower() or needle in str(_spec(s).get("image", "")).lower()]

    def _set_detail(self, widget: Optional[widgets.Widget]) -> None:
        old = list(self.detail.children)
        self.detail.children = [widget] if widget is not None else []
        for previous in old:
            close_tree(previous)  # stops a jobs monitor's thread, clears a revealed token

    def _draw(self) -> None:
        cells: List[widgets.Widget] = [widgets.HTML(f"<b>{h}</b>") for h in
                                       ("name", "image", "cpu", "memory", "type", "actions")]
        self.row_buttons = {}
        shown = self._filtered()
        for svc in shown:
            spec = _spec(svc)
            buttons = {}
            for action, icon, tip in (("invoke", "play", "Invoke"), ("jobs", "list", "Jobs and logs"),
                                      ("fdl", "file-text", "FDL"), ("edit", "pencil", "Edit"),
                                      ("token", "key", "Token"), ("delete", "trash", "Delete")):
                button = widgets.Button(icon=icon, tooltip=f"{tip}: {svc.name}",
                                        layout=widgets.Layout(width="2.8em"),
                                        button_style="danger" if action == "delete" else "")
                handler = {"invoke": self.invoke, "jobs": self.show_jobs, "fdl": self.show_fdl,
                           "edit": self.edit, "token": self.show_token,
                           "delete": self.ask_delete}[action]
                button.on_click(lambda _b, h=handler, n=svc.name: self.guarded(h, n))
                buttons[action] = button
            self.row_buttons[svc.name] = buttons
            cells += [widgets.HTML(f"<b>{html.escape(svc.name)}</b>"),
                      widgets.HTML(f"<code>{html.escape(str(spec.get('image', '')))}</code>"),
                      widgets.HTML(html.escape(str(spec.get("cpu", "")))),
                      widgets.HTML(html.escape(str(spec.get("memory", "")))),
                      widgets.HTML(_kind(spec)),
                      widgets.HBox(list(buttons.values()))]
        old, self.table.children = self.table.children, cells
        for widget in old:
            close_tree(widget)
        self.count.value = f"{len(shown)} of {len(self.services)} shown"
