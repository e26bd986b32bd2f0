"""Invoke panel: run a service on a dropped file or a notebook variable.

The input and the output are previewed side by side with the elapsed time.
Synchronous calls go through `Service.run`; asynchronous ones upload the input
to the service's input bucket with `Service.submit` and wait for the job.
"""
from __future__ import annotations

import html
import logging
import time
from typing import Any, List, Optional, Tuple

import ipywidgets as widgets

from oscar_jupyter.errors import OscarError

from . import preview
from .base import Panel

log = logging.getLogger(__name__)


class InvokePanel(Panel):
    """Pick a service and an input, run it, see input and output side by side.

    From code: `panel.invoke(data)` (bytes, a PIL image, a path, any value
    `Service.run` accepts), or set `panel.upload.value` / `panel.variable.value`
    and call `panel.invoke()`. `panel.result` holds the last result.
    """

    panel_title = "Invoke a service"

    def __init__(self, cluster: Any = None, service: Any = None, *, namespace: Optional[dict] = None,
                 timeout: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(cluster, **kwargs)
        self.namespace = namespace
        self.timeout = timeout
        self.result: Any = None
        self.elapsed: Optional[float] = None

        self.service = widgets.Dropdown(description="Service", options=[],
                                        layout=widgets.Layout(width="24em"))
        self.reload_button = widgets.Button(icon="refresh", tooltip="Reload the service list",
                                            layout=widgets.Layout(width="3em"))
        self.upload = widgets.FileUpload(description="Drop or pick a file", multiple=False,
                                         layout=widgets.Layout(width="16em"))
        self.variable = widgets.Text(description="or variable", placeholder="name in the notebook",
                                     layout=widgets.Layout(width="20em"))
        self.mode = widgets.ToggleButtons(options=[("sync", "sync"), ("async (bucket)", "async")],
                                          value="sync", description="Mode")
        self.run_button = widgets.Button(description="Invoke", button_style="primary", icon="play")
        self.elapsed_html = widgets.HTML("")
        self.input_view = widgets.Output(layout=widgets.Layout(width="50%", border="1px solid #ddd",
                                                               min_height="6em", overflow="auto"))
        self.output_view = widgets.Output(layout=widgets.Layout(width="50%", border="1px solid #ddd",
                                                                min_height="6em", overflow="auto"))
        self.input_view.add_class("oscar-invoke-input")
        self.output_view.add_class("oscar-invoke-output")

        self.on_click(self.reload_button, self.reload)
        self.on_click(self.run_button, lambda: self.invoke())
        self.upload.observe(self._on_upload, names="value")
        self.children = [
            self.title,
            widgets.HBox([self.service, self.reload_button, self.mode]),
            widgets.HBox([self.upload, self.variable]),
            widgets.HBox([self.run_button, self.elapsed_html]),
            widgets.HBox([widgets.VBox([widgets.HTML("<b>Input</b>"), self.input_view],
                                       layout=widgets.Layout(width="50%")),
                          widgets.VBox([widgets.HTML("<b>Output</b>"), self.output_view],
                                       layout=widgets.Layout(width="50%"))]),
            self.status,
        ]
        self.reload()
        if service is not None:
            self.select(service)

    # -- public API -------------------------------------------------------------------
    def reload(self) -> None:
        """Refresh the list of services."""
        current = self.service.value
        names = [s.name for s in self.cluster.services()]
        self.service.options = names
        if current in names:
            self.service.value = current

    def select(self, service: Any) -> None:
        """Choose the service to invoke (a name or a `Service`)."""
        name = service if isinstance(service, str) else service.name
        if name not in self.service.options:
            self.reload()
        if name not in self.service.options:
            raise OscarError(f"No service named {name!r} on this cluster.")
        self.service.value = name

    def invoke(self, data: Any = None, *, mode: Optional[str] = None) -> Any:
        """Run the selected service on `data` (else the dropped file, else the variable)."""
        if not self.service.value:
            raise OscarError("Pick a service first (none is deployed?).")
        if mode is not None:
            self.mode.value = mode
        label, value, filename = self._input(data)
        preview.show(self.input_view, value, filename, caption=label or None)
        self.output_view.outputs = ()
        svc = self.cluster.service(self.service.value)
        self.set_status(f"invoking {svc.name} ({self.mode.value})…", "busy")
        self.run_button.disabled = True
        started = time.monotonic()
        try:
            if self.mode.value == "sync":
                result = svc.run(value, timeout=self.timeout)
            else:
                # {name: data} keeps a dropped file's name (a (name, data) pair would be read
                # as a path when a file of that name exists in the working directory)
                inputs = {filename: value} if filename else [value]
                result = svc.submit(inputs, wait=True, timeout=self.timeout or 600.0,
                                    progress=False)
                result = _first_of_batch(result)
        finally:
            self.run_button.disabled = False
            self.elapsed = time.monotonic() - started
        self.result = result
        preview.show(self.output_view, result)
        server = getattr(result, "elapsed", None)
        detail = f" (service {server:.2f} s)" if isinstance(server, (int, float)) else ""
        self.elapsed_html.value = f"elapsed <b>{self.elapsed:.2f} s</b>{html.escape(detail)}"
        self.set_status(f"{svc.name} answered in {self.elapsed:.2f} s ({self.mode.value})", "ok")
        return result

    # -- internals --------------------------------------------------------------------
    def _input(self, data: Any) -> Tuple[str, Any, str]:
        """(caption, value, file name or '') of the input to send."""
        if data is not None:
            return "", data, ""
        files = _uploaded(self.upload.value)
        if files:
            return files[0][0], files[0][1], files[0][0]
        name = self.variable.value.strip()
        if name:
            return name, self._lookup(name), ""
        raise OscarError("No input: drop a file, name a notebook variable or call invoke(data).")

    def _lookup(self, name: str) -> Any:
        namespace = self.namespace
        if namespace is None:
            from IPython import get_ipython

            shell = get_ipython()
            namespace = shell.user_ns if shell is not None else {}
        if name not in namespace:
            raise OscarError(f"No variable named {name!r} in the notebook.")
        return namespace[name]

    def _on_upload(self, _change: Any) -> None:
        files = _uploaded(self.upload.value)
        if files:
            self.variable.value = ""
            preview.show(self.input_view, files[0][1], files[0][0], caption=files[0][0])


def _uploaded(value: Any) -> List[Tuple[str, bytes]]:
    """(name, content) of the files held by a FileUpload (ipywidgets 7 and 8 shapes)."""
    items = value.values() if isinstance(value, dict) else (value or ())
    files = []
    for item in items:
        name = item.get("name") or item.get("metadata", {}).get("name", "upload")
        files.append((name, bytes(item["content"])))
    return files


def _first_of_batch(batch: Any) -> Any:
    """The result of the only item of an asynchronous run (its error is raised)."""
    if hasattr(batch, "result") and callable(getattr(batch, "result")):
        batch = batch.result()
    items = list(getattr(batch, "items", None) or batch)
    if not items:
        raise OscarError("The asynchronous run produced no result.")
    item = items[0]
    error = getattr(item, "error", None)
    if error is not None:
        raise error if isinstance(error, BaseException) else OscarError(str(error))
    return getattr(item, "result", item)
