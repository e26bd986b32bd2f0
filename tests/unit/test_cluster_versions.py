"""The client writes `expose` ports in the shape the cluster's Manager version decodes (no servers)."""
from __future__ import annotations

import pytest

from oscar_jupyter.auth import BasicAuth
from oscar_jupyter.cluster import Cluster


def cluster(version: str) -> Cluster:
    c = Cluster("https://oscar.example.org", BasicAuth("oscar", "pw"))
    c._info = {"version": version}
    return c


@pytest.mark.parametrize("version,given,sent", [
    ("3.7.1", [8080], 8080), ("3.7.1", 8080, 8080), ("4.1.2", 8080, [8080]), ("4.1.2", [8080], [8080]),
    ("v4.0.0", [5000], 5000), ("3.7.1", [80, 81], [80, 81]),  # several ports cannot become one: left as given
])
def test_ports_in_the_clusters_shape(version, given, sent):
    data = {"name": "s", "expose": {"api_port": given, "min_scale": 1}}
    out = cluster(version)._for_this_version(data)
    assert out["expose"]["api_port"] == sent and out["expose"]["min_scale"] == 1
    assert data["expose"]["api_port"] == given  # the caller's definition is not changed


def test_definitions_without_ports_are_untouched():
    data = {"name": "s", "image": "x"}
    assert cluster("4.1.2")._for_this_version(data) is data
