"""Writing an FDL back: YAML oscar-cli accepts, scripts as files, secrets blanked unless asked."""
from __future__ import annotations

import copy
import logging
from typing import Any, Dict, List, Tuple, Union

import yaml

from .. import spec
from ..spec import ServiceSpec

log = logging.getLogger(__name__)

#: The cluster key written when a service has none (the one most published FDLs use).
DEFAULT_CLUSTER_ID = "oscar-cluster"

def document_of(fdl: Any, *, inline_scripts: bool, secrets: bool
                ) -> Tuple[Dict[str, Any], Dict[str, str], List[str]]:
    """(FDL document, {script file name: content}, names of the blanked secrets) for `fdl`."""
    providers: Dict[str, Dict[str, Any]] = {}
    clusters: Dict[str, Any] = {}
    conflicts: set = set()
    for service in fdl.services:
        for kind, entries in (service.data.get("storage_providers") or {}).items():
            for ident, conf in (entries or {}).items():
                if kind == "minio" and ident == "default":
                    continue  # the server always sets its own
                have = providers.setdefault(kind, {}).get(ident)
                if have is not None and have != conf:
                    conflicts.add(("storage_providers", kind, ident))
                providers[kind].setdefault(ident, copy.deepcopy(conf))
        for cid, conf in (service.data.get("clusters") or {}).items():
            if cid in clusters and clusters[cid] != conf:
                conflicts.add(("clusters", cid))
            clusters.setdefault(cid, copy.deepcopy(conf))
    items: List[Dict[str, Any]] = []
    files: Dict[str, str] = {}
    blanked: List[str] = []
    used: set = set()
    for service in fdl.services:
        body = copy.deepcopy(service.data)
        for key in spec.SERVER_SET_FIELDS + spec.LABEL_FIELDS:
            body.pop(key, None)
        own_providers: Dict[str, Any] = {}
        for kind, entries in (body.pop("storage_providers", None) or {}).items():
            for ident, conf in (entries or {}).items():
                if ("storage_providers", kind, ident) in conflicts:
                    own_providers.setdefault(kind, {})[ident] = conf
        if own_providers:
            body["storage_providers"] = own_providers
            log.warning("service %r defines storage provider(s) that differ from another "
                        "service's; they stay in the service (oscar-cli would replace them)",
                        service.name)
        own_clusters = {c: v for c, v in (body.pop("clusters", None) or {}).items()
                        if ("clusters", c) in conflicts}
        if own_clusters:
            body["clusters"] = own_clusters
        if not secrets:
            for key in list((body.get("environment") or {}).get("secrets") or {}):
                if body["environment"]["secrets"][key]:
                    body["environment"]["secrets"][key] = ""
                    blanked.append(f"{service.name}: environment.secrets.{key}")
            for key in ("replicas", "federation"):  # delegation headers carry credentials
                blanked.extend(f"{service.name}: {name}" for name in
                               blank_secret_paths(body.get(key), (key,)))
        environment = body.get("environment")
        if isinstance(environment, dict) and "variables" in environment:
            # oscar-cli decodes the FDL into the Manager's v3.3 types, where the key is
            # `Variables` and matching is case-sensitive: `variables` would be dropped silently
            # (the Manager itself matches either spelling)
            body["environment"] = {("Variables" if k == "variables" else k): v
                                   for k, v in environment.items()}
        script = body.get("script", "")
        if not inline_scripts:
            filename = script_filename(service, used)
            files[filename] = script if script.endswith("\n") or not script else script + "\n"
            body["script"] = filename
        ordered = {k: body[k] for k in ("name", "image", "script") if k in body}
        ordered.update({k: v for k, v in body.items() if k not in ordered})
        items.append({service.cluster_id or DEFAULT_CLUSTER_ID: ordered})
    doc: Dict[str, Any] = {"functions": {"oscar": items}}
    if providers:
        doc["storage_providers"] = providers
    if clusters:
        doc["clusters"] = clusters
    if not secrets:
        blanked.extend(blank_secrets(doc.get("storage_providers"), ("storage_providers",)))
        blanked.extend(blank_secrets(doc.get("clusters"), ("clusters",)))
        for item in items:
            for body in item.values():
                blanked.extend(blank_secrets(body.get("storage_providers"),
                                              (body.get("name", ""), "storage_providers")))
                blanked.extend(blank_secrets(body.get("clusters"),
                                              (body.get("name", ""), "clusters")))
    return doc, files, blanked


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (scripts), insertion order kept."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)


def dump(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=100)


def header(blanked: List[str]) -> str:
    if not blanked:
        return ""
    lines = ["# Secret values were not written; fill them in before applying:"]
    lines += [f"#   {item}" for item in blanked]
    return "\n".join(lines) + "\n"


def blank_secrets(section: Any, where: Tuple[str, ...]) -> List[str]:
    """Empty every secret value (per :data:`spec.SECRET_FIELDS`) under `section`, in place.

    `where` is the section's path: ``("clusters",)``, or ``(service name,
    "storage_providers")`` for a section kept inside one service. Returns
    the dotted names of what was blanked.
    """
    blanked: List[str] = []
    schema_where = tuple(w for w in where if w in ("storage_providers", "clusters"))

    def walk(value: Any, path: Tuple[str, ...]) -> None:
        if not isinstance(value, dict):
            return
        for key, sub in value.items():
            sub_path = path + (str(key),)
            if isinstance(sub, dict):
                walk(sub, sub_path)
            elif sub not in (None, "") and spec.is_secret_path(schema_where + sub_path):
                value[key] = ""
                blanked.append(".".join(p for p in where + sub_path if p))

    walk(section, ())
    return blanked


def blank_secret_paths(value: Any, path: Tuple[Union[str, int], ...]) -> List[str]:
    """Empty, in place, every value under `value` whose service path is a secret
    (:data:`spec.SECRET_FIELDS`); `path` is `value`'s own path in the service.
    Returns the blanked fields written as ``replicas[0].headers.Authorization``."""
    blanked: List[str] = []
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, sub in list(items):
        sub_path = path + (key,)
        if isinstance(sub, (dict, list)):
            blanked.extend(blank_secret_paths(sub, sub_path))
        elif sub not in (None, "") and spec.is_secret_path(sub_path):
            value[key] = ""
            blanked.append(spec.format_path(sub_path))
    return blanked


def script_filename(service: ServiceSpec, used: set) -> str:
    base = service.script_path.name if service.script_path is not None else f"{service.name or 'script'}.sh"
    name, n = base, 2
    while name in used:
        stem, dot, ext = base.rpartition(".")
        name = f"{stem}-{n}.{ext}" if dot else f"{base}-{n}"
        n += 1
    used.add(name)
    return name
