"""The OSCAR service model, shared by the client and oscar-local.

A service definition is the JSON object the Manager's REST API takes and
returns (`types.Service`). This module knows its schema (merged from the
Manager v3.7.1 and v4.1.2 OpenAPI specs and packaged as
``schema/service.json``) and the rules OSCAR applies on top of it:

* :func:`normalise` rewrites what the Manager itself accepts into its
  canonical shape (case-insensitive keys, numbers in string fields, bare
  ``minio`` providers, lower-case log levels, ...) and says what it changed;
* :func:`validate` returns every :class:`Problem` (schema types, unknown
  fields with near-miss suggestions, names, paths, quantities, scales,
  storage-provider references);
* :func:`with_defaults` fills what the Manager fills on creation;
* :func:`redact_service` blanks secrets for display;
* :class:`ServiceSpec` is one checked service as the client holds it.

Regenerate the packaged schema with
``python -m oscar_jupyter.spec --regenerate oscar-swagger-v3.7.1.yaml oscar-swagger-v4.1.2.yaml``.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import difflib
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

log = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).with_name("schema") / "service.json"

PathT = Tuple[Union[str, int], ...]

#: Storage provider types the Manager knows (`types.StorageProviders`).
PROVIDER_TYPES = ("minio", "s3", "onedata", "webdav", "rucio")
#: Provider types a service can take inputs from (others are output-only).
INPUT_PROVIDER_TYPES = ("minio", "webdav", "rucio")
#: The provider every cluster has: its own MinIO.
DEFAULT_PROVIDER = "minio.default"
#: Log levels the supervisor understands; anything else becomes INFO.
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET")
VISIBILITIES = ("private", "public", "restricted")
NAME_MAX = 39

#: What the Manager sets when a field is missing (`createService`).
DEFAULTS: Dict[str, Any] = {
    "memory": "256Mi",
    "cpu": "0.2",
    "log_level": "INFO",
    "visibility": "private",
    "enable_gpu": False,
    "alpine": False,
    "synchronous": {"min_scale": 0, "max_scale": 0},
}
#: Defaults of an `expose` block (from the spec's `types.Expose`).
EXPOSE_DEFAULTS: Dict[str, Any] = {
    "min_scale": 1,
    "max_scale": 10,
    "cpu_threshold": 80,
    "health_path": "/",
    "rewrite_target": False,
}

#: Paths (with '*' for any key) whose values are secrets.
SECRET_FIELDS: Tuple[PathT, ...] = (
    ("token",),
    ("environment", "secrets", "*"),
    ("clusters", "*", "auth_password"),
    ("storage_providers", "*", "*", "secret_key"),
    ("storage_providers", "*", "*", "password"),
    ("storage_providers", "*", "*", "token"),
    ("storage_providers", "*", "*", "refresh_token"),
    ("federation", "members", "*", "headers", "*"),
    ("replicas", "*", "headers", "*"),
)
REDACTED = "***"

#: Fields the server sets or owns; ignored when comparing a local spec with a deployed one.
SERVER_SET_FIELDS = ("token", "owner", "bucket_list", "namespace", "deployment",
                     "volume_status", "interlink_node_name")
#: Also left out of comparisons: the FDL cluster key oscar-cli copies into each service.
LABEL_FIELDS = ("cluster_id",)

#: Known misspellings that difflib would not find on its own.
ALIASES: Dict[str, str] = {
    "port": "api_port",
    "ports": "api_port",
    "node_port": "nodePort",
    "mem": "memory",
    "gpu": "enable_gpu",
    "env": "environment",
    "vars": "variables",
    "envs": "variables",
    "secret": "secrets",
    "inputs": "input",
    "outputs": "output",
    "provider": "storage_provider",
    "loglevel": "log_level",
    "min": "min_scale",
    "max": "max_scale",
}

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(
    r"^\+?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


# --------------------------------------------------------------------------- problems

@dataclasses.dataclass
class Problem:
    """One thing wrong (or suspicious) in a definition.

    `path` locates the field from the service (or FDL) root, e.g.
    ``('input', 0, 'path')``; `line`/`column` (1-based) are set when the
    definition came from YAML text.
    """

    path: PathT
    message: str
    value: Any = None
    suggestion: Optional[str] = None
    severity: str = "error"
    line: Optional[int] = None
    column: Optional[int] = None

    @property
    def field(self) -> str:
        """The path written as ``input[0].path``."""
        return format_path(self.path)

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line is not None else ""
        text = f"{where}{self.field}: {self.message}" if self.path else f"{where}{self.message}"
        if self.value is not None:
            text += f" (got {_show(self.value)})"
        if self.suggestion is not None:
            text += f"; did you mean {self.suggestion!r}?"
        return text


def format_path(path: Sequence[Union[str, int]]) -> str:
    """``('input', 0, 'path')`` -> ``input[0].path``; the empty path is ``(service)``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_-]*$", str(part)):
            out += ("." if out else "") + str(part)
        else:
            out += f"[{json.dumps(str(part))}]"
    return out or "(service)"


