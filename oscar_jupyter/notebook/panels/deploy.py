"""Deploy panel: a service form kept in sync both ways with its FDL text.

Editing a form field rewrites the YAML; editing the YAML refills the form.
Every change is validated through `oscar_jupyter.fdl` and the problems are
listed with their field and line. `deploy()` applies the FDL and shows its
progress until the service is ready; `write_files()` and `download_links()`
hand the FDL and the script to oscar-cli.
"""
from __future__ import annotations

import base64
import copy
import html
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import ipywidgets as widgets
import yaml

from oscar_jupyter import fdl as fdl_module
from oscar_jupyter.errors import DefinitionWarning, InvalidDefinition, OscarError
from oscar_jupyter.spec import format_path

from .base import Panel

log = logging.getLogger(__name__)

DEFAULT_SCRIPT = """#!/bin/sh
# $INPUT_FILE_PATH is the input; write results to $TMP_OUTPUT_DIR
echo "processing $INPUT_FILE_PATH"
cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"
"""

def _wide() -> widgets.Layout:
    return widgets.Layout(width="98%")


_STYLE = {"description_width": "9em"}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "NOTSET")
#: Text areas holding code (the script, the FDL) keep their lines: wrapping would misplace
#: YAML indentation. Stock widgets take a CSS class; the rule rides along in the panel.
CODE_CLASS = "oscar-code"
CODE_STYLE = (f"<style>.{CODE_CLASS} textarea {{white-space: pre; overflow-wrap: normal; "
              "overflow-x: auto}</style>")


def _text(description: str, value: str = "", placeholder: str = "") -> widgets.Text:
    return widgets.Text(value=value, description=description, placeholder=placeholder,
                        continuous_update=False, layout=_wide(), style=_STYLE)


def _problem_line(problem: Any) -> Tuple[str, Optional[int], str, str]:
    """(field, line, message, severity) of one validation problem (`spec.Problem` or text)."""
    if isinstance(problem, str):
        return "", None, problem, "error"
    path = tuple(getattr(problem, "path", ()) or ())
    if path[:2] == ("functions", "oscar") and len(path) > 4:
        field = format_path(path[4:])  # the field inside its service; the line says which
    else:
        field = getattr(problem, "field", "") or ""
    message = getattr(problem, "message", None) or str(problem)
    value = getattr(problem, "value", None)
    if value is not None:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        message = f"{message} (got {shown})"
    suggestion = getattr(problem, "suggestion", None)
    if suggestion:
        message = f"{message}; did you mean {suggestion!r}?"
    return str(field), getattr(problem, "line", None), str(message), \
        str(getattr(problem, "severity", "error"))


