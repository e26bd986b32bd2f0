"""Building schema/service.json from the Manager's OpenAPI specs (and the supplement)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from .schema import SCHEMA_CACHE, SCHEMA_PATH, SUPPLEMENT_PATH


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


def supplement_fields(merged: Dict[str, Any], supplement: Dict[str, Any]) -> List[str]:
    """Add the supplement's fields to `merged` definitions (in place); return their paths.

    A supplement only adds: a field the specs already define, or a definition
    they lack, is an error (the supplement is stale and must be edited).
    """
    added: List[str] = []
    for name, extra in (supplement.get("definitions") or {}).items():
        target = merged.get(name)
        if target is None or "properties" not in target:
            raise SystemExit(f"supplement: {name} is not an object definition of the specs")
        for field, schema in (extra.get("properties") or {}).items():
            if field in target["properties"]:
                raise SystemExit(f"supplement: {name}.{field} is already in the specs; remove it "
                                 "from the supplement")
            if "x-oscar-source" not in schema:
                raise SystemExit(f"supplement: {name}.{field} needs an 'x-oscar-source'")
            target["properties"][field] = dict(schema, **{"x-oscar-supplement": True})
            added.append(f"{name}.{field}")
        target["properties"] = dict(sorted(target["properties"].items()))
    return added


def regenerate(spec_paths: Sequence[Union[str, Path]], output: Union[str, Path] = SCHEMA_PATH,
               supplement: Optional[Union[str, Path]] = SUPPLEMENT_PATH) -> Dict[str, Any]:
    """Build schema/service.json from Manager OpenAPI (swagger 2) files and the supplement
    (``schema/supplement.json``; None for none); return it."""
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
    added: List[str] = []
    if supplement is not None:
        with open(supplement, encoding="utf-8") as fh:
            added = supplement_fields(merged, json.load(fh))
    result = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$comment": ("types.Service from the OSCAR Manager OpenAPI specs "
                     f"{', '.join(labels)}, merged (union of fields; 'x-oscar-only' marks "
                     "fields one version lacks)"
                     + (f", plus {', '.join(added)} from supplement.json ('x-oscar-supplement', "
                        "with 'x-oscar-source')" if added else "")
                     + ". Generated by `python -m oscar_jupyter.spec --regenerate SPEC...`; "
                     "do not edit."),
        "x-oscar-versions": labels,
        "$ref": "#/definitions/types.Service",
        "definitions": dict(sorted(merged.items())),
    }
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1, sort_keys=False)
        fh.write("\n")
    SCHEMA_CACHE.clear()
    return result
