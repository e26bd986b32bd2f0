"""OSCAR's rules beyond the schema: names, quantities, scales, ports, storage paths, replicas."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from .comparison import prune, is_int
from .problems import PathT, Problem
from .quantity import parse_quantity
from .schema import object_shape, schema_at
from .suggestions import suggest, suggest_name
from .volume import checked_volume
from .vocabulary import (DEFAULT_PROVIDER, INPUT_PROVIDER_TYPES, LOG_LEVELS, NAME_MAX,
                         PROVIDER_TYPES, VISIBILITIES)


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


#: the width of each integer field in the Manager's Go types (pkg/types: int32, or int, 64 bits
#: on the Manager's amd64); a port list's entries are the list's path with ``[]``
_GO_INT_BITS: Dict[PathT, int] = {
    ("expose", "min_scale"): 32, ("expose", "max_scale"): 32, ("expose", "cpu_threshold"): 32,
    ("expose", "nodePort"): 32, ("expose", "api_port"): 64,
    ("kserve", "min_scale"): 32, ("kserve", "max_scale"): 32,
    ("synchronous", "min_scale"): 64, ("synchronous", "max_scale"): 64, ("rescheduler_threshold",): 64,
}


def _go_int_problems(data: Dict[str, Any]) -> List[Problem]:
    """Integers outside their Go field's range: the Manager's JSON decoding refuses them."""
    problems = []
    for path, bits in _GO_INT_BITS.items():
        block: Any = data
        for key in path[:-1]:
            block = block.get(key) if isinstance(block, dict) else None
        value = block.get(path[-1]) if isinstance(block, dict) else None
        values = enumerate(value) if isinstance(value, list) else [(None, value)]
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        for i, item in values:
            if is_int(item) and not low <= item <= high:
                where = path if i is None else path + (i,)
                problems.append(Problem(where, f"does not fit the Manager's Go type int{bits} (from {low} to {high})",
                                        value=item))
    return problems


def check_quantity(value: str, field: str) -> Tuple[Optional[str], Optional[str], str]:
    """(error message, suggestion, severity) for a Kubernetes quantity, or (None, None, '').

    What the Manager's ``resource.ParseQuantity`` refuses is an error (spaces too); a negative
    value parses, but Kubernetes refuses it in a pod's resources."""
    error, sign = parse_quantity(value)
    if error is None and sign < 0:
        return "must not be negative", None, "error"
    if error is None:
        if field == "memory" and value.endswith("m"):
            return (f"'{value}' means {value[:-1]} thousandths of a byte",
                    value[:-1] + "Mi", "warning")
        return None, None, ""
    text = value.strip()
    suggestion = text if text != value and parse_quantity(text) == (None, 1) else None
    m = re.match(r"(\d+(?:\.\d+)?)\s*([A-Za-z]+)", text)
    if m and m.end() == len(text):
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


def oscar_rules(data: Dict[str, Any]) -> List[Problem]:
    """Every problem OSCAR's own rules find in a (normalised) definition."""
    problems: List[Problem] = []
    add = problems.append

    fields = object_shape(schema_at(()) or {})[0] or {}
    for key in data:
        origin = fields.get(key, {}).get("x-oscar-unreleased") if isinstance(key, str) else None
        if origin:
            add(Problem((key,), f"only Manager builds from the {origin} read this field; released "
                        "Managers ignore it", severity="warning"))

    name = data.get("name")
    if isinstance(name, str):
        if not name:
            add(Problem(("name",), "must not be empty", value=name))
        elif len(name) > NAME_MAX or not _DNS_LABEL.fullmatch(name):
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

    problems.extend(_go_int_problems(data))
    _check_scale(data.get("synchronous"), ("synchronous",), problems, zero_unbounded=True)
    expose = data.get("expose")
    if isinstance(expose, dict):
        _check_scale(expose, ("expose",), problems, zero_unbounded=False)
        _check_expose(expose, problems)

    volume = data.get("volume")
    if isinstance(volume, dict):
        problem = checked_volume(name if isinstance(name, str) else "", volume)[1]
        if problem:
            add(Problem(("volume", problem[0]), problem[1], value=volume.get(problem[0])))

    visibility = data.get("visibility")
    if isinstance(visibility, str) and visibility and visibility not in VISIBILITIES:
        add(Problem(("visibility",), "must be 'private', 'public' or 'restricted'", value=visibility,
                    suggestion=suggest(visibility, VISIBILITIES)))
    if visibility == "restricted" and not data.get("allowed_users"):
        add(Problem(("allowed_users",), "visibility is 'restricted' but no allowed_users are "
                    "listed: only the owner will see the service", severity="warning"))

    level = data.get("log_level")
    if isinstance(level, str) and level and level not in LOG_LEVELS:
        add(Problem(("log_level",), f"must be one of {', '.join(LOG_LEVELS)}", value=level,
                    suggestion=suggest(level, LOG_LEVELS), severity="warning"))

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


def _check_scale(block: Any, path: PathT, problems: List[Problem], *, zero_unbounded: bool) -> None:
    if not isinstance(block, dict):
        return
    low, high = block.get("min_scale"), block.get("max_scale")
    for key, value in (("min_scale", low), ("max_scale", high)):
        if is_int(value) and value < 0:
            problems.append(Problem(path + (key,), "must be 0 or more", value=value))
    if is_int(low) and is_int(high) and low >= 0 and high >= 0:
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
            if not is_int(port):
                continue
            sub = ("expose", key, i) if isinstance(value, list) else ("expose", key)
            if key == "api_port" and port and not 1 <= port <= 65535:
                problems.append(Problem(sub, "must be a TCP port between 1 and 65535", value=port))
            if key == "nodePort" and port and not 1 <= port <= 65535:
                problems.append(Problem(sub, "must be 0 (none) or a TCP port", value=port))
    api = expose.get("api_port")
    if api in (None, 0, []) and prune(expose):  # an all-zero block is Go's "no expose"
        problems.append(Problem(("expose", "api_port"), "expose has no api_port: the service "
                                "will not be exposed", severity="warning"))
    threshold = expose.get("cpu_threshold")
    if is_int(threshold) and threshold and not 1 <= threshold <= 100:
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
                                    suggestion=suggest(provider, defined)))
        elif not ident:
            problems.append(Problem(path + ("storage_provider",), "must be 'type.id', e.g. "
                                    "'minio.default'", value=provider))
        elif provider not in defined:
            problems.append(Problem(path + ("storage_provider",),
                                    f"is not defined in storage_providers (defined: "
                                    f"{', '.join(defined)})", value=provider,
                                    suggestion=suggest(provider, defined)))
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
                                    value=cid, suggestion=suggest(cid, list(clusters)),
                                    severity="warning"))
    if kind == "endpoint" and not rep.get("url"):
        problems.append(Problem(path + ("url",), "required for an 'endpoint' replica"))
