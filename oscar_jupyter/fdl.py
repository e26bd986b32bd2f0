"""FDL files (oscar-cli's Functions Definition Language) <-> :class:`FDL`.

An FDL is YAML::

    functions:
      oscar:
      - oscar-cluster:            # the cluster id key; several items may repeat it
          name: grayify
          image: ghcr.io/grycap/imagemagick
          script: script.sh       # a path relative to the FDL file, or the script itself
    storage_providers: {...}      # merged into every service
    clusters: {...}               # merged into every service

A bare service mapping (``name``, ``image``, ``script``, ...) is accepted too.

The text is read as a YAML node tree (libyaml's ``CSafeLoader`` when present:
it reads the trailing tabs published FDLs have), so every problem carries the
line and column of the bad value, of the unknown key, or of the mapping that
lacks a required field. All problems are collected before
:class:`~oscar_jupyter.errors.InvalidDefinition` is raised.

Script values are decided by one rule (:func:`script_is_path`): a value with
a line break is the script itself; a single line is a *path* when a file of
that name exists next to the FDL, or when it has no spaces or shell
characters and contains a ``/`` or ends in an extension (``run.sh``,
``scripts/x.py``); any other single line (``echo hello``) is the script
itself. Paths are read relative to the FDL's directory (the working
directory for cell text) and inlined, as ``oscar-cli apply`` does.
"""
from __future__ import annotations

import copy
import difflib
import logging
import os
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import yaml

from . import spec
from .errors import InvalidDefinition
from .spec import PathT, Problem, ServiceSpec

log = logging.getLogger(__name__)

try:  # libyaml reads trailing tabs after values; the pure-Python loader rejects them
    _Loader: Any = yaml.CSafeLoader
    HAVE_LIBYAML = True
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader
    HAVE_LIBYAML = False

#: The cluster key written when a service has none (the one most published FDLs use).
DEFAULT_CLUSTER_ID = "oscar-cluster"
TOP_LEVEL_KEYS = ("functions", "storage_providers", "clusters")
MAX_NODES = 200_000

_TAG_NULL = "tag:yaml.org,2002:null"
_TAG_BOOL = "tag:yaml.org,2002:bool"
_TAG_INT = "tag:yaml.org,2002:int"
_TAG_FLOAT = "tag:yaml.org,2002:float"
_SHELL_CHARS = re.compile(r"""[\s;|&$<>(){}`'"*?\[\]=!#~]""")


# --------------------------------------------------------------------------- YAML nodes

class _Tree:
    """Converts a composed YAML node tree to Python, remembering where everything was."""

    def __init__(self, line_offset: int, text: str = "") -> None:
        self.line_offset = line_offset
        self.lines = text.splitlines()
        self.problems: List[Problem] = []
        self.raw: Dict[PathT, str] = {}  # plain non-string scalars' original text
        self.count = 0
        self._constructor = yaml.constructor.SafeConstructor()

    def mark(self, node: yaml.Node) -> Tuple[int, int]:
        return node.start_mark.line + 1 + self.line_offset, node.start_mark.column + 1

    def convert(self, node: yaml.Node, path: PathT = (), stack: Tuple[int, ...] = ()) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig()
        if id(node) in stack:
            line, col = self.mark(node)
            self.problems.append(Problem(path, "recursive YAML alias", line=line, column=col))
            return None
        stack = stack + (id(node),)
        if isinstance(node, yaml.MappingNode):
            try:
                self._constructor.flatten_mapping(node)  # '<<' merge keys
            except yaml.MarkedYAMLError as exc:
                self.problems.append(_yaml_problem(exc, self.line_offset, "\n".join(self.lines)))
                return {}
            out: Dict[str, Any] = {}
            seen: Dict[str, yaml.Node] = {}
            for key_node, value_node in node.value:
                line, col = self.mark(key_node)
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problems.append(Problem(path, "keys must be plain words, not lists or "
                                                 "mappings", line=line, column=col))
                    continue
                key = str(key_node.value)
                if key in seen:
                    first, _ = self.mark(seen[key])
                    self.problems.append(Problem(path + (key,), f"duplicate key {key!r}: first at "
                                                 f"line {first}, again at line {line}",
                                                 line=line, column=col))
                    continue
                seen[key] = key_node
                out[key] = self.convert(value_node, path + (key,), stack)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, path + (i,), stack) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _scalar(self, node: yaml.ScalarNode, path: PathT) -> Any:
        tag = node.tag
        try:
            if tag == _TAG_NULL:
                return None
            if tag in (_TAG_BOOL, _TAG_INT, _TAG_FLOAT):
                value = self._constructor.construct_object(node)
                if not node.style:  # plain ('' under libyaml, None in pure Python)
                    self.raw[path] = node.value
                return value
        except (yaml.constructor.ConstructorError, ValueError):
            pass
        return str(node.value)


