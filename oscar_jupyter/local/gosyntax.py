"""What Go's ``json.Decoder`` says of a body that is not JSON, word for word.

gin's ``ShouldBindJSON`` reads the first JSON value of a body with a
``json.Decoder``, a byte at a time through ``encoding/json``'s scanner. Its
error is the handler's words followed by one of:

* ``EOF``: the body holds only whitespace (or nothing);
* ``unexpected EOF``: the body ends inside the first value (``{"a":``,
  ``tru``, ``1.``, ``"abc``);
* ``invalid character <c> <context>``: the first byte that cannot come
  where it stands, ``<c>`` quoted as Go's ``quoteChar`` quotes one byte
  (the byte taken as a code point, ``\\n``, ``\\x01``, ``\\u0085``, ``'\\''``)
  and ``<context>`` the scanner's state: ``looking for beginning of
  value``, ``after object key``, ``after array element``, ``in string
  literal``, ``in numeric literal``, ``in literal true (expecting 'r')`` ...;
  and ``exceeded max depth`` past 10000 nested arrays and objects.

What follows the first value is never read, so it is never an error; a
number at the top level ends at the first byte that cannot continue it.
Bytes that are not UTF-8 inside a string are no error (Go decodes them as
U+FFFD), outside one they are an invalid character like any other.

Only ``exchange.read_json``'s slow path runs this scanner: Python's decoder
reads the same grammar, so it runs when that decoder refused a body (or met
what JSON has not: ``NaN``, ``Infinity``), when the body is not UTF-8, and
for a number at the top level (which Python ends before a stray ``.``).
"""
from __future__ import annotations

import codecs
from typing import Optional

MAX_DEPTH = 10000  # encoding/json's maxNestingDepth
#: a decoding error handler that makes each byte of an invalid UTF-8 sequence one U+FFFD, as Go's
#: utf8.DecodeRune does (Python's "replace" makes one for a whole truncated sequence)
GO_REPLACE = "oscar-go-fffd"
codecs.register_error(GO_REPLACE, lambda exc: ("\ufffd", exc.start + 1))
_SPACE = b" \t\r\n"
_DIGITS = b"0123456789"
_HEX = b"0123456789abcdefABCDEF"
_ESCAPES = b'bfnrt\\/"'
_GO_ESCAPES = {0x07: "\\a", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x0B: "\\v",
               0x5C: "\\\\"}
# after the first letter of true, false and null: the letters still expected, in order
_LITERALS = {ord("t"): "true", ord("f"): "false", ord("n"): "null"}

# what the parser expects of the enclosing value (encoding/json's parseState)
_KEY, _VALUE, _ELEMENT = "key", "value", "element"


def quote_char(c: int) -> str:
    """One byte as Go's scanner names it in an error: the byte read as a code point, quoted with
    ``strconv.Quote``'s escapes between single quotes."""
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    if c in _GO_ESCAPES:
        return f"'{_GO_ESCAPES[c]}'"
    if c < 0x20 or c == 0x7F:
        return f"'\\x{c:02x}'"
    if 0x80 <= c <= 0xA0 or c == 0xAD:  # not printable by strconv.IsPrint
        return f"'\\u{c:04x}'"
    return f"'{chr(c)}'"


class _Refused(Exception):
    def __init__(self, c: int, context: str) -> None:
        super().__init__(f"invalid character {quote_char(c)} {context}")


def syntax_error(body: bytes) -> Optional[str]:
    """Go's error for the first JSON value of ``body`` as a ``json.Decoder`` reads it, or None when
    that value is well formed (its type may still not fit)."""
    if not body.strip(_SPACE):
        return "EOF"
    try:
        return None if _scan(body) else "unexpected EOF"
    except _Refused as exc:
        return str(exc)


