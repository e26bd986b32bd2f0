"""A Kubernetes quantity (``cpu: "500m"``, ``memory: "1Gi"``) read as ``resource.ParseQuantity`` reads it.

The Manager parses a service's ``cpu``, ``memory`` and (v4.1)
``ephemeral_storage_request`` with apimachinery's ``ParseQuantity`` before
it asks Kubernetes for anything, and answers its error text; a volume's
``size`` must parse and be positive. Its reader is not the regular
expression its error names: it takes a sign, digits with at most one
``.``, then a suffix (``Ki`` .. ``Ei``, ``n u m k M G T P E``, or ``e``/``E``
and an int64 exponent), byte by byte, with no space anywhere (``"1Gi\\n"``
fails). ``"+"``, ``"."`` and ``"Ki"`` are zero; ``"1.G"`` is 1G.
"""
from __future__ import annotations

from typing import Optional, Tuple

#: ``resource.ErrFormatWrong``: the text names the expression, though the reader does not use it
FORMAT_WRONG = ("quantities must match the regular expression "
                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
#: ``resource.ErrSuffix``
SUFFIX_WRONG = "unable to parse quantity's suffix"
#: ``resource.ErrNumeric``: a suffix alone that the reader's exact path cannot take (``"Pi"``, ``"e-54"``)
NUMERIC_WRONG = "unable to parse numeric part of quantity"

_DIGITS = "0123456789"
_SUFFIX_LETTERS = "eEinumkKMGTP"
_DECIMAL = {"": 0, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}


def _run(text: str, start: int, allowed: str) -> int:
    """The first position from ``start`` whose character is not in ``allowed``."""
    end = start
    while end < len(text) and text[end] in allowed:
        end += 1
    return end


def _int64(text: str) -> Optional[int]:
    """``strconv.ParseInt(text, 10, 64)``: the number, or None where it fails (leading zeros are
    read, whatever their count)."""
    sign = -1 if text[:1] == "-" else 1
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or _run(digits, 0, _DIGITS) != len(digits):
        return None
    significant = digits.lstrip("0") or "0"
    if len(significant) > 19:  # past int64 (and past Python's int-from-text limit)
        return None
    value = sign * int(significant)
    return value if -(1 << 63) <= value < 1 << 63 else None


def _exact(suffix: str, exponent: int) -> bool:
    """Whether a quantity with no digits (its numerator read as "0") takes ParseQuantity's int64 path,
    which needs no digits, rather than the decimal reader, which does."""
    if suffix in _BINARY:
        return 15 - 1 - int(exponent * 3 / 10) - 1 >= 0  # precision for a binary suffix
    return exponent >= -9  # precision 17; the scale must not be below nano


def parse_quantity(text: str) -> Tuple[Optional[str], int]:
    """``(None, sign)`` for a quantity ``ParseQuantity`` reads (sign -1, 0 or 1, as ``Quantity.Sign``),
    else ``(its error text, 0)``."""
    if not text:
        return FORMAT_WRONG, 0
    pos = 1 if text[0] in "+-" else 0
    negative = text[0] == "-"
    pos = _run(text, pos, "0")  # leading zeros
    end = _run(text, pos, _DIGITS)
    digits = text[pos:end]
    pos = end
    if pos < len(text) and text[pos] == ".":
        end = _run(text, pos + 1, _DIGITS)
        digits += text[pos + 1:end]
        pos = end
    suffix_start = pos
    pos = _run(text, pos, _SUFFIX_LETTERS)
    if pos < len(text) and text[pos] in "+-":
        pos += 1
    if _run(text, pos, _DIGITS) != len(text):
        return FORMAT_WRONG, 0  # a character that is no digit after the suffix's letters
    suffix = text[suffix_start:]
    if suffix in _DECIMAL or suffix in _BINARY:
        exponent = _DECIMAL.get(suffix, _BINARY.get(suffix, 0))
    elif len(suffix) > 1 and suffix[0] in "eE" and _int64(suffix[1:]) is not None:
        exponent = (_int64(suffix[1:]) + (1 << 31)) % (1 << 32) - (1 << 31)  # Go's int32(parsed)
    else:
        return SUFFIX_WRONG, 0
    if _run(text[:suffix_start], 0, "+-.") == suffix_start and not _exact(suffix, exponent):
        return NUMERIC_WRONG, 0  # no digit at all, and the decimal reader finds none either
    if not digits.strip("0"):
        return None, 0
    return None, -1 if negative else 1
