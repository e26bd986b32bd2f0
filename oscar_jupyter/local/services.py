"""Service definitions as oscar-local keeps them: checked, completed, stored, shown.

The shared service model (``oscar_jupyter.spec``) does normalisation,
validation and defaults; this module adds what the Manager does on top:
server-set fields (owner, token, log level), the forced default MinIO
provider, the buckets a service implies, and the public view with secrets
blanked.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any, Callable

from oscar_jupyter import spec

from . import federation, names, strictness
from .auth import new_service_token
from .providers import info as provider_info, ref as provider_ref, refusal as buckets_refusal
from .exposed.settings import create_refusal as exposed_refusal, problem as exposed_problem

log = logging.getLogger(__name__)

DEFAULT_OWNER = "cluster_admin"
DEFAULT_PROVIDER = "minio.default"
LOG_LEVELS = ("NOTSET", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
HIDDEN = "hidden"

# Fields of storage providers / clusters that hold credentials.
_SECRET_FIELDS = ("secret_key", "password", "token", "refresh_token", "auth_password", "access_key")


class InvalidService(ValueError):
    """The definition cannot be accepted; ``str()`` says what and where.

    ``status`` is what the Manager ends up answering: 400 for what it refuses
    itself, 500 for what it hands on to Kubernetes (or its quantity parser),
    which refuses it (see ``strictness``).
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class StoragePlace:
    """A ``bucket/folder`` on the server's own MinIO provider."""

    bucket: str
    folder: str

    @property
    def prefix(self) -> str:
        return f"{self.folder}/" if self.folder else ""


def _default_command_hint(data: dict[str, Any], missing: list[str]) -> str:
    """Why an exposed service with ``default_command`` still needs its script here."""
    if "script" not in missing or not isinstance(data.get("expose"), dict):
        return ""
    problem = exposed_problem({**data, "script": ""})
    return f"\n{problem}" if problem and "default_command" in problem else ""


def binding_problem(data: dict[str, Any]) -> str | None:
    """gin's ``binding:"required"`` on types.Service (a normalised definition), in its validator's
    words, or None."""
    missing = [field for field in ("name", "image", "script") if data.get(field) in (None, "")]
    if not missing:
        return None
    return "The service specification is not valid: " + "\n".join(
        f"Key: 'Service.{f.capitalize()}' Error:Field validation for '{f.capitalize()}' failed on the "
        "'required' tag" for f in missing) + _default_command_hint(data, missing)


