"""What Go's ``encoding/json`` says when a request body does not fit the Manager's Go type.

gin's ``ShouldBindJSON`` decodes a body with a ``json.Decoder`` into the
handler's type before any check of the handler's own runs. A value of the
wrong JSON kind for its field does not stop the decoding: the first such
error, in the order the body is written, is the one returned, and the
handler answers ``400 The service specification is not valid: <error>``.
The error's text is ``UnmarshalTypeError``'s (Go 1.25, the Manager's
toolchain):

* ``json: cannot unmarshal <what> into Go struct field <Struct>.<path> of
  type <type>`` inside a struct, where ``<what>`` is ``string``, ``number``,
  ``bool``, ``array`` or ``object``, or ``number <literal>`` for a number an
  integer field cannot hold (a fraction, or beyond ``int32``/``int``);
  ``<Struct>`` is the innermost struct's name (empty for the anonymous
  ``synchronous`` and ``environment`` structs); ``<path>`` is the JSON field
  names from the top, without list indices or map keys;
* ``json: cannot unmarshal <what> into Go value of type types.Service`` for
  a body that is no object.

Field names match exactly, else case-insensitively; unknown fields and
``null`` values are skipped. The struct layouts are ``gotypes``'.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Optional, Union

from ..spec.normalisation import go_fold
from .gotypes import Kind

#: reflect's String() of the anonymous structs in types.Service (both releases)
_ANONYMOUS = {
    "Synchronous": 'struct { MinScale int "json:\\"min_scale\\""; MaxScale int "json:\\"max_scale\\"" }',
    "Environment": 'struct { Vars map[string]string "json:\\"variables\\""; '
                   'Secrets map[string]string "json:\\"secrets\\"" }',
}
#: types with their own UnmarshalJSON (v4.1.2): they decode a copy ("type Alias Kserve") with
#: json.Unmarshal, then refuse a missing field with a plain error, in this order
_CUSTOM = {
    "Kserve": [("storage_uri", "Kserve StorageUri is required"), ("type", "Kserve Type is required")],
    "KserveInference": [("model_format", "Kserve Inference ModelFormat is required")],
}
#: request types outside pkg/types that handlers decode into (pkg/handlers/buckets/presign_bucket.go)
REQUESTS: dict[str, list] = {
    "PresignRequest": [("object_key", "string", False), ("operation", "string", False),
                       ("expires_in", "int64", False), ("content_type", "string", False),
                       ("extra_headers", ("map", "string"), False)],
}
#: the Go package of struct types not in pkg/types
_PACKAGE = {"MinIOBucket": "utils", "MinIOObject": "utils", "PresignRequest": "buckets"}
#: named slice types
_NAMED = {("Service", "replicas"): "types.ReplicaList", ("Federation", "members"): "types.ReplicaList"}
_BITS = {"int": 64, "int64": 64, "int32": 32}


class Number(float):
    """A JSON number with a fraction or exponent, keeping the text it was written as (Go's error
    names the literal: ``number 1e3``)."""

    literal: str

    def __new__(cls, text: str) -> "Number":
        value = super().__new__(cls, text)
        value.literal = text
        return value


class NotJSON(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's decoder reads them, JSON (and Go) does not;
    ``gosyntax`` says where Go's scanner stops."""


def _refuse_constant(name: str) -> Any:
    raise NotJSON(name)


class Object(dict):
    """A JSON object with a key written more than once: a dict keeps the last value, Go's decoder
    decodes each in turn, so ``pairs`` keeps them all in order."""

    pairs: list


def _object(pairs: list) -> dict:
    value = Object(pairs) if len({key for key, _ in pairs}) < len(pairs) else dict(pairs)
    if isinstance(value, Object):
        value.pairs = pairs
    return value


class MinusZero(int):
    """``-0``: zero to every Go integer type but ``uint``, whose ``ParseUint`` refuses the sign
    (``number -0``)."""


def _integer_literal(text: str) -> Any:
    # past Python's int-from-text limit (4300 digits) the literal is kept as a Number: Go's error
    # names it the same way, and no Go integer field holds it anyway
    if text == "-0":
        return MinusZero(0)
    return int(text) if len(text) <= 4000 else Number(text)


