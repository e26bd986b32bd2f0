"""The Manager's Go types that answers are written from, release by release.

Each struct is its JSON fields in declaration order with their ``omitempty``
tag, as in grycap/oscar ``pkg/types`` (``service.go``, ``storage.go``,
``cluster.go``, ``replica.go``, ``federation.go``, ``deployment.go``,
``config.go``) at the release's tag. ``shape`` turns a stored value (a
``dict`` from JSON) into what ``encoding/json`` writes for it: every field
in order, Go's zero value where the value is missing (``""``, ``false``,
``0``, ``null`` for nil slices, maps and pointers; a zero struct for a struct),
``omitempty`` fields left out when empty (never a struct: Go does not omit
those), and keys the type does not have dropped.

Kinds: ``"string"``, ``"bool"``, ``"int"`` (``"int64"``, ``"int32"``, ``"uint"``: Go's width, for
``godecode``), ``("list", kind)``,
``("map", kind)`` (``map[string]kind``), ``("ptr", kind)``, or a struct name.
"""
from __future__ import annotations

from typing import Any, Union

from .gojson import Struct

Kind = Union[str, tuple]
Field = tuple  # (json name, kind, omitempty)

_O = True  # omitempty
_R = False

_STORAGE_IO = [("storage_provider", "string", _R), ("path", "string", _R),
               ("suffix", ("list", "string"), _O), ("prefix", ("list", "string"), _O)]
_REPLICA = [("type", "string", _R), ("cluster_id", "string", _R), ("service_name", "string", _R),
            ("url", "string", _R), ("ssl_verify", "bool", _R), ("priority", "uint", _R),
            ("headers", ("map", "string"), _R)]
_BUCKET = [("bucket_name", "string", _R), ("visibility", "string", _R), ("allowed_users", ("list", "string"), _R),
           ("owner", "string", _R), ("metadata", ("map", "string"), _R), ("objects", ("list", "MinIOObject"), _O)]
_PROVIDERS = {
    "StorageProviders": [("s3", ("map", ("ptr", "S3Provider")), _O),
                         ("minio", ("map", ("ptr", "MinIOProvider")), _O),
                         ("onedata", ("map", ("ptr", "OnedataProvider")), _O),
                         ("webdav", ("map", ("ptr", "WebDavProvider")), _O),
                         ("rucio", ("map", ("ptr", "Rucio")), _O)],
    "MinIOProvider": [("endpoint", "string", _R), ("verify", "bool", _R), ("access_key", "string", _R),
                      ("secret_key", "string", _R), ("region", "string", _R)],
    "S3Provider": [("access_key", "string", _R), ("secret_key", "string", _R), ("region", "string", _R)],
    "OnedataProvider": [("oneprovider_host", "string", _R), ("token", "string", _R), ("space", "string", _R)],
    "WebDavProvider": [("hostname", "string", _R), ("login", "string", _R), ("password", "string", _R)],
    "Rucio": [("host", "string", _R), ("account", "string", _R), ("rse", "string", _R),
              ("refresh_token", "string", _R), ("auth_host", "string", _R), ("oidc_audience", "string", _R),
              ("token_endpoint", "string", _R)],
    "Cluster": [("endpoint", "string", _R), ("auth_user", "string", _R), ("auth_password", "string", _R),
                ("ssl_verify", "bool", _R)],
    "Replica": _REPLICA,
    "Synchronous": [("min_scale", "int", _R), ("max_scale", "int", _R)],
    "Environment": [("variables", ("map", "string"), _R), ("secrets", ("map", "string"), _R)],
    # pkg/utils/minio.go (v4 adds storage_quota, storage_usage, attribution: all omitempty, never set here)
    "MinIOObject": [("object_name", "string", _R), ("size_bytes", "int64", _R), ("owner", "string", _O),
                    ("last_modified", "string", _O)],
    "MinIOBucket": _BUCKET,
    # pkg/handlers/buckets/get_bucket.go: MinIOBucket embedded, then the page fields
    "BucketListResponse": _BUCKET + [("next_page", "string", _O), ("is_truncated", "bool", _R),
                                     ("returned_items", "int", _R)],
    "ServerlessBackendInfo": [("name", "string", _R), ("version", "string", _R)],
    "Info": [("version", "string", _R), ("git_commit", "string", _R), ("architecture", "string", _R),
             ("kubernetes_version", "string", _R), ("serverless_backend", ("ptr", "ServerlessBackendInfo"), _O)],
    "JobInfo": [("status", "string", _R), ("creation_time", ("ptr", "string"), _O),
                ("start_time", ("ptr", "string"), _O), ("finish_time", ("ptr", "string"), _O)],
    "JobsResponse": [("jobs", ("map", ("ptr", "JobInfo")), _R), ("next_page", "string", _O),
                     ("remaining_jobs", ("ptr", "int"), _O)],
}

