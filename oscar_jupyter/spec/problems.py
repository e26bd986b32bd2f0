"""Problems: one thing wrong in a definition, located by a path (and a line)."""
from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, Iterable, List, Optional, Sequence, Tuple, Union


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
