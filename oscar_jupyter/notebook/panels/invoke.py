"""Invoke panel: run a service on dropped files or a notebook variable.

The input and the output are previewed side by side with the elapsed time.
Synchronous calls go through `Service.run` (`Service.map` for several files);
asynchronous ones upload the inputs to the service's input bucket with
`Service.submit` and wait for their jobs.
"""
from __future__ import annotations

import html
import logging
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

import ipywidgets as widgets

from oscar_jupyter import codecs
from oscar_jupyter.errors import OscarError

from . import preview
from .base import Panel

log = logging.getLogger(__name__)


class InvokePanel(Panel):
    """Pick a service and an input, run it, see input and output side by side.

    From code: `panel.invoke(data)` (bytes, a PIL image, a path, any value
    `Service.run` accepts), `panel.invoke_batch({name: data, ...})` for several
    inputs at once, or drop files on `panel.upload` / name a variable in
    `panel.variable` and call `panel.invoke()`. `panel.result` holds the last
    result (a `BatchResult` for a batch).
    """

    panel_title = "Invoke a service"

    def __init__(self, cluster: Any = None, service: Any = None, *, namespace: Optional[dict] = None,
                 timeout: Optional[float] = None, concurrency: int = 4, **kwargs: Any) -> None:
        super().__init__(cluster, **kwargs)
        self.namespace = namespace
        self.timeout = timeout
        self.concurrency = concurrency
        self.result: Any = None
        self.elapsed: Optional[float] = None

        self.service = widgets.Dropdown(description="Service", options=[],
                                        layout=widgets.Layout(width="24em"))
        self.reload_button = widgets.Button(icon="refresh", tooltip="Reload the service list",
                                            layout=widgets.Layout(width="3em"))
        self.upload = widgets.FileUpload(description="Drop or pick files", multiple=True,
                                         layout=widgets.Layout(width="16em"))
        self.variable = widgets.Text(description="or variable", placeholder="name in the notebook",
                                     layout=widgets.Layout(width="20em"))
        self.mode = widgets.ToggleButtons(options=[("sync", "sync"), ("async (bucket)", "async")],
                                          value="sync", tooltips=["POST /run: wait for the answer",
                                                                  "upload to the input bucket: a job"],
                                          style={"button_width": "9em"},
                                          layout=widgets.Layout(width="auto", flex="0 0 auto"))
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
            # the label stands beside the buttons: as the widget's own description it wraps them
            widgets.HBox([self.service, self.reload_button,
                          widgets.HTML("Mode", layout=widgets.Layout(margin="0 4px 0 12px")), self.mode],
                         layout=widgets.Layout(align_items="center")),
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
        """Run the selected service on `data` (else the dropped files, else the variable).

        Several dropped files make a batch (see `invoke_batch`).
        """
        if mode is not None:
            self.mode.value = mode
        if data is None:
            files = _uploaded(self.upload.value)
            if len(files) > 1:
                return self.invoke_batch(dict(files))
        label, value, filename = self._input(data)
        svc = self._service()
        preview.show(self.input_view, value, filename, caption=label or None)
        self.output_view.outputs = ()
        with self._running(svc.name):
            if self.mode.value == "sync":
                result = svc.run(value, timeout=self.timeout)
            else:
                # {name: data}: a dropped file keeps its name; other data gets a fresh
                # name, so no earlier upload is overwritten
                name = filename or _fresh_name(label or "input", value)
                result = _first_of_batch(svc.submit({name: value}, wait=True, progress=False,
                                                    timeout=self.timeout or 600.0))
        self._finish(svc.name, result)
        return result

    def invoke_batch(self, inputs: Dict[str, Any], *, mode: Optional[str] = None) -> Any:
        """Run the selected service on each of `inputs` ({name: data}); returns a `BatchResult`.

        Sync mode calls the service `concurrency` inputs at a time; async mode
        uploads them all to the input bucket and waits for their jobs. Failures
        stay on their items, the batch goes on.
        """
        if mode is not None:
            self.mode.value = mode
        if not inputs:
            raise OscarError("An empty batch: give at least one input.")
        svc = self._service()
        self.input_view.outputs = tuple(
            {"output_type": "display_data", "metadata": {},
             "data": preview.bundle_for(value, name)} for name, value in list(inputs.items())[:12])
        self.output_view.outputs = ()
        with self._running(svc.name, len(inputs)):
            if self.mode.value == "sync":
                result = svc.map(list(inputs.values()), concurrency=self.concurrency,
                                 progress=False, timeout=self.timeout)
                for item, name in zip(result, inputs):
                    item.name = name
            else:
                result = svc.submit(dict(inputs), wait=True, progress=False,
                                    timeout=self.timeout or 600.0)
        self._finish(svc.name, result, count=len(inputs))
        return result

    # -- internals --------------------------------------------------------------------
    def _service(self) -> Any:
        if not self.service.value:
            raise OscarError("Pick a service first (none is deployed?).")
        return self.cluster.service(self.service.value)

    def _running(self, name: str, count: int = 1) -> "_Running":
        what = f"{count} inputs" if count > 1 else "1 input"
        self.set_status(f"invoking {name} on {what} ({self.mode.value})…", "busy")
        return _Running(self)

    def _finish(self, name: str, result: Any, count: int = 1) -> None:
        self.result = result
        what = f"{count} results" if count > 1 else str(getattr(result, "kind", "") or "result")
        # a caption line like the input's keeps the two previews aligned side by side
        preview.show(self.output_view, result, caption=f"{name} → {what}")
        server = getattr(result, "elapsed", None)
        detail = f" (service {server:.2f} s)" if isinstance(server, (int, float)) and count == 1 else ""
        if count > 1:
            failed = len(getattr(result, "errors", []) or [])
            detail = f" for {count} inputs, {failed} failed"
        self.elapsed_html.value = f"elapsed <b>{self.elapsed:.2f} s</b>{html.escape(detail)}"
        self.set_status(f"{name} answered in {self.elapsed:.2f} s ({self.mode.value})", "ok")

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
        if not files:
            return
        self.variable.value = ""
        if len(files) == 1:
            preview.show(self.input_view, files[0][1], files[0][0], caption=files[0][0])
        else:
            self.input_view.outputs = tuple(
                {"output_type": "display_data", "metadata": {},
                 "data": preview.bundle_for(content, name)} for name, content in files[:12])


class _Running:
    """Disables the Invoke button while a call runs and records the elapsed time."""

    def __init__(self, panel: InvokePanel) -> None:
        self.panel = panel
        self.started = 0.0

    def __enter__(self) -> "_Running":
        self.panel.run_button.disabled = True
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.panel.run_button.disabled = False
        self.panel.elapsed = time.monotonic() - self.started


def _fresh_name(stem: str, value: Any) -> str:
    """`<stem>-<8 hex>.<ext>`, the extension `submit` would give `value`."""
    _, ext = codecs.payload(value)
    return f"{stem}-{uuid.uuid4().hex[:8]}.{ext.lstrip('.')}"


def _uploaded(value: Any) -> List[Tuple[str, bytes]]:
    """(name, content) of the files a FileUpload holds."""
    return [(item["name"], bytes(item["content"])) for item in (value or ())]


def _first_of_batch(batch: Any) -> Any:
    """The result of the only item of an asynchronous run (its error is raised)."""
    items = list(batch)
    if not items:
        raise OscarError("The asynchronous run produced no result.")
    item = items[0]
    if item.error is not None:
        raise item.error if isinstance(item.error, BaseException) else OscarError(str(item.error))
    return item.result
