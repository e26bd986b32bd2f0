"""Checking a normalised definition: the schema, unknown fields, then OSCAR's rules."""
from __future__ import annotations

import threading
from typing import Any, Dict, List

from .problems import UNKNOWN_FIELD, UNKNOWN_MODES, PathT, Problem, format_path, unknown_message
from .rules import oscar_rules
from .schema import SCHEMA_CACHE, alternatives, deref, items_schema, object_shape, service_schema
from .secret_fields import is_secret_path
from .suggestions import suggest


def validate(data: Dict[str, Any], *, unknown: str = "error") -> List[Problem]:
    """Every problem in a (normalised) service definition, errors and warnings.

    `unknown` says what an unknown field is: ``"error"``, ``"warn"`` (a
    warning) or ``"ignore"`` (the Manager drops unknown fields silently).
    Run :func:`normalise` first: this checks the canonical shape.
    """
    if unknown not in UNKNOWN_MODES:
        raise ValueError("unknown must be 'error', 'warn' or 'ignore'")
    if not isinstance(data, dict):
        return [Problem((), f"a service definition must be a mapping, not {type(data).__name__}")]
    problems: List[Problem] = []
    problems.extend(_schema_problems(data))
    if unknown != "ignore":
        severity = "error" if unknown == "error" else "warning"
        problems.extend(_unknown_fields(data, {"$ref": "#/definitions/types.Service"}, (), severity))
    problems.extend(oscar_rules(data))
    for p in problems:
        if is_secret_path(p.path) and p.value is not None:
            p.value = None
            p.suggestion = None  # it may be made of the value
            if "value hidden" not in p.message:
                p.message += " (value hidden)"
    return problems


_TYPE_WORDS = {"string": "a string", "integer": "an integer", "boolean": "true or false",
               "object": "a mapping", "array": "a list", "number": "a number"}


def _expected(schema: Dict[str, Any]) -> str:
    words = []
    for alt in alternatives(schema):
        t = alt.get("type") or ("object" if "properties" in alt else None)
        if t == "array" and isinstance(alt.get("items"), dict):
            inner = deref(alt["items"]).get("type")
            words.append(f"a list of {inner}s" if inner else "a list")
        elif t:
            words.append(_TYPE_WORDS.get(t, t))
    return " or ".join(dict.fromkeys(words)) or "another type"


_BUILDING = threading.Lock()


def _validator() -> Any:
    """The schema's validator, built once (a first caller waits for one being built)."""
    validator = SCHEMA_CACHE.get("validator")
    if validator is not None:
        return validator
    with _BUILDING:
        validator = SCHEMA_CACHE.get("validator")
        if validator is None:
            import jsonschema  # deferred: see warm_up

            schema = service_schema()
            cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
            # Go's encoding/json refuses 2.0 for an int field (JSON Schema would take it)
            strict = cls.TYPE_CHECKER.redefine(
                "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool))
            cls = jsonschema.validators.extend(cls, type_checker=strict)
            validator = SCHEMA_CACHE["validator"] = cls(schema)
    return validator


def warm_up() -> threading.Thread:
    """Build the validator on a daemon thread, so that the first definition checked does not wait.

    Importing jsonschema imports its optional format checkers, and one of them
    (``rfc3987_syntax``, which JupyterLab's own dependencies install) builds a
    grammar at import: seconds, during which a server handling its first
    ``POST /system/services`` on its event loop would answer nothing else."""
    thread = threading.Thread(target=_validator, name="oscar-fdl-schema", daemon=True)
    thread.start()
    return thread


def _schema_problems(data: Dict[str, Any]) -> List[Problem]:
    validator = _validator()
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
            expected = _expected(err.schema)
            suggestion = None
            if (expected == "a string" and isinstance(err.instance, list) and len(err.instance) == 1
                    and isinstance(err.instance[0], (str, int, float))):
                suggestion = str(err.instance[0])  # `vo: [x]`: YAML's flow list, not the text x
            problems.append(Problem(path, f"must be {expected}", value=err.instance,
                                    suggestion=suggestion))
            continue
        problems.append(Problem(path, err.message, value=None))
    return problems


def _unknown_fields(value: Any, schema: Dict[str, Any], path: PathT, severity: str) -> List[Problem]:
    problems: List[Problem] = []
    if isinstance(value, dict):
        props, extra = object_shape(schema)
        if props is not None:
            for key, sub in value.items():
                if key in props:
                    problems.extend(_unknown_fields(sub, props[key], path + (key,), severity))
                    continue
                suggestion = suggest(str(key), list(props))
                where = format_path(path) if path else "a service"
                problems.append(Problem(path + (key,), unknown_message(where, severity),
                                        suggestion=suggestion, severity=severity,
                                        code=UNKNOWN_FIELD))
        elif extra is not None:
            for key, sub in value.items():
                problems.extend(_unknown_fields(sub, extra, path + (key,), severity))
    elif isinstance(value, list):
        items = items_schema(schema)
        if items is not None:
            for i, sub in enumerate(value):
                problems.extend(_unknown_fields(sub, items, path + (i,), severity))
    return problems
