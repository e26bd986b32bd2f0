"""Building an FDL: converted data (and its node tree) -> checked ServiceSpecs, every problem placed."""
from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from .. import spec
from ..errors import InvalidDefinition
from ..spec import PathT, Problem, ServiceSpec
from .lint import lint_script
from .script_files import read_script_file
from .scripts import script_is_path
from .yaml_tree import Tree, block_indent, locate

log = logging.getLogger(__name__)

#: The sections an FDL may have at its top.
TOP_LEVEL_KEYS = ("functions", "storage_providers", "clusters")

class Builder:
    """Turns converted data (plus its node tree, when from text) into an FDL."""

    def __init__(self, *, source: str, base_dir: Optional[Path], unknown: str, scripts: str,
                 root: Optional[yaml.Node], tree: Optional[Tree]) -> None:
        unknown = spec.unknown_mode(unknown, False)
        if scripts not in ("auto", "path", "content"):
            raise ValueError("scripts must be 'auto', 'path' or 'content'")
        self.source = source
        self.base_dir = base_dir
        self.unknown = unknown
        self.scripts = scripts
        self.root = root
        self.tree = tree
        self.problems: List[Problem] = list(tree.problems) if tree else []
        self.notices: List[str] = []
        self._seen: set = set()

    # ---- problem placement

    def place(self, problem: Problem, fdl_path: PathT) -> Problem:
        problem.path = fdl_path
        if self.root is not None and problem.line is None:
            node, key_node, found = locate(self.root, fdl_path)
            target = node
            if found and key_node is not None and problem.code == spec.UNKNOWN_FIELD:
                target = key_node
            if target is not None and self.tree is not None:
                problem.line, problem.column = self.tree.mark(target)
        elif self.root is None and self.tree is not None and problem.line is None:
            # text with no YAML node at all (only comments): the document starts at line 1
            problem.line, problem.column = 1 + self.tree.line_offset, 1
        return problem

    def add(self, problem: Problem, fdl_path: PathT) -> None:
        placed = self.place(problem, fdl_path)
        key = (placed.path, placed.message, placed.severity)
        if key not in self._seen:
            self._seen.add(key)
            self.problems.append(placed)

    def note(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)

    # ---- shapes

    def build(self, data: Any) -> Dict[str, Any]:
        """The FDL's parts (the arguments of ``FDL(...)``); InvalidDefinition listing every error."""
        services: List[Tuple[str, Optional[str], Any, PathT]] = []  # (kind, cluster, data, path)
        top_providers: Dict[str, Any] = {}
        top_clusters: Dict[str, Any] = {}
        if not isinstance(data, dict):
            self.add(Problem((), "expected an FDL (functions: oscar: [...]) or a service "
                             f"mapping, got {kind_of(data)}"), ())
        elif "functions" in data or "storage_providers" in data and "name" not in data:
            for key in data:
                if key not in TOP_LEVEL_KEYS:
                    self._unknown(key, TOP_LEVEL_KEYS, (key,), where="an FDL",
                                  also=spec.known_fields())
            functions = data.get("functions")
            oscar = functions.get("oscar") if isinstance(functions, dict) else None
            if not isinstance(functions, dict):
                self.add(Problem(("functions",), "must be a mapping with an 'oscar' list",
                                 value=None if functions is None else kind_of(functions)),
                         ("functions",))
            else:
                for key in functions:
                    if key != "oscar":
                        self._unknown(key, ("oscar",), ("functions", key), where="functions")
                if not isinstance(oscar, list) or not oscar:
                    self.add(Problem(("functions", "oscar"), "must be a list of "
                                     "'<cluster-id>: {service}' items",
                                     value=None if oscar is None else kind_of(oscar)),
                             ("functions", "oscar"))
                    oscar = []
            for i, item in enumerate(oscar or []):
                path: PathT = ("functions", "oscar", i)
                if not isinstance(item, dict) or not item:
                    self.add(Problem(path, "must be a mapping '<cluster-id>: {service}'",
                                     value=kind_of(item)), path)
                    continue
                misplaced = [k for k in item if k in ("name", "image", "script")]
                if misplaced:
                    self.add(Problem(path, "each item must be '<cluster-id>:' with the service "
                                     "fields indented under it (found the field "
                                     f"{misplaced[0]!r} at the cluster key's level)"), path)
                    continue
                for cluster_id, body in item.items():
                    if not isinstance(body, dict):
                        self.add(Problem(path + (cluster_id,), "must be a service mapping "
                                         "(name, image, script, ...)", value=kind_of(body)),
                                 path + (cluster_id,))
                        continue
                    services.append(("fdl", str(cluster_id), body, path + (cluster_id,)))
            top_providers = self._section(data, "storage_providers")
            top_clusters = self._section(data, "clusters")
        else:
            services.append(("bare", None, data, ()))

        specs: List[ServiceSpec] = []
        warnings: List[Problem] = []
        names: Dict[Tuple[Optional[str], str], PathT] = {}
        for _, cluster_id, body, path in services:
            built = self._service(body, cluster_id, path, top_providers, top_clusters)
            if built is None:
                continue
            key = (cluster_id, built.name)
            if built.name and key in names:
                self.add(Problem(path + ("name",), f"service {built.name!r} is defined twice "
                                 f"under cluster {cluster_id!r} (first at "
                                 f"{spec.format_path(names[key])})", value=None),
                         path + ("name",))
            names.setdefault(key, path)
            specs.append(built)
            warnings.extend(built.warnings)

        self._point_missing_at_misspellings()
        errors = spec.errors_of(self.problems)
        if errors:
            errors.sort(key=lambda p: (p.line if p.line is not None else 1 << 30,
                                       p.column or 0))
            count = f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
            raise InvalidDefinition(f"{self.source}: invalid FDL ({count})", errors)
        warnings = spec.warnings_of(self.problems)
        for notice in self.notices:
            log.info("%s: %s", self.source, notice)
        return dict(services=specs, storage_providers=top_providers, clusters=top_clusters,
                    notices=self.notices, warnings=warnings, source=self.source,
                    base_dir=self.base_dir)

    def _oscar_cli_spellings(self, body: Dict[str, Any], label: str) -> None:
        """Notices for what the Manager reads but oscar-cli (its types are oscar v3.3's,
        matched case-sensitively) drops without a word."""
        environment = body.get("environment")
        if not isinstance(environment, dict):
            return
        for key in environment:
            if str(key).lower() == "variables" and key != "Variables":
                self.note(f"{label}environment.{key}: oscar-cli reads only 'Variables' and would "
                          "drop these; OSCAR reads any spelling (FDL.write writes 'Variables')")
        if any(str(key).lower() == "secrets" for key in environment):
            self.note(f"{label}environment.secrets: oscar-cli (v1.12) does not send secrets: "
                      "deploy this FDL from here or with the Manager's API")

    def _point_missing_at_misspellings(self) -> None:
        """A required field missing beside an unknown key that most likely meant it (``imag:``
        for ``image``): the error is placed on that key's line and says so."""
        unknown = {(p.path[:-1], p.suggestion): p for p in spec.unknown_fields_of(self.problems)
                   if p.suggestion}
        for problem in self.problems:
            if problem.severity != "error" or problem.message != "required field is missing":
                continue
            typo = unknown.get((problem.path[:-1], problem.path[-1]))
            if typo is None:
                continue
            problem.message = (f"required field is missing; the unknown field {typo.path[-1]!r} "
                               f"(line {typo.line}) is most likely it misspelt")
            problem.line, problem.column = typo.line, typo.column

    def _section(self, data: Dict[str, Any], key: str) -> Dict[str, Any]:
        value = data.get(key)
        if value is None:
            if key in data:
                self.note(f"{key}: empty section ignored")
            return {}
        if not isinstance(value, dict):
            self.add(Problem((key,), "must be a mapping", value=kind_of(value)), (key,))
            return {}
        value = self._restore_raw(value, (key,), (key,))
        normalised, notices = spec.normalise({key: value}, source="fdl")
        for n in notices:
            self.note(n)
        for problem in spec.validate(normalised, unknown=self.unknown):
            if problem.path[:1] == (key,):  # the rest is about the missing service fields
                self.add(problem, problem.path)
        section = normalised.get(key) or {}
        # only well-formed entries are merged into the services (the others were reported)
        return {k: v for k, v in section.items() if isinstance(v, dict)}

    def _unknown(self, key: Any, candidates: Sequence[str], path: PathT, *, where: str,
                 also: Sequence[str] = ()) -> None:
        if self.unknown == "ignore":
            return
        suggestion = spec.suggest(str(key), list(candidates))
        severity = "error" if self.unknown == "error" else "warning"
        message = spec.unknown_message(where, severity)
        if suggestion is None and str(key) in also:
            message = ("unknown field at the top of an FDL: service fields go under "
                       "functions.oscar[...].<cluster-id>"
                       + ("" if severity == "error" else "; oscar-cli ignores it here"))
        self.add(Problem(path, message, suggestion=suggestion, severity=severity,
                         code=spec.UNKNOWN_FIELD), path)

    def _restore_raw(self, value: Any, fdl_path: PathT, schema_path: PathT,
                     label: str = "") -> Any:
        """Put back the text of plain scalars YAML typed as numbers/booleans in string fields."""
        if isinstance(value, dict):
            return {k: self._restore_raw(v, fdl_path + (k,), schema_path + (k,), label)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self._restore_raw(v, fdl_path + (i,), schema_path + (i,), label)
                    for i, v in enumerate(value)]
        if self.tree is None or isinstance(value, str) or value is None:
            return value
        raw = self.tree.raw.get(fdl_path)
        if raw is None or raw == spec.stringify(value):
            return value
        if spec.field_types(schema_path) == {"string"}:
            if spec.is_secret_path(schema_path):
                self.note(f"{label}{spec.format_path(schema_path)}: kept as written, as a "
                          "string (value hidden)")
                return raw
            self.note(f"{label}{spec.format_path(schema_path)}: {raw} kept as the string {raw!r} "
                      f"(a field of text; YAML alone would read {type(value).__name__} {value!r})")
            return raw
        return value

    # ---- one service

    def _service(self, body: Dict[str, Any], cluster_id: Optional[str], path: PathT,
                 top_providers: Dict[str, Any], top_clusters: Dict[str, Any]
                 ) -> Optional[ServiceSpec]:
        name = body.get("name")
        label = f"service {name!r}: " if path and isinstance(name, str) else ""
        body = self._restore_raw(body, path, (), label)
        self._oscar_cli_spellings(body, label)
        script_path: Optional[Path] = None
        script = body.get("script")
        if isinstance(script, str):
            read = self._script(script, path + ("script",))
            if read is None:
                pass  # problem recorded; the path text stands in so the rest is still checked
            elif read[1] is not None:
                body = dict(body, script=read[0])
                script_path = read[1]
        merged = copy.deepcopy(body)
        from_top: set = set()
        if top_providers:
            own = merged.get("storage_providers")
            if own is None or isinstance(own, dict):
                own = own or {}
                for kind, entries in top_providers.items():
                    if not isinstance(entries, dict):
                        continue
                    slot = own.setdefault(kind, {})
                    if not isinstance(slot, dict):
                        continue
                    for ident, conf in entries.items():
                        if ident in slot and slot[ident] != conf:
                            self.note(f"{spec.format_path(path)}: storage provider "
                                      f"{kind}.{ident} replaced by the top-level one "
                                      "(as oscar-cli does)")
                        slot[ident] = copy.deepcopy(conf)
                        from_top.add(("storage_providers", kind, ident))
                merged["storage_providers"] = own
        if top_clusters:
            own_c = merged.get("clusters")
            if own_c is None or isinstance(own_c, dict):
                own_c = own_c or {}
                for cid, conf in top_clusters.items():
                    own_c[cid] = copy.deepcopy(conf)
                    from_top.add(("clusters", cid))
                merged["clusters"] = own_c
        if cluster_id is not None:
            given = merged.get("cluster_id")
            if given not in (None, "", cluster_id):
                self.note(f"{spec.format_path(path)}: cluster_id {given!r} replaced by the "
                          f"cluster key {cluster_id!r} (as oscar-cli does)")
            merged["cluster_id"] = cluster_id
        normalised, notices = spec.normalise(merged, source="fdl")
        label = normalised.get("name") if isinstance(normalised.get("name"), str) else None
        for n in notices:
            self.note(f"service {label!r}: {n}" if path and label and not about_top(n, from_top)
                      else n)
        problems = spec.validate(normalised, unknown=self.unknown)
        script_text = normalised.get("script")
        if isinstance(script_text, str) and script_text:
            for lint in lint_script(script_text):
                problems.append(self._lint_position(lint, path, script_path))
        for problem in problems:
            fdl_path = self._fdl_path(problem.path, path, from_top)
            if problem.line is not None:  # a lint warning already placed in the FDL text
                problem.path = fdl_path
                self.problems.append(problem)
                continue
            self.add(problem, fdl_path)
        own_warnings = [p for p in self.problems
                        if p.severity != "error" and p.path[:len(path)] == path]
        return ServiceSpec(normalised, cluster_id=cluster_id, script_path=script_path,
                           notices=notices, warnings=own_warnings)

    def _fdl_path(self, service_path: PathT, prefix: PathT, from_top: set) -> PathT:
        if len(service_path) >= 3 and tuple(service_path[:3]) in from_top:
            return tuple(service_path)
        if len(service_path) >= 2 and tuple(service_path[:2]) in from_top:
            return tuple(service_path)
        return prefix + tuple(service_path)

    def _lint_position(self, lint: Problem, path: PathT, script_path: Optional[Path]) -> Problem:
        """Map a script line to the FDL line for inline block scripts."""
        if script_path is not None:
            lint.message = lint.message.replace("script line", f"{script_path.name} line", 1)
            lint.line = lint.column = None
            return lint
        if self.root is None or self.tree is None:
            lint.line = lint.column = None
            return lint
        node, _, found = locate(self.root, path + ("script",))
        if not found or not isinstance(node, yaml.ScalarNode):
            lint.line = lint.column = None
            return lint
        if node.style in ("|", ">"):
            first_line = node.start_mark.line + 1  # content starts on the line after '|'
            indent = block_indent(node, self.tree.lines)
            lint.line = first_line + lint.line + self.tree.line_offset
            lint.column = (lint.column or 1) + indent
        else:
            lint.line, lint.column = self.tree.mark(node)
        return lint

    def _script(self, value: str, fdl_path: PathT) -> Optional[Tuple[str, Optional[Path]]]:
        """(script content, file it came from or None); None when the file is missing."""
        is_path = (self.scripts == "path" or
                   (self.scripts == "auto" and script_is_path(value, self.base_dir)))
        if not is_path:
            return value, None
        base = self.base_dir if self.base_dir is not None else Path.cwd()
        text, target, warning, error = read_script_file(value.strip(), base)
        if error is not None:
            self.add(Problem(fdl_path, error), fdl_path)
            return None
        if warning is not None:
            self.add(Problem(fdl_path, warning, severity="warning"), fdl_path)
        return text, target


def about_top(notice: str, from_top: set) -> bool:
    return any(notice.startswith(spec.format_path(p)) for p in from_top)


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
