"""Wire shapes per Manager version and the Manager's rules for OIDC groups (no servers)."""
from __future__ import annotations

import pytest

from oscar_jupyter.local.oidc import OidcValidator, groups_from_userinfo
from oscar_jupyter.local.versions import UnknownVersion, Wire


@pytest.mark.parametrize("given,key", [("3.7", "3.7"), ("3.7.1", "3.7"), ("v4.1.2", "4.1"), (None, "4.1"),
                                       ("3.6", "3.6"), (" 4.1 ", "4.1"), (4.1, "4.1")])
def test_versions_are_recognised(given, key):
    assert Wire.of(given).api_version == key


@pytest.mark.parametrize("given", ["4", "4.0", "3.7.0", "", "latest", 5])
def test_unknown_versions_name_the_choices(given):
    with pytest.raises(UnknownVersion, match="3.6, 3.7, 4.1"):
        Wire.of(given)


def test_differences_between_versions():
    v36, v37, v41 = Wire.of("3.6"), Wire.of("3.7"), Wire.of("4.1")
    assert (v36.duplicate_status, v37.duplicate_status, v41.duplicate_status) == (409, 409, 400)
    assert (v36.deployment_routes, v37.deployment_routes, v41.deployment_routes) == (False, False, True)
    jobs = {"s-1": {"status": "Succeeded"}}
    assert v36.jobs_listing(jobs, "7", 3) == jobs
    assert v37.jobs_listing(jobs, None, 0) == {"jobs": jobs}
    assert v41.jobs_listing(jobs, "7", 3) == {"jobs": jobs, "next_page": "7", "remaining_jobs": 3}


def test_port_shapes():
    view = {"expose": {"api_port": 8080, "nodePort": 0, "min_scale": 1}}
    assert Wire.of("4.1").shape_service(dict(view))["expose"] == {"api_port": [8080], "nodePort": [],
                                                                  "min_scale": 1}
    listed = {"expose": {"api_port": [8080, 9090], "nodePort": []}}
    assert Wire.of("3.7").shape_service(dict(listed))["expose"] == {"api_port": 8080, "nodePort": 0}
    assert Wire.of("3.7").shape_service({"name": "x"}) == {"name": "x"}


def test_groups_by_the_managers_rules():
    egi = "https://aai.egi.eu/auth/realms/egi/protocol/openid-connect/auth"
    info = {"entitlements": ["urn:mace:egi.eu:group:VO.AI4EOSC.EU:role=member#aai.egi.eu",
                             "urn:mace:egi.eu:group:vo.x", "urn:other:thing:a:b", 5],
            "group_membership": ["/ignored"], "realm_access": {"roles": ["r1"]}}
    assert groups_from_userinfo(info, egi) == ["vo.ai4eosc.eu", "vo.x"]
    assert groups_from_userinfo(info, "https://login.cloud.ai4eosc.eu/realms/ai4eosc/auth") == ["r1"]
    assert groups_from_userinfo(info, "https://keycloak.example/realms/other/auth") == ["/ignored"]
    assert groups_from_userinfo({"realm_access": "junk"}, "https://x/realms/ai4eosc/a") == []


def test_validator_needs_a_group_and_an_http_issuer():
    with pytest.raises(ValueError, match="at least one OIDC group"):
        OidcValidator("https://aai.example/realms/egi", [" ", ""])
    with pytest.raises(ValueError, match="http"):
        OidcValidator("aai.example", ["vo"])
    assert OidcValidator("https://aai.example/realms/egi/", ["vo"]).issuer == "https://aai.example/realms/egi"
