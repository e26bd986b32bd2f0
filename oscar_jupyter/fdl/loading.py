"""`load`: an FDL from whatever the user has (text, path, dict, ServiceSpec, FDL)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Dict, Optional, Union

from ..errors import InvalidDefinition
from ..spec import ServiceSpec, unknown_fields_of, unknown_mode
from .document import FDL


def load(source: Union[str, Path, Dict[str, Any], FDL, ServiceSpec], *,
         unknown: Optional[str] = None, base_dir: Optional[Union[str, Path]] = None,
         strict: bool = False) -> FDL:
    """An FDL from YAML text, a dict, a path (str or Path), a ServiceSpec or an FDL.

    A string without a line break that names an existing file, or ends in
    ``.yaml``/``.yml``, is a path; any other string is YAML text.

    Keys the schema does not know are warnings (``fdl.warnings``, each naming
    the field it most likely meant), as oscar-cli and the Manager ignore them;
    with ``strict=True`` they are errors (an already loaded FDL or ServiceSpec
    with such warnings is refused). ``unknown="ignore"`` drops them silently.
    """
    mode = unknown_mode(unknown, strict)
    if isinstance(source, (FDL, ServiceSpec)):
        loaded = source if isinstance(source, FDL) else FDL([source], source=f"<service {source.name}>")
        if mode == "error":
            refuse_unknown(loaded)
        return loaded
    if isinstance(source, dict):
        return FDL.from_dict(source, unknown=mode, base_dir=base_dir)
    if isinstance(source, Path):
        return FDL.from_file(source, unknown=mode)
    if isinstance(source, (str, bytes)):
        text = source.decode("utf-8") if isinstance(source, bytes) else source
        if "\n" not in text.strip():
            candidate = Path(text.strip()).expanduser()
            try:
                exists = candidate.is_file()
            except OSError:
                exists = False
            if exists or text.strip().lower().endswith((".yaml", ".yml")):
                return FDL.from_file(candidate, unknown=mode)
        return FDL.parse(text, base_dir=base_dir, unknown=mode)
    raise TypeError(f"cannot load an FDL from {type(source).__name__}: give YAML text, a path, "
                    "a dict or an FDL")


def refuse_unknown(loaded: FDL) -> None:
    """Strict checking of an FDL loaded leniently: its unknown keys become errors."""
    found = unknown_fields_of(list(loaded.warnings) +
                              [w for s in loaded.services for w in s.warnings])
    seen, problems = set(), []
    for problem in found:
        key = (problem.path, problem.line)
        if key not in seen:
            seen.add(key)
            message = problem.message.replace("unknown field, ignored by oscar-cli and OSCAR (",
                                              "unknown field (", 1)
            problems.append(dataclasses.replace(problem, severity="error", message=message))
    if problems:
        count = f"{len(problems)} unknown field{'s' if len(problems) != 1 else ''}"
        raise InvalidDefinition(f"{loaded.source}: strict checking refuses {count}", problems)
