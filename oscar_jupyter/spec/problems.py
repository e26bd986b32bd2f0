"""Problems: one thing wrong in a definition, located by a path (and a line)."""
from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, Iterable, List, Optional, Sequence, Tuple, Union


#: `Problem.code` of a key the schema does not know (oscar-cli and the Manager ignore it).
UNKNOWN_FIELD = "unknown-field"

#: What ``unknown=`` may say an unknown key is: an error, a warning, or nothing.
UNKNOWN_MODES = ("error", "warn", "ignore")

#: A location inside a service: keys and list indexes from its root.
PathT = Tuple[Union[str, int], ...]


@dataclasses.dataclass
class Problem:
    """One thing wrong (or suspicious) in a definition.

    `path` locates the field from the service (or FDL) root, e.g.
    ``('input', 0, 'path')``; `line`/`column` (1-based) are set when the
    definition came from YAML text.
    """

    path: PathT
    message: str
    value: Any = None
    suggestion: Optional[str] = None
    severity: str = "error"
    line: Optional[int] = None
    column: Optional[int] = None
    #: What kind of problem, for code that treats some apart (``UNKNOWN_FIELD``); '' otherwise.
    code: str = ""

    @property
    def field(self) -> str:
        """The path written as ``input[0].path``."""
        return format_path(self.path)

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line is not None else ""
        text = f"{where}{self.field}: {self.message}" if self.path else f"{where}{self.message}"
        if self.value is not None:
            text += f" (got {show(self.value)})"
        if self.suggestion is not None:
            text += f"; did you mean {self.suggestion!r}?"
        return text


def format_path(path: Sequence[Union[str, int]]) -> str:
    """``('input', 0, 'path')`` -> ``input[0].path``; the empty path is ``(service)``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_-]*$", str(part)):
            out += ("." if out else "") + str(part)
        else:
            out += f"[{json.dumps(str(part))}]"
    return out or "(service)"


def show(value: Any, limit: int = 60) -> str:
    """A short repr of a value for messages (long scripts are cut)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"[: 4 if isinstance(value, str) else 3]


def errors_of(problems: Iterable[Problem]) -> List[Problem]:
    """Only the problems with severity 'error'."""
    return [p for p in problems if p.severity == "error"]


def warnings_of(problems: Iterable[Problem]) -> List[Problem]:
    """Only the problems with severity 'warning'."""
    return [p for p in problems if p.severity != "error"]


def unknown_fields_of(problems: Iterable[Problem]) -> List[Problem]:
    """Only the problems about keys the schema does not know."""
    return [p for p in problems if p.code == UNKNOWN_FIELD]


def unknown_mode(unknown: Optional[str], strict: bool) -> str:
    """What an unknown key is, from a loader's ``unknown=`` and ``strict=`` arguments.

    Strict checking makes it an error; otherwise it is what `unknown` says,
    a warning by default (oscar-cli and the Manager ignore unknown keys).
    """
    if unknown is not None and unknown not in UNKNOWN_MODES:
        raise ValueError("unknown must be 'error', 'warn' or 'ignore'")
    if strict:
        return "error"
    return unknown or "warn"


def unknown_message(where: str, severity: str) -> str:
    """The text of an unknown-key problem (a warning says what OSCAR does with the key)."""
    if severity == "error":
        return f"unknown field (not a field of {where})"
    return f"unknown field, ignored by oscar-cli and OSCAR (not a field of {where})"
