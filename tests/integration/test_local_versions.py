"""oscar-local's wire shapes per Manager version, checked against the Manager's own specs.

Every JSON answer that differs between versions is validated against the
definitions of that version's published spec (``oscar-swagger-v3.7.1.yaml``,
``oscar-swagger-v4.1.2.yaml``), and every field it carries must be declared
there.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import yaml

from oscar_jupyter import local

SPECS = Path("/work/shared/reference")
SPEC_FILES = {"3.7": "oscar-swagger-v3.7.1.yaml", "4.1": "oscar-swagger-v4.1.2.yaml"}


def _definitions(api_version: str) -> dict:
    path = SPECS / SPEC_FILES[api_version]
    if not path.is_file():
        pytest.skip(f"the Manager spec {path} is not on this machine")
    return yaml.safe_load(path.read_text())["definitions"]


def _check(api_version: str, definition: str, value: Any) -> None:
    """Validate ``value`` against the spec's ``definition`` and refuse fields it does not declare."""
    defs = _definitions(api_version)
    jsonschema.validate(value, {"definitions": defs, "$ref": f"#/definitions/{definition}"})

    def undeclared(node: Any, schema: dict, where: str) -> None:
        if "$ref" in schema:
            schema = defs[schema["$ref"].split("/")[-1]]
        if isinstance(node, dict) and "properties" in schema:
            for key, item in node.items():
                assert key in schema["properties"], f"{where}.{key} is not in {definition} of v{api_version}"
                undeclared(item, schema["properties"][key], f"{where}.{key}")
        elif isinstance(node, list) and isinstance(schema.get("items"), dict):
            for i, item in enumerate(node):
                undeclared(item, schema["items"], f"{where}[{i}]")

    undeclared(value, {"$ref": f"#/definitions/{definition}"}, definition)


def _auth(cluster: Any) -> tuple:
    return (cluster.user, cluster.password)


def test_info_and_status_follow_the_versions_spec(api_cluster: Any) -> None:
    info = requests.get(api_cluster.endpoint + "/system/info", auth=_auth(api_cluster), timeout=30).json()
    _check(api_cluster.api_version, "types.Info", info)
    assert info["version"] == {"3.7": "3.7.1", "4.1": "4.1.2"}[api_cluster.api_version]
    status = requests.get(api_cluster.endpoint + "/system/status", auth=_auth(api_cluster), timeout=30).json()
    _check(api_cluster.api_version, "types.StatusInfo", status)
    schedulable = "total_schedulable_cores" in status["cluster"]["metrics"]["cpu"]
    assert schedulable == (api_cluster.api_version == "4.1")
    doc = requests.get(api_cluster.endpoint + "/openapi.json", timeout=30).json()
    assert doc["info"]["version"] == info["version"]
    assert ("/system/services/{serviceName}/deployment" in doc["paths"]) == (api_cluster.api_version == "4.1")


