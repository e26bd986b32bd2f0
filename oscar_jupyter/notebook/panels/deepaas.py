"""DEEPaaS predict form: one stock widget per predict argument of a model, built from its
OpenAPI document; the answer shown as `Service.run` results are (a bar chart for a
classification).

File arguments take a dropped file (`FileUpload`) or the name of a notebook
variable (an image, an array, bytes, a path); integers get an `IntText`,
numbers a `FloatText`, booleans a `Checkbox`, choices a `Dropdown`, the rest a
`Text`; ``accept`` is a `Dropdown` of the media types the model offers. From
code: set `inputs[name].value` (or `variables[name].value`), then `predict()`;
`result` holds the last `Result`.
"""
from __future__ import annotations

import html
import logging
from typing import Any, Dict, List, Optional

import ipywidgets as widgets

from oscar_jupyter import display
from oscar_jupyter.errors import InvalidInput, OscarError

from . import preview
from .base import Panel, close_tree
from .exposed import exposed_names

log = logging.getLogger(__name__)


def widget_for(arg: Any) -> widgets.Widget:
    """The stock widget that edits one (non-file) predict argument."""
    label = arg.name + (" *" if arg.required else "")
    tip = arg.description or arg.name
    layout = widgets.Layout(width="24em")
    style = {"description_width": "8em"}
    if arg.enum:
        options = [v for v in arg.enum if v != "*/*"] or list(arg.enum)
        value = arg.default if arg.default in options else options[0]
        return widgets.Dropdown(options=options, value=value, description=label, tooltip=tip,
                                layout=layout, style=style)
    if arg.type == "integer":
        return widgets.IntText(value=int(arg.default or 0), description=label, tooltip=tip,
                               layout=layout, style=style)
    if arg.type == "number":
        return widgets.FloatText(value=float(arg.default or 0.0), description=label, tooltip=tip,
                                 layout=layout, style=style)
    if arg.type == "boolean":
        return widgets.Checkbox(value=bool(arg.default), description=label, tooltip=tip, indent=False)
    return widgets.Text(value="" if arg.default is None else str(arg.default), description=label,
                        placeholder=tip[:60], tooltip=tip, layout=layout, style=style)


