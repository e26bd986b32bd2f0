"""Go's json.Decoder errors, as tests/integration/test_manager_oracle.py checked them against the
Manager's own handlers (these run where no Go oracle is built)."""
from __future__ import annotations

import json

import pytest

from oscar_jupyter.local.gosyntax import quote_char, syntax_error


@pytest.mark.parametrize("body, error", [
    (b"", "EOF"), (b" \r\n\t", "EOF"),
    (b"{", "unexpected EOF"), (b'{"a":', "unexpected EOF"), (b"tru", "unexpected EOF"),
    (b"1.", "unexpected EOF"), (b"-", "unexpected EOF"), (b"1e+", "unexpected EOF"), (b'"abc', "unexpected EOF"),
    (b'"\\u12', "unexpected EOF"), (b"[1", "unexpected EOF"),
    (b"[01]", "invalid character '1' after array element"),
    (b"{a}", "invalid character 'a' looking for beginning of object key string"),
    (b'{"a" 1}', "invalid character '1' after object key"),
    (b'{"a":1 "b"}', "invalid character '\"' after object key:value pair"),
    (b'"a\nb"', "invalid character '\\n' in string literal"),
    (b'"\\x"', "invalid character 'x' in string escape code"),
    (b'"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"),
    (b"nulx", "invalid character 'x' in literal null (expecting 'l')"),
    (b"fAlse", "invalid character 'A' in literal false (expecting 'a')"),
    (b"NaN", "invalid character 'N' looking for beginning of value"),
    (b"-Infinity", "invalid character 'I' in numeric literal"),
    (b"1.x", "invalid character 'x' after decimal point in numeric literal"),
    (b"1ex", "invalid character 'x' in exponent of numeric literal"),
    (b'{"a":[1,]}', "invalid character ']' looking for beginning of value"),
    (b"'x'", "invalid character '\\'' looking for beginning of value"),
    (b"\xef\xbb\xbf{}", "invalid character '\u00ef' looking for beginning of value"),
    (b"[\x01]", "invalid character '\\x01' looking for beginning of value"),
    (b"\x85", "invalid character '\\u0085' looking for beginning of value"),
    (b"[" * 10001, "invalid character '[' exceeded max depth"),
])
def test_refused_in_gos_words(body: bytes, error: str) -> None:
    assert syntax_error(body) == error


@pytest.mark.parametrize("body", [
    b"1", b" 12 ", b"01", b"{}x", b"truex", b'"\xff"', b'{"a":[1,2.5e-3,"\\u00e9"]} trailing',
    b"[" * 10000 + b"]" * 10000, b"-0.0E+1",
])
def test_well_formed_first_values(body: bytes) -> None:
    """What follows the first value is never read; bytes that are not UTF-8 inside a string pass."""
    assert syntax_error(body) is None


def test_every_document_pythons_decoder_reads_is_well_formed() -> None:
    values = [None, True, 0, -1.5e-3, "é\n\u2028\"\\", [], {}, {"a": [1, {"b": None}], "c": ""}]
    for value in values:
        assert syntax_error(json.dumps(value).encode()) is None
        assert syntax_error(json.dumps(value, ensure_ascii=False, indent=2).encode()) is None


@pytest.mark.parametrize("byte, quoted", [
    (0x27, "'\\''"), (0x22, "'\"'"), (0x5C, "'\\\\'"), (0x0A, "'\\n'"), (0x07, "'\\a'"), (0x1F, "'\\x1f'"),
    (0x7F, "'\\x7f'"), (0x80, "'\\u0080'"), (0xA0, "'\\u00a0'"), (0xAD, "'\\u00ad'"), (0xE9, "'é'"), (0x41, "'A'"),
])
def test_a_byte_quoted_as_go_quotes_it(byte: int, quoted: str) -> None:
    assert quote_char(byte) == quoted
