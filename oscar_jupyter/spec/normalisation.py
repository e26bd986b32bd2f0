"""Normalisation: a definition rewritten into the Manager's canonical shape, with notices.

What is rewritten depends on where the definition comes from (`source`):

* ``"api"``: JSON for the Manager's REST API. The Manager decodes it with
  Go's ``encoding/json``: field names match case-insensitively (``Memory``,
  ``environment.Variables``), ``null`` means unset, but types are strict: a
  number or ``true`` where the Manager wants text (``"script": 5``,
  ``"cpu": 1``) is answered with 400, as is a string where it wants a list
  or ``2.0`` where it wants a whole number.
  Those are left as they are for :func:`~.validation.validate` to report.
* ``"fdl"``: an FDL, read by oscar-cli's YAML decoder (goccy/go-yaml), which
  turns a number or boolean given for a text field into its text
  (``cpu: 1.0`` is ``"1.0"``) and a whole float for a whole-number field into
  that number (``max_scale: 2.0`` is ``2``; ``2.5`` stays an error here,
  where oscar-cli would silently cut it to 2). What oscar-cli's decoder
  refuses stays for :func:`~.validation.validate` to report: a list or
  mapping where text is wanted (``vo: [x]``, a list as an environment value),
  a single string where a list is wanted (``suffix: .jpg``).

Both sources get what the Manager itself does on creation: case of field
names, nulls dropped, bare ``minio`` providers, trimmed storage paths,
bucket-less paths (v4.1+), upper-cased log levels, CRLF scripts.
"""
from __future__ import annotations

import copy
import json
import re
from typing import Any, Dict, List, Optional, Tuple

from .problems import PathT, format_path, show
from .schema import items_schema, object_shape, types_of
from .secret_fields import is_secret_path
from .vocabulary import (DEFAULT_PROVIDER, LOG_LEVELS, ORIGIN_CLUSTER_ANNOTATION,
                         ORIGIN_SERVICE_ANNOTATION, PROVIDER_TYPES)


#: Where a definition comes from: the Manager's JSON API, or an FDL (YAML, as oscar-cli reads it).
SOURCES = ("api", "fdl")


def normalise(data: Dict[str, Any], *, source: str = "api", target_version: Optional[str] = None
              ) -> Tuple[Dict[str, Any], List[str]]:
    """Rewrite a definition into the Manager's canonical shape (see the module doc).

    Returns ``(normalised deep copy, notices)`` with one human sentence per
    change. `source` is ``"api"`` (JSON, the Manager's strict types) or
    ``"fdl"`` (YAML as oscar-cli reads it: text fields take numbers and
    booleans as their text). `target_version` (e.g. ``"3.7.1"`` or ``"v4.1.2"``) converts
    ``expose.api_port``/``nodePort`` to the shape that version wants (a
    number up to v4.0, a list from v4.1); without it the shape is kept.
    """
    if not isinstance(data, dict):
        raise TypeError(f"a service definition must be a mapping, not {type(data).__name__}")
    if source not in SOURCES:
        raise ValueError(f"source must be 'api' or 'fdl', not {source!r}")
    lenient = source == "fdl"
    out = copy.deepcopy(data)
    notices: List[str] = []
    out = _normalise_node(out, {"$ref": "#/definitions/types.Service"}, (), notices, lenient)

    for io_key in ("input", "output"):
        items = out.get(io_key)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    _normalise_io(item, (io_key, i), notices, lenient)
                    _expand_bucketless(out, item, (io_key, i), notices)
    if isinstance(out.get("mount"), dict):
        _normalise_io(out["mount"], ("mount",), notices, lenient)

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

    expose = out.get("expose")
    if isinstance(expose, dict) and target_version:
        wants_list = version_tuple(target_version) >= (4, 1)
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


def version_tuple(version: str) -> Tuple[int, ...]:
    nums = re.findall(r"\d+", version)
    return tuple(int(n) for n in nums[:3]) or (0,)


def _normalise_io(item: Dict[str, Any], path: PathT, notices: List[str], lenient: bool) -> None:
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


def stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def go_fold(key: str) -> str:
    """Go's ``EqualFold`` for a key against ASCII field names: ``ſ`` is also ``s`` and the Kelvin
    sign ``k`` (``str.lower`` maps neither)."""
    return key.replace("\u017f", "s").replace("\u212a", "k").lower()


def _is_map(schema: Optional[Dict[str, Any]]) -> bool:
    props, extra = object_shape(schema or {})
    return props is None and extra is not None


