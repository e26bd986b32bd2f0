"""FDL: one or more service definitions, as an FDL file holds them."""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import yaml

from ..errors import InvalidDefinition
from ..spec import Problem, ServiceSpec, unknown_mode
from .builder import Builder
from .diff import diff_service
from .writer import document_of, dump, header
from .yaml_tree import (HAVE_LIBYAML, LOADER, MAX_DEPTH, MAX_NODES, Tree, TooBig, data_too_deep,
                        reader_problem, too_deep, yaml_problem)

class FDL:
    """One or more service definitions, as an FDL file holds them.

    ``services`` keeps file order; ``storage_providers``/``clusters`` are the
    top-level sections (already merged into each service's ``data``).
    """

    def __init__(self, services: Sequence[ServiceSpec], *,
                 storage_providers: Optional[Dict[str, Any]] = None,
                 clusters: Optional[Dict[str, Any]] = None,
                 notices: Optional[Sequence[str]] = None,
                 warnings: Optional[Sequence[Problem]] = None,
                 source: str = "<fdl>", base_dir: Optional[Path] = None) -> None:
        self.services = list(services)
        self.storage_providers = storage_providers or {}
        self.clusters = clusters or {}
        self.notices = list(notices or [])
        self.warnings = list(warnings or [])
        self.source = source
        self.base_dir = base_dir

    # ---- construction

    @classmethod
    def parse(cls, text: str, *, base_dir: Optional[Union[str, Path]] = None,
              source: str = "<cell>", unknown: Optional[str] = None, line_offset: int = 0,
              scripts: str = "auto", strict: bool = False) -> "FDL":
        """Parse FDL (or bare service) YAML text; raise InvalidDefinition with every problem.

        A key the schema does not know is a warning (oscar-cli and the Manager
        ignore it), naming the field it most likely meant; with `strict` it is
        an error. `unknown` (``"error"``, ``"warn"``, ``"ignore"``) says it
        directly when `strict` is False.
        """
        unknown = unknown_mode(unknown, strict)
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        text = text.lstrip("\ufeff")
        if not text.strip():
            raise InvalidDefinition(f"{source} is empty: expected an FDL (functions: oscar: ...) "
                                    "or a service definition")
        loader = LOADER
        if not HAVE_LIBYAML:  # the pure-Python scanner rejects trailing tabs: drop them
            text = re.sub(r"[ \t]+(?=\r?\n|$)", "", text)
        deep = too_deep(text, loader, line_offset)
        if deep is not None:
            raise InvalidDefinition(f"{source} is nested too deeply", [deep])
        try:
            root = yaml.compose(text, Loader=loader)
        except yaml.MarkedYAMLError as exc:
            raise InvalidDefinition(f"{source} is not valid YAML",
                                    [yaml_problem(exc, line_offset, text)]) from None
        except yaml.reader.ReaderError as exc:
            raise InvalidDefinition(f"{source} is not valid YAML",
                                    [reader_problem(exc, line_offset, text)]) from None
        except yaml.YAMLError as exc:
            raise InvalidDefinition(f"{source} is not valid YAML",
                                    [Problem((), f"YAML error: {exc}")]) from None
        tree = Tree(line_offset, text)
        try:
            data = tree.convert(root) if root is not None else None
        except TooBig:
            raise InvalidDefinition(f"{source} is too large or expands too many aliases "
                                    f"(more than {MAX_NODES} YAML nodes)") from None
        builder = Builder(source=source, base_dir=Path(base_dir) if base_dir else None,
                           unknown=unknown, scripts=scripts, root=root, tree=tree)
        return cls(**builder.build(data))

    @classmethod
    def from_file(cls, path: Union[str, Path], *, unknown: Optional[str] = None,
                  scripts: str = "auto", strict: bool = False) -> "FDL":
        """Read an FDL file; scripts given by path are read relative to its directory.

        `strict` and `unknown` as in :meth:`parse`.
        """
        unknown = unknown_mode(unknown, strict)
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise InvalidDefinition(f"FDL file {str(path)!r} does not exist") from None
        except OSError as exc:
            raise InvalidDefinition(f"cannot read FDL file {str(path)!r}: {exc.strerror}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidDefinition(f"FDL file {str(path)!r} is not UTF-8 text (byte "
                                    f"{exc.start})") from None
        return cls.parse(text, base_dir=path.resolve().parent, source=str(path),
                         unknown=unknown, scripts=scripts)

    @classmethod
    def from_dict(cls, data: Dict[str, Any], *, base_dir: Optional[Union[str, Path]] = None,
                  source: str = "<dict>", unknown: Optional[str] = None, scripts: str = "auto",
                  strict: bool = False) -> "FDL":
        """An FDL (or a single service) given as Python data (`strict`/`unknown` as in :meth:`parse`)."""
        unknown = unknown_mode(unknown, strict)
        if data_too_deep(data):
            raise InvalidDefinition(f"{source} is nested more than {MAX_DEPTH} mappings/lists deep: "
                                    "an FDL is a few levels deep")
        builder = Builder(source=source, base_dir=Path(base_dir) if base_dir else None,
                           unknown=unknown, scripts=scripts, root=None, tree=None)
        return cls(**builder.build(copy.deepcopy(data)))

    # ---- access

    def __iter__(self) -> Iterator[ServiceSpec]:
        return iter(self.services)

    def __len__(self) -> int:
        return len(self.services)

    def __getitem__(self, key: Union[int, str]) -> ServiceSpec:
        if isinstance(key, int):
            return self.services[key]
        for service in self.services:
            if service.name == key:
                return service
        raise KeyError(f"no service {key!r} in this FDL (services: "
                       f"{', '.join(self.names) or 'none'})")

    def __contains__(self, name: object) -> bool:
        return any(s.name == name for s in self.services)

    def get(self, name: str, cluster_id: Optional[str] = None) -> Optional[ServiceSpec]:
        """The service called `name` (under `cluster_id` when given), or None."""
        for service in self.services:
            if service.name == name and (cluster_id is None or service.cluster_id == cluster_id):
                return service
        return None

    @property
    def names(self) -> List[str]:
        return [s.name for s in self.services]

    def __repr__(self) -> str:
        parts = ", ".join(f"{s.cluster_id}:{s.name}" if s.cluster_id else s.name
                          for s in self.services)
        return f"FDL({self.source!r}, services=[{parts}])"

    # ---- write-back

    def to_dict(self, *, secrets: bool = False) -> Dict[str, Any]:
        """The FDL as data oscar-cli accepts (scripts inlined; secrets blanked unless asked)."""
        doc, _, _ = document_of(self, inline_scripts=True, secrets=secrets)
        return doc

    def to_yaml(self, inline_scripts: bool = False, *, secrets: bool = False) -> str:
        """FDL text. With `inline_scripts` False scripts are referenced as ``<name>.sh``
        files (what :meth:`write` creates next to it)."""
        doc, _, blanked = document_of(self, inline_scripts=inline_scripts, secrets=secrets)
        return header(blanked) + dump(doc)

    def write(self, directory: Union[str, Path], *, secrets: bool = False,
              filename: str = "fdl.yaml") -> Tuple[Path, List[Path]]:
        """Write ``fdl.yaml`` and one script file per service into `directory`.

        Returns ``(fdl_path, [script paths])``. The result works with
        ``oscar-cli apply fdl.yaml``. Secret values (environment secrets,
        cluster and storage passwords/keys) are written only with
        ``secrets=True``; otherwise they are left empty and listed in a
        comment at the top of the file.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        doc, files, blanked = document_of(self, inline_scripts=False, secrets=secrets)
        written: List[Path] = []
        for name, content in files.items():
            target = directory / name
            target.write_text(content, encoding="utf-8", newline="\n")
            written.append(target)
        fdl_path = directory / filename
        fdl_path.write_text(header(blanked) + dump(doc), encoding="utf-8", newline="\n")
        if secrets:
            fdl_path.chmod(0o600)  # it may now hold passwords and keys
        return fdl_path, written

    # ---- comparison

    def diff(self, deployed: Union[Dict[str, Any], Sequence[Dict[str, Any]]]) -> str:
        """Unified diff between these services and deployed definitions (matched by name).

        `deployed` is one service dict as ``GET /system/services/<name>``
        returns it, or a list of them. Empty string when nothing differs.
        """
        items = [deployed] if isinstance(deployed, dict) else list(deployed)
        by_name = {d.get("name"): d for d in items if isinstance(d, dict)}
        out = []
        for service in self.services:
            other = by_name.get(service.name)
            if other is None:
                out.append(f"service {service.name!r} is not deployed\n")
                continue
            out.append(diff_service(service, other))
        return "".join(out)
