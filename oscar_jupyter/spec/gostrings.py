"""Go's ``strings.TrimSpace`` and ``strconv.Quote`` (``%q``), as the Manager applies them."""
from __future__ import annotations

# unicode.IsSpace, what strings.TrimSpace trims (Python's str.strip also trims \x1c-\x1f)
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
           "\u2028\u2029\u202f\u205f\u3000"


def trim_space(text: str) -> str:
    return text.strip(GO_SPACE)


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
            "\\": "\\\\", '"': '\\"'}


def quote(text: str) -> str:
    """``strconv.Quote``: double quotes, Go's escapes, printable characters kept as they are."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() and not 0xD800 <= code <= 0xDFFF:
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'
