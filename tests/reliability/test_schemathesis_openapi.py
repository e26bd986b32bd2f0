"""oscar-local against its own ``/openapi.json`` with schemathesis: requests generated from the
document for every operation; none may answer an undocumented 5xx (see test_fuzz_http for which
5xx are documented) or take longer than 30 s.

Optional: skipped where schemathesis is not installed.
"""
from __future__ import annotations

import collections
from typing import Any, Dict

import pytest

pytest.importorskip("schemathesis", reason="the OpenAPI fuzzing needs schemathesis")
import schemathesis
from hypothesis import HealthCheck, settings

from .oscar_process import OscarLocalProcess
from .documented_errors import documented
from .figures import report

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(300)]

STATUSES: Dict[int, int] = collections.Counter()


@pytest.fixture(scope="module")
def local_openapi(oscar_process: OscarLocalProcess) -> Any:
    return schemathesis.openapi.from_url(oscar_process.endpoint + "/openapi.json")


@pytest.fixture(scope="module", autouse=True)
def summary() -> Any:
    yield
    report("schemathesis on /openapi.json", requests=sum(STATUSES.values()), statuses=dict(sorted(STATUSES.items())))


schema = schemathesis.pytest.from_fixture("local_openapi")


@schema.parametrize()
@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_openapi_operations(case: Any, oscar_process: OscarLocalProcess) -> None:
    resp = case.call(auth=oscar_process.auth, timeout=30)
    STATUSES[resp.status_code] += 1
    assert documented(resp), f"{case.method} {case.formatted_path} -> {resp.status_code}: {resp.text[:300]}"