def _show(value: Any, limit: int = 60) -> str:
    """A short repr of a value for messages (long scripts are cut)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"[: 4 if isinstance(value, str) else 3]


def is_secret_path(path: Sequence[Union[str, int]]) -> bool:
    """True when `path` (or one of its parents) is listed in :data:`SECRET_FIELDS`."""
    for pattern in SECRET_FIELDS:
        if len(path) < len(pattern):
            continue
        if all(p == "*" or p == q for p, q in zip(pattern, path)):
            return True
    return False


# --------------------------------------------------------------------------- schema

_SCHEMA_CACHE: Dict[str, Any] = {}


def service_schema() -> Dict[str, Any]:
    """The packaged JSON schema of `types.Service` (both Manager versions merged)."""
    if "schema" not in _SCHEMA_CACHE:
        with open(SCHEMA_PATH, encoding="utf-8") as fh:
            _SCHEMA_CACHE["schema"] = json.load(fh)
    return _SCHEMA_CACHE["schema"]


def _definitions() -> Dict[str, Any]:
    return service_schema()["definitions"]


def _deref(schema: Dict[str, Any]) -> Dict[str, Any]:
    """Follow `$ref` and single-branch `allOf` to the schema that describes the value."""
    seen = 0
    while True:
        seen += 1
        if seen > 20:
            return schema
        if "$ref" in schema:
            schema = _definitions()[schema["$ref"].rsplit("/", 1)[-1]]
            continue
        if "allOf" in schema:
            merged: Dict[str, Any] = {}
            for branch in schema["allOf"]:
                merged.update(_deref(branch))
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            merged.update({k: v for k, v in rest.items() if k not in ("description",)})
            schema = merged
            continue
        return schema


def _alternatives(schema: Dict[str, Any]) -> List[Dict[str, Any]]:
    schema = _deref(schema)
    if "anyOf" in schema:
        out: List[Dict[str, Any]] = []
        for branch in schema["anyOf"]:
            out.extend(_alternatives(branch))
        return out
    return [schema]


def _types(schema: Dict[str, Any]) -> set:
    kinds = set()
    for alt in _alternatives(schema):
        t = alt.get("type")
        if isinstance(t, list):
            kinds.update(t)
        elif t:
            kinds.add(t)
        elif "properties" in alt or "additionalProperties" in alt:
            kinds.add("object")
    return kinds


def _object_shape(schema: Dict[str, Any]) -> Tuple[Optional[Dict[str, Any]], Optional[Dict[str, Any]]]:
    """(properties, additionalProperties schema) of the object alternative, if any."""
    for alt in _alternatives(schema):
        if "properties" in alt:
            return alt["properties"], None
        if isinstance(alt.get("additionalProperties"), dict):
            return None, alt["additionalProperties"]
    return None, None


def _items_schema(schema: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    for alt in _alternatives(schema):
        if alt.get("type") == "array" and isinstance(alt.get("items"), dict):
            return alt["items"]
    return None


def schema_at(path: Sequence[Union[str, int]]) -> Optional[Dict[str, Any]]:
    """The schema of the field at `path` in a service, or None when unknown."""
    schema: Optional[Dict[str, Any]] = {"$ref": "#/definitions/types.Service"}
    for part in path:
        if schema is None:
            return None
        if isinstance(part, int):
            schema = _items_schema(schema)
            continue
        props, extra = _object_shape(schema)
        if props is not None:
            found = props.get(part)
            if found is None:  # the Manager matches field names case-insensitively
                found = next((v for k, v in props.items() if k.lower() == str(part).lower()), None)
            schema = found
        else:
            schema = extra
    return schema


def field_types(path: Sequence[Union[str, int]]) -> set:
    """JSON types the field at `path` may have ({'string'}, {'integer', 'array'}, ...); empty if unknown."""
    schema = schema_at(path)
    return _types(schema) if schema is not None else set()


def known_fields(path: Sequence[Union[str, int]] = ()) -> List[str]:
    """Names of the fields the schema defines for the object at `path`."""
    schema = schema_at(path)
    if schema is None:
        return []
    props, _ = _object_shape(schema)
    return sorted(props or ())


# --------------------------------------------------------------------------- normalise

def normalise(data: Dict[str, Any], *, target_version: Optional[str] = None
              ) -> Tuple[Dict[str, Any], List[str]]:
    """Rewrite what the Manager accepts into its canonical shape.

    Returns ``(normalised deep copy, notices)`` with one human sentence per
    change. `target_version` (e.g. ``"3.7.1"`` or ``"v4.1.2"``) converts
    ``expose.api_port``/``nodePort`` to the shape that version wants (a
    number up to v4.0, a list from v4.1); without it the shape is kept.
    """
    if not isinstance(data, dict):
        raise TypeError(f"a service definition must be a mapping, not {type(data).__name__}")
    out = copy.deepcopy(data)
    notices: List[str] = []
    out = _normalise_node(out, {"$ref": "#/definitions/types.Service"}, (), notices)

    for io_key in ("input", "output"):
        items = out.get(io_key)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    _normalise_io(item, (io_key, i), notices)
                    _expand_bucketless(out, item, (io_key, i), notices)
    if isinstance(out.get("mount"), dict):
        _normalise_io(out["mount"], ("mount",), notices)

    level = out.get("log_level")
    if isinstance(level, str) and level.strip():
        upper = level.strip().upper()
        if upper not in LOG_LEVELS:
            notices.append(f"log_level {level!r} is not a known level; OSCAR uses 'INFO' instead")
            out["log_level"] = "INFO"
        elif upper != level:
            notices.append(f"log_level {level!r} upper-cased to {upper!r}")
            out["log_level"] = upper

    script = out.get("script")
    if isinstance(script, str) and "\r" in script:
        out["script"] = script.replace("\r\n", "\n").replace("\r", "\n")
        notices.append("script: Windows (CRLF) line endings converted to LF, as OSCAR does")

    vo = out.get("vo")
    if isinstance(vo, list) and len(vo) == 1 and isinstance(vo[0], str):
        notices.append(f"vo given as a list {vo!r}; using the single value {vo[0]!r}")
        out["vo"] = vo[0]

    expose = out.get("expose")
    if isinstance(expose, dict) and target_version:
        wants_list = _version_tuple(target_version) >= (4, 1)
        for key in ("api_port", "nodePort"):
            if key not in expose:
                continue
            value = expose[key]
            if wants_list and isinstance(value, int) and not isinstance(value, bool):
                expose[key] = [value] if value else []
                notices.append(f"expose.{key} {value!r} written as a list {expose[key]!r} "
                               f"(Manager {target_version} wants a list)")
            elif not wants_list and isinstance(value, list):
                if len(value) <= 1 and all(isinstance(v, int) for v in value):
                    expose[key] = value[0] if value else 0
                    notices.append(f"expose.{key} {value!r} written as the number {expose[key]!r} "
                                   f"(Manager {target_version} wants a number)")
    return out, notices


def _version_tuple(version: str) -> Tuple[int, ...]:
    nums = re.findall(r"\d+", version)
    return tuple(int(n) for n in nums[:3]) or (0,)


def _normalise_io(item: Dict[str, Any], path: PathT, notices: List[str]) -> None:
    where = format_path(path)
    provider = item.get("storage_provider")
    if isinstance(provider, str) and provider.strip():
        cleaned = provider.strip()
        kind, _, ident = cleaned.partition(".")
        fixed = f"{kind.lower()}.{ident or 'default'}"
        if kind.lower() not in PROVIDER_TYPES:
            fixed = cleaned  # left for validate to report as given
        if fixed != provider:
            why = "means" if not ident else "normalised to"
            notices.append(f"{where}.storage_provider {provider!r} {why} {fixed!r}")
            item["storage_provider"] = fixed
    p = item.get("path")
    if isinstance(p, str):
        stripped = p.strip().strip("/")
        if stripped != p:
            notices.append(f"{where}.path {p!r} trimmed to {stripped!r} (OSCAR trims spaces and slashes)")
            item["path"] = stripped
    for key in ("prefix", "suffix"):
        value = item.get(key)
        if isinstance(value, str):
            notices.append(f"{where}.{key} {value!r} written as a list [{value!r}]")
            item[key] = [value]


#: Annotations that mark a federated copy; its bucket-less outputs use the origin's bucket.
ORIGIN_SERVICE_ANNOTATION = "oscar.grycap/origin-service"
ORIGIN_CLUSTER_ANNOTATION = "oscar.grycap/origin-cluster"


def _expand_bucketless(service: Dict[str, Any], item: Dict[str, Any], path: PathT,
                       notices: List[str]) -> None:
    """A MinIO/S3 path without a bucket (``in``) means ``<service name>/in`` (Manager v4.1+)."""
    value, name = item.get("path"), service.get("name")
    provider = item.get("storage_provider")
    if not (isinstance(value, str) and value and "/" not in value and isinstance(name, str) and name):
        return
    if not isinstance(provider, str) or provider.partition(".")[0] not in ("minio", "s3"):
        return
    bucket = name
    annotations = service.get("annotations") if isinstance(service.get("annotations"), dict) else {}
    origin = str(annotations.get(ORIGIN_SERVICE_ANNOTATION) or "").strip()
    if (path[0] == "output" and provider == DEFAULT_PROVIDER and origin
            and str(annotations.get(ORIGIN_CLUSTER_ANNOTATION) or "").strip()):
        bucket = origin
    item["path"] = f"{bucket}/{value}"
    notices.append(f"{format_path(path)}.path {value!r} has no bucket: it means {item['path']!r} "
                   "(as Manager v4.1+ reads it; v3 needs the bucket written out)")


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _normalise_node(value: Any, schema: Dict[str, Any], path: PathT, notices: List[str]) -> Any:
    where = format_path(path)
    kinds = _types(schema)
    if isinstance(value, dict):
        props, extra = _object_shape(schema)
        if props is not None:
            lower = {k.lower(): k for k in props}
            for key in list(value):
                if key in props or not isinstance(key, str):
                    continue
                canonical = lower.get(key.lower())
                if canonical is None:
                    continue
                moved = value.pop(key)
                sub = format_path(path + (canonical,))
                if canonical in value:
                    if isinstance(value[canonical], dict) and isinstance(moved, dict):
                        merged = dict(moved)
                        merged.update(value[canonical])
                        value[canonical] = merged
                        notices.append(f"{format_path(path + (key,))} merged into {sub} "
                                       f"({sub} wins where both set a key)")
                    else:
                        notices.append(f"{format_path(path + (key,))} dropped: {sub} is also set")
                else:
                    value[canonical] = moved
                    notices.append(f"{format_path(path + (key,))} renamed to {sub} "
                                   f"(the Manager matches field names case-insensitively)")
            nulls = [key for key in value if value[key] is None and key in props]
            for key in nulls:
                del value[key]
            if nulls:
                fields = ", ".join(nulls)
                notices.append(f"{where + ': ' if path else ''}empty (null) {fields} dropped; OSCAR treats "
                               f"{'it' if len(nulls) == 1 else 'them'} as unset")
            for key, sub in list(value.items()):
                if key in props:
                    value[key] = _normalise_node(sub, props[key], path + (key,), notices)
        elif extra is not None:
            extra_kinds = _types(extra)
            for key, sub in list(value.items()):
                if sub is None and extra_kinds == {"string"}:
                    value[key] = ""
                    notices.append(f"{format_path(path + (key,))}: empty (null) value written as ''")
                elif extra_kinds == {"string"} and isinstance(sub, (bool, int, float, list, dict)):
                    value[key] = _stringify(sub)
                    kind = type(sub).__name__
                    if is_secret_path(path + (key,)):
                        notices.append(f"{format_path(path + (key,))}: {kind} written as a string "
                                       "(value hidden; OSCAR takes strings only)")
                    else:
                        notices.append(f"{format_path(path + (key,))}: {kind} {_show(sub)} written "
                                       f"as the string {value[key]!r} (OSCAR takes strings only)")
                else:
                    value[key] = _normalise_node(sub, extra, path + (key,), notices)
        return value
    if isinstance(value, list):
        items = _items_schema(schema)
        if items is not None:
            return [_normalise_node(v, items, path + (i,), notices) for i, v in enumerate(value)]
        if kinds == {"string"} and all(isinstance(v, str) for v in value):
            return value  # left for validate to report
        return value
    if kinds == {"string"} and isinstance(value, (bool, int, float)):
        text = _stringify(value)
        if is_secret_path(path):
            notices.append(f"{where}: {type(value).__name__} written as a string (value hidden)")
        else:
            notices.append(f"{where}: {type(value).__name__} {value!r} written as the string {text!r}")
        return text
    if kinds == {"array"} and isinstance(value, str):
        items = _items_schema(schema)
        if items is not None and _types(items) == {"string"}:
            notices.append(f"{where}: {value!r} written as a list [{value!r}]")
            return [value]
    return value


# --------------------------------------------------------------------------- validate

def validate(data: Dict[str, Any], *, unknown: str = "error") -> List[Problem]:
    """Every problem in a (normalised) service definition, errors and warnings.

    `unknown` says what an unknown field is: ``"error"``, ``"warn"`` (a
    warning) or ``"ignore"`` (the Manager drops unknown fields silently).
    Run :func:`normalise` first: this checks the canonical shape.
    """
    if unknown not in ("error", "warn", "ignore"):
        raise ValueError("unknown must be 'error', 'warn' or 'ignore'")
    if not isinstance(data, dict):
        return [Problem((), f"a service definition must be a mapping, not {type(data).__name__}")]
    problems: List[Problem] = []
    problems.extend(_schema_problems(data))
    if unknown != "ignore":
        severity = "error" if unknown == "error" else "warning"
        problems.extend(_unknown_fields(data, {"$ref": "#/definitions/types.Service"}, (), severity))
    problems.extend(_oscar_rules(data))
    for p in problems:
        if is_secret_path(p.path) and p.value is not None:
            p.value = None
            if "value hidden" not in p.message:
                p.message += " (value hidden)"
    return problems


def errors_of(problems: Iterable[Problem]) -> List[Problem]:
    """Only the problems with severity 'error'."""
    return [p for p in problems if p.severity == "error"]


def warnings_of(problems: Iterable[Problem]) -> List[Problem]:
    """Only the problems with severity 'warning'."""
    return [p for p in problems if p.severity != "error"]


_TYPE_WORDS = {"string": "a string", "integer": "an integer", "boolean": "true or false",
               "object": "a mapping", "array": "a list", "number": "a number"}


def _expected(schema: Dict[str, Any]) -> str:
    words = []
    for alt in _alternatives(schema):
        t = alt.get("type") or ("object" if "properties" in alt else None)
        if t == "array" and isinstance(alt.get("items"), dict):
            inner = _deref(alt["items"]).get("type")
            words.append(f"a list of {inner}s" if inner else "a list")
        elif t:
            words.append(_TYPE_WORDS.get(t, t))
    return " or ".join(dict.fromkeys(words)) or "another type"


def _schema_problems(data: Dict[str, Any]) -> List[Problem]:
    validator = _SCHEMA_CACHE.get("validator")
    if validator is None:
        import jsonschema  # deferred: importing it can take seconds (optional format plugins)

        schema = service_schema()
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
        validator = _SCHEMA_CACHE["validator"] = cls(schema)
    problems: List[Problem] = []
    reported: set = set()
    for err in validator.iter_errors(data):
        path = tuple(err.absolute_path)
        if path == ("name",) and err.validator in ("maxLength", "minLength"):
            continue  # the name rule says it better
        if err.validator == "required":
            missing = [r for r in err.validator_value
                       if isinstance(err.instance, dict) and r not in err.instance]
            for field in missing:
                if path + (field,) not in reported:
                    reported.add(path + (field,))
                    problems.append(Problem(path + (field,), "required field is missing"))
            continue
        if err.validator in ("type", "anyOf"):
            problems.append(Problem(path, f"must be {_expected(err.schema)}", value=err.instance))
            continue
        problems.append(Problem(path, err.message, value=None))
    return problems


def _suggest(key: str, candidates: Sequence[str]) -> Optional[str]:
    """The candidate `key` most likely meant (aliases, case, then difflib), or None."""
    if "." in key:  # a provider reference: prefer the only one of the same type
        kind = key.split(".", 1)[0].lower()
        same = [c for c in candidates if c.split(".", 1)[0] == kind and c != key]
        if len(same) == 1:
            return same[0]
    alias = ALIASES.get(key.lower())
    if alias in candidates:
        return alias
    lower = {c.lower(): c for c in candidates}
    if key.lower() in lower:
        return lower[key.lower()]
    match = difflib.get_close_matches(key.lower(), list(lower), n=1, cutoff=0.6)
    return lower[match[0]] if match else None


def _unknown_fields(value: Any, schema: Dict[str, Any], path: PathT, severity: str) -> List[Problem]:
    problems: List[Problem] = []
    if isinstance(value, dict):
        props, extra = _object_shape(schema)
        if props is not None:
            for key, sub in value.items():
                if key in props:
                    problems.extend(_unknown_fields(sub, props[key], path + (key,), severity))
                    continue
                suggestion = _suggest(str(key), list(props))
                where = format_path(path) if path else "a service"
                problems.append(Problem(path + (key,), f"unknown field (not a field of {where})",
                                        suggestion=suggestion, severity=severity))
        elif extra is not None:
            for key, sub in value.items():
                problems.extend(_unknown_fields(sub, extra, path + (key,), severity))
    elif isinstance(value, list):
        items = _items_schema(schema)
        if items is not None:
            for i, sub in enumerate(value):
                problems.extend(_unknown_fields(sub, items, path + (i,), severity))
    return problems


def suggest_name(name: str) -> str:
    """A valid DNS-label service name close to `name`."""
    fixed = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:NAME_MAX].strip("-")
    return fixed or "service"


def check_quantity(value: str, field: str) -> Tuple[Optional[str], Optional[str], str]:
    """(error message, suggestion, severity) for a Kubernetes quantity, or (None, None, '')."""
    text = value.strip()
    if _QUANTITY.match(text):
        if field == "memory" and text.endswith("m"):
            return (f"'{text}' means {text[:-1]} thousandths of a byte",
                    text[:-1] + "Mi", "warning")
        return None, None, ""
    m = re.match(r"^(\d+(?:\.\d+)?)\s*([A-Za-z]+)$", text)
    suggestion = None
    if m:
        unit = m.group(2).lower().rstrip("b").rstrip("i")
        table = {"k": "Ki", "m": "Mi", "g": "Gi", "t": "Ti", "p": "Pi", "e": "Ei"}
        if field == "memory" and unit in table:
            suggestion = m.group(1) + table[unit]
        elif field == "cpu" and unit in ("m", "milli", "millicore", "millicores"):
            suggestion = m.group(1) + "m"
        elif field == "cpu" and unit in ("core", "cores", "cpu", "cpus", "vcpu", "vcpus"):
            suggestion = m.group(1)
    example = "'256Mi', '1Gi' or '512M'" if field == "memory" else "'0.5', '1' or '500m'"
    return f"must be a Kubernetes quantity like {example}", suggestion, "error"


def _oscar_rules(data: Dict[str, Any]) -> List[Problem]:
    problems: List[Problem] = []
    add = problems.append

    name = data.get("name")
    if isinstance(name, str):
        if not name:
            add(Problem(("name",), "must not be empty", value=name))
        elif len(name) > NAME_MAX or not _DNS_LABEL.match(name):
            add(Problem(("name",), f"must be 1-{NAME_MAX} lowercase letters, digits or '-', "
                        "starting and ending with a letter or digit (a DNS label)",
                        value=name, suggestion=suggest_name(name)))
    for field in ("image", "script"):
        value = data.get(field)
        if isinstance(value, str) and not value.strip():
            add(Problem((field,), "must not be empty", value=value))

    for field in ("memory", "cpu", "total_memory", "total_cpu", "ephemeral_storage_request"):
        value = data.get(field)
        if isinstance(value, str) and value:  # '' means unset: the Manager fills a default
            kind = "memory" if "memory" in field or "storage" in field else "cpu"
            message, suggestion, severity = check_quantity(value, kind)
            if message:
                add(Problem((field,), message, value=value, suggestion=suggestion, severity=severity))
    kserve = data.get("kserve")
    if isinstance(kserve, dict):
        for field in ("memory", "cpu"):
            value = kserve.get(field)
            if isinstance(value, str):
                message, suggestion, severity = check_quantity(value, field)
                if message:
                    add(Problem(("kserve", field), message, value=value, suggestion=suggestion,
                                severity=severity))

    _check_scale(data.get("synchronous"), ("synchronous",), problems, zero_unbounded=True)
    expose = data.get("expose")
    if isinstance(expose, dict):
        _check_scale(expose, ("expose",), problems, zero_unbounded=False)
        _check_expose(expose, problems)

    visibility = data.get("visibility")
    if isinstance(visibility, str) and visibility and visibility not in VISIBILITIES:
        add(Problem(("visibility",), "must be 'private', 'public' or 'restricted'", value=visibility,
                    suggestion=_suggest(visibility, VISIBILITIES)))
    if visibility == "restricted" and not data.get("allowed_users"):
        add(Problem(("allowed_users",), "visibility is 'restricted' but no allowed_users are "
                    "listed: only the owner will see the service", severity="warning"))

    level = data.get("log_level")
    if isinstance(level, str) and level and level not in LOG_LEVELS:
        add(Problem(("log_level",), f"must be one of {', '.join(LOG_LEVELS)}", value=level,
                    suggestion=_suggest(level, LOG_LEVELS), severity="warning"))

    env = data.get("environment")
    if isinstance(env, dict):
        for group in ("variables", "secrets"):
            values = env.get(group)
            if isinstance(values, dict):
                for key in values:
                    if not isinstance(key, str) or not _ENV_NAME.match(key):
                        add(Problem(("environment", group, key),
                                    "is not a valid environment variable name (letters, digits, "
                                    "'_', '-', '.'; not starting with a digit)", value=key))

    defined = _defined_providers(data.get("storage_providers"))
    for io_key in ("input", "output"):
        items = data.get(io_key)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    _check_io(item, (io_key, i), defined, problems, needs_path=True,
                              name=name if isinstance(name, str) and name else None)
    mount = data.get("mount")
    if isinstance(mount, dict) and (mount.get("storage_provider") or mount.get("path")):
        _check_io(mount, ("mount",), defined, problems, needs_path=True)

    clusters = data.get("clusters") if isinstance(data.get("clusters"), dict) else {}
    replicas = data.get("replicas")
    if isinstance(replicas, list):
        for i, rep in enumerate(replicas):
            if isinstance(rep, dict):
                _check_replica(rep, ("replicas", i), clusters, problems)
    federation = data.get("federation")
    if isinstance(federation, dict) and isinstance(federation.get("members"), list):
        for i, rep in enumerate(federation["members"]):
            if isinstance(rep, dict):
                _check_replica(rep, ("federation", "members", i), clusters, problems)
    return problems


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_scale(block: Any, path: PathT, problems: List[Problem], *, zero_unbounded: bool) -> None:
    if not isinstance(block, dict):
        return
    low, high = block.get("min_scale"), block.get("max_scale")
    for key, value in (("min_scale", low), ("max_scale", high)):
        if _is_int(value) and value < 0:
            problems.append(Problem(path + (key,), "must be 0 or more", value=value))
    if _is_int(low) and _is_int(high) and low >= 0 and high >= 0:
        if zero_unbounded and high == 0:
            return
        if low > high:
            note = " (0 means unbounded)" if zero_unbounded else ""
            problems.append(Problem(path + ("min_scale",),
                                    f"must not exceed max_scale ({high}){note}", value=low))


def _check_expose(expose: Dict[str, Any], problems: List[Problem]) -> None:
    for key in ("api_port", "nodePort"):
        value = expose.get(key)
        ports = value if isinstance(value, list) else [value]
        for i, port in enumerate(ports):
            if not _is_int(port):
                continue
            sub = ("expose", key, i) if isinstance(value, list) else ("expose", key)
            if key == "api_port" and port and not 1 <= port <= 65535:
                problems.append(Problem(sub, "must be a TCP port between 1 and 65535", value=port))
            if key == "nodePort" and port and not 1 <= port <= 65535:
                problems.append(Problem(sub, "must be 0 (none) or a TCP port", value=port))
    api = expose.get("api_port")
    if api in (None, 0, []) and _prune(expose):  # an all-zero block is Go's "no expose"
        problems.append(Problem(("expose", "api_port"), "expose has no api_port: the service "
                                "will not be exposed", severity="warning"))
    threshold = expose.get("cpu_threshold")
    if _is_int(threshold) and threshold and not 1 <= threshold <= 100:
        problems.append(Problem(("expose", "cpu_threshold"), "must be a CPU percentage between 1 "
                                "and 100", value=threshold))


def _defined_providers(providers: Any) -> List[str]:
    defined = [DEFAULT_PROVIDER]
    if isinstance(providers, dict):
        for kind, entries in providers.items():
            if isinstance(entries, dict):
                defined.extend(f"{kind}.{ident}" for ident in entries if f"{kind}.{ident}" not in defined)
    return defined


def _check_io(item: Dict[str, Any], path: PathT, defined: List[str], problems: List[Problem],
              *, needs_path: bool, name: Optional[str] = None) -> None:
    provider = item.get("storage_provider")
    kind = None
    if provider is None:
        problems.append(Problem(path + ("storage_provider",), "required field is missing "
                                "(e.g. 'minio.default')"))
    elif isinstance(provider, str):
        kind, _, ident = provider.partition(".")
        if kind not in PROVIDER_TYPES:
            problems.append(Problem(path + ("storage_provider",),
                                    f"unknown storage provider type {kind!r} (expected one of "
                                    f"{', '.join(PROVIDER_TYPES)})", value=provider,
                                    suggestion=_suggest(provider, defined)))
        elif not ident:
            problems.append(Problem(path + ("storage_provider",), "must be 'type.id', e.g. "
                                    "'minio.default'", value=provider))
        elif provider not in defined:
            problems.append(Problem(path + ("storage_provider",),
                                    f"is not defined in storage_providers (defined: "
                                    f"{', '.join(defined)})", value=provider,
                                    suggestion=_suggest(provider, defined)))
    if io_key_of(path) == "input" and kind in PROVIDER_TYPES and kind not in INPUT_PROVIDER_TYPES:
        problems.append(Problem(path + ("storage_provider",),
                                f"cannot be an input: OSCAR reads inputs from "
                                f"{', '.join(INPUT_PROVIDER_TYPES)} only", value=provider))
    value = item.get("path")
    if value is None:
        if needs_path:
            problems.append(Problem(path + ("path",), "required field is missing (e.g. 'bucket/folder')"))
        return
    if not isinstance(value, str):
        return
    trimmed = value.strip("/ ")
    bucket, _, folder = trimmed.partition("/")
    if io_key_of(path) in ("input", "output") and not (bucket and folder):
        if not bucket:
            problems.append(Problem(path + ("path",), "must be 'bucket/folder' (it is empty)",
                                    value=value))
        elif kind in ("minio", "s3"):
            problems.append(Problem(path + ("path",), "must be 'bucket/folder' (OSCAR needs a "
                                    "folder inside the bucket)", value=value,
                                    suggestion=f"{name}/{bucket}" if name else None))
        elif kind in PROVIDER_TYPES:
            problems.append(Problem(path + ("path",), "has a single part: Manager v4.1+ takes it, "
                                    "v3 needs 'folder/subfolder'", value=value, severity="warning"))
        return
    if not bucket:
        problems.append(Problem(path + ("path",), "must be 'bucket' or 'bucket/folder'", value=value))
        return
    if kind in ("minio", "s3") and not _BUCKET.match(bucket):
        fixed = re.sub(r"[^a-z0-9.-]+", "-", bucket.lower()).strip("-.")
        problems.append(Problem(path + ("path",), "must be 'bucket/folder' with a bucket name of "
                                "3-63 lowercase letters, digits, '.' or '-'", value=value,
                                suggestion=(fixed + trimmed[len(bucket):]) if len(fixed) >= 3 else None))


def io_key_of(path: PathT) -> str:
    """'input', 'output' or 'mount' for a storage-IO path like ('input', 0)."""
    return str(path[0]) if path else ""


def _check_replica(rep: Dict[str, Any], path: PathT, clusters: Dict[str, Any],
                   problems: List[Problem]) -> None:
    kind = rep.get("type")
    if isinstance(kind, str) and kind not in ("oscar", "endpoint"):
        problems.append(Problem(path + ("type",), "must be 'oscar' or 'endpoint'", value=kind))
    if kind == "oscar":
        cid = rep.get("cluster_id")
        if isinstance(cid, str) and cid not in clusters:
            problems.append(Problem(path + ("cluster_id",), "is not defined in clusters (defined: "
                                    f"{', '.join(clusters) or 'none'}): delegating to it will fail",
                                    value=cid, suggestion=_suggest(cid, list(clusters)),
                                    severity="warning"))
    if kind == "endpoint" and not rep.get("url"):
        problems.append(Problem(path + ("url",), "required for an 'endpoint' replica"))


# --------------------------------------------------------------------------- defaults, secrets

def with_defaults(data: Dict[str, Any]) -> Dict[str, Any]:
    """A deep copy of `data` with what the Manager fills on creation."""
    out = copy.deepcopy(data)
    for key, value in DEFAULTS.items():
        if key not in out or out[key] in (None, ""):
            out[key] = copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(out[key], dict):
            for sub, subval in value.items():
                out[key].setdefault(sub, subval)
    if isinstance(out.get("expose"), dict):
        for key, value in EXPOSE_DEFAULTS.items():
            out["expose"].setdefault(key, value)
    env = out.setdefault("environment", {})
    if isinstance(env, dict):
        env.setdefault("variables", {})
    for key in ("input", "output"):
        if out.get(key) is None:
            out[key] = []
    return out


def _redact(value: Any, path: PathT) -> Any:
    if is_secret_path(path) and not isinstance(value, (dict, list)) and value not in (None, ""):
        return REDACTED
    if isinstance(value, dict):
        return {k: _redact(v, path + (k,)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, path + (i,)) for i, v in enumerate(value)]
    return value


def redact_service(data: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of a service definition with every secret value replaced by '***'."""
    return _redact(data, ())


