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

@pytest.fixture(scope="module")
def local_openapi(oscar_process: OscarLocalProcess) -> Any:
    return schemathesis.openapi.from_url(oscar_process.endpoint + "/openapi.json")


def test_openapi_operations(local_openapi: Any, oscar_process: OscarLocalProcess) -> None:
    # Each operation's strategy driven by hypothesis directly: schemathesis' pytest plugin
    # (schema.parametrize) reaches into pytest internals that pytest 9 no longer has.
    from hypothesis import given

    statuses: Dict[int, int] = collections.Counter()
    operations = [result.ok() for result in local_openapi.get_all_operations()]
    assert operations, "the OpenAPI document lists no operations"

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def call(case: Any) -> None:
            resp = case.call(auth=oscar_process.auth, timeout=30)
            statuses[resp.status_code] += 1
            assert documented(resp), \
                f"{case.method} {case.formatted_path} -> {resp.status_code}: {resp.text[:300]}"

        call()
    report("schemathesis on /openapi.json", operations=len(operations), requests=sum(statuses.values()),
           statuses=dict(sorted(statuses.items())))