class _TooBig(Exception):
    """The YAML expands to more than MAX_NODES nodes (alias bombs)."""


def _yaml_problem(exc: yaml.MarkedYAMLError, line_offset: int, text: str = "") -> Problem:
    mark = exc.problem_mark or exc.context_mark
    message = "YAML syntax error: " + (exc.problem or "invalid YAML")
    if exc.context:
        message += f" ({exc.context}"
        if exc.context_mark is not None and exc.context_mark is not mark:
            message += f" at line {exc.context_mark.line + 1 + line_offset}"
        message += ")"
    lines = text.splitlines()
    if mark is not None and mark.line < len(lines) and "\t" in lines[mark.line][:mark.column + 1]:
        message += "; YAML cannot indent with tabs: use spaces"
    line = mark.line + 1 + line_offset if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    return Problem((), message, line=line, column=column)


def _locate(root: Optional[yaml.Node], path: Sequence[Union[str, int]]
            ) -> Tuple[Optional[yaml.Node], Optional[yaml.Node], bool]:
    """(deepest node reached, key node of the last step, whether the whole path was found)."""
    node, key_node = root, None
    for part in path:
        nxt = None
        if isinstance(node, yaml.MappingNode) and not isinstance(part, int):
            pairs = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]
            for k, v in pairs:
                if k.value == part:
                    nxt, key_node = v, k
                    break
            else:
                for k, v in pairs:
                    if str(k.value).lower() == str(part).lower():
                        nxt, key_node = v, k
                        break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                nxt, key_node = node.value[part], None
        if nxt is None:
            return node, None, False
        node = nxt
    return node, key_node, True


# --------------------------------------------------------------------------- scripts

def script_is_path(value: str, base_dir: Optional[Path] = None) -> bool:
    """The rule deciding whether a `script` value names a file (see the module doc)."""
    text = value.strip()
    if not text or "\n" in text:
        return False
    base = base_dir if base_dir is not None else Path.cwd()
    try:
        if (base / text).is_file():
            return True
    except OSError:
        return False
    if _SHELL_CHARS.search(text):
        return False
    return "/" in text or re.search(r"\.[A-Za-z0-9]{1,5}$", text) is not None


