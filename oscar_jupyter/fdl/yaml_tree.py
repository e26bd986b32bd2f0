"""YAML text as a node tree with line marks, converted to Python data that remembers where it was."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import yaml

from ..spec import PathT, Problem

try:  # libyaml reads trailing tabs after values; the pure-Python loader rejects them
    LOADER: Any = yaml.CSafeLoader
    HAVE_LIBYAML = True
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    LOADER = yaml.SafeLoader
    HAVE_LIBYAML = False

#: More YAML nodes than this (alias bombs) and the text is refused.
MAX_NODES = 200_000

#: Mappings and lists nested deeper than this are refused (published FDLs nest under 10 deep;
#: every reader of the tree, here and in the Manager's JSON decoding, works by recursion).
MAX_DEPTH = 64

_TAG_NULL = "tag:yaml.org,2002:null"
_TAG_BOOL = "tag:yaml.org,2002:bool"
_TAG_INT = "tag:yaml.org,2002:int"
_TAG_FLOAT = "tag:yaml.org,2002:float"


class Tree:
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
            raise TooBig()
        if id(node) in stack:
            line, col = self.mark(node)
            self.problems.append(Problem(path, "recursive YAML alias", line=line, column=col))
            return None
        stack = stack + (id(node),)
        if isinstance(node, yaml.MappingNode):
            try:
                self._constructor.flatten_mapping(node)  # '<<' merge keys
            except yaml.MarkedYAMLError as exc:
                self.problems.append(yaml_problem(exc, self.line_offset, "\n".join(self.lines)))
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


class TooBig(Exception):
    """The YAML expands to more than MAX_NODES nodes (alias bombs)."""


def yaml_problem(exc: yaml.MarkedYAMLError, line_offset: int, text: str = "") -> Problem:
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


def reader_problem(exc: yaml.reader.ReaderError, line_offset: int, text: str) -> Problem:
    """A character YAML refuses (a control character), placed on its line and column.

    The pure-Python reader counts characters; libyaml counts UTF-8 bytes.
    """
    position = max(0, int(exc.position or 0))
    if exc.encoding == "unicode":
        before = text[:position]
    else:
        before = text.encode("utf-8")[:position].decode("utf-8", "ignore")
    line = before.count("\n") + 1 + line_offset
    column = len(before) - (before.rfind("\n") + 1) + 1
    char = exc.character
    if isinstance(char, str):
        char = ord(char[:1] or "?")
    code = f"U+{char:04X}" if isinstance(char, int) else "?"
    escape = (f"\\x{char:02x}" if char < 0x100 else f"\\u{char:04x}") if isinstance(char, int) else ""
    return Problem((), f"YAML cannot contain the control character {code}: remove it"
                   + (f" (or write the value in double quotes with the escape {escape})" if escape else ""),
                   line=line, column=column)


def locate(root: Optional[yaml.Node], path: Sequence[Union[str, int]]
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


def block_indent(node: yaml.ScalarNode, lines: Sequence[str]) -> int:
    """Indentation (columns) of a block scalar's content, read from the source lines."""
    for line in lines[node.start_mark.line + 1:]:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    return 0


def too_deep(text: str, loader: Any, line_offset: int) -> Optional[Problem]:
    """A problem at the first mapping or list nested deeper than MAX_DEPTH, or None.

    Reads YAML events (no recursion), so it runs before anything builds the tree.
    YAML errors are left for the composer to report.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    return Problem((), f"nested more than {MAX_DEPTH} mappings/lists deep: an FDL "
                                   "is a few levels deep (look for a runaway indentation or "
                                   "unclosed brackets)", line=mark.line + 1 + line_offset,
                                   column=mark.column + 1)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return None
    return None


def data_too_deep(data: Any) -> bool:
    """Whether Python data nests dicts/lists deeper than MAX_DEPTH (checked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, (list, tuple)):
            children = list(value)
        else:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