def _merged(earlier: Dict[Any, Any], later: Dict[Any, Any]) -> Dict[Any, Any]:
    """A field sent twice as objects: Go decodes the second into the first, at every depth."""
    out = dict(earlier)
    for key, item in later.items():
        out[key] = _merged(out[key], item) if isinstance(out.get(key), dict) and isinstance(item, dict) else item
    return out


def _normalise_node(value: Any, schema: Dict[str, Any], path: PathT, notices: List[str],
                    lenient: bool) -> Any:
    where = format_path(path)
    kinds = types_of(schema)
    if isinstance(value, dict):
        props, extra = object_shape(schema)
        if props is not None:
            lower = {k.lower(): k for k in props}
            # Go's decoder matches a key exactly, else case-insensitively, and takes keys in the
            # order sent: of two keys for one field the later wins (objects: key by key)
            settled: Dict[Any, Any] = {}
            for key, item in value.items():
                canonical = key if key in props or not isinstance(key, str) else lower.get(go_fold(key), key)
                if canonical != key:
                    sub = format_path(path + (canonical,))
                    if canonical in settled:
                        what = "merged into" if isinstance(item, dict) else "overrides"
                        notices.append(f"{format_path(path + (key,))} {what} {sub}, set before it "
                                       "(the Manager matches field names case-insensitively)")
                    else:
                        notices.append(f"{format_path(path + (key,))} renamed to {sub} "
                                       f"(the Manager matches field names case-insensitively)")
                elif canonical in settled:
                    what = "merged with" if isinstance(item, dict) else "overrides"
                    notices.append(f"{format_path(path + (key,))} {what} an earlier spelling of it")
                earlier = settled.get(canonical)
                if canonical in settled and item is None and earlier is not None \
                        and not ({"array"} & types_of(props.get(canonical, {})) or _is_map(props.get(canonical))):
                    continue  # null leaves a Go string, number, bool or struct as it was
                if isinstance(earlier, dict) and isinstance(item, dict):
                    item = _merged(earlier, item)
                settled.pop(canonical, None)
                settled[canonical] = item
            value.clear()
            value.update(settled)
            nulls = [key for key in value if value[key] is None and key in props]
            for key in nulls:
                del value[key]
            if nulls:
                fields = ", ".join(nulls)
                notices.append(f"{where + ': ' if path else ''}empty (null) {fields} dropped; OSCAR treats "
                               f"{'it' if len(nulls) == 1 else 'them'} as unset")
            for key, sub in list(value.items()):
                if key in props:
                    value[key] = _normalise_node(sub, props[key], path + (key,), notices, lenient)
        elif extra is not None:
            extra_kinds = types_of(extra)
            for key, sub in list(value.items()):
                if sub is None and extra_kinds == {"string"}:
                    value[key] = ""
                    notices.append(f"{format_path(path + (key,))}: empty (null) value written as ''")
                elif (lenient and extra_kinds == {"string"}
                      and isinstance(sub, (bool, int, float))):
                    value[key] = stringify(sub)
                    kind = type(sub).__name__
                    if is_secret_path(path + (key,)):
                        notices.append(f"{format_path(path + (key,))}: {kind} written as a string "
                                       "(value hidden; OSCAR takes strings only)")
                    else:
                        notices.append(f"{format_path(path + (key,))}: {kind} {show(sub)} written "
                                       f"as the string {value[key]!r} (OSCAR takes strings only)")
                else:
                    value[key] = _normalise_node(sub, extra, path + (key,), notices, lenient)
        return value
    if isinstance(value, list):
        items = items_schema(schema)
        if items is not None:
            return [_normalise_node(v, items, path + (i,), notices, lenient)
                    for i, v in enumerate(value)]
        if kinds == {"string"} and all(isinstance(v, str) for v in value):
            return value  # left for validate to report
        return value
    if not lenient:
        return value  # the Manager's JSON decoding takes no other type: validate reports it
    if ("integer" in kinds and "number" not in kinds and isinstance(value, float)
            and value.is_integer()):
        notices.append(f"{where}: {value!r} written as the integer {int(value)} (as oscar-cli "
                       f"reads it; the Manager's JSON decoding refuses {value!r} for a whole number)")
        return int(value)
    if kinds == {"string"} and isinstance(value, (bool, int, float)):
        text = stringify(value)
        if is_secret_path(path):
            notices.append(f"{where}: {type(value).__name__} written as a string (value hidden)")
        else:
            notices.append(f"{where}: {type(value).__name__} {value!r} written as the string {text!r}")
        return text
    return value