_BASHISMS: List[Tuple[re.Pattern, str]] = [
    (re.compile(r"(^|[\s;&|(!])\[\[(\s|$)"), "`[[ ... ]]` is bash-only: use `[ ... ]` (or `case`)"),
    (re.compile(r"\bset\s+(-[A-Za-z]+\s+)*-[A-Za-z]*o\s*pipefail\b|\bset\s+-o\s+pipefail\b"),
     "`set -o pipefail` is not supported by dash: drop it or check each command's status"),
    (re.compile(r"(^|[\s;&|])[A-Za-z_][A-Za-z0-9_]*\+?=\("), "arrays `a=(...)` are bash-only: "
     "use `set -- a b c` and \"$@\", or a space-separated string"),
    (re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\["), "array expansion `${a[...]}` is bash-only"),
    (re.compile(r"(^|[\s;&|])(declare|typeset|readarray|mapfile|shopt|pushd|popd)\s"),
     "`{word}` is a bash builtin dash does not have"),
    (re.compile(r"(^|[;&|{]\s*|^\s*)function\s+[A-Za-z_][\w-]*"),
     "`function f` is bash syntax: write `f() { ...; }`"),
    (re.compile(r"(^|[;&|]\s*|^\s*|\bthen\s+|\bdo\s+)source\s+\S"),
     "`source` is bash-only: use `. file`"),
    (re.compile(r"(^|[\s;&|!])(\[|test)\s[^\]]*\s==\s"), "`==` inside `[ ]` fails in dash: use `=`"),
    (re.compile(r"&>"), "`&>` redirection is bash-only: use `>file 2>&1`"),
    (re.compile(r"<<<"), "here-strings `<<<` are bash-only: use `printf '%s\\n' ... |`"),
    (re.compile(r"\$'"), "`$'...'` quoting is bash-only: use `printf`"),
    (re.compile(r"\{-?\w+\.\.-?\w+(\.\.-?\d+)?\}"), "brace expansion `{a..b}` is bash-only: "
     "use `seq` or a `while` loop"),
    (re.compile(r"(^|[\s;&|])\(\(.*\)\)"), "`(( ... ))` arithmetic commands are bash-only: "
     "use `[ $((...)) -ne 0 ]`"),
    (re.compile(r"(^|[\s;&|])let\s+\w"), "`let` is bash-only: use `x=$((...))`"),
    (re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:(\s+-)?\d+(:\d+)?\}"),
     "substring expansion `${v:offset:len}` is bash-only: use `cut` or `expr`"),
    (re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*//?[^}]*/[^}]*\}"),
     "pattern substitution `${v/a/b}` is bash-only: use `sed`"),
    (re.compile(r"(^|[\s;&|])echo\s+-e\s"), "dash's `echo` has no `-e` (it prints it): use `printf`"),
    (re.compile(r"\$RANDOM\b"), "`$RANDOM` is empty in dash"),
]
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_SINGLE_QUOTED = re.compile(r"(?<!\$)'[^']*'")


def lint_script(script: str) -> List[Problem]:
    """Warnings for bash-only constructs: OSCAR runs every script with ``/bin/sh``.

    On the Debian and Ubuntu based images most services use, /bin/sh is dash,
    where these fail; a ``#!/bin/bash`` first line does not help because the
    supervisor calls ``/bin/sh script`` explicitly. Each warning carries the
    script line number in `line` (column of the construct in `column`).
    """
    problems: List[Problem] = []
    lines = script.replace("\r\n", "\n").split("\n")
    heredoc_end: Optional[str] = None
    for number, raw_line in enumerate(lines, start=1):
        if heredoc_end is not None:
            if raw_line.strip() == heredoc_end:
                heredoc_end = None
            continue
        if number == 1 and raw_line.startswith("#!"):
            continue
        code = _strip_comment(raw_line)
        if not code.strip():
            continue
        masked = _SINGLE_QUOTED.sub(lambda m: "'" + " " * (len(m.group(0)) - 2) + "'", code)
        for pattern, advice in _BASHISMS:
            target = code if advice.startswith("`$'") else masked
            found = pattern.search(target)
            if found:
                word = found.group(2) if "{word}" in advice else ""
                message = advice.replace("{word}", word)
                problems.append(Problem(("script",), f"script line {number}: {message}",
                                        severity="warning", line=number,
                                        column=found.start() + 1 + (len(found.group(1) or "")
                                                                    if found.groups() else 0)))
        doc = _HEREDOC.search(masked.replace("<<<", "   "))
        if doc:
            heredoc_end = doc.group(2)
    if problems:
        first = lines[0] if lines else ""
        if first.startswith("#!") and "bash" in first:
            problems.append(Problem(("script",), f"script line 1: the `{first.strip()}` line does "
                                    "not help: OSCAR runs the script with /bin/sh (dash on Debian "
                                    "and Ubuntu images)", severity="warning", line=1, column=1))
    return problems


def _strip_comment(line: str) -> str:
    """The line without a trailing shell comment (a '#' at a word start, outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"':
                continue
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t;&|("):
            return line[:i]
    return line


# --------------------------------------------------------------------------- FDL

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
              source: str = "<cell>", unknown: str = "error", line_offset: int = 0,
              scripts: str = "auto") -> "FDL":
        """Parse FDL (or bare service) YAML text; raise InvalidDefinition with every problem."""
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        text = text.lstrip("\ufeff")
        if not text.strip():
            raise InvalidDefinition(f"{source} is empty: expected an FDL (functions: oscar: ...) "
                                    "or a service definition")
        loader = _Loader
        if not HAVE_LIBYAML:  # the pure-Python scanner rejects trailing tabs: drop them
            text = re.sub(r"[ \t]+(?=\r?\n|$)", "", text)
        try:
            root = yaml.compose(text, Loader=loader)
        except yaml.MarkedYAMLError as exc:
            raise InvalidDefinition(f"{source} is not valid YAML",
                                    [_yaml_problem(exc, line_offset, text)]) from None
        except yaml.YAMLError as exc:
            raise InvalidDefinition(f"{source} is not valid YAML",
                                    [Problem((), f"YAML error: {exc}")]) from None
        tree = _Tree(line_offset, text)
        try:
            data = tree.convert(root) if root is not None else None
        except _TooBig:
            raise InvalidDefinition(f"{source} is too large or expands too many aliases "
                                    f"(more than {MAX_NODES} YAML nodes)") from None
        builder = _Builder(source=source, base_dir=Path(base_dir) if base_dir else None,
                           unknown=unknown, scripts=scripts, root=root, tree=tree)
        return builder.build(data)

    @classmethod
    def from_file(cls, path: Union[str, Path], *, unknown: str = "error",
                  scripts: str = "auto") -> "FDL":
        """Read an FDL file; scripts given by path are read relative to its directory."""
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
                  source: str = "<dict>", unknown: str = "error", scripts: str = "auto") -> "FDL":
        """An FDL (or a single service) given as Python data."""
        builder = _Builder(source=source, base_dir=Path(base_dir) if base_dir else None,
                           unknown=unknown, scripts=scripts, root=None, tree=None)
        return builder.build(copy.deepcopy(data))

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
        doc, _, _ = self._document(inline_scripts=True, secrets=secrets)
        return doc

    def to_yaml(self, inline_scripts: bool = False, *, secrets: bool = False) -> str:
        """FDL text. With `inline_scripts` False scripts are referenced as ``<name>.sh``
        files (what :meth:`write` creates next to it)."""
        doc, _, blanked = self._document(inline_scripts=inline_scripts, secrets=secrets)
        return _header(blanked) + _dump(doc)

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
        doc, files, blanked = self._document(inline_scripts=False, secrets=secrets)
        written: List[Path] = []
        for name, content in files.items():
            target = directory / name
            target.write_text(content, encoding="utf-8", newline="\n")
            written.append(target)
        fdl_path = directory / filename
        fdl_path.write_text(_header(blanked) + _dump(doc), encoding="utf-8", newline="\n")
        if secrets:
            fdl_path.chmod(0o600)  # it may now hold passwords and keys
        return fdl_path, written

    def _document(self, *, inline_scripts: bool, secrets: bool
                  ) -> Tuple[Dict[str, Any], Dict[str, str], List[str]]:
        providers: Dict[str, Dict[str, Any]] = {}
        clusters: Dict[str, Any] = {}
        conflicts: set = set()
        for service in self.services:
            for kind, entries in (service.data.get("storage_providers") or {}).items():
                for ident, conf in (entries or {}).items():
                    if kind == "minio" and ident == "default":
                        continue  # the server always sets its own
                    have = providers.setdefault(kind, {}).get(ident)
                    if have is not None and have != conf:
                        conflicts.add(("storage_providers", kind, ident))
                    providers[kind].setdefault(ident, copy.deepcopy(conf))
            for cid, conf in (service.data.get("clusters") or {}).items():
                if cid in clusters and clusters[cid] != conf:
                    conflicts.add(("clusters", cid))
                clusters.setdefault(cid, copy.deepcopy(conf))
        items: List[Dict[str, Any]] = []
        files: Dict[str, str] = {}
        blanked: List[str] = []
        used: set = set()
        for service in self.services:
            body = copy.deepcopy(service.data)
            for key in spec.SERVER_SET_FIELDS + spec.LABEL_FIELDS:
                body.pop(key, None)
            own_providers: Dict[str, Any] = {}
            for kind, entries in (body.pop("storage_providers", None) or {}).items():
                for ident, conf in (entries or {}).items():
                    if ("storage_providers", kind, ident) in conflicts:
                        own_providers.setdefault(kind, {})[ident] = conf
            if own_providers:
                body["storage_providers"] = own_providers
                log.warning("service %r defines storage provider(s) that differ from another "
                            "service's; they stay in the service (oscar-cli would replace them)",
                            service.name)
            own_clusters = {c: v for c, v in (body.pop("clusters", None) or {}).items()
                            if ("clusters", c) in conflicts}
            if own_clusters:
                body["clusters"] = own_clusters
            if not secrets:
                for key in list((body.get("environment") or {}).get("secrets") or {}):
                    if body["environment"]["secrets"][key]:
                        body["environment"]["secrets"][key] = ""
                        blanked.append(f"{service.name}: environment.secrets.{key}")
            script = body.get("script", "")
            if not inline_scripts:
                filename = _script_filename(service, used)
                files[filename] = script if script.endswith("\n") or not script else script + "\n"
                body["script"] = filename
            ordered = {k: body[k] for k in ("name", "image", "script") if k in body}
            ordered.update({k: v for k, v in body.items() if k not in ordered})
            items.append({service.cluster_id or DEFAULT_CLUSTER_ID: ordered})
        doc: Dict[str, Any] = {"functions": {"oscar": items}}
        if providers:
            doc["storage_providers"] = providers
        if clusters:
            doc["clusters"] = clusters
        if not secrets:
            blanked.extend(_blank_secrets(doc.get("storage_providers"), ("storage_providers",)))
            blanked.extend(_blank_secrets(doc.get("clusters"), ("clusters",)))
            for item in items:
                for body in item.values():
                    blanked.extend(_blank_secrets(body.get("storage_providers"),
                                                  (body.get("name", ""), "storage_providers")))
                    blanked.extend(_blank_secrets(body.get("clusters"),
                                                  (body.get("name", ""), "clusters")))
        return doc, files, blanked

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


# --------------------------------------------------------------------------- building

class _Builder:
    """Turns converted data (plus its node tree, when from text) into an FDL."""

    def __init__(self, *, source: str, base_dir: Optional[Path], unknown: str, scripts: str,
                 root: Optional[yaml.Node], tree: Optional[_Tree]) -> None:
        if unknown not in ("error", "warn", "ignore"):
            raise ValueError("unknown must be 'error', 'warn' or 'ignore'")
        if scripts not in ("auto", "path", "content"):
            raise ValueError("scripts must be 'auto', 'path' or 'content'")
        self.source = source
        self.base_dir = base_dir
        self.unknown = unknown
        self.scripts = scripts
        self.root = root
        self.tree = tree
        self.problems: List[Problem] = list(tree.problems) if tree else []
        self.notices: List[str] = []
        self._seen: set = set()

    # ---- problem placement

    def place(self, problem: Problem, fdl_path: PathT) -> Problem:
        problem.path = fdl_path
        if self.root is not None and problem.line is None:
            node, key_node, found = _locate(self.root, fdl_path)
            target = node
            if found and key_node is not None and problem.message.startswith("unknown field"):
                target = key_node
            if target is not None and self.tree is not None:
                problem.line, problem.column = self.tree.mark(target)
        return problem

    def add(self, problem: Problem, fdl_path: PathT) -> None:
        placed = self.place(problem, fdl_path)
        key = (placed.path, placed.message, placed.severity)
        if key not in self._seen:
            self._seen.add(key)
            self.problems.append(placed)

    def note(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)

    # ---- shapes

    def build(self, data: Any) -> FDL:
        services: List[Tuple[str, Optional[str], Any, PathT]] = []  # (kind, cluster, data, path)
        top_providers: Dict[str, Any] = {}
        top_clusters: Dict[str, Any] = {}
        if not isinstance(data, dict):
            self.add(Problem((), "expected an FDL (functions: oscar: [...]) or a service "
                             f"mapping, got {_kind(data)}"), ())
        elif "functions" in data or "storage_providers" in data and "name" not in data:
            for key in data:
                if key not in TOP_LEVEL_KEYS:
                    self._unknown(key, TOP_LEVEL_KEYS, (key,), where="an FDL",
                                  also=spec.known_fields())
            functions = data.get("functions")
            oscar = functions.get("oscar") if isinstance(functions, dict) else None
            if not isinstance(functions, dict):
                self.add(Problem(("functions",), "must be a mapping with an 'oscar' list",
                                 value=None if functions is None else _kind(functions)),
                         ("functions",))
            else:
                for key in functions:
                    if key != "oscar":
                        self._unknown(key, ("oscar",), ("functions", key), where="functions")
                if not isinstance(oscar, list) or not oscar:
                    self.add(Problem(("functions", "oscar"), "must be a list of "
                                     "'<cluster-id>: {service}' items",
                                     value=None if oscar is None else _kind(oscar)),
                             ("functions", "oscar"))
                    oscar = []
            for i, item in enumerate(oscar or []):
                path: PathT = ("functions", "oscar", i)
                if not isinstance(item, dict) or not item:
                    self.add(Problem(path, "must be a mapping '<cluster-id>: {service}'",
                                     value=_kind(item)), path)
                    continue
                misplaced = [k for k in item if k in ("name", "image", "script")]
                if misplaced:
                    self.add(Problem(path, "each item must be '<cluster-id>:' with the service "
                                     "fields indented under it (found the field "
                                     f"{misplaced[0]!r} at the cluster key's level)"), path)
                    continue
                for cluster_id, body in item.items():
                    if not isinstance(body, dict):
                        self.add(Problem(path + (cluster_id,), "must be a service mapping "
                                         "(name, image, script, ...)", value=_kind(body)),
                                 path + (cluster_id,))
                        continue
                    services.append(("fdl", str(cluster_id), body, path + (cluster_id,)))
            top_providers = self._section(data, "storage_providers")
            top_clusters = self._section(data, "clusters")
        else:
            services.append(("bare", None, data, ()))

        specs: List[ServiceSpec] = []
        warnings: List[Problem] = []
        names: Dict[Tuple[Optional[str], str], PathT] = {}
        for _, cluster_id, body, path in services:
            built = self._service(body, cluster_id, path, top_providers, top_clusters)
            if built is None:
                continue
            key = (cluster_id, built.name)
            if built.name and key in names:
                self.add(Problem(path + ("name",), f"service {built.name!r} is defined twice "
                                 f"under cluster {cluster_id!r} (first at "
                                 f"{spec.format_path(names[key])})", value=None),
                         path + ("name",))
            names.setdefault(key, path)
            specs.append(built)
            warnings.extend(built.warnings)

        errors = spec.errors_of(self.problems)
        if errors:
            errors.sort(key=lambda p: (p.line if p.line is not None else 1 << 30,
                                       p.column or 0))
            count = f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
            raise InvalidDefinition(f"{self.source}: invalid FDL ({count})", errors)
        warnings = spec.warnings_of(self.problems)
        for notice in self.notices:
            log.info("%s: %s", self.source, notice)
        return FDL(specs, storage_providers=top_providers, clusters=top_clusters,
                   notices=self.notices, warnings=warnings, source=self.source,
                   base_dir=self.base_dir)

    def _section(self, data: Dict[str, Any], key: str) -> Dict[str, Any]:
        value = data.get(key)
        if value is None:
            if key in data:
                self.note(f"{key}: empty section ignored")
            return {}
        if not isinstance(value, dict):
            self.add(Problem((key,), "must be a mapping", value=_kind(value)), (key,))
            return {}
        value = self._restore_raw(value, (key,), (key,))
        normalised, notices = spec.normalise({key: value}, source="fdl")
        for n in notices:
            self.note(n)
        for problem in spec.validate(normalised, unknown=self.unknown):
            if problem.path[:1] == (key,):  # the rest is about the missing service fields
                self.add(problem, problem.path)
        section = normalised.get(key) or {}
        # only well-formed entries are merged into the services (the others were reported)
        return {k: v for k, v in section.items() if isinstance(v, dict)}

    def _unknown(self, key: Any, candidates: Sequence[str], path: PathT, *, where: str,
                 also: Sequence[str] = ()) -> None:
        if self.unknown == "ignore":
            return
        suggestion = spec.suggest(str(key), list(candidates))
        message = f"unknown field (not a field of {where})"
        if suggestion is None and str(key) in also:
            message = (f"unknown field at the top of an FDL: service fields go under "
                       f"functions.oscar[...].<cluster-id>")
        severity = "error" if self.unknown == "error" else "warning"
        self.add(Problem(path, message, suggestion=suggestion, severity=severity), path)

    def _restore_raw(self, value: Any, fdl_path: PathT, schema_path: PathT,
                     label: str = "") -> Any:
        """Put back the text of plain scalars YAML typed as numbers/booleans in string fields."""
        if isinstance(value, dict):
            return {k: self._restore_raw(v, fdl_path + (k,), schema_path + (k,), label)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self._restore_raw(v, fdl_path + (i,), schema_path + (i,), label)
                    for i, v in enumerate(value)]
        if self.tree is None or isinstance(value, str) or value is None:
            return value
        raw = self.tree.raw.get(fdl_path)
        if raw is None or raw == spec.stringify(value):
            return value
        if spec.field_types(schema_path) == {"string"}:
            if spec.is_secret_path(schema_path):
                self.note(f"{label}{spec.format_path(schema_path)}: kept as written, as a "
                          "string (value hidden)")
                return raw
            self.note(f"{label}{spec.format_path(schema_path)}: {raw} kept as the string {raw!r} "
                      f"(a field of text; YAML alone would read {type(value).__name__} {value!r})")
            return raw
        return value

    # ---- one service

    def _service(self, body: Dict[str, Any], cluster_id: Optional[str], path: PathT,
                 top_providers: Dict[str, Any], top_clusters: Dict[str, Any]
                 ) -> Optional[ServiceSpec]:
        name = body.get("name")
        label = f"service {name!r}: " if path and isinstance(name, str) else ""
        body = self._restore_raw(body, path, (), label)
        script_path: Optional[Path] = None
        script = body.get("script")
        if isinstance(script, str):
            read = self._script(script, path + ("script",))
            if read is None:
                pass  # problem recorded; the path text stands in so the rest is still checked
            elif read[1] is not None:
                body = dict(body, script=read[0])
                script_path = read[1]
        merged = copy.deepcopy(body)
        from_top: set = set()
        if top_providers:
            own = merged.get("storage_providers")
            if own is None or isinstance(own, dict):
                own = own or {}
                for kind, entries in top_providers.items():
                    if not isinstance(entries, dict):
                        continue
                    slot = own.setdefault(kind, {})
                    if not isinstance(slot, dict):
                        continue
                    for ident, conf in entries.items():
                        if ident in slot and slot[ident] != conf:
                            self.note(f"{spec.format_path(path)}: storage provider "
                                      f"{kind}.{ident} replaced by the top-level one "
                                      "(as oscar-cli does)")
                        slot[ident] = copy.deepcopy(conf)
                        from_top.add(("storage_providers", kind, ident))
                merged["storage_providers"] = own
        if top_clusters:
            own_c = merged.get("clusters")
            if own_c is None or isinstance(own_c, dict):
                own_c = own_c or {}
                for cid, conf in top_clusters.items():
                    own_c[cid] = copy.deepcopy(conf)
                    from_top.add(("clusters", cid))
                merged["clusters"] = own_c
        if cluster_id is not None:
            given = merged.get("cluster_id")
            if given not in (None, "", cluster_id):
                self.note(f"{spec.format_path(path)}: cluster_id {given!r} replaced by the "
                          f"cluster key {cluster_id!r} (as oscar-cli does)")
            merged["cluster_id"] = cluster_id
        normalised, notices = spec.normalise(merged, source="fdl")
        label = normalised.get("name") if isinstance(normalised.get("name"), str) else None
        for n in notices:
            self.note(f"service {label!r}: {n}" if path and label and not _about_top(n, from_top)
                      else n)
        problems = spec.validate(normalised, unknown=self.unknown)
        script_text = normalised.get("script")
        if isinstance(script_text, str) and script_text:
            for lint in lint_script(script_text):
                problems.append(self._lint_position(lint, path, script_path))
        for problem in problems:
            fdl_path = self._fdl_path(problem.path, path, from_top)
            if problem.line is not None:  # a lint warning already placed in the FDL text
                problem.path = fdl_path
                self.problems.append(problem)
                continue
            self.add(problem, fdl_path)
        own_warnings = [p for p in self.problems
                        if p.severity != "error" and p.path[:len(path)] == path]
        return ServiceSpec(normalised, cluster_id=cluster_id, script_path=script_path,
                           notices=notices, warnings=own_warnings)

    def _fdl_path(self, service_path: PathT, prefix: PathT, from_top: set) -> PathT:
        if len(service_path) >= 3 and tuple(service_path[:3]) in from_top:
            return tuple(service_path)
        if len(service_path) >= 2 and tuple(service_path[:2]) in from_top:
            return tuple(service_path)
        return prefix + tuple(service_path)

    def _lint_position(self, lint: Problem, path: PathT, script_path: Optional[Path]) -> Problem:
        """Map a script line to the FDL line for inline block scripts."""
        if script_path is not None:
            lint.message = lint.message.replace("script line", f"{script_path.name} line", 1)
            lint.line = lint.column = None
            return lint
        if self.root is None or self.tree is None:
            lint.line = lint.column = None
            return lint
        node, _, found = _locate(self.root, path + ("script",))
        if not found or not isinstance(node, yaml.ScalarNode):
            lint.line = lint.column = None
            return lint
        if node.style in ("|", ">"):
            first_line = node.start_mark.line + 1  # content starts on the line after '|'
            indent = _block_indent(node, self.tree.lines)
            lint.line = first_line + lint.line + self.tree.line_offset
            lint.column = (lint.column or 1) + indent
        else:
            lint.line, lint.column = self.tree.mark(node)
        return lint

    def _script(self, value: str, fdl_path: PathT) -> Optional[Tuple[str, Optional[Path]]]:
        """(script content, file it came from or None); None when the file is missing."""
        is_path = (self.scripts == "path" or
                   (self.scripts == "auto" and script_is_path(value, self.base_dir)))
        if not is_path:
            return value, None
        base = self.base_dir if self.base_dir is not None else Path.cwd()
        name = value.strip()
        target = Path(name) if os.path.isabs(name) else base / name
        try:
            raw = target.read_bytes()
        except FileNotFoundError:
            self.add(Problem(fdl_path, f"script file {name!r} not found (looked for {target}); "
                             "give the path relative to the FDL file, or the script itself"),
                     fdl_path)
            return None
        except OSError as exc:
            self.add(Problem(fdl_path, f"cannot read script file {name!r} ({target}): "
                             f"{exc.strerror or exc}"), fdl_path)
            return None
        try:
            return raw.decode("utf-8"), target
        except UnicodeDecodeError as exc:
            self.add(Problem(fdl_path, f"script file {name!r} is not UTF-8 text (byte "
                             f"{exc.start})"), fdl_path)
            return None


def _about_top(notice: str, from_top: set) -> bool:
    return any(notice.startswith(spec.format_path(p)) for p in from_top)


def _block_indent(node: yaml.ScalarNode, lines: Sequence[str]) -> int:
    """Indentation (columns) of a block scalar's content, read from the source lines."""
    for line in lines[node.start_mark.line + 1:]:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    return 0


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


# --------------------------------------------------------------------------- writing helpers

class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (scripts), insertion order kept."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)


def _dump(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=100)


def _header(blanked: List[str]) -> str:
    if not blanked:
        return ""
    lines = ["# Secret values were not written; fill them in before applying:"]
    lines += [f"#   {item}" for item in blanked]
    return "\n".join(lines) + "\n"


def _blank_secrets(section: Any, where: Tuple[str, ...]) -> List[str]:
    """Empty every secret value (per :data:`spec.SECRET_FIELDS`) under `section`, in place.

    `where` is the section's path: ``("clusters",)``, or ``(service name,
    "storage_providers")`` for a section kept inside one service. Returns
    the dotted names of what was blanked.
    """
    blanked: List[str] = []
    schema_where = tuple(w for w in where if w in ("storage_providers", "clusters"))

    def walk(value: Any, path: Tuple[str, ...]) -> None:
        if not isinstance(value, dict):
            return
        for key, sub in value.items():
            sub_path = path + (str(key),)
            if isinstance(sub, dict):
                walk(sub, sub_path)
            elif sub not in (None, "") and spec.is_secret_path(schema_where + sub_path):
                value[key] = ""
                blanked.append(".".join(p for p in where + sub_path if p))

    walk(section, ())
    return blanked


def _script_filename(service: ServiceSpec, used: set) -> str:
    base = service.script_path.name if service.script_path is not None else f"{service.name or 'script'}.sh"
    name, n = base, 2
    while name in used:
        stem, dot, ext = base.rpartition(".")
        name = f"{stem}-{n}.{ext}" if dot else f"{base}-{n}"
        n += 1
    used.add(name)
    return name


# --------------------------------------------------------------------------- module API

def diff_service(local: Union[ServiceSpec, Dict[str, Any]], deployed: Dict[str, Any], *,
                 local_label: str = "local", deployed_label: str = "deployed") -> str:
    """Unified diff (YAML lines) between a local definition and a deployed one.

    Server-set fields (token, owner, the server's ``minio.default``), defaults
    the Manager fills and secret values are left out, so an unchanged service
    gives an empty string.
    """
    left = local.data if isinstance(local, ServiceSpec) else local
    a = spec.redact_service(spec.comparable(left))
    b = spec.redact_service(spec.comparable(deployed))
    if a == b:
        return ""
    name = a.get("name") or b.get("name") or "service"
    lines_a = _dump(a).splitlines(keepends=True)
    lines_b = _dump(b).splitlines(keepends=True)
    return "".join(difflib.unified_diff(lines_b, lines_a, fromfile=f"{name} ({deployed_label})",
                                        tofile=f"{name} ({local_label})"))


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