class DeepaasPanel(Panel):
    """A predict form for one DEEPaaS model of an exposed service."""

    panel_title = "DEEPaaS model"

    def __init__(self, cluster: Any = None, service: Any = None, *, model: Optional[str] = None,
                 namespace: Optional[dict] = None, **kwargs: Any) -> None:
        super().__init__(cluster, **kwargs)
        self.namespace = namespace
        self.model: Any = None
        self.result: Any = None
        self.inputs: Dict[str, widgets.Widget] = {}      # non-file arguments (accept included)
        self.uploads: Dict[str, widgets.FileUpload] = {}  # file arguments: a dropped file ...
        self.variables: Dict[str, widgets.Text] = {}      # ... or a notebook variable's name
        self._api: Any = None
        self.service = widgets.Dropdown(description="Service", options=[], layout=widgets.Layout(width="24em"))
        self.model_choice = widgets.Dropdown(description="Model", options=[], layout=widgets.Layout(width="24em"))
        self.about = widgets.HTML("")
        self.form = widgets.VBox([])
        self.predict_button = widgets.Button(description="Predict", icon="play", button_style="primary")
        self.output = widgets.Output(layout=widgets.Layout(border="1px solid #ddd", padding="4px",
                                                           min_height="3em"))
        self.on_click(self.predict_button, self.predict)
        self.service.observe(lambda _ch: self.guarded(self._service_changed), names="value")
        self.model_choice.observe(lambda _ch: self.guarded(self._model_changed), names="value")
        self.children = [self.title, widgets.HBox([self.service, self.model_choice]), self.about,
                         self.form, self.predict_button, self.output, self.status]
        self._syncing = True
        try:
            self.service.options = exposed_names(self.cluster)
            if service is not None:
                name = service if isinstance(service, str) else service.name
                if name not in self.service.options:
                    raise OscarError(f"No exposed service named {name!r} on this cluster.")
                self.service.value = name
        finally:
            self._syncing = False
        if self.service.value:
            self.load(model)

    # -- public API -------------------------------------------------------------------
    def load(self, model: Optional[str] = None) -> Any:
        """Read the selected service's models and build the form of `model` (default the first)."""
        self._close_api()
        self._api = self.cluster.service(self.service.value).exposed
        models = self._api.deepaas.models()
        self._syncing = True
        try:
            self.model_choice.options = models.names()
            if model is not None and model not in self.model_choice.options:
                raise OscarError(f"{self.service.value} serves no model {model!r} "
                                 f"(it serves {', '.join(models.names()) or 'none'}).")
            if models:
                self.model_choice.value = model if model is not None else models.names()[0]
        finally:
            self._syncing = False
        if not self.model_choice.value:
            raise OscarError(f"{self.service.value} serves no DEEPaaS models.")
        self.model = models[self.model_choice.value]
        self._build()
        self.set_status(f"{self.model.name}: {len(self.model.arguments)} predict arguments", "info")
        return self.model

    def predict(self) -> Any:
        """Predict with what the form holds; show and return the `Result`."""
        if self.model is None:
            raise OscarError("No model loaded.")
        files: Dict[str, Any] = {}
        for name in self.uploads:
            value = self._file_value(name)
            if value is not None:
                files[name] = value
        arguments: Dict[str, Any] = {}
        accept = None
        for name, widget in self.inputs.items():
            value = widget.value
            if name == "accept":
                accept = value
            elif not (isinstance(widget, widgets.Text) and value == ""):
                arguments[name] = value
        self.set_status(f"predicting with {self.model.name}…", "busy")
        result = self.model.predict(files=files, accept=accept, **arguments)
        self.result = result
        elapsed = getattr(result, "elapsed", None)
        caption = f"{self.model.name} → {getattr(result, 'kind', 'result')}" + \
            (f" in {display.html.seconds(elapsed)}" if elapsed is not None else "")
        preview.show(self.output, result, caption=caption)
        self.set_status(caption, "ok")
        return result

    def close(self) -> None:
        self._close_api()
        super().close()

    # -- internals --------------------------------------------------------------------
    def _close_api(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    def _file_value(self, name: str) -> Any:
        upload = self.uploads[name]
        if upload.value:
            item = upload.value[0]
            return (item["name"], bytes(item["content"]))
        variable = self.variables[name].value.strip()
        if not variable:
            return None
        namespace = self.namespace
        if namespace is None:
            try:
                from IPython import get_ipython
                shell = get_ipython()
            except ImportError:  # pragma: no cover - IPython comes with ipywidgets
                shell = None
            namespace = shell.user_ns if shell is not None else {}
        if variable not in namespace:
            raise InvalidInput(f"No notebook variable named {variable!r} for {name!r}.")
        return namespace[variable]

    def _build(self) -> None:
        old = list(self.form.children)
        self.inputs, self.uploads, self.variables = {}, {}, {}
        rows: List[widgets.Widget] = []
        for arg in self.model.arguments:
            if arg.is_file:
                self.uploads[arg.name] = widgets.FileUpload(description=arg.name + (" *" if arg.required else ""),
                                                            multiple=False, layout=widgets.Layout(width="16em"))
                self.variables[arg.name] = widgets.Text(placeholder="or a variable's name",
                                                        layout=widgets.Layout(width="14em"))
                rows.append(widgets.HBox([self.uploads[arg.name], self.variables[arg.name],
                                          widgets.HTML(f'<span style="color:#666">'
                                                       f'{html.escape(arg.description)}</span>')]))
            else:
                self.inputs[arg.name] = widget_for(arg)
                rows.append(self.inputs[arg.name])
        if not self.uploads:  # a server without an OpenAPI document: one file field named data
            self.uploads["data"] = widgets.FileUpload(description="data", multiple=False)
            self.variables["data"] = widgets.Text(placeholder="or a variable's name")
            rows.insert(0, widgets.HBox([self.uploads["data"], self.variables["data"]]))
        self.form.children = rows
        for widget in old:
            close_tree(widget)
        self.about.value = display.mimebundle(self.model).get("text/html", "")

    def _service_changed(self) -> None:
        if not self._syncing:
            self.load()

    def _model_changed(self) -> None:
        if not self._syncing and self._api is not None:
            self.model = self._api.deepaas.models()[self.model_choice.value]
            self._build()