class DeployPanel(Panel):
    """Create or update a service from a form or from FDL text, then deploy it.

    Drive it from code: set `panel.fdl_text.value = "..."` or the form widgets
    (`name`, `image`, `cpu`, `memory`, `gpu`, `script`, `env`, `input_path`,
    `output_path`, `min_scale`, `max_scale`, `api_port`), read `problems`
    (errors) and `warnings` (e.g. keys OSCAR ignores, each with the field it
    most likely meant), call `deploy()`, `write_files(folder)` or
    `download_links()`. Tick `strict` to make unknown keys errors.
    """

    panel_title = "Deploy a service"

    def __init__(self, cluster: Any = None, fdl: Any = None, *, cluster_id: Optional[str] = None,
                 ready_timeout: float = 120.0, **kwargs: Any) -> None:
        super().__init__(cluster, **kwargs)
        self.cluster_id = cluster_id or fdl_module.DEFAULT_CLUSTER_ID
        self.ready_timeout = ready_timeout
        self.problems: List[Any] = []
        self.warnings: List[Any] = []
        self.notices: List[str] = []
        self.deployed: List[Any] = []
        self._base: Dict[str, Any] = {}     # the service as last parsed: keeps fields the form lacks
        self._doc: Dict[str, Any] = {}      # the FDL document as last parsed: keeps other services
        self._syncing = False
        self._deploy_callbacks: List[Callable[[List[Any]], None]] = []

        self.name = _text("Name", placeholder="my-service (a DNS label)")
        self.image = _text("Image", "alpine:3.20", "registry/image:tag")
        self.cpu = _text("CPU", "0.5", "cores, e.g. 0.5")
        self.memory = _text("Memory", "256Mi", "e.g. 256Mi, 1Gi")
        self.cpu.layout.width = self.memory.layout.width = "49%"
        self.gpu = widgets.Checkbox(value=False, description="GPU", style=_STYLE)
        self.log_level = widgets.Dropdown(options=[("default (INFO)", "")] + [(v, v) for v in _LOG_LEVELS],
                                          value="", description="Log level", style=_STYLE)
        self.script = widgets.Textarea(value=DEFAULT_SCRIPT, description="Script",
                                       continuous_update=False, style=_STYLE,
                                       layout=widgets.Layout(width="98%", height="12em"))
        self.env = widgets.Textarea(value="", description="Environment", placeholder="KEY=value, one a line",
                                    continuous_update=False, style=_STYLE,
                                    layout=widgets.Layout(width="98%", height="5em"))
        self.input_path = _text("Input bucket", placeholder="bucket/folder (async trigger)")
        self.output_path = _text("Output bucket", placeholder="bucket/folder")
        self.min_scale = widgets.BoundedIntText(value=0, min=0, max=1000, description="Sync min scale",
                                                style=_STYLE)
        self.max_scale = widgets.BoundedIntText(value=0, min=0, max=1000, description="Sync max scale",
                                                style=_STYLE)
        self.api_port = widgets.BoundedIntText(value=0, min=0, max=65535, description="Expose port",
                                               style=_STYLE)
        self.form_fields = [self.name, self.image, self.cpu, self.memory, self.gpu, self.log_level,
                            self.script, self.env, self.input_path, self.output_path,
                            self.min_scale, self.max_scale, self.api_port]

        self.fdl_text = widgets.Textarea(value="", continuous_update=False,
                                         layout=widgets.Layout(width="98%", height="30em"))
        for code in (self.script, self.fdl_text):
            code.add_class(CODE_CLASS)  # YAML and scripts are not wrapped: indentation stays readable
        self.problems_html = widgets.HTML("")
        self.strict = widgets.Checkbox(value=False, description="Strict: unknown keys are errors",
                                       indent=False, layout=widgets.Layout(width="auto"))
        self.strict.observe(lambda _change: self.validate(), names="value")
        self.deploy_button = widgets.Button(description="Deploy", button_style="primary", icon="rocket")
        self.progress = widgets.IntProgress(value=0, min=0, max=4, description="",
                                            layout=widgets.Layout(width="16em", visibility="hidden"))
        self.folder = widgets.Text(value=".", description="Folder", continuous_update=False,
                                   layout=widgets.Layout(width="24em"))
        self.write_button = widgets.Button(description="Write FDL + script", icon="save",
                                           layout=widgets.Layout(width="auto"))
        self.links_button = widgets.Button(description="Download links", icon="download",
                                           layout=widgets.Layout(width="auto"))
        self.links = widgets.HTML("")
        self.diff_button = widgets.Button(description="Diff with deployed", icon="exchange",
                                          layout=widgets.Layout(width="auto"))
        self.diff_html = widgets.HTML("")

        for field in self.form_fields:
            field.observe(self._on_form_change, names="value")
        self.fdl_text.observe(self._on_fdl_change, names="value")
        self.on_click(self.deploy_button, self.deploy)
        self.on_click(self.write_button, lambda: self.write_files(self.folder.value))
        self.on_click(self.links_button, self.download_links)
        self.on_click(self.diff_button, self.diff)

        form = widgets.VBox(
            [self.name, self.image,
             widgets.HBox([self.cpu, self.memory], layout=_wide()),
             widgets.HBox([self.gpu, self.log_level]),
             self.script, self.env, self.input_path, self.output_path,
             widgets.HBox([self.min_scale, self.max_scale]), self.api_port],
            layout=widgets.Layout(width="50%"))
        yaml_box = widgets.VBox([widgets.HTML("<b>FDL</b> (oscar-cli <code>apply</code> format)"),
                                 self.fdl_text], layout=widgets.Layout(width="50%"))
        self.children = [
            widgets.HTML(CODE_STYLE),
            self.title,
            widgets.HBox([form, yaml_box]),
            self.problems_html,
            widgets.HBox([self.deploy_button, self.progress, self.diff_button, self.strict]),
            self.diff_html,
            widgets.HBox([self.write_button, self.folder, self.links_button]),
            self.links,
            self.status,
        ]
        if fdl is not None:
            self.load(fdl)
        else:
            self._on_form_change(None)

    # -- public API -------------------------------------------------------------------
    def load(self, source: Any) -> None:
        """Load an FDL (YAML text, a path, a dict or an `FDL`) into the editor and the form.

        Text is shown as written; anything else is shown as the FDL module writes
        it, scripts inlined and secret values blanked (fill them in before deploying).
        """
        if isinstance(source, str) and "\n" in source.strip():
            text = source
        else:
            text = fdl_module.load(source).to_yaml(inline_scripts=True)
        self.fdl_text.value = text
        self._on_fdl_change(None)

    def on_deployed(self, callback: Callable[[List[Any]], None]) -> None:
        """Call `callback(services)` after each successful deploy."""
        self._deploy_callbacks.append(callback)

    def service_dict(self) -> Dict[str, Any]:
        """The service the form describes, as an FDL service mapping."""
        svc: Dict[str, Any] = {k: v for k, v in self._base.items()}
        svc["name"] = self.name.value.strip()
        svc["image"] = self.image.value.strip()
        _set_or_drop(svc, "cpu", self.cpu.value.strip())
        _set_or_drop(svc, "memory", self.memory.value.strip())
        if self.gpu.value:
            svc["enable_gpu"] = True
        else:
            svc.pop("enable_gpu", None)
        _set_or_drop(svc, "log_level", self.log_level.value)
        svc["script"] = self.script.value
        variables = _parse_env(self.env.value)
        environment = dict(svc.get("environment") or {})
        environment.pop("Variables", None)
        if variables:
            environment["variables"] = variables
        else:
            environment.pop("variables", None)
        _set_or_drop(svc, "environment", environment)
        for key, widget in (("input", self.input_path), ("output", self.output_path)):
            _set_or_drop(svc, key, _with_path(svc.get(key), widget.value.strip()))
        sync = dict(svc.get("synchronous") or {})
        if self.min_scale.value or self.max_scale.value or sync:
            sync["min_scale"] = int(self.min_scale.value)
            sync["max_scale"] = int(self.max_scale.value)
        _set_or_drop(svc, "synchronous", sync)
        expose = dict(svc.get("expose") or {})
        if self.api_port.value:
            port, before = int(self.api_port.value), expose.get("api_port")
            # Manager v4.1 takes a list of ports: keep the shape the FDL had
            expose["api_port"] = [port] + before[1:] if isinstance(before, list) and before else port
        else:
            expose = {}
        _set_or_drop(svc, "expose", expose)
        return svc

    def fdl_dict(self) -> Dict[str, Any]:
        """The whole FDL document: the form's service first, other services kept as they are."""
        doc = copy.deepcopy(self._doc)
        functions = doc.get("functions") if isinstance(doc.get("functions"), dict) else {}
        oscar = functions.get("oscar") if isinstance(functions.get("oscar"), list) else []
        entry = {self.cluster_id: self.service_dict()}
        oscar = [entry] + oscar[1:]
        functions["oscar"] = oscar
        doc["functions"] = functions
        return doc

    def validate(self) -> List[Any]:
        """Validate the FDL text; list the problems in the panel and return the errors."""
        self.problems, self.warnings, self.notices = [], [], []
        try:
            loaded = self._load()
        except InvalidDefinition as exc:
            self.problems = list(exc.problems) or [exc.message]
            loaded = None
        except (OscarError, TypeError) as exc:
            self.problems = [str(exc)]
            loaded = None
        if loaded is not None:
            self.warnings = list(loaded.warnings)
            self.notices = [str(n) for n in loaded.notices]
            if len(loaded) > 1:
                self.notices.append(f"The form edits the first of {len(loaded)} services "
                                    f"({loaded.names[0]}); edit the others in the FDL text.")
        self._show_problems()
        return self.problems

    def deploy(self) -> List[Any]:
        """Validate, apply the FDL to the cluster and wait until the services are ready."""
        self.progress.layout.visibility = "visible"
        self.progress.bar_style = "info"
        self.progress.value = 0
        self.set_status("validating…", "busy")
        problems = self.validate()
        if problems:
            self.progress.bar_style = "danger"
            raise InvalidDefinition("The FDL has problems; nothing was deployed", problems)
        self.progress.value = 1
        loaded = self._load()
        started = time.monotonic()
        self.set_status("applying to the cluster…", "busy")
        try:
            with warnings.catch_warnings():  # the panel lists them
                warnings.simplefilter("ignore", DefinitionWarning)
                services = list(self.cluster.apply(loaded, wait=False, strict=self.strict.value))
            self.progress.value = 2
            for svc in services:
                self.set_status(f"waiting for {svc.name} to be ready…", "busy")
                svc.wait_ready(timeout=self.ready_timeout)
            self.progress.value = 4
        except Exception:
            self.progress.bar_style = "danger"
            raise
        self.progress.bar_style = "success"
        self.deployed = services
        names = ", ".join(s.name for s in services)
        self.set_status(f"deployed {names} in {time.monotonic() - started:.1f} s", "ok")
        for callback in self._deploy_callbacks:
            callback(services)
        return services

    def diff(self) -> Dict[str, str]:
        """What deploying would change: a unified diff per service ('' when the same or new)."""
        if self.validate():
            raise InvalidDefinition("The FDL has problems; fix them before comparing it", self.problems)
        loaded = self._load()
        deployed = {s.name for s in self.cluster.services()}
        diffs: Dict[str, str] = {}
        blocks = []
        for name in loaded.names:
            if name not in deployed:
                diffs[name] = ""
                blocks.append(f"<div><b>{html.escape(name)}</b>: new service</div>")
                continue
            diffs[name] = self.cluster.service(name).diff(loaded)
            body = _diff_html(diffs[name]) if diffs[name] else "no changes"
            blocks.append(f"<div><b>{html.escape(name)}</b>: {body}</div>")
        self.diff_html.value = "".join(blocks)
        changed = sum(1 for d in diffs.values() if d)
        self.set_status(f"{changed} of {len(diffs)} service(s) would change", "info")
        return diffs

    def write_files(self, folder: "str | os.PathLike[str]" = ".") -> List[Path]:
        """Write the FDL and its script(s) into `folder` the way oscar-cli `apply` reads them."""
        if self.validate():
            raise InvalidDefinition("The FDL has problems; fix them before writing it", self.problems)
        target = Path(folder).expanduser()
        target.mkdir(parents=True, exist_ok=True)
        written = self._write_fdl(target)
        self.set_status("wrote " + ", ".join(str(p) for p in written), "ok")
        return written

    def download_links(self) -> str:
        """HTML `download` links (data: URLs) for the FDL and the script; also shown in the panel."""
        if self.validate():
            raise InvalidDefinition("The FDL has problems; fix them before downloading it",
                                    self.problems)
        with tempfile.TemporaryDirectory(prefix="oscar-fdl-") as tmp:
            links = []
            for path in self._write_fdl(Path(tmp)):
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                mime = "text/yaml" if path.suffix in (".yaml", ".yml") else "text/x-sh"
                links.append(f'<a download="{html.escape(path.name)}" '
                             f'href="data:{mime};base64,{data}">⬇ {html.escape(path.name)}</a>')
        self.links.value = " &nbsp; ".join(links)
        return self.links.value

    # -- internals --------------------------------------------------------------------
    def _write_fdl(self, folder: Path) -> List[Path]:
        loaded = self._load()
        name = self.name.value.strip() or "service"
        fdl_path, scripts = loaded.write(folder, filename=f"{name}.yaml")
        return [Path(fdl_path)] + [Path(p) for p in scripts]

    def _load(self) -> Any:
        return fdl_module.load(self.fdl_text.value, strict=self.strict.value)

    def _on_form_change(self, _change: Any) -> None:
        if self._syncing:
            return
        try:
            doc = self.fdl_dict()
        except InvalidDefinition as exc:
            self.problems, self.notices = [str(exc)], []
            self._show_problems()
            return
        self._syncing = True
        try:
            self.fdl_text.value = _dump(doc)
        finally:
            self._syncing = False
        self.validate()
        self.links.value = ""

    def _on_fdl_change(self, _change: Any) -> None:
        if self._syncing:
            return
        self.validate()
        self.links.value = ""
        try:
            doc = yaml.load(self.fdl_text.value, Loader=_LOADER)
        except yaml.YAMLError:
            return  # the problem list already says where
        svc, cluster_id, _count = _first_service(doc)
        if svc is None:
            return
        self._syncing = True
        try:
            self._fill_form(svc)
            self.cluster_id = cluster_id or self.cluster_id
            self._doc = doc if "functions" in doc else {}
        finally:
            self._syncing = False

    def _fill_form(self, svc: Dict[str, Any]) -> None:
        self._base = dict(svc)
        self.name.value = str(svc.get("name") or "")
        self.image.value = str(svc.get("image") or "")
        self.cpu.value = "" if svc.get("cpu") is None else str(svc.get("cpu"))
        self.memory.value = str(svc.get("memory") or "")
        self.gpu.value = bool(svc.get("enable_gpu"))
        level = str(svc.get("log_level") or "").upper()
        self.log_level.value = level if level in _LOG_LEVELS else ""
        self.script.value = str(svc.get("script") or "")
        env = svc.get("environment") or {}
        variables = (env.get("variables") or env.get("Variables") or {}) if isinstance(env, dict) else {}
        self.env.value = "\n".join(f"{k}={_env_value(v)}" for k, v in variables.items()) \
            if isinstance(variables, dict) else ""
        self.input_path.value = _first_path(svc.get("input"))
        self.output_path.value = _first_path(svc.get("output"))
        sync = svc.get("synchronous") or {}
        self.min_scale.value = _int(sync.get("min_scale") if isinstance(sync, dict) else 0)
        self.max_scale.value = _int(sync.get("max_scale") if isinstance(sync, dict) else 0)
        expose = svc.get("expose") or {}
        port = expose.get("api_port") if isinstance(expose, dict) else 0
        if isinstance(port, list):
            port = port[0] if port else 0
        self.api_port.value = _int(port)

    def _show_problems(self) -> None:
        rows = []
        for problem in self.problems:
            field, line, message, _severity = _problem_line(problem)
            rows.append(_problem_row("✖", "#c01c28", field, line, message))
        for warning in self.warnings:
            field, line, message, _severity = _problem_line(warning)
            rows.append(_problem_row("⚠", "#c64600", field, line, message))
        for notice in self.notices:
            rows.append(_problem_row("ℹ", "#986a00", "", None, notice))
        valid = "" if self.problems else '<span style="color:#26a269">✔ valid</span>'
        table = ('<table class="oscar-problems">' + "".join(rows) + "</table>") if rows else ""
        self.problems_html.value = valid + table


