"""ServiceSpec: one checked service definition as the client holds it."""
from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

from ..errors import InvalidDefinition
from .normalisation import normalise
from .problems import Problem, errors_of, warnings_of
from .secret_fields import redact_service
from .validation import validate

log = logging.getLogger(__name__)


class ServiceSpec:
    """One service definition as the client holds it.

    `data` is the API JSON (normalised); `cluster_id` the FDL cluster key it
    came under (None for a bare definition); `script_path` the file the script
    was read from, if any; `notices` what normalisation changed; `warnings`
    the non-fatal problems.
    """

    def __init__(self, data: Dict[str, Any], *, cluster_id: Optional[str] = None,
                 script_path: Optional[Union[str, Path]] = None,
                 notices: Optional[Sequence[str]] = None,
                 warnings: Optional[Sequence[Problem]] = None) -> None:
        self.data = data
        self.cluster_id = cluster_id
        self.script_path = Path(script_path) if script_path is not None else None
        self.notices = list(notices or [])
        self.warnings = list(warnings or [])

    @classmethod
    def from_dict(cls, data: Dict[str, Any], *, cluster_id: Optional[str] = None,
                  unknown: str = "error", target_version: Optional[str] = None,
                  source: str = "api") -> "ServiceSpec":
        """Normalise and validate `data`; raise InvalidDefinition listing every error.

        `source` is ``"api"`` for Manager JSON (strict types) or ``"fdl"`` for
        data read from an FDL (see :func:`~.normalisation.normalise`).
        """
        if isinstance(data, ServiceSpec):
            return data
        normalised, notices = normalise(data, source=source, target_version=target_version)
        problems = validate(normalised, unknown=unknown)
        errors = errors_of(problems)
        if errors:
            name = normalised.get("name")
            what = f"service {name!r}" if isinstance(name, str) and name else "the service definition"
            raise InvalidDefinition(f"{what} is invalid ({len(errors)} "
                                    f"problem{'s' if len(errors) != 1 else ''})", errors)
        for notice in notices:
            log.info("%s", notice)
        return cls(normalised, cluster_id=cluster_id, notices=notices,
                   warnings=warnings_of(problems))

    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))

    @property
    def image(self) -> str:
        return str(self.data.get("image", ""))

    @property
    def script(self) -> str:
        return str(self.data.get("script", ""))

    def to_dict(self, *, target_version: Optional[str] = None) -> Dict[str, Any]:
        """A deep copy of the API JSON, secrets included (this is what is sent).

        With `target_version` (the Manager's version, e.g. ``"3.7.1"``),
        ``expose.api_port``/``nodePort`` take the shape that version decodes:
        a number up to v4.0, a list from v4.1.
        """
        if target_version:
            return normalise(self.data, target_version=target_version)[0]
        return copy.deepcopy(self.data)

    def redacted(self) -> Dict[str, Any]:
        """The API JSON with secret values replaced by '***' (safe to show)."""
        return redact_service(self.data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServiceSpec):
            return NotImplemented
        return self.data == other.data and self.cluster_id == other.cluster_id

    def __hash__(self) -> int:  # mutable: identity hash
        return id(self)

    def __repr__(self) -> str:
        lines = self.script.count("\n") + 1 if self.script else 0
        parts = [f"name={self.name!r}", f"image={self.image!r}"]
        if self.cluster_id:
            parts.append(f"cluster_id={self.cluster_id!r}")
        parts.append(f"script=<{lines} line{'s' if lines != 1 else ''}>")
        for io_key in ("input", "output"):
            items = self.data.get(io_key) or []
            paths = [i.get("path") for i in items if isinstance(i, dict)]
            if paths:
                parts.append(f"{io_key}={paths!r}")
        return f"ServiceSpec({', '.join(parts)})"
