"""Which status the Manager ends up giving for each problem in a service definition.

The shared service model (``oscar_jupyter.spec``) reports everything that is
wrong or suspicious, for the client's benefit. The Manager is less strict,
and where it is strict the refusal does not always come from itself:

* **accepted** (the service is created): ``visibility`` spelt another way
  (stored as sent; only ``public``/``restricted`` have a meaning),
  ``expose.cpu_threshold`` outside 1-100 (handed to the autoscaler as is);
* **500 from Kubernetes** through the Manager's ``Error creating the
  service: ...``: a name that is not a DNS label (the ConfigMap and pods are
  refused), ``min_scale`` above ``max_scale`` (the autoscaler's object is
  refused), environment variable names Kubernetes refuses;
* **500 from the Manager's own quantity parsing** (``resource.ParseQuantity``
  in the backend), with its exact text, for cpu and memory values;
* **400** for the rest: what gin's ``binding`` tags refuse (Go's JSON
  decoding refused what it does not fit before: ``godecode``), and what
  oscar-local cannot run (checked before anything is stored).

The messages for the 500s name the field, which Kubernetes' do not.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

#: the Manager's text for a cpu/memory value ``resource.ParseQuantity`` refuses
QUANTITY_MESSAGE = ("quantities must match the regular expression "
                    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_QUANTITY_FIELDS = ("memory", "cpu", "total_memory", "total_cpu", "ephemeral_storage_request")

ACCEPTED = 0


def status_of(path: tuple, message: str, value: Any = None) -> int:
    """The Manager's status for a spec problem at ``path`` about ``value``: 0 (accepted), 400
    or 500."""
    head = path[0] if path else ""
    if head == "visibility":
        return ACCEPTED
    if path[:2] == ("expose", "cpu_threshold"):
        return ACCEPTED
    if head == "name" and "DNS label" in message:
        return 500
    if head in _QUANTITY_FIELDS:  # a quantity string the parser refuses; another type, the decoder
        return 500 if isinstance(value, str) else 400
    if len(path) == 2 and head in ("synchronous", "expose") and path[1] == "min_scale" \
            and "must not exceed" in message:
        return 500
    if head == "environment" and len(path) == 3 and "environment variable name" in message:
        return 500
    return 400


def quantity_refusal(data: dict[str, Any]) -> str | None:
    """The Manager's own message when a cpu/memory value does not parse, else None."""
    for field in _QUANTITY_FIELDS:
        value = data.get(field)
        if isinstance(value, str) and value and not _QUANTITY.match(value):
            return f"{QUANTITY_MESSAGE} ({field}: {value!r})"
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


def split(problems: Iterable[Any]) -> tuple[list[Any], list[Any]]:
    """``problems`` (spec errors) as (refused with 400, refused with 500); accepted ones dropped."""
    bad_request, server_error = [], []
    for problem in problems:
        status = status_of(tuple(problem.path), problem.message, getattr(problem, "value", None))
        if status == 400:
            bad_request.append(problem)
        elif status == 500:
            server_error.append(problem)
    return bad_request, server_error