#: Labels the Manager adds to every service (Kubernetes bookkeeping, not user settings).
SERVER_LABELS = ("oscar_service", "applicationId", "queue", "uid", "vo",
                 "kueue.x-k8s.io/queue-name")


def _prune(value: Any) -> Any:
    """Drop Go zero values (false, 0, '', null, empty lists/maps): the Manager cannot tell
    them from unset, and GET returns every field of its struct."""
    if isinstance(value, dict):
        out = {}
        for key, sub in value.items():
            sub = _prune(sub)
            if sub in (None, "", [], {}) or sub is False or (_is_int(sub) and sub == 0):
                continue
            out[key] = sub
        return out
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def comparable(data: Dict[str, Any]) -> Dict[str, Any]:
    """The user-meaningful part of a service: normalised, defaults filled, server-set fields gone.

    Two definitions that deploy the same service give equal results, whether
    one is a local spec and the other what ``GET /system/services/<name>``
    returned: token, owner, cluster_id, labels the Manager adds, the server's
    own ``minio.default`` credentials, zero values and secret values are
    ignored (a secret compares only by name).
    """
    out, _ = normalise(data)
    for key in SERVER_SET_FIELDS + LABEL_FIELDS:
        out.pop(key, None)
    env = out.get("environment")
    if isinstance(env, dict) and isinstance(env.get("secrets"), dict):
        env["secrets"] = {k: REDACTED for k in env["secrets"]}
    providers = out.get("storage_providers")
    if isinstance(providers, dict) and isinstance(providers.get("minio"), dict):
        providers["minio"].pop("default", None)
    labels = out.get("labels")
    if isinstance(labels, dict):
        out["labels"] = {k: v for k, v in labels.items()
                         if k not in SERVER_LABELS and not k.lower().startswith("oscar")}
    if out.get("isolation_level") == "SERVICE":
        out.pop("isolation_level")  # the v3.7+ default
    if isinstance(out.get("script"), str):
        out["script"] = out["script"].replace("\r\n", "\n")
    return _prune(with_defaults(_prune(out)))


