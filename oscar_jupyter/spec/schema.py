"""The packaged JSON schema of `types.Service` and how to walk it.

``schema/service.json`` is generated (see :mod:`.regenerate`) from the
Manager v3.7.1 and v4.1.2 OpenAPI specs plus ``schema/supplement.json``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union


SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "service.json"
#: Fields the Manager reads that its OpenAPI specs lack (merged by the regenerate command).
SUPPLEMENT_PATH = SCHEMA_PATH.with_name("supplement.json")

#: The loaded schema and its compiled validator (cleared when the schema is regenerated).
SCHEMA_CACHE: Dict[str, Any] = {}


def service_schema() -> Dict[str, Any]:
    """The packaged JSON schema of `types.Service` (both Manager versions merged)."""
    if "schema" not in SCHEMA_CACHE:
        with open(SCHEMA_PATH, encoding="utf-8") as fh:
            SCHEMA_CACHE["schema"] = json.load(fh)
    return SCHEMA_CACHE["schema"]


def definitions() -> Dict[str, Any]:
    return service_schema()["definitions"]


def deref(schema: Dict[str, Any]) -> Dict[str, Any]:
    """Follow `$ref` and single-branch `allOf` to the schema that describes the value."""
    seen = 0
    while True:
        seen += 1
        if seen > 20:
            return schema
        if "$ref" in schema:
            schema = definitions()[schema["$ref"].rsplit("/", 1)[-1]]
            continue
        if "allOf" in schema:
            merged: Dict[str, Any] = {}
            for branch in schema["allOf"]:
                merged.update(deref(branch))
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            merged.update({k: v for k, v in rest.items() if k not in ("description",)})
            schema = merged
            continue
        return schema


def alternatives(schema: Dict[str, Any]) -> List[Dict[str, Any]]:
    schema = deref(schema)
    if "anyOf" in schema:
        out: List[Dict[str, Any]] = []
        for branch in schema["anyOf"]:
            out.extend(alternatives(branch))
        return out
    return [schema]


def types_of(schema: Dict[str, Any]) -> set:
    kinds = set()
    for alt in alternatives(schema):
        t = alt.get("type")
        if isinstance(t, list):
            kinds.update(t)
        elif t:
            kinds.add(t)
        elif "properties" in alt or "additionalProperties" in alt:
            kinds.add("object")
    return kinds


def object_shape(schema: Dict[str, Any]) -> Tuple[Optional[Dict[str, Any]], Optional[Dict[str, Any]]]:
    """(properties, additionalProperties schema) of the object alternative, if any."""
    for alt in alternatives(schema):
        if "properties" in alt:
            return alt["properties"], None
        if isinstance(alt.get("additionalProperties"), dict):
            return None, alt["additionalProperties"]
    return None, None


def items_schema(schema: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    for alt in alternatives(schema):
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
            schema = items_schema(schema)
            continue
        props, extra = object_shape(schema)
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
    return types_of(schema) if schema is not None else set()


def known_fields(path: Sequence[Union[str, int]] = ()) -> List[str]:
    """Names of the fields the schema defines for the object at `path`."""
    schema = schema_at(path)
    if schema is None:
        return []
    props, _ = object_shape(schema)
    return sorted(props or ())