#: a decoder that keeps number literals and repeated keys and refuses what JSON has not
#: (``read_json`` uses it)
DECODER = json.JSONDecoder(parse_float=Number, parse_int=_integer_literal, parse_constant=_refuse_constant,
                           object_pairs_hook=_object)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def go_strings(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) made U+FFFD, as Go's decoder
    unquotes a ``\\ud800`` escape that no low surrogate follows (Python's keeps it)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [go_strings(v) for v in value]
    if isinstance(value, dict):  # rebuilt as the decoder built it, from its keys in order
        return _object([(go_strings(k), go_strings(v)) for k, v in getattr(value, "pairs", value.items())])
    return value


fold = go_fold  # Go's EqualFold for keys against ASCII field names


def items(value: dict) -> list:
    """The key-value pairs of a JSON object in the order written, repeats included."""
    return value.pairs if isinstance(value, Object) else list(value.items())


class _Returned(Exception):
    """An error a custom UnmarshalJSON returned: it ends the decoding and is the one reported."""

    def __init__(self, error: Union[str, "_Mismatch"]) -> None:
        super().__init__(str(error))
        self.error = error


def type_error(value: Any, types: dict[str, list], root: str = "Service") -> Optional[str]:
    """Go's decoding error for ``value`` (a decoded JSON body) as the type ``root``, or None."""
    found = _decode(value, types, root)
    return found if found is None or isinstance(found, str) else found.text()


def _decode(value: Any, types: dict[str, list], root: str) -> Union[None, str, "_Mismatch"]:
    """One decoding of ``value`` as ``root``: the error a custom UnmarshalJSON returned, else the
    first mismatch saved, else None."""
    walk = _Walk(types)
    try:
        walk.value(value, root, None, [], root_type=True)
    except _Returned as returned:
        return returned.error
    return walk.saved


def type_name(kind: Kind, types: dict[str, list]) -> str:
    """reflect's String() of a Go type of this kind."""
    if isinstance(kind, tuple):
        wrapper, inner = kind
        prefix = {"ptr": "*", "list": "[]", "map": "map[string]"}[wrapper]
        return prefix + type_name(inner, types)
    if kind in types:
        return _ANONYMOUS.get(kind, _PACKAGE.get(kind, "types") + "." + kind)
    return kind


def _what(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "number"


@dataclass
class _Mismatch:
    """An ``UnmarshalTypeError``: what was found, the Go type, and where (its error context)."""

    what: str
    gotype: str
    struct: Optional[str]
    stack: list[str]

    def text(self) -> str:
        if self.struct is not None or self.stack:
            return (f"json: cannot unmarshal {self.what} into Go struct field {self.struct or ''}."
                    f"{'.'.join(self.stack)} of type {self.gotype}")
        return f"json: cannot unmarshal {self.what} into Go value of type {self.gotype}"


def _integer(value: Any, kind: str) -> Optional[str]:
    """What Go calls ``value`` when it does not fit integer ``kind``, or None when it does."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _what(value)
    if isinstance(value, float):
        return "number " + getattr(value, "literal", repr(value))
    if kind == "uint":
        if isinstance(value, MinusZero):
            return "number -0"
        return None if 0 <= value < 1 << 64 else f"number {value}"
    bits = _BITS[kind]
    return None if -(1 << (bits - 1)) <= value < 1 << (bits - 1) else f"number {value}"


class _Walk:
    """One decoding as Go's ``decodeState`` does it: a type mismatch is saved (the first one is
    reported) and decoding goes on; an error a custom UnmarshalJSON returns ends it (``_Returned``)."""

    def __init__(self, types: dict[str, list]) -> None:
        self.types = types
        self.saved: Optional[_Mismatch] = None

    def save(self, mismatch: _Mismatch) -> None:
        if self.saved is None:
            self.saved = mismatch

    def value(self, value: Any, kind: Kind, struct: Optional[str], stack: list[str], *,
              owner: Optional[tuple] = None, root_type: bool = False) -> None:
        if value is None:
            return  # null leaves a Go value as it is
        types = self.types
        if isinstance(kind, tuple):
            wrapper, inner = kind
            if wrapper == "ptr":
                return self.value(value, inner, struct, stack, owner=owner)
            expected = list if wrapper == "list" else dict
            if not isinstance(value, expected):
                gotype = _NAMED.get(owner) if owner else None
                return self.save(_Mismatch(_what(value), gotype or type_name(kind, types), struct, stack))
            for item in (value if wrapper == "list" else [v for _, v in items(value)]):
                self.value(item, inner, struct, stack)
            return
        if kind == "string":
            return None if isinstance(value, str) else self.save(_Mismatch(_what(value), "string", struct, stack))
        if kind == "bool":
            return None if isinstance(value, bool) else self.save(_Mismatch(_what(value), "bool", struct, stack))
        if kind in ("int", "int64", "int32", "uint"):
            what = _integer(value, kind)
            return self.save(_Mismatch(what, kind, struct, stack)) if what else None
        if kind in _CUSTOM and not root_type:
            return self.custom(value, kind, struct, stack)
        if not isinstance(value, dict):
            gotype = "types.Alias" if kind in _CUSTOM else type_name(kind, types)
            return self.save(_Mismatch(_what(value), gotype, None if root_type else struct, stack))
        fields = types[kind]
        exact = {name: (name, field_kind) for name, field_kind, _ in fields}
        folded = {name.lower(): (name, field_kind) for name, field_kind, _ in fields}
        name_here = "" if kind in _ANONYMOUS else kind
        for key, item in items(value):
            field = exact.get(key) or (folded.get(fold(key)) if isinstance(key, str) else None)
            if field is not None:  # Go skips fields its type does not have
                self.value(item, field[1], name_here, stack + [field[0]], owner=(kind, field[0]))

    def custom(self, value: Any, kind: str, struct: Optional[str], stack: list[str]) -> None:
        """A type with its own UnmarshalJSON (a ``json.Unmarshal`` of a copy): whatever error it
        returns ends the outer decoding, in the outer context (enclosing struct, full path); then
        its required fields."""
        error = _decode(value, self.types, kind)
        if isinstance(error, _Mismatch):
            raise _Returned(_Mismatch(error.what, error.gotype, struct, stack + error.stack))
        if error:
            raise _Returned(error)
        for field, message in _CUSTOM[kind]:
            present = _field_value(value, field)
            if not (isinstance(present, str) and present.strip(" \t\n\v\f\r\x85\xa0")):
                raise _Returned(message)


def _field_value(value: dict, field: str) -> Any:
    """The value Go decodes into ``field``: the last key naming it, exactly or in another case."""
    found = None
    for key, item in items(value):
        if isinstance(key, str) and fold(key) == field:
            found = item if item is not None else found
    return found


def known_fields(value: Any, types: dict[str, list], kind: Kind = "Service") -> Any:
    """``value`` as Go's decoder fills the type ``kind``, at every depth: the fields it lacks
    dropped, each field under its own JSON name, and a field named more than once (any spelling)
    decoded in turn into what the earlier ones left (``into``), so what follows sees what the
    Manager of this release sees."""
    if isinstance(kind, tuple):
        wrapper, inner = kind
        if wrapper == "ptr":
            return known_fields(value, types, inner)
        if wrapper == "list" and isinstance(value, list):
            return [known_fields(item, types, inner) for item in value]
        if wrapper == "map" and isinstance(value, dict):
            return {key: known_fields(item, types, inner) for key, item in value.items()}
        return value
    if kind not in types or not isinstance(value, dict):
        return value
    fields = {name: field_kind for name, field_kind, _ in types[kind]}
    folded = {name.lower(): name for name in fields}
    kept: dict = {}
    for key, item in items(value):
        name = key if key in fields else folded.get(fold(key)) if isinstance(key, str) else None
        if name is not None:
            item = known_fields(item, types, fields[name])
            kept[name] = into(kept[name], item, fields[name], types) if name in kept else item
    return kept


def into(earlier: Any, later: Any, kind: Kind, types: dict[str, list]) -> Any:
    """What a Go value of ``kind`` holding ``earlier`` holds once ``later`` is decoded into it
    (both already cut to ``kind``'s fields): ``null`` makes a pointer, slice or map nil and leaves
    anything else as it was; an object fills a struct field by field (pointed-to too) and adds
    its keys to a map; an array decodes element by element into the elements already there, and
    ends where it ends."""
    if later is None:
        return None if isinstance(kind, tuple) else earlier
    if isinstance(kind, tuple):
        wrapper, inner = kind
        if wrapper == "ptr":
            return later if earlier is None else into(earlier, later, inner, types)
        if wrapper == "list" and isinstance(earlier, list) and isinstance(later, list):
            return [into(earlier[i], item, inner, types) if i < len(earlier) else item
                    for i, item in enumerate(later)]
        if wrapper == "map" and isinstance(earlier, dict) and isinstance(later, dict):
            return {**earlier, **later}  # each element is decoded afresh: no merge inside
        return later
    if kind in types and isinstance(earlier, dict) and isinstance(later, dict):
        fields = {name: field_kind for name, field_kind, _ in types[kind]}
        merged = dict(earlier)
        for name, item in later.items():
            merged[name] = into(merged[name], item, fields[name], types) if name in merged else item
        return merged
    return later