_V3_7 = dict(_PROVIDERS)
_V3_7.update({
    "StorageIOConfig": _STORAGE_IO,
    "Expose": [("min_scale", "int32", _R), ("max_scale", "int32", _R), ("api_port", "int", _O),
               ("cpu_threshold", "int32", _R), ("rewrite_target", "bool", _R), ("nodePort", "int32", _R),
               ("default_command", "bool", _R), ("set_auth", "bool", _R), ("health_path", "string", _R)],
    "Service": [
        ("name", "string", _R), ("cluster_id", "string", _R), ("memory", "string", _R), ("cpu", "string", _R),
        ("total_memory", "string", _R), ("total_cpu", "string", _R), ("enable_gpu", "bool", _R),
        ("enable_sgx", "bool", _R), ("image_prefetch", "bool", _R), ("synchronous", "Synchronous", _R),
        ("replicas", ("list", "Replica"), _O), ("delegation", "string", _R),
        ("rescheduler_threshold", "int", _R), ("log_level", "string", _R), ("image", "string", _R),
        ("alpine", "bool", _R), ("token", "string", _R), ("file_stage_in", "bool", _R),
        ("input", ("list", "StorageIOConfig"), _R), ("output", ("list", "StorageIOConfig"), _R),
        ("script", "string", _O), ("image_pull_secrets", ("list", "string"), _O), ("expose", "Expose", _R),
        ("environment", "Environment", _R), ("annotations", ("map", "string"), _R), ("vo", "string", _R),
        ("labels", ("map", "string"), _R), ("storage_providers", ("ptr", "StorageProviders"), _O),
        ("clusters", ("map", "Cluster"), _O), ("owner", "string", _R), ("namespace", "string", _O),
        ("interlink_node_name", "string", _R), ("visibility", "string", _R),
        ("allowed_users", ("list", "string"), _R), ("isolation_level", "string", _R),
        ("bucket_list", ("list", "string"), _R), ("mount", "StorageIOConfig", _R),
    ],
    "Config": [("name", "string", _R), ("namespace", "string", _R), ("services_namespace", "string", _R),
               ("controller_service_account", "string", _R), ("gpu_available", "bool", _R),
               ("interLink_available", "bool", _R), ("serverless_backend", "string", _O),
               ("yunikorn_enable", "bool", _R), ("kueue_enable", "bool", _R),
               ("oidc_groups", ("list", "string"), _R)],
    "ConfigForUser": [("config", ("ptr", "Config"), _R), ("minio_provider", ("ptr", "MinIOProvider"), _R)],
})

