"""Exposed-service panel: deployment state and replicas (live), logs, stop/start/restart, web UI link.

`refresh()` reads the deployment; `auto_refresh = True` (or the checkbox)
refreshes it from a background thread every `interval` seconds until it is
switched off or the panel is closed (closing joins the thread). `stop()`,
`start()`, `restart()` and `show_logs()` are what the buttons do. The web UI
link opens ``path`` below the service's root in a new tab: directly, or through
jupyter-server-proxy when the browser cannot reach the cluster's port
(`oscar_jupyter.browser_links`).
"""
from __future__ import annotations

import html
import logging
import threading
from typing import Any, List

import ipywidgets as widgets

from oscar_jupyter import display
from oscar_jupyter.errors import OscarError

from .base import Panel, pre

log = logging.getLogger(__name__)

ACTIONS = ("stop", "start", "restart")


def exposed_names(cluster: Any) -> List[str]:
    """The names of the cluster's exposed services."""
    from oscar_jupyter.exposed import api_port, expose_settings
    return [s.name for s in cluster.services() if api_port(expose_settings(s.spec))]


class ExposedPanel(Panel):
    """Watch and manage one exposed service.

    From code: `refresh()`, `stop()`, `start()`, `restart()`, `show_logs(tail=200)`,
    `auto_refresh = True/False`, `path.value = "api"`; read `deployment`,
    `state_html.value`, `logs_html.value`, `ui_url`.
    """

    panel_title = "Exposed service"

    def __init__(self, cluster: Any = None, service: Any = None, *, interval: float = 2.0,
                 auto_refresh: bool = False, path: str = "", **kwargs: Any) -> None:
        super().__init__(cluster, **kwargs)
        self.interval = interval
        self.deployment: Any = None
        self._lock = threading.Lock()
        self.service = widgets.Dropdown(description="Service", options=[],
                                        layout=widgets.Layout(width="24em"))
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.auto = widgets.Checkbox(value=False, description=f"live (every {interval:g} s)", indent=False)
        self.buttons = {name: widgets.Button(description=name.capitalize(), icon=icon,
                                             button_style=style, layout=widgets.Layout(width="auto"))
                        for name, icon, style in (("stop", "stop", "warning"), ("start", "play", "success"),
                                                  ("restart", "repeat", ""))}
        self.logs_button = widgets.Button(description="Logs", icon="file-text-o",
                                          tooltip="Show the replicas' recent output")
        self.state_html = widgets.HTML("")
        self.path = widgets.Text(value=path, description="UI path", placeholder="e.g. api",
                                 layout=widgets.Layout(width="24em"))
        self.link_html = widgets.HTML("")
        self.logs_html = widgets.HTML("")

        self.on_click(self.refresh_button, self.refresh)
        for name, button in self.buttons.items():
            self.on_click(button, getattr(self, name))
        self.on_click(self.logs_button, self.show_logs)
        self.auto.observe(lambda ch: self.guarded(self._set_auto, ch["new"]), names="value")
        self.service.observe(lambda _ch: self.guarded(self._service_changed), names="value")
        self.path.observe(lambda _ch: self.guarded(self._draw_link), names="value")
        self.children = [
            self.title,
            widgets.HBox([self.service, self.refresh_button, self.auto]),
            self.state_html,
            widgets.HBox(list(self.buttons.values()) + [self.logs_button]),
            widgets.HBox([self.path, self.link_html]),
            self.logs_html,
            self.status,
        ]
        self._syncing = True
        try:
            self.service.options = exposed_names(self.cluster)
            if service is not None:
                name = service if isinstance(service, str) else service.name
                if name not in self.service.options:
                    raise OscarError(f"No exposed service named {name!r} on this cluster.",
                                     hint="Exposed services have an expose section with an api_port.")
                self.service.value = name
        finally:
            self._syncing = False
        if self.service.value:
            self._draw_link()
            self.refresh()
        else:
            self.set_status("no exposed services on this cluster", "info")
        if auto_refresh:
            self.auto_refresh = True

    # -- public API -------------------------------------------------------------------
    @property
    def auto_refresh(self) -> bool:
        return self.worker_alive

    @auto_refresh.setter
    def auto_refresh(self, on: bool) -> None:
        self.auto.value = bool(on)

    @property
    def ui_url(self) -> str:
        """The link the "open" anchor points at ('' with no service)."""
        if not self.service.value:
            return ""
        api = self._svc().exposed
        try:
            return api.browser_url(self.path.value.strip())
        finally:
            api.close()

    def refresh(self) -> Any:
        """Read the deployment and redraw its state."""
        if not self.service.value:
            return None
        dep = self._svc().deployment()
        with self._lock:
            self.deployment = dep
            self.state_html.value = display.mimebundle(dep).get("text/html", "")
        self.set_status(str(dep), "info")
        return dep

    def stop(self) -> Any:
        return self._act("stop")

    def start(self) -> Any:
        return self._act("start")

    def restart(self) -> Any:
        return self._act("restart")

    def show_logs(self, tail: int = 200) -> str:
        """Show (and return) the replicas' last `tail` lines, stamped."""
        logs = self._svc().deployment_logs(timestamps=True, tail_lines=tail)
        text = logs.text if logs.entries else (logs.message or "no log lines")
        self.logs_html.value = (f"<b>Output of {html.escape(self.service.value)}'s replicas</b>"
                                + pre(text, "20em"))
        return text

    def close(self) -> None:
        """Stop the live refresh (joining its thread) and close the panel."""
        self._syncing = True
        self.auto.value = False
        super().close()

    # -- internals --------------------------------------------------------------------
    def _svc(self) -> Any:
        return self.cluster.service(self.service.value)

    def _act(self, action: str) -> Any:
        name = self.service.value
        if not name:
            raise OscarError("No exposed service selected.")
        self.set_status(f"{action} {name}…", "busy")
        dep = getattr(self._svc(), action)()
        with self._lock:
            self.deployment = dep
            self.state_html.value = display.mimebundle(dep).get("text/html", "")
        self.set_status(f"{name}: {action} requested; {dep.summary()}", "ok")
        return dep

    def _draw_link(self) -> None:
        url = self.ui_url
        self.link_html.value = (f'<a href="{html.escape(url)}" target="_blank" rel="noopener" '
                                f'style="margin-left:8px">Open the web UI ↗</a>' if url else "")

    def _service_changed(self) -> None:
        if self._syncing:
            return
        self.logs_html.value = ""
        self._draw_link()
        self.refresh()

    def _set_auto(self, on: bool) -> None:
        self.keep_refreshing(on, name=f"oscar-exposed-{self.service.value}")
