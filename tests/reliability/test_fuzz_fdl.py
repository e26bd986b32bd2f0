"""Fuzzing the FDL parser: only InvalidDefinition may escape, and every problem it carries has a line.

Three kinds of input: arbitrary YAML-ish text; the published-style FDLs of
tests/data/fdl mutated line by line and character by character; and random
structures under real FDL keys, dumped to YAML (they get past the YAML layer
and into normalisation and validation).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, List

import pytest

pytest.importorskip("hypothesis", reason="fuzzing needs hypothesis (the test extra)")
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from oscar_jupyter.errors import InvalidDefinition
from oscar_jupyter.fdl import FDL

from .figures import report

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(300)]

DATA = Path(__file__).resolve().parents[1] / "data" / "fdl"
SOURCES = sorted(p for p in DATA.rglob("*.yaml"))
TEXTS = {p: p.read_text() for p in SOURCES}
FUZZ = settings(max_examples=400, deadline=None, derandomize=False, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
STATS = {"parsed": 0, "invalid": 0, "problems": 0, "slowest_s": 0.0, "cases": 0}

TOKENS = list("abcxyz019 :-\n\t{}[],&*!|>'\"#%@`?~\\.\r") + [
    "functions", "oscar", "name", "script", "input", "path", "  ", "\n  - ", ": |\n", "&a", "*a", "!!binary",
    "\u00e9", "\u2028", "\ufeff", "\x00", "\x08", "\x85"]
YAMLISH = st.one_of(st.lists(st.sampled_from(TOKENS), max_size=120).map("".join), st.text(max_size=200))
KEYS = ["name", "image", "script", "cpu", "memory", "input", "output", "environment", "Variables",
        "variables", "secrets", "synchronous", "min_scale", "max_scale", "expose", "api_port",
        "storage_provider", "path", "suffix", "prefix", "log_level", "alpine", "clusters",
        "storage_providers", "minio", "default", "annotations", "labels", "visibility", "replicas", "x"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(["minio.default", "b/f", "1.0", "512Mi", "-1",
                                                          "script.sh", "../../etc/passwd", ""]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)),
    max_leaves=25)


def _check(text: str, base_dir: Path) -> None:
    """Parse; anything but InvalidDefinition fails the test, and every problem must have a line."""
    t0 = time.perf_counter()
    try:
        FDL.parse(text, base_dir=base_dir, source="fuzz.yaml")
        STATS["parsed"] += 1
    except InvalidDefinition as exc:
        STATS["invalid"] += 1
        STATS["problems"] += len(exc.problems)
        assert str(exc), "an InvalidDefinition with no message"
        unplaced = [str(p) for p in exc.problems if p.line is None]
        assert not unplaced, f"problems without a line: {unplaced}\n--- input ---\n{text}"
    finally:
        STATS["cases"] += 1
        STATS["slowest_s"] = max(STATS["slowest_s"], time.perf_counter() - t0)


def _mutate(lines: List[str], ops: List[tuple]) -> str:
    for op, where, arg in ops:
        if not lines:
            lines = [arg]
            continue
        i = where % len(lines)
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = (i + 1) % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            lines[i] = "  " + lines[i]
        elif op == "dedent":
            lines[i] = lines[i][2:]
        elif op == "insert":
            pos = len(arg) % (len(lines[i]) + 1)
            lines[i] = lines[i][:pos] + arg + lines[i][pos:]
        elif op == "value":
            head, sep, _ = lines[i].partition(":")
            lines[i] = f"{head}{sep or ':'} {arg}"
        elif op == "truncate":
            lines[i] = lines[i][: len(arg)]
    return "\n".join(lines)


OPS = st.lists(st.tuples(st.sampled_from(["drop", "dup", "swap", "indent", "dedent", "insert", "value",
                                          "truncate"]),
                         st.integers(0, 200), st.text(max_size=12)), min_size=1, max_size=6)


@FUZZ
@given(text=YAMLISH)
def test_yamlish_text(text: str) -> None:
    _check(text, DATA)


@FUZZ
@given(source=st.sampled_from(SOURCES), ops=OPS)
def test_mutated_published_fdls(source: Path, ops: List[tuple]) -> None:
    _check(_mutate(TEXTS[source].splitlines(), ops), source.parent)


@FUZZ
@given(body=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8), top=VALUES,
       shape=st.sampled_from(["fdl", "bare", "top"]))
def test_random_structures_under_fdl_keys(body: dict, top: Any, shape: str) -> None:
    if shape == "fdl":
        doc: Any = {"functions": {"oscar": [{"oscar-cluster": body}]}, "storage_providers": top}
    elif shape == "bare":
        doc = body
    else:
        doc = {"functions": top}
    _check(yaml.safe_dump(doc, allow_unicode=True), DATA)


def test_control_character_problem_has_a_line() -> None:
    """Found by the fuzzing above: a character YAML refuses to read is placed on its line."""
    text = "functions:\n  oscar:\n  - c:\n      name: x\x08y\n"
    with pytest.raises(InvalidDefinition) as info:
        FDL.parse(text, source="fuzz.yaml")
    assert [p.line for p in info.value.problems] == [4]


def test_comment_only_problem_has_a_line() -> None:
    """Found by the fuzzing above: a document of comments only is placed at its first line."""
    with pytest.raises(InvalidDefinition) as info:
        FDL.parse("# nothing but a comment\n", source="fuzz.yaml")
    assert [p.line for p in info.value.problems] == [1]


def test_fuzz_summary() -> None:
    """Runs after the three above (file order): prints what they covered."""
    report("FDL fuzzing", **STATS)