_V4_1 = dict(_PROVIDERS)
_V4_1.update({
    "StorageIOConfig": _STORAGE_IO + [("options", "string", _O)],
    "Expose": [("min_scale", "int32", _R), ("max_scale", "int32", _R), ("api_port", ("list", "int"), _O),
               ("cpu_threshold", "int32", _R), ("rewrite_target", "bool", _R), ("nodePort", ("list", "int32"), _O),
               ("default_command", "bool", _R), ("set_auth", "bool", _R), ("auth_type", "string", _O),
               ("health_path", "string", _R), ("probe_mode", "string", _O)],
    "Federation": [("group_id", "string", _R), ("topology", "string", _R), ("delegation", "string", _O),
                   ("rescheduler_threshold", "int", _O), ("members", ("list", "Replica"), _O)],
    "ServiceVolumeConfig": [("name", "string", _O), ("size", "string", _R), ("mount_path", "string", _R),
                            ("lifecycle_policy", "string", _O)],
    "ServiceVolumeStatus": [("enabled", "bool", _R), ("name", "string", _O), ("phase", "string", _O),
                            ("error", "string", _O)],
    "ServiceDeploymentSummary": [("state", "string", _R), ("reason", "string", _O),
                                 ("last_transition_time", ("ptr", "string"), _O), ("active_instances", "int", _R),
                                 ("affected_instances", "int", _R), ("resource_kind", "string", _O)],
    "ServiceDeploymentStatus": [("service_name", "string", _R), ("namespace", "string", _O),
                                ("state", "string", _R), ("reason", "string", _O),
                                ("last_transition_time", ("ptr", "string"), _O), ("active_instances", "int", _R),
                                ("affected_instances", "int", _R), ("resource_kind", "string", _R)],
    "DeploymentLogStream": [("service_name", "string", _R), ("available", "bool", _R),
                            ("message", "string", _O), ("entries", ("list", "DeploymentLogEntry"), _R)],
    "DeploymentLogEntry": [("timestamp", "string", _O), ("message", "string", _R)],
    "KserveInference": [("model_format", "string", _O), ("runtime", "string", _O)],
    "KserveLLMInference": [("runtime_image", "string", _O)],
    "Kserve": [("type", "string", _O), ("inference", ("ptr", "KserveInference"), _O),
               ("llm_inference", ("ptr", "KserveLLMInference"), _O), ("storage_uri", "string", _R),
               ("api_version", "string", _O), ("min_scale", "int32", _O), ("max_scale", "int32", _O),
               ("cpu", "string", _R), ("memory", "string", _R), ("args", ("list", "string"), _O),
               ("env", ("map", "string"), _O), ("enable_gpu", "bool", _O), ("set_auth", "bool", _O)],
    "Service": [
        ("name", "string", _R), ("cluster_id", "string", _R), ("memory", "string", _R), ("cpu", "string", _R),
        ("total_memory", "string", _R), ("total_cpu", "string", _R),
        ("ephemeral_storage_request", "string", _R), ("enable_gpu", "bool", _R),
        ("enable_sgx", "bool", _R), ("image_prefetch", "bool", _R), ("synchronous", "Synchronous", _R),
        ("federation", ("ptr", "Federation"), _O), ("log_level", "string", _R), ("image", "string", _R),
        ("alpine", "bool", _R), ("token", "string", _R), ("file_stage_in", "bool", _R),
        ("input", ("list", "StorageIOConfig"), _R), ("output", ("list", "StorageIOConfig"), _R),
        ("script", "string", _O), ("image_pull_secrets", ("list", "string"), _O), ("expose", "Expose", _R),
        ("environment", "Environment", _R), ("annotations", ("map", "string"), _R), ("vo", "string", _R),
        ("labels", ("map", "string"), _R), ("storage_providers", ("ptr", "StorageProviders"), _O),
        ("clusters", ("map", "Cluster"), _O), ("owner", "string", _R), ("namespace", "string", _O),
        ("interlink_node_name", "string", _R), ("visibility", "string", _R),
        ("allowed_users", ("list", "string"), _R), ("isolation_level", "string", _R),
        ("bucket_list", ("list", "string"), _R), ("mount", "StorageIOConfig", _R),
        ("volume", ("ptr", "ServiceVolumeConfig"), _O), ("volume_status", "ServiceVolumeStatus", _O),
        ("deployment", ("ptr", "ServiceDeploymentSummary"), _O), ("kserve", ("ptr", "Kserve"), _O),
    ],
    "Config": [("name", "string", _R), ("namespace", "string", _R), ("services_namespace", "string", _R),
               ("controller_service_account", "string", _R), ("gpu_available", "bool", _R),
               ("interLink_available", "bool", _R), ("serverless_backend", "string", _O),
               ("yunikorn_enable", "bool", _R), ("kueue_enable", "bool", _R), ("volume_enable", "bool", _R),
               ("oidc_groups", ("list", "string"), _R), ("minio_quota_enabled", "bool", _R)],
    "ConfigForUser": [("config", ("ptr", "Config"), _R), ("minio_provider", ("ptr", "MinIOProvider"), _R),
                      ("allowed_image_repositories", ("list", "string"), _R)],
})

#: the types of each release oscar-local answers as (3.6 shares 3.7's service shape)
TYPES: dict[str, dict[str, list]] = {"3.6": _V3_7, "3.7": _V3_7, "4.1": _V4_1}


def _empty(value: Any) -> bool:
    """Go's ``omitempty`` test (a struct is never empty)."""
    if value is None:
        return True
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value == 0
    if isinstance(value, Struct):
        return False
    if isinstance(value, (str, list, dict)):
        return len(value) == 0
    return False


def shape(types: dict[str, list], kind: Kind, value: Any, *, read_back: bool = False) -> Any:
    """``value`` as a Go value of ``kind`` would be written (see the module doc). ``read_back``:
    as it is written once the Manager has stored it as YAML and read it back (goccy/go-yaml
    writes a nil slice or map as ``[]``/``{}``, which read back as empty, not nil)."""
    if kind == "string":
        return value if isinstance(value, str) else ""
    if kind == "bool":
        return value if isinstance(value, bool) else False
    if kind in ("int", "int64", "int32", "uint"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return 0
        return int(value)
    if isinstance(kind, tuple):
        wrapper, inner = kind
        if wrapper == "ptr":
            return None if value is None else shape(types, inner, value, read_back=read_back)
        if wrapper == "list":
            if isinstance(value, list):
                return [shape(types, inner, v, read_back=read_back) for v in value]
            return [] if read_back else None
        if wrapper == "map":
            if isinstance(value, dict):
                return {str(k): shape(types, inner, v, read_back=read_back) for k, v in value.items()}
            return {} if read_back else None
        raise ValueError(f"unknown kind {kind!r}")
    fields = types[kind]
    source = value if isinstance(value, dict) else {}
    out = Struct()
    for name, field_kind, omitempty in fields:
        item = shape(types, field_kind, source.get(name), read_back=read_back)
        if omitempty and _empty(item):
            continue
        out[name] = item
    return out