# --------------------------------------------------------------------------- ServiceSpec

class ServiceSpec:
    """One service definition as the client holds it.

    `data` is the API JSON (normalised); `cluster_id` the FDL cluster key it
    came under (None for a bare definition); `script_path` the file the script
    was read from, if any; `notices` what normalisation changed; `warnings`
    the non-fatal problems.
    """

    def __init__(self, data: Dict[str, Any], *, cluster_id: Optional[str] = None,
                 script_path: Optional[Union[str, Path]] = None,
                 notices: Optional[Sequence[str]] = None,
                 warnings: Optional[Sequence[Problem]] = None) -> None:
        self.data = data
        self.cluster_id = cluster_id
        self.script_path = Path(script_path) if script_path is not None else None
        self.notices = list(notices or [])
        self.warnings = list(warnings or [])

    @classmethod
    def from_dict(cls, data: Dict[str, Any], *, cluster_id: Optional[str] = None,
                  unknown: str = "error", target_version: Optional[str] = None) -> "ServiceSpec":
        """Normalise and validate `data`; raise InvalidDefinition listing every error."""
        from .errors import InvalidDefinition

        if isinstance(data, ServiceSpec):
            return data
        normalised, notices = normalise(data, target_version=target_version)
        problems = validate(normalised, unknown=unknown)
        errors = errors_of(problems)
        if errors:
            name = normalised.get("name")
            what = f"service {name!r}" if isinstance(name, str) and name else "the service definition"
            raise InvalidDefinition(f"{what} is invalid ({len(errors)} "
                                    f"problem{'s' if len(errors) != 1 else ''})", errors)
        for notice in notices:
            log.info("%s", notice)
        return cls(normalised, cluster_id=cluster_id, notices=notices,
                   warnings=warnings_of(problems))

    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))

    @property
    def image(self) -> str:
        return str(self.data.get("image", ""))

    @property
    def script(self) -> str:
        return str(self.data.get("script", ""))

    def to_dict(self, *, target_version: Optional[str] = None) -> Dict[str, Any]:
        """A deep copy of the API JSON, secrets included (this is what is sent).

        With `target_version` (the Manager's version, e.g. ``"3.7.1"``),
        ``expose.api_port``/``nodePort`` take the shape that version decodes:
        a number up to v4.0, a list from v4.1.
        """
        if target_version:
            return normalise(self.data, target_version=target_version)[0]
        return copy.deepcopy(self.data)

    def redacted(self) -> Dict[str, Any]:
        """The API JSON with secret values replaced by '***' (safe to show)."""
        return redact_service(self.data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServiceSpec):
            return NotImplemented
        return self.data == other.data and self.cluster_id == other.cluster_id

    def __hash__(self) -> int:  # mutable: identity hash
        return id(self)

    def __repr__(self) -> str:
        lines = self.script.count("\n") + 1 if self.script else 0
        parts = [f"name={self.name!r}", f"image={self.image!r}"]
        if self.cluster_id:
            parts.append(f"cluster_id={self.cluster_id!r}")
        parts.append(f"script=<{lines} line{'s' if lines != 1 else ''}>")
        for io_key in ("input", "output"):
            items = self.data.get(io_key) or []
            paths = [i.get("path") for i in items if isinstance(i, dict)]
            if paths:
                parts.append(f"{io_key}={paths!r}")
        return f"ServiceSpec({', '.join(parts)})"


