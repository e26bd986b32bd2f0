"""The client, unchanged, against oscar-local answering as Manager v3.7 and as v4.1.

A representative subset of the client: connect, service create/get/update/
delete with the version's duplicate answer, apply (with `expose.api_port` in
both shapes) and diff, `wait_ready` (the v4 deployment summary), run, map,
submit. Plus the v3.6 bare jobs map, read by the same client.
"""
from __future__ import annotations

import uuid

import pytest
import requests

import oscar_jupyter as oj
from oscar_jupyter import errors, local

SCRIPT = """name=$(basename "$INPUT_FILE_PATH")
tr 'a-z' 'A-Z' < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/${name%.*}.out.txt"
"""


@pytest.fixture
def client(api_cluster):
    c = oj.connect(api_cluster.endpoint, user=api_cluster.user, password=api_cluster.password,
                   id=f"v{api_cluster.api_version}-" + uuid.uuid4().hex[:6])
    yield c
    oj.disconnect(c)


def _definition(name: str, **extra) -> dict:
    return {"name": name, "image": "alpine", "script": SCRIPT,
            "input": [{"storage_provider": "minio.default", "path": f"{name}/in"}],
            "output": [{"storage_provider": "minio.default", "path": f"{name}/out"}], **extra}


def test_connect_reports_the_manager_version(client, api_cluster):
    assert client.version == {"3.7": "3.7.1", "4.1": "4.1.2"}[api_cluster.api_version]
    status = client.status()
    assert status["oscar"]["ready"] is True
    cpu = status["cluster"]["metrics"]["cpu"]
    assert ("total_schedulable_cores" in cpu) == (api_cluster.api_version == "4.1")


def test_create_duplicate_update_delete(client, api_cluster):
    name = "tv-" + uuid.uuid4().hex[:8]
    client.create(_definition(name))
    try:
        raw = requests.post(api_cluster.endpoint + "/system/services", json=_definition(name),
                            auth=(api_cluster.user, api_cluster.password), timeout=30)
        assert raw.status_code == (400 if api_cluster.api_version == "4.1" else 409)
        with pytest.raises(errors.Conflict):  # the client reads both answers as a conflict
            client.create(_definition(name))
        client.update(_definition(name, memory="128Mi"))
        svc = client.service(name)
        # update.go: an admin PUT stores the owner its body names (none here), as the Manager does
        assert svc.spec["memory"] == "128Mi" and svc.spec["owner"] == ""
        assert name in [s.name for s in client.services()]
    finally:
        client.delete(name)
    with pytest.raises(errors.NotFound):
        client.service(name)


@pytest.mark.parametrize("port", [8080, [8080]], ids=["api_port-number", "api_port-list"])
def test_apply_diff_and_wait_ready_with_either_port_shape(client, api_cluster, port):
    name = "tv-" + uuid.uuid4().hex[:8]
    # an exposed service runs its script as a server on api_port (in its own network namespace)
    server = "exec python3 -m http.server 8080 --bind 127.0.0.1\n"
    definition = _definition(name, script=server, expose={"api_port": port, "min_scale": 1})
    [svc] = client.apply(definition)  # the port is sent in this Manager's shape; waits until ready
    try:
        shown = svc.refresh().spec["expose"]["api_port"]
        assert shown == ([8080] if api_cluster.api_version == "4.1" else 8080)
        changed = svc.diff(_definition(name, script=server, expose={"api_port": 9090, "min_scale": 1}))
        assert "8080" in changed and "9090" in changed
        deployment = requests.get(f"{api_cluster.endpoint}/system/services/{name}/deployment",
                                  auth=(api_cluster.user, api_cluster.password), timeout=30)
        if api_cluster.api_version == "4.1":
            assert deployment.status_code == 200 and deployment.json()["state"] == "ready"
        else:
            assert deployment.status_code == 404
        assert svc.wait_ready(timeout=10) is svc
        assert svc.diff(definition) == ""
    finally:
        client.delete(name, check_buckets=False)


def test_run_map_and_submit(client, api_cluster, tmp_path):
    name = "tv-" + uuid.uuid4().hex[:8]
    echo = "tv-" + uuid.uuid4().hex[:8]
    [svc, runner] = client.apply([_definition(name),
                                  {"name": echo, "image": "alpine", "script": 'echo "got $(cat "$INPUT_FILE_PATH")"'}])
    try:
        assert runner.run("one").text.strip() == "got one"
        batch = runner.map(["a", "b", "c"], progress=False)
        assert batch.ok and [r.text.strip() for r in batch.results] == ["got a", "got b", "got c"]
        (tmp_path / "x.txt").write_text("hello")
        (tmp_path / "y.txt").write_text("world")
        result = svc.submit([tmp_path / "x.txt", tmp_path / "y.txt"], timeout=120, progress=False)
        assert result.ok, result.errors
        assert sorted(item.result.text for item in result) == ["HELLO", "WORLD"]
        assert len(svc.jobs(status="Succeeded")) == 2
    finally:
        client.delete(echo, check_buckets=False)
        client.delete(name, check_buckets=False)


def test_jobs_of_a_v36_manager_bare_map(tmp_path):
    """Manager v3.6 and older list jobs as the bare ``{job: info}`` map; the client reads it."""
    with local.start(data_dir=str(tmp_path / "v36"), port=0, password="pw-" + uuid.uuid4().hex,
                     api_version="3.6") as v36:
        c = oj.connect(v36.endpoint, user=v36.user, password=v36.password, id="v36")
        try:
            assert c.version == "3.6.5"
            [svc] = c.apply(_definition("tv-old"))
            listing = requests.get(v36.endpoint + "/system/logs/tv-old", auth=(v36.user, v36.password),
                                   timeout=30).json()
            assert listing == {}
            result = svc.submit({"one.txt": b"abc"}, timeout=120, progress=False)
            assert result.ok and result.items[0].result.text == "ABC"
            listing = requests.get(v36.endpoint + "/system/logs/tv-old", auth=(v36.user, v36.password),
                                   timeout=30).json()
            assert "jobs" not in listing and len(listing) == 1
            [job] = listing.values()
            assert job["status"] == "Succeeded"
            assert [j.status for j in svc.jobs()] == ["Succeeded"]
        finally:
            oj.disconnect(c)
