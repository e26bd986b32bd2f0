"""Exposed-service pieces that need no server: the Manager's deployment shapes, argument checks,
URLs, multipart encoding and the displays."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from oscar_jupyter import display, errors
from oscar_jupyter.deepaas import Argument
from oscar_jupyter.deployment import Deployment, DeploymentLogs, version_tuple
from oscar_jupyter.display.latency import LatencyChart, percentile
from oscar_jupyter.exposed import ExposedService, api_port, multipart


@pytest.mark.parametrize("text,expected", [("4.1.2", (4, 1, 2)), ("v3.7.1", (3, 7, 1)), ("4.1.0-beta", (4, 1, 0)),
                                           ("", ()), ("devel", ())])
def test_version_tuple(text, expected):
    assert version_tuple(text) == expected


def test_deployment_from_the_managers_json():
    dep = Deployment.from_json({"service_name": "m", "namespace": "oscar-svc", "state": "degraded",
                                "reason": "1 of 3 instances are affected.", "active_instances": 3,
                                "affected_instances": 1, "resource_kind": "exposed_service",
                                "last_transition_time": "2026-12-04T10:00:00Z"}, expose={"min_scale": 3})
    assert (dep.state, dep.ready_instances, dep.min_scale, dep.exposed) == ("degraded", 2, 3, True)
    assert dep.last_transition_time.year == 2026
    assert dep.summary() == "degraded · 2/3 replicas ready · 1 of 3 instances are affected."
    html = display.mimebundle(dep)["text/html"]
    assert html.count('title="ready"') == 2 and html.count('title="not ready"') == 1
    stopped = Deployment.from_json({"state": "stopped", "active_instances": 0, "reason": "Deployment is stopped."},
                                   service="m")
    assert stopped.summary() == "stopped · Deployment is stopped."
    with pytest.raises(errors.APIError):
        Deployment.from_json(["not", "an", "object"], service="m")


def test_deployment_logs_text():
    logs = DeploymentLogs.from_json({"service_name": "m", "available": True, "entries": [
        {"timestamp": "2026-12-04T10:00:00Z", "message": "a"}, {"message": "b"}]})
    assert logs.text == "2026-12-04T10:00:00Z a\nb" and len(logs) == 2
    empty = DeploymentLogs.from_json({"service_name": "m", "available": False, "entries": [],
                                      "message": "Deployment logs are not yet available."})
    assert str(empty) == "Deployment logs are not yet available."
    assert "not yet available" in display.mimebundle(empty)["text/plain"]


def test_api_port_in_either_shape():
    assert api_port({"api_port": 5000}) == api_port({"api_port": [5000, 6000]}) == 5000
    assert api_port({"api_port": []}) == api_port({}) == api_port({"api_port": True}) == 0


def test_urls_stay_below_the_service():
    api = ExposedService.from_url("http://127.0.0.1:9/system/services/s/exposed")
    assert api.url_for("/v2/models/", top_k=3, skip=None) == \
        "http://127.0.0.1:9/system/services/s/exposed/v2/models/?top_k=3"
    for bad in ("../config", "a/../../b", "https://evil.example/", "//evil.example/x", "a\nb"):
        with pytest.raises(errors.InvalidInput):
            api.url_for(bad)
    with pytest.raises(errors.ConnectionFailed, match="cannot reach"):
        api.get("x", timeout=2)


def test_multipart_encodes_notebook_data():
    image = Image.new("RGB", (4, 4), "red")
    parts = multipart({"data": image, "arr": np.zeros((3, 3), dtype=np.float32), "raw": b"\x00\x01",
                       "named": ("photo.jpg", b"\xff\xd8\xff", "image/jpeg")})
    assert parts["data"][0] == "data.png" and parts["data"][2] == "image/png"
    assert Image.open(io.BytesIO(parts["data"][1])).size == (4, 4)
    assert parts["arr"][0] == "arr.npy" and parts["arr"][1].startswith(b"\x93NUMPY")
    assert parts["raw"][1] == b"\x00\x01"
    assert parts["named"] == ("photo.jpg", b"\xff\xd8\xff", "image/jpeg")


def test_arguments_are_checked_by_their_declared_type():
    top = Argument("top_k", "integer")
    assert top.check("4", "m") == 4
    with pytest.raises(errors.InvalidInput, match="'top_k' must be a whole number"):
        top.check(2.5, "m")
    assert Argument("t", "number").check("0.5", "m") == 0.5
    assert Argument("b", "boolean").check("true", "m") is True
    with pytest.raises(errors.InvalidInput, match="one of"):
        Argument("mode", "string", enum=["a", "b"]).check("c", "m")
    assert Argument("b", "boolean").wire(False) == "false"


def test_latency_chart():
    assert percentile([3, 1, 2, 4], 50) == 2 and percentile([1] * 99 + [100], 99) == 1
    chart = LatencyChart({"exposed": [0.01, 0.02, 0.015], "sync": [1.0, 1.5]})
    stats = chart.stats()
    assert stats["exposed"]["p50"] == 0.015 and stats["sync"]["p99"] == 1.5
    bundle = display.mimebundle(chart)
    assert "p50     15 ms" in bundle["text/plain"] and "1.00 s" in bundle["text/plain"]
    assert bundle["text/html"].count("border-radius:50%") == 5  # a dot per call
