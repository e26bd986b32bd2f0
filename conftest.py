"""pytest hooks for `pytest --nbmake notebooks/`: one oscar-local for every tutorial.

It lives at the repository root, not in notebooks/, so that JupyterLab shows
only the tutorials there; pytest loads it for every path below the root.

nbmake items are not pytest functions, so fixtures do not run for them. The
cluster is started when the first notebook is about to run, its endpoint and
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
_state: Dict[str, Any] = {"cluster": None, "data_dir": None, "saved": {}}


def _is_notebook(item: pytest.Item) -> bool:
    return str(getattr(item, "path", "")).endswith(".ipynb")


def _cluster() -> Any:
    if _state["cluster"] is None:
        from oscar_jupyter import local

        _state["data_dir"] = tempfile.mkdtemp(prefix="oscar-local-notebooks-")
        _state["cluster"] = local.start(data_dir=_state["data_dir"], port=0)
    return _state["cluster"]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if not _is_notebook(item):
        return
    cluster = _cluster()
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
    cluster, _state["cluster"] = _state["cluster"], None
    if cluster is not None:
        cluster.stop()
    if _state["data_dir"]:
        shutil.rmtree(_state["data_dir"], ignore_errors=True)
        _state["data_dir"] = None
