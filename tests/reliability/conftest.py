"""Fixtures of the reliability runs: an oscar-local of their own, run as the ``oscar-local`` command.

Every test here is marked ``reliability`` and so runs only with ``pytest --reliability``
(see tests/conftest.py). Each test prints the figures it measured (``pytest -s`` shows them).
"""
from __future__ import annotations

import os
import tempfile
import uuid
from typing import Iterator

import pytest

from . import figures
from .oscar_process import OscarLocalProcess, wait_gone

_OUTCOMES = pytest.StashKey[dict]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    outcomes = item.config.stash.get(_OUTCOMES, None)
    if outcomes is None:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        reason = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = f" ({report.longrepr[2]})"
        outcomes[report.nodeid.replace("tests/reliability/", "")] = report.outcome + reason


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    page = session.config.getoption("--reliability-doc", default=None)
    path = os.environ.pop(figures.FIGURES_ENV, None)
    if not page or path is None:
        return
    from bench import machine
    command = "pytest tests/reliability --reliability --reliability-doc " + page
    figures.write_page(path, page, machine.describe(), session.config.stash.get(_OUTCOMES, {}), command)
    os.unlink(path)



def pytest_configure(config: pytest.Config) -> None:
    """With --reliability, hypothesis keeps its examples and failure patches out of the checkout;
    with --reliability-doc too, the figures are collected for the page."""
    if not config.getoption("--reliability", default=False):
        return
    if config.getoption("--reliability-doc", default=None):
        handle, path = tempfile.mkstemp(prefix="reliability-figures-", suffix=".jsonl")
        os.close(handle)
        os.environ[figures.FIGURES_ENV] = path
        config.stash[_OUTCOMES] = {}
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