# --------------------------------------------------------------------------- schema generation

def _closure(defs: Dict[str, Any], root: str) -> List[str]:
    seen: List[str] = []

    def walk(name: str) -> None:
        if name in seen or name not in defs:
            return
        seen.append(name)
        for ref in re.findall(r'#/definitions/([\w.]+)', json.dumps(defs[name])):
            walk(ref)

    walk(root)
    return seen


def _merge(a: Dict[str, Any], b: Dict[str, Any], label_a: str, label_b: str) -> Dict[str, Any]:
    if a == b:
        return a
    if "properties" in a and "properties" in b:
        merged = {k: v for k, v in a.items() if k != "properties"}
        for k, v in b.items():
            if k not in ("properties", "required"):
                merged.setdefault(k, v)
        props: Dict[str, Any] = {}
        for key in list(a["properties"]) + [k for k in b["properties"] if k not in a["properties"]]:
            if key in a["properties"] and key in b["properties"]:
                props[key] = _merge(a["properties"][key], b["properties"][key], label_a, label_b)
            elif key in a["properties"]:
                props[key] = dict(a["properties"][key], **{"x-oscar-only": label_a})
            else:
                props[key] = dict(b["properties"][key], **{"x-oscar-only": label_b})
        merged["properties"] = dict(sorted(props.items()))
        req = [r for r in a.get("required", []) if r in b.get("required", [])]
        if req:
            merged["required"] = req
        return merged
    strip = ("description", "default")
    core_a = {k: v for k, v in a.items() if k not in strip}
    core_b = {k: v for k, v in b.items() if k not in strip}
    if core_a == core_b:
        return dict(b, **{k: v for k, v in a.items() if k not in b})
    out: Dict[str, Any] = {"anyOf": [core_a, core_b],
                           "x-oscar-shapes": {label_a: core_a, label_b: core_b}}
    for k in strip:
        if k in b or k in a:
            out[k] = b.get(k, a.get(k))
    return out