def prepare(data: Any, provider: dict[str, Any], previous: dict[str, Any] | None = None,
            owner: str | None = None, keep_token: bool = True,
            after_binding: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
            ) -> tuple[dict[str, Any], list[str]]:
    """Turn a request body into the stored definition, or raise ``InvalidService``.

    ``provider`` is the server's MinIO provider (endpoint, keys, region,
    verify). ``previous`` is the stored definition on update: its token and
    owner are kept (the token only with ``keep_token``: Manager v3 makes a
    new one on every update) and secrets sent back as ``"hidden"``/blank keep
    their stored values. ``owner`` is the creator's OIDC ``sub`` (None: the admin,
    ``cluster_admin``).
    ``after_binding`` runs the release's own checks (storage paths, volume) right
    after gin's binding, as its handler does; it returns the definition or raises
    ``InvalidService``.
    Returns the definition and the normalisation notices.
    """
    if not isinstance(data, dict):
        raise InvalidService(
            f"The service specification is not valid: expected a JSON object, got {type(data).__name__}"
        )
    sent = data
    # Go's decoding first: field names match case-insensitively ("NAME"), null is unset
    data, notices = spec.normalise(copy.deepcopy(data))
    problem = binding_problem(data)
    if problem:
        raise InvalidService(problem)
    if after_binding is not None:
        data = after_binding(data)
    refused_federation = federation.refusal(data, previous)
    if refused_federation:
        raise InvalidService(refused_federation[1], refused_federation[0])
    failed = f"Error {'updating' if previous else 'creating'} the service"  # the Manager's 500 prefix
    problem = names.service_name_problem(data.get("name"))
    if problem and "DNS label" in problem:
        raise InvalidService(f"{failed}: name: {problem} (Kubernetes refuses it)", 500)
    if problem:
        raise InvalidService(f"The service specification is not valid: name: {problem}")
    problem = strictness.environment_problem(data)
    if problem:
        raise InvalidService(f"The service specification is not valid: {problem}")
    problem = exposed_problem(data)  # before validation: its message says what to write instead
    if problem:
        raise InvalidService(f"The service specification is not valid: {problem}")
    errors = [p for p in spec.validate(data, unknown="ignore") if getattr(p, "severity", "error") == "error"]
    refused, failing, after_providers = strictness.split(errors)
    if refused:
        raise InvalidService(
            "The service specification is not valid: " + "; ".join(str(p) for p in refused)
        )
    quantity = strictness.quantity_refusal(data)
    if quantity:
        raise InvalidService(f"{failed}: {quantity}", 500)
    exposing = exposed_refusal(data)  # CreateExpose's own checks
    if exposing:
        raise InvalidService(f"{failed}: {exposing}", 500)
    if failing:
        raise InvalidService(
            f"{failed}: " + "; ".join(str(p) for p in failing) + " (Kubernetes refuses it)", 500
        )
    svc = spec.with_defaults(data)
    if "expose" in data:  # the Manager fills no expose defaults: zeros stay zeros
        svc["expose"] = copy.deepcopy(data["expose"])
    if isinstance(svc.get("allowed_users"), list):  # the Manager's sanitizeUsers
        svc["allowed_users"] = [u.strip() for u in svc["allowed_users"] if isinstance(u, str) and u.strip()]

    for field in ("input", "output", "mount"):  # providers are stored as sent ("minio" stays "minio")
        entries, sent_entries = svc.get(field), sent.get(field)
        if field == "mount":
            entries, sent_entries = [entries], [sent_entries]
        if isinstance(entries, list) and isinstance(sent_entries, list) and len(entries) == len(sent_entries):
            for entry, raw in zip(entries, sent_entries):
                if isinstance(entry, dict) and isinstance(raw, dict):
                    if isinstance(raw.get("storage_provider"), str):
                        entry["storage_provider"] = raw["storage_provider"]
                    elif "storage_provider" not in raw:
                        entry.pop("storage_provider", None)
                    if field == "mount" and isinstance(raw.get("path"), str):
                        entry["path"] = raw["path"]  # no normalizeStoragePaths for the mount
    if previous is None:
        svc["owner"] = owner or DEFAULT_OWNER
    elif owner is None:  # the admin's PUT: the Manager stores the owner the body names ("" if none)
        svc["owner"] = sent.get("owner") if isinstance(sent.get("owner"), str) else ""
    else:  # an OIDC user's PUT keeps the stored owner
        svc["owner"] = previous.get("owner") or owner
    level = str(svc.get("log_level") or "INFO").upper()
    svc["log_level"] = level if level in LOG_LEVELS else "INFO"
    svc["token"] = previous["token"] if previous and keep_token else new_service_token()
    svc.setdefault("cpu", "0.2")
    svc.setdefault("memory", "256Mi")
    svc.setdefault("visibility", "private")

    providers = svc.get("storage_providers") or {}
    if not isinstance(providers, dict):
        raise InvalidService("The service specification is not valid: storage_providers must be an object")
    providers = dict(providers)
    minio = dict(providers.get("minio") or {})
    minio["default"] = dict(provider)
    providers["minio"] = minio
    if previous:
        _restore_hidden(providers, previous.get("storage_providers") or {})
        _restore_secrets(svc, previous)
    svc["storage_providers"] = providers

    refused_provider = buckets_refusal(svc, provider)  # createBuckets, after Kubernetes took the service
    if refused_provider:
        status, message = refused_provider
        raise InvalidService(message, status)
    mount = svc.get("mount") if isinstance(svc.get("mount"), dict) else {}
    if provider_info(mount.get("storage_provider"))[1] != "minio":  # createBuckets reads no other mount path
        after_providers = [p for p in after_providers if tuple(p.path)[:1] != ("mount",)]
    if after_providers:
        raise InvalidService(
            "The service specification is not valid: " + "; ".join(str(p) for p in after_providers)
        )
    for field in ("input", "output"):
        for i, entry in enumerate(svc.get(field) or []):
            where = f"{field}[{i}]"
            ref = provider_ref(entry.get("storage_provider"))  # stored as sent, as the Manager does
            if field == "input" and ref != DEFAULT_PROVIDER:
                raise InvalidService(
                    f"The service specification is not valid: {where}.storage_provider: oscar-local "
                    f"only watches its own storage ({DEFAULT_PROVIDER}), not {ref!r}"
                )
            if ref == DEFAULT_PROVIDER:
                bucket, folder = names.split_storage_path(str(entry.get("path") or ""))
                problem = names.bucket_name_problem(bucket)
                if problem:
                    raise InvalidService(f"The service specification is not valid: {where}.path: {problem}")
                if folder and names.object_key_problem(folder + "/"):
                    raise InvalidService(
                        f"The service specification is not valid: {where}.path: "
                        f"{names.object_key_problem(folder + '/')}"
                    )
    return svc, [str(n) for n in notices]


