"""`load`: an FDL from whatever the user has (text, path, dict, ServiceSpec, FDL)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Union

from ..spec import ServiceSpec
from .document import FDL

def load(source: Union[str, Path, Dict[str, Any], FDL, ServiceSpec], *, unknown: str = "error",
         base_dir: Optional[Union[str, Path]] = None) -> FDL:
    """An FDL from YAML text, a dict, a path (str or Path), a ServiceSpec or an FDL.

    A string without a line break that names an existing file, or ends in
    ``.yaml``/``.yml``, is a path; any other string is YAML text.
    """
    if isinstance(source, FDL):
        return source
    if isinstance(source, ServiceSpec):
        return FDL([source], source=f"<service {source.name}>")
    if isinstance(source, dict):
        return FDL.from_dict(source, unknown=unknown, base_dir=base_dir)
    if isinstance(source, Path):
        return FDL.from_file(source, unknown=unknown)
    if isinstance(source, (str, bytes)):
        text = source.decode("utf-8") if isinstance(source, bytes) else source
        if "\n" not in text.strip():
            candidate = Path(text.strip()).expanduser()
            try:
                exists = candidate.is_file()
            except OSError:
                exists = False
            if exists or text.strip().lower().endswith((".yaml", ".yml")):
                return FDL.from_file(candidate, unknown=unknown)
        return FDL.parse(text, base_dir=base_dir, unknown=unknown)
    raise TypeError(f"cannot load an FDL from {type(source).__name__}: give YAML text, a path, "
                    "a dict or an FDL")
