"""pytest hooks for `pytest --nbmake notebooks/`: one oscar-local for every tutorial.

It lives at the repository root, not in notebooks/, so that JupyterLab shows
only the tutorials there; pytest loads it for every path below the root.

nbmake items are not pytest functions, so fixtures do not run for them. The
cluster is started when the first notebook is about to run (answering as
Manager v3.7; a notebook whose name says ``exposed`` gets a second one
answering as v4.1, whose exposed services can be stopped and started), its endpoint and
credentials are put in the environment the notebook's kernel inherits (and
removed again after each notebook, so other tests in the same session do not
see them), and it is stopped when the session ends.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Dict, Optional

import pytest

_ENV_KEYS = ("OSCAR_ENDPOINT", "OSCAR_USER", "OSCAR_PASSWORD")
_state: Dict[str, Any] = {"clusters": {}, "data_dirs": [], "saved": {}}


def _is_notebook(item: pytest.Item) -> bool:
    return str(getattr(item, "path", "")).endswith(".ipynb")


def _api_version(item: pytest.Item) -> str:
    return "4.1" if "exposed" in os.path.basename(str(getattr(item, "path", ""))) else "3.7"


def _cluster(api_version: str = "3.7") -> Any:
    if api_version not in _state["clusters"]:
        from oscar_jupyter import local

        data_dir = tempfile.mkdtemp(prefix="oscar-local-notebooks-")
        _state["data_dirs"].append(data_dir)
        _state["clusters"][api_version] = local.start(data_dir=data_dir, port=0, api_version=api_version)
    return _state["clusters"][api_version]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if not _is_notebook(item):
        return
    cluster = _cluster(_api_version(item))
    _state["saved"] = {k: os.environ.get(k) for k in _ENV_KEYS}
    os.environ.update(OSCAR_ENDPOINT=cluster.endpoint, OSCAR_USER=cluster.user,
                      OSCAR_PASSWORD=cluster.password)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: Optional[pytest.Item]) -> None:
    if not _is_notebook(item):
        return
    for key, value in _state["saved"].items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    clusters, _state["clusters"] = _state["clusters"], {}
    for cluster in clusters.values():
        cluster.stop()
    for data_dir in _state["data_dirs"]:
        shutil.rmtree(data_dir, ignore_errors=True)
    _state["data_dirs"] = []
