"""One exception tree for everything oscar-jupyter raises on purpose.

Every message says what went wrong and what to do next. Messages never carry
passwords or tokens: build them from names, fields and statuses only.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Optional, Sequence

_ERROR_LINE = re.compile(r"^[\w.]*(Error|Exception|Exit|Interrupt)\b:?|\bERROR\b|error:|not found|No such file",
                         re.IGNORECASE)


def cause_line(log: str) -> str:
    """The line of a failure's log that says why: the last line that reads as an error
    (a Python exception, an `ERROR` line, a shell's 'not found'), else the last line."""
    lines = [ln.strip() for ln in (log or "").splitlines() if ln.strip()]
    for line in reversed(lines):
        if _ERROR_LINE.search(line):
            return line
    return lines[-1] if lines else ""


class OscarError(Exception):
    """Base of every expected error. The notebook layer shows these as one line."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip() if self.hint else self.message


class ConnectionFailed(OscarError):
    """The cluster could not be reached (DNS, refused, TLS)."""

    hint = "Check the endpoint URL and that the cluster is up."


class AuthError(OscarError):
    """Credentials missing, wrong or expired (HTTP 401/403)."""

    hint = "Check the user/password or token for this cluster."


class NotFound(OscarError):
    """A service, job, bucket or object does not exist (HTTP 404)."""


class Conflict(OscarError):
    """The thing already exists (HTTP 409, or 400 'already exists' on v4)."""


class InvalidDefinition(OscarError):
    """A service definition or FDL is invalid. Carries every problem found."""

    def __init__(self, message: str, problems: Sequence[Any] = (), *, hint: str = "") -> None:
        self.problems = list(problems)
        if self.problems:
            message = message.rstrip(":") + ":\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message, hint=hint)


class DefinitionWarning(UserWarning):
    """Something in a definition OSCAR will ignore or read differently (an unknown key, ...).

    Raised as a warning by `Cluster.apply`; strict checking makes unknown keys
    `InvalidDefinition` errors instead.
    """


class ServiceFailed(OscarError):
    """The service's script failed. `log` holds its output, `exit_code` its status; the
    message ends with the log's line that says why (`cause`), so one line tells."""

    def __init__(self, message: str, *, log: str = "", exit_code: Optional[int] = None,
                 hint: str = "") -> None:
        self.summary = message  # without the cause, for displays that show it apart
        cause = cause_line(log) if log else ""
        if cause and cause not in message:
            message = f"{message.rstrip('.')}: {cause}" + ("" if cause[-1] in ".!?" else ".")
        super().__init__(message, hint=hint)
        self.cause = cause
        self.log = log
        self.exit_code = exit_code


class Timeout(OscarError):
    """A call or a wait ran out of time."""


class StorageError(OscarError):
    """An object-storage (S3/MinIO) operation failed."""


class ConfigError(OscarError):
    """Nothing (or something unusable) is configured: no cluster, an unknown
    cluster id, a malformed oscar-cli config, an optional dependency absent."""


class InvalidInput(OscarError, ValueError):
    """Data given to `run`/`submit`/`map` cannot be encoded as asked."""


class NotSupported(OscarError):
    """The cluster or the service cannot do this: a route its Manager version lacks (stop/start
    on v3.7), or an exposed-service call on a service that is not exposed."""


class APIError(OscarError):
    """The Manager answered with an unexpected status."""

    def __init__(self, message: str, *, status: Optional[int] = None, body: str = "",
                 hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.body = body


def redact(text: str, secrets: Iterable[Optional[str]]) -> str:
    """Replace every occurrence of each secret in `text` with ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