def _diff_html(diff: str) -> str:
    """A unified diff as HTML, added lines green and removed lines red."""
    lines = []
    for line in diff.splitlines():
        colour = ("#26a269" if line.startswith("+") and not line.startswith("+++") else
                  "#c01c28" if line.startswith("-") and not line.startswith("---") else "#555")
        lines.append(f'<span style="color:{colour}">{html.escape(line)}</span>')
    return ('<pre style="margin:0;max-height:20em;overflow:auto">' + "\n".join(lines) + "</pre>")


def _problem_row(mark: str, colour: str, field: str, line: Optional[int], message: str) -> str:
    where = f"line {line}" if line else ""
    return (f'<tr><td style="color:{colour};padding:0 8px">{mark}</td>'
            f'<td style="padding:0 8px"><code>{html.escape(field)}</code></td>'
            f'<td style="padding:0 8px;white-space:nowrap">{html.escape(where)}</td>'
            f'<td style="padding:0 8px">{html.escape(message)}</td></tr>')


# -- form <-> dict helpers (private to this panel) --------------------------------------
class _LiteralDumper(yaml.SafeDumper):
    """Dump multi-line strings (scripts) as literal blocks so the YAML stays readable."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value:
        value = "\n".join(line.rstrip() for line in value.splitlines()) + "\n"
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_LiteralDumper.add_representer(str, _str_representer)


# libyaml reads the trailing tabs published FDLs have, as the fdl module does
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _dump(doc: Dict[str, Any]) -> str:
    return yaml.dump(doc, Dumper=_LiteralDumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False)


def _set_or_drop(svc: Dict[str, Any], key: str, value: Any) -> None:
    if value in ("", None, {}, []):
        svc.pop(key, None)
    else:
        svc[key] = value


def _parse_env(text: str) -> Dict[str, str]:
    variables: Dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise InvalidDefinition(f"Environment line {number}: expected KEY=value, got {line!r}")
        variables[key.strip()] = value
    return variables


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _with_path(entries: Any, path: str) -> List[Dict[str, Any]]:
    if not path:
        return []
    current = list(entries) if isinstance(entries, list) else []
    first = dict(current[0]) if current and isinstance(current[0], dict) else {}
    first.setdefault("storage_provider", "minio.default")
    first["path"] = path
    return [first] + current[1:]


def _first_path(entries: Any) -> str:
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        return str(entries[0].get("path") or "")
    return ""


def _int(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def _first_service(doc: Any) -> Tuple[Optional[Dict[str, Any]], Optional[str], int]:
    """The first service of an FDL document (or a bare service), its cluster id, the service count."""
    if not isinstance(doc, dict):
        return None, None, 0
    if "functions" not in doc and "name" in doc:
        return doc, None, 1
    functions = doc.get("functions")
    oscar = functions.get("oscar") if isinstance(functions, dict) else None
    if not isinstance(oscar, list) or not oscar or not isinstance(oscar[0], dict) or not oscar[0]:
        return None, None, 0
    count = sum(len(item) for item in oscar if isinstance(item, dict))
    cluster_id, svc = next(iter(oscar[0].items()))
    if not isinstance(svc, dict):
        return None, None, count
    return svc, str(cluster_id), count
