"""Fixtures of the reliability runs: an oscar-local of their own, run as the ``oscar-local`` command.

Every test here is marked ``reliability`` and so runs only with ``pytest --reliability``
(see tests/conftest.py). Each test prints the figures it measured (``pytest -s`` shows them).
"""
from __future__ import annotations

import tempfile
import uuid
from typing import Iterator

import pytest

from .oscar_process import OscarLocalProcess, wait_gone



def pytest_configure(config: pytest.Config) -> None:
    """With --reliability, hypothesis keeps its examples and failure patches out of the checkout."""
    if not config.getoption("--reliability", default=False):
        return
    try:
        from hypothesis.configuration import set_hypothesis_home_dir
    except ImportError:  # the fuzz modules skip themselves
        return
    set_hypothesis_home_dir(tempfile.mkdtemp(prefix="reliability-hypothesis-"))


@pytest.fixture(scope="module")
def oscar_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OscarLocalProcess]:
    """A running ``oscar-local`` child process for one test module (stopped with SIGTERM after it)."""
    data_dir = tmp_path_factory.mktemp("reliability-oscar-local")
    proc = OscarLocalProcess(str(data_dir), uuid.uuid4().hex).start()
    try:
        yield proc
    finally:
        below = proc.descendants()
        proc.stop()
        wait_gone(below, 15)