def _scan(body: bytes) -> bool:
    """Whether the first value ends within ``body``; raises ``_Refused`` at a byte that cannot be."""
    stack: list[str] = []
    i, n = 0, len(body)

    def skip_space(i: int) -> int:
        while i < n and body[i] in _SPACE:
            i += 1
        return i

    while True:
        # a value begins (after whitespace)
        i = skip_space(i)
        if i >= n:
            return False
        c = body[i]
        if c in b"{[":
            stack.append(_KEY if c == 0x7B else _ELEMENT)
            if len(stack) > MAX_DEPTH:
                raise _Refused(c, "exceeded max depth")
            i = skip_space(i + 1)
            if i >= n:
                return False
            closer = 0x7D if c == 0x7B else 0x5D
            if body[i] == closer:  # empty
                stack.pop()
                i += 1
            elif c == 0x7B:
                i = _key(body, i)
                if i < 0:
                    return False
            else:
                continue  # the array's first element begins here
        elif c == 0x22:
            i = _string(body, i + 1)
            if i < 0:
                return False
        elif c == 0x2D or c in _DIGITS:
            i = _number(body, i, top=not stack)
            if i < 0:
                return False
        elif c in _LITERALS:
            word = _LITERALS[c]
            for k, want in enumerate(word[1:], start=1):
                if i + k >= n:
                    return False
                if body[i + k] != ord(want):
                    raise _Refused(body[i + k], f"in literal {word} (expecting '{want}')")
            i += len(word)
        else:
            raise _Refused(c, "looking for beginning of value")
        # a value ended: what may follow it
        while True:
            if not stack:
                return True
            i = skip_space(i)
            if i >= n:
                return False
            c, state = body[i], stack[-1]
            if state == _KEY:
                if c != 0x3A:
                    raise _Refused(c, "after object key")
                stack[-1] = _VALUE
                i += 1
                break  # the member's value begins
            if state == _VALUE:
                if c == 0x2C:
                    stack[-1] = _KEY
                    i = skip_space(i + 1)
                    if i >= n:
                        return False
                    i = _key(body, i)
                    if i < 0:
                        return False
                    continue  # the key ended: a colon must follow
                if c != 0x7D:
                    raise _Refused(c, "after object key:value pair")
            else:
                if c == 0x2C:
                    i += 1
                    break  # the next element begins
                if c != 0x5D:
                    raise _Refused(c, "after array element")
            stack.pop()
            i += 1


def _key(body: bytes, i: int) -> int:
    """The index after the object key that must start at ``i``; -1 when the body ends first."""
    if body[i] != 0x22:
        raise _Refused(body[i], "looking for beginning of object key string")
    return _string(body, i + 1)


def _string(body: bytes, i: int) -> int:
    """The index after the string whose opening quote is before ``i``; -1 when the body ends first."""
    n = len(body)
    while i < n:
        c = body[i]
        if c == 0x22:
            return i + 1
        if c == 0x5C:
            i += 1
            if i >= n:
                return -1
            e = body[i]
            if e == ord("u"):
                for k in range(1, 5):
                    if i + k >= n:
                        return -1
                    if body[i + k] not in _HEX:
                        raise _Refused(body[i + k], "in \\u hexadecimal character escape")
                i += 4
            elif e not in _ESCAPES:
                raise _Refused(e, "in string escape code")
        elif c < 0x20:
            raise _Refused(c, "in string literal")
        i += 1
    return -1


def _number(body: bytes, i: int, top: bool) -> int:
    """The index after the number starting at ``i``; -1 when the body ends where the number cannot
    (a top-level number also ends at the end of the body, as the Decoder's last step shows)."""
    n = len(body)
    if body[i] == 0x2D:
        i = _digits(body, i + 1, "in numeric literal", leading_zero=True)
    else:
        i = _digits(body, i, "in numeric literal", leading_zero=True)
    if 0 <= i < n and body[i] == 0x2E:
        i = _digits(body, i + 1, "after decimal point in numeric literal")
    if 0 <= i < n and body[i] in b"eE":
        i += 1
        if i < n and body[i] in b"+-":
            i += 1
        i = _digits(body, i, "in exponent of numeric literal")
    if i >= n and not top:
        return -1
    return i


def _digits(body: bytes, i: int, context: str, leading_zero: bool = False) -> int:
    """The index after the run of digits that must start at ``i`` (refused there with ``context``
    otherwise); -1 when the body ends first. With ``leading_zero``, a 0 is the whole run."""
    if i < 0 or i >= len(body):
        return -1
    if body[i] not in _DIGITS:
        raise _Refused(body[i], context)
    if leading_zero and body[i] == 0x30:
        return i + 1
    i += 1
    while i < len(body) and body[i] in _DIGITS:
        i += 1
    return i