def _restore_hidden(providers: dict[str, Any], old: dict[str, Any]) -> None:
    """Keep stored credentials where an update sends back ``"hidden"`` or blanks."""
    for kind, entries in providers.items():
        if not isinstance(entries, dict):
            continue
        for ident, conf in entries.items():
            if (kind, ident) == ("minio", "default"):
                continue  # always the server's own provider
            prev = ((old.get(kind) or {}).get(ident)) or {}
            if not isinstance(conf, dict) or not isinstance(prev, dict):
                continue
            for field in _SECRET_FIELDS:
                if conf.get(field) in (HIDDEN, "") and prev.get(field):
                    conf[field] = prev[field]


def _restore_secrets(svc: dict[str, Any], previous: dict[str, Any]) -> None:
    old_clusters = previous.get("clusters") or {}
    for ident, conf in (svc.get("clusters") or {}).items():
        prev = old_clusters.get(ident) if isinstance(old_clusters, dict) else None
        if isinstance(conf, dict) and isinstance(prev, dict) and conf.get("auth_password") in (HIDDEN, ""):
            if prev.get("auth_password"):
                conf["auth_password"] = prev["auth_password"]
    env = svc.get("environment") or {}
    secrets = env.get("secrets") if isinstance(env, dict) else None
    old = ((previous.get("environment") or {}).get("secrets")) or {}
    if isinstance(secrets, dict):
        for key, value in secrets.items():
            if value in ("", None) and old.get(key):
                secrets[key] = old[key]


def public_view(svc: dict[str, Any]) -> dict[str, Any]:
    """What ``GET /system/services[/{name}]`` shows: secrets blanked, default keys ``hidden``."""
    out = copy.deepcopy(svc)
    env = out.get("environment")
    if isinstance(env, dict) and isinstance(env.get("secrets"), dict):
        env["secrets"] = {k: "" for k in env["secrets"]}
    providers = out.get("storage_providers") or {}
    for kind, entries in providers.items():
        if not isinstance(entries, dict):
            continue
        for ident, conf in entries.items():
            if not isinstance(conf, dict):
                continue
            for field in _SECRET_FIELDS:
                if conf.get(field) and (kind == "minio" and ident == "default" or field != "access_key"):
                    conf[field] = HIDDEN
    for conf in (out.get("clusters") or {}).values():
        if isinstance(conf, dict) and conf.get("auth_password"):
            conf["auth_password"] = HIDDEN
    return out


def visible_to(svc: dict[str, Any], user: str | None) -> bool:
    """Whether ``user`` (an OIDC ``sub``; None = the admin) may see and invoke ``svc``.

    The Manager's rules: the admin sees everything; a user sees services they
    own, ``public`` ones, and ``restricted`` ones listing them in
    ``allowed_users``; ``private`` (the default) services of others are hidden.
    """
    if user is None or svc.get("owner") == user:
        return True
    visibility = str(svc.get("visibility") or "private").lower()
    if visibility == "public":
        return True
    if visibility == "restricted":
        allowed = svc.get("allowed_users") or []
        return isinstance(allowed, list) and user in allowed
    return False


def owned_by(svc: dict[str, Any], user: str | None) -> bool:
    """Whether ``user`` may update or delete ``svc`` (its owner, or the admin)."""
    return user is None or svc.get("owner") == user


def places(svc: dict[str, Any], field: str) -> list[StoragePlace]:
    """The ``bucket/folder`` places of ``input`` or ``output`` on the server's own provider."""
    out = []
    for entry in svc.get(field) or []:
        if provider_ref(entry.get("storage_provider")) == DEFAULT_PROVIDER:
            bucket, folder = names.split_storage_path(str(entry.get("path") or ""))
            out.append(StoragePlace(bucket, folder))
    return out


def buckets_of(svc: dict[str, Any]) -> set[str]:
    """The buckets of the server's own provider that a service's ``input`` and ``output`` use."""
    return {place.bucket for field in ("input", "output") for place in places(svc, field)}
