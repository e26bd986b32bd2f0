"""spec.quantity: Kubernetes quantities read as apimachinery's ParseQuantity reads them.

The expected answers were read from resource.ParseQuantity (apimachinery
v0.34) on each input; the Manager oracle test checks the same texts over
HTTP (test_manager_oracle.py).
"""
from __future__ import annotations

import pytest

from oscar_jupyter.spec.quantity import FORMAT_WRONG, NUMERIC_WRONG, SUFFIX_WRONG, parse_quantity


@pytest.mark.parametrize("text, sign", [
    ("0", 0), ("1", 1), ("-1", -1), ("-0", 0), ("+5", 1), ("500m", 1), ("1.5Gi", 1), ("1e3", 1),
    ("1E", 1), ("1e+5", 1), ("1e-5", 1), ("1.", 1), (".5", 1), ("1.G", 1), ("00", 0), ("0.000", 0),
    ("+", 0), ("-", 0), (".", 0), ("Ki", 0), ("Ti", 0), ("e5", 0), ("1e9223372036854775807", 1),
    ("99999999999999999999Gi", 1), ("0.0001n", 1), ("1e" + "0" * 5000 + "3", 1),  # ParseInt reads the zeros
])
def test_what_it_reads(text: str, sign: int) -> None:
    assert parse_quantity(text) == (None, sign)


@pytest.mark.parametrize("text, error", [
    ("", FORMAT_WRONG), ("abc", FORMAT_WRONG), ("1Gi\n", FORMAT_WRONG), (" 1Gi", FORMAT_WRONG),
    ("1Gi ", FORMAT_WRONG), ("1.5.5", FORMAT_WRONG), ("0x10", FORMAT_WRONG), ("1_000", FORMAT_WRONG),
    ("\u0661", FORMAT_WRONG), ("1GB", FORMAT_WRONG), ("1gi", FORMAT_WRONG),
    ("1e", SUFFIX_WRONG), ("1-", SUFFIX_WRONG), ("1Ki5", SUFFIX_WRONG), ("+-1", SUFFIX_WRONG),
    ("1e9223372036854775808", SUFFIX_WRONG), ("1Eii", SUFFIX_WRONG), ("1ee5", SUFFIX_WRONG),
    ("Pi", NUMERIC_WRONG), ("-Ei", NUMERIC_WRONG), ("e-54", NUMERIC_WRONG),
    ("1e" + "9" * 5000, SUFFIX_WRONG),  # an exponent past int64, and past Python's 4300-digit int limit
])
def test_what_it_refuses_and_in_which_words(text: str, error: str) -> None:
    assert parse_quantity(text) == (error, 0)