def test_service_shapes_duplicates_and_deployment(api_cluster: Any) -> None:
    v4 = api_cluster.api_version == "4.1"
    name = "tw-" + uuid.uuid4().hex[:8]
    url = api_cluster.endpoint + "/system/services"
    port = [8080] if v4 else 8080
    body = {"name": name, "image": "alpine", "script": "echo hi",
            "expose": {"api_port": port, "nodePort": [] if v4 else 0}}
    assert requests.post(url, json=body, auth=_auth(api_cluster), timeout=30).status_code == 201
    try:
        again = requests.post(url, json=body, auth=_auth(api_cluster), timeout=30)
        assert again.status_code == (400 if v4 else 409)
        assert again.text == "A service with the provided name already exists"  # create.go, c.String
        svc = requests.get(f"{url}/{name}", auth=_auth(api_cluster), timeout=30).json()
        _check(api_cluster.api_version, "types.Service", svc)
        assert svc["expose"]["api_port"] == port and svc["owner"] == "cluster_admin"
        assert svc["visibility"] == "private"
        # the other version's port shape is refused, as the Manager's JSON decoding does
        wrong = dict(body, expose={"api_port": 8080 if v4 else [8080]})
        for method in ("PUT", "POST"):
            resp = requests.request(method, url, json=dict(wrong, name=name if method == "PUT" else name + "-x"),
                                    auth=_auth(api_cluster), timeout=30)
            assert resp.status_code == 400 and "expose.api_port" in resp.text, (method, resp.text)
        deployment = requests.get(f"{url}/{name}/deployment", auth=_auth(api_cluster), timeout=30)
        logs = requests.get(f"{url}/{name}/deployment/logs", auth=_auth(api_cluster), timeout=30)
        if v4:
            _check("4.1", "types.ServiceDeploymentStatus", deployment.json())
            # 'echo hi' exits instead of serving api_port: its replica never becomes ready
            assert deployment.json()["state"] in ("pending", "failed") and deployment.json()["service_name"] == name
            assert deployment.json()["resource_kind"] == "exposed_service"
            _check("4.1", "types.DeploymentLogStream", logs.json())
            missing = requests.get(f"{url}/nope-{name}/deployment", auth=_auth(api_cluster), timeout=30)
            # deployment.go writes its 403 over getAuthorizedService's 404 (the Manager oracle agrees)
            assert (missing.status_code, missing.text) == (403, "You do not have permission to access this service")
            assert requests.get(f"{url}/{name}/deployment", timeout=30).status_code == 401
        else:
            assert deployment.status_code == 404 and logs.status_code == 404
        jobs = requests.get(api_cluster.endpoint + f"/system/logs/{name}", auth=_auth(api_cluster), timeout=30)
        assert jobs.json() == {"jobs": {}}
    finally:
        requests.delete(f"{url}/{name}", auth=_auth(api_cluster), timeout=60)


@pytest.mark.parametrize("name", ["../etc", "a b", "x" * 40, "UPPER", "-lead", "a%2Fb", ".."])
def test_deployment_route_with_hostile_names(local_cluster_v4: Any, name: str) -> None:
    resp = requests.get(f"{local_cluster_v4.endpoint}/system/services/{name}/deployment",
                        auth=_auth(local_cluster_v4), timeout=30)
    # 400 for what is no label value; 403 (deployment.go's text over the 404) for a label value
    # no service has; 404 where the path itself is routed elsewhere ("..", "a%2Fb")
    assert resp.status_code in (400, 403, 404), (name, resp.status_code)
    assert local_cluster_v4.password not in resp.text


@pytest.mark.parametrize("body, status", [
    ({"expose": {"api_port": "8080"}}, 400), ({"expose": {"api_port": [True]}}, 400),
    ({"expose": {"api_port": {"a": 1}}}, 400), ({"expose": {"nodePort": 5}}, 400), ({"expose": []}, 400),
    ({"expose": {"api_port": [70000]}}, 500),  # a port Kubernetes' Service refuses
])
def test_v4_refuses_bad_port_shapes(local_cluster_v4: Any, body: dict, status: int) -> None:
    name = "tw-" + uuid.uuid4().hex[:8]
    resp = requests.post(local_cluster_v4.endpoint + "/system/services",
                         json={"name": name, "image": "alpine", "script": "echo", **body},
                         auth=_auth(local_cluster_v4), timeout=30)
    assert resp.status_code == status, (body, resp.text)
    assert "expose" in resp.text
    assert requests.get(f"{local_cluster_v4.endpoint}/system/services/{name}", auth=_auth(local_cluster_v4),
                        timeout=30).status_code == 404


def test_unknown_api_version_is_refused(tmp_path: Path) -> None:
    for value in ("5.0", "v3", "", "3.7.0"):
        with pytest.raises(ValueError, match="api_version"):
            local.start(data_dir=str(tmp_path / "x"), api_version=value)
    with pytest.raises(SystemExit):
        from oscar_jupyter.local.__main__ import parser
        parser().parse_args(["--api-version", "2.0"])
