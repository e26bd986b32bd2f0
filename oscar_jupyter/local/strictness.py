"""Which status the Manager ends up giving for each problem in a service definition.

The shared service model (``oscar_jupyter.spec``) reports everything that is
wrong or suspicious, for the client's benefit. The Manager is less strict,
and where it is strict the refusal does not always come from itself:

* **checked later, in the Manager's words**: storage provider references
  (``createBuckets``, after Kubernetes took the service: ``providers``);
* **accepted** (the service is created): ``visibility`` spelt another way
  (stored as sent; only ``public``/``restricted`` have a meaning),
  ``expose.cpu_threshold`` outside 1-100 (handed to the autoscaler as is);
* **500 from Kubernetes** through the Manager's ``Error creating the
  service: ...``: a name that is not a DNS label (the ConfigMap and pods are
  refused), ``min_scale`` above ``max_scale`` (the autoscaler's object is
  refused), environment variable names Kubernetes refuses, negative expose
  scales and ports outside 1-65535 (the deployment, autoscaler or Service);
* **500 from the Manager's own quantity parsing** (``resource.ParseQuantity``
  in the backend's ``CreateResources``), with its exact text, for ``cpu``,
  ``memory`` and ``ephemeral_storage_request``, in that order
  (``total_cpu`` and ``total_memory`` are not parsed there: any text is
  accepted); a negative value parses, and Kubernetes refuses the pod;
* **400** for the rest: what gin's ``binding`` tags refuse (Go's JSON
  decoding refused what it does not fit before: ``godecode``), and what
  oscar-local cannot run (checked before anything is stored).

The messages for the 500s that Kubernetes would give name the field (its
words cannot be known here); the quantity parser's are the Manager's own,
word for word.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..spec.quantity import parse_quantity

#: what types.CreateResources parses, in its order
_PARSED = ("cpu", "memory", "ephemeral_storage_request")
#: what the shared model checks as quantities; the Manager parses only ``_PARSED``
_QUANTITY_FIELDS = _PARSED + ("total_memory", "total_cpu")

ACCEPTED = 0
#: a 400 of oscar-local's own that waits for the Manager's provider checks (``providers``)
AFTER_PROVIDERS = -1


def status_of(path: tuple, message: str, value: Any = None) -> int:
    """The Manager's status for a spec problem at ``path`` about ``value``: 0 (accepted), 400
    or 500."""
    head = path[0] if path else ""
    if head == "visibility":
        return ACCEPTED
    if head in ("input", "output", "mount") and path[-1] == "storage_provider":
        return ACCEPTED  # createBuckets checks providers later, in its own words (local.providers)
    if head in ("input", "output", "mount") and path[-1] == "path":
        return AFTER_PROVIDERS  # v3.7 reads no path before createBuckets; v4's empty one is refused first
    if path[:2] == ("expose", "cpu_threshold"):
        return ACCEPTED
    if head == "name" and "DNS label" in message:
        return 500
    if head in _QUANTITY_FIELDS:  # a string: the parser's or Kubernetes' 500; another type, the decoder
        if not isinstance(value, str):
            return 400
        return 500 if head in _PARSED else ACCEPTED
    if len(path) == 2 and head in ("synchronous", "expose") and path[1] == "min_scale" \
            and "must not exceed" in message:
        return 500
    if len(path) >= 2 and head == "expose" and path[1] in ("min_scale", "max_scale", "api_port", "nodePort") \
            and ("must be 0 or more" in message or "TCP port" in message):
        return 500  # the deployment, HPA or Service Kubernetes refuses
    if head == "environment" and len(path) == 3 and "environment variable name" in message:
        return 500
    return 400


def quantity_refusal(data: dict[str, Any]) -> str | None:
    """``resource.ParseQuantity``'s error for the first of cpu, memory and ephemeral storage that
    it does not read, else None."""
    for field in _PARSED:
        value = data.get(field)
        if isinstance(value, str) and value:
            error, _sign = parse_quantity(value)
            if error:
                return error
    return None


def environment_problem(data: dict[str, Any]) -> str | None:
    """Why an environment value cannot be passed to a process (NUL, lone surrogates), else None."""
    env = data.get("environment")
    if not isinstance(env, dict):
        return None
    for group in ("variables", "secrets"):
        values = env.get(group)
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            for what, text in (("name", key), ("value", value)):
                if not isinstance(text, str):
                    continue
                if "\x00" in text:
                    return f"environment.{group}.{_show(key)}: the {what} contains a NUL character, " \
                           "which no process environment can hold"
                if any("\ud800" <= ch <= "\udfff" for ch in text):
                    return f"environment.{group}.{_show(key)}: the {what} is not valid Unicode " \
                           "(a lone surrogate escape)"
    return None


def _show(key: object) -> str:
    text = repr(key) if not isinstance(key, str) else key
    return text.replace("\x00", "\\x00")[:60]


def split(problems: Iterable[Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """``problems`` (spec errors) as (refused with 400, refused with 500, refused with 400 once the
    providers passed); accepted ones dropped."""
    bad_request, server_error, after_providers = [], [], []
    for problem in problems:
        status = status_of(tuple(problem.path), problem.message, getattr(problem, "value", None))
        if status == 400:
            bad_request.append(problem)
        elif status == 500:
            server_error.append(problem)
        elif status == AFTER_PROVIDERS:
            after_providers.append(problem)
    return bad_request, server_error, after_providers