def regenerate(spec_paths: Sequence[Union[str, Path]], output: Union[str, Path] = SCHEMA_PATH
               ) -> Dict[str, Any]:
    """Build schema/service.json from Manager OpenAPI (swagger 2) files; return it."""
    import yaml

    merged: Dict[str, Any] = {}
    labels: List[str] = []
    for spec_path in spec_paths:
        spec_path = Path(spec_path)
        with open(spec_path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
        found = re.search(r"v?(\d+\.\d+\.\d+)", spec_path.name)
        label = "v" + found.group(1) if found else str(doc.get("info", {}).get("version", spec_path.stem))
        defs = doc.get("definitions") or doc.get("components", {}).get("schemas", {})
        if "types.Service" not in defs:
            raise SystemExit(f"{spec_path}: no types.Service definition")
        names = _closure(defs, "types.Service")
        current = {n: defs[n] for n in names}
        if not merged:
            merged = current
            labels.append(label)
            continue
        prev_label = "+".join(labels)
        for name, schema in current.items():
            if name in merged:
                merged[name] = _merge(merged[name], schema, prev_label, label)
            else:
                merged[name] = schema
        labels.append(label)
    result = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$comment": ("types.Service from the OSCAR Manager OpenAPI specs "
                     f"{', '.join(labels)}, merged (union of fields; 'x-oscar-only' marks "
                     "fields one version lacks). Generated by "
                     "`python -m oscar_jupyter.spec --regenerate SPEC...`; do not edit."),
        "x-oscar-versions": labels,
        "$ref": "#/definitions/types.Service",
        "definitions": dict(sorted(merged.items())),
    }
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1, sort_keys=False)
        fh.write("\n")
    _SCHEMA_CACHE.clear()
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m oscar_jupyter.spec --regenerate SPEC...`` or ``--check FILE.json``."""
    parser = argparse.ArgumentParser(prog="python -m oscar_jupyter.spec",
                                     description="OSCAR service schema tools.")
    parser.add_argument("--regenerate", nargs="+", metavar="SPEC",
                        help="rebuild schema/service.json from Manager OpenAPI yaml files")
    parser.add_argument("--output", default=str(SCHEMA_PATH), help="where to write the schema")
    parser.add_argument("--check", metavar="FILE", help="validate one service JSON file")
    args = parser.parse_args(argv)
    if args.regenerate:
        result = regenerate(args.regenerate, args.output)
        print(f"wrote {args.output}: {len(result['definitions'])} definitions from "
              f"{', '.join(result['x-oscar-versions'])}")
        return 0
    if args.check:
        with open(args.check, encoding="utf-8") as fh:
            data, notices = normalise(json.load(fh))
        for notice in notices:
            print(f"note: {notice}")
        problems = validate(data)
        for problem in problems:
            print(f"{problem.severity}: {problem}")
        return 1 if errors_of(problems) else 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
