"""spec.gostrings: Go's strings.TrimSpace and strconv.Quote (%q), as the Manager's texts use them."""
from __future__ import annotations

import pytest

from oscar_jupyter.spec.gostrings import quote, trim_space


@pytest.mark.parametrize("text, quoted", [
    ("weird", '"weird"'), ('we"ird', '"we\\"ird"'), ("a\\b", '"a\\\\b"'), ("é", '"é"'),
    ("\x01", '"\\x01"'), ("\x7f", '"\\x7f"'), ("\t\n", '"\\t\\n"'), ("\u00a0", '"\\u00a0"'),
    ("\u200b", '"\\u200b"'), ("\U000e0001", '"\\U000e0001"'), ("", '""'),
])
def test_quote_as_strconv_quotes(text: str, quoted: str) -> None:
    assert quote(text) == quoted


def test_trim_space_trims_what_go_calls_space_only() -> None:
    assert trim_space("\u3000 a\x85\t") == "a"
    assert trim_space("\x1ca\x1f") == "\x1ca\x1f"  # Python's str.strip would take these
