"""The toolkit's side of exposed services over real HTTP against oscar-local (Manager v4.1):
`service.exposed`, DEEPaaS helpers on the digits model, deployment state and logs,
stop/start/restart, `%oscar call|stop|start|deployment`, and the exposed and DEEPaaS panels."""
from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

import oscar_jupyter as oj
from oscar_jupyter import display, errors
from oscar_jupyter.notebook.testing import TestingShell

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / "notebooks" / "models" / "digits"
sys.path.insert(0, str(MODEL_DIR))
import digits  # noqa: E402

TIMINGS = {"startup_interval": 0.1, "probe_period": 0.5, "stop_grace": 5.0, "drain_timeout": 10.0}


@pytest.fixture(scope="module")
def local41(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from oscar_jupyter import local

    c = local.start(data_dir=str(tmp_path_factory.mktemp("exposed-client")), port=0,
                    password=uuid.uuid4().hex, api_version="4.1", extra={"exposed": {"timings": TIMINGS}})
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def cluster(local41: Any) -> Iterator[Any]:
    cl = oj.connect(local41.endpoint, user=local41.user, password=local41.password, id="exposed-client")
    yield cl
    oj.disconnect("exposed-client")


@pytest.fixture(scope="module")
def api_svc(cluster: Any) -> Iterator[Any]:
    """The digits model deployed from the tutorial's FDL (exposed, hard-coded port 5000)."""
    [svc] = cluster.apply(MODEL_DIR / "digits-exposed.yaml", timeout=300)
    yield svc
    cluster.delete(svc.name)


@pytest.fixture(scope="module")
def samples() -> Any:
    from sklearn.datasets import load_digits
    data = load_digits()
    return data.data[-digits.HELD_OUT:], data.target[-digits.HELD_OUT:]


def picture(samples: Any, digit: int, scale: int = 8) -> Any:
    pixels, labels = samples
    return digits.dataset_image(pixels[int(np.where(labels == digit)[0][0])], scale)


# -- the client --------------------------------------------------------------------------------

def test_apply_waits_until_a_replica_serves(api_svc):
    dep = api_svc.deployment()
    assert dep.state == "ready" and dep.ready_instances >= 1 and dep.exposed
    assert api_svc.exposed.healthy()
    bundle = display.mimebundle(dep)
    assert "ready" in bundle["text/plain"] and "#2e7d32" in bundle["text/html"]  # the ready badge


def test_exposed_base_url_and_no_cluster_credentials(api_svc, local41):
    api = api_svc.exposed
    assert api.base_url == f"{local41.endpoint}/system/services/{api_svc.name}/exposed/"
    assert api.session.auth is None  # no set_auth: nothing is sent, least of all the admin's password
    assert api.url_for("v2/models/", top_k=3).endswith("/exposed/v2/models/?top_k=3")
    with pytest.raises(errors.InvalidInput):
        api.url_for("../../system/config")
    with pytest.raises(errors.InvalidInput):
        api.url_for("http://elsewhere.example/")
    assert api.get("v2/").json()["id"] == "v2"


def test_deepaas_lists_models_and_reads_metadata(api_svc):
    models = api_svc.exposed.deepaas.models()
    assert models.names() == ["digits"]
    model = api_svc.exposed.deepaas.model("digits")
    assert "digit" in model.description and model.version == "1.0.0"
    assert [(a.name, a.type, a.location, a.required) for a in model.arguments] == [
        ("data", "file", "formData", True), ("top_k", "integer", "query", False),
        ("accept", "string", "header", False)]
    assert model.accepts == ["application/json", "image/png"]
    text = display.mimebundle(models)["text/plain"]
    assert "1 model" in text and "digits" in text
    assert "top_k" in display.mimebundle(model)["text/html"]
    with pytest.raises(errors.NotFound, match="no model 'nope'.*digits"):
        api_svc.exposed.deepaas.model("nope")


def test_predict_on_notebook_data_gives_a_bar_chart(api_svc, samples, tmp_path):
    model = api_svc.exposed.deepaas.model()
    image = picture(samples, 7)
    path = tmp_path / "seven.png"
    image.save(path)
    for data in (image, np.asarray(image), digits.png(image), path):
        result = model.predict(data, top_k=3)
        assert isinstance(result, oj.PredictionResult), type(result)
        assert result.labels[0] == "7" and len(result.labels) == 3
    assert 'class="oj-bar"' in display.mimebundle(result)["text/html"]
    seen = model.predict(image, accept="image/png")
    assert isinstance(seen, oj.ImageResult) and seen.size == (128, 128)


def test_predict_checks_arguments_before_sending(api_svc, samples):
    model = api_svc.exposed.deepaas.model()
    with pytest.raises(errors.InvalidInput, match="top_k.*whole number"):
        model.predict(picture(samples, 1), top_k="many")
    with pytest.raises(errors.InvalidInput, match="no predict argument named 'topk'"):
        model.predict(picture(samples, 1), topk=3)
    with pytest.raises(errors.InvalidInput, match="needs 'data'"):
        model.predict(top_k=2)
    with pytest.raises(errors.InvalidInput, match="offers application/json, image/png"):
        model.predict(picture(samples, 1), accept="text/csv")
    with pytest.raises(errors.InvalidInput, match="refused the arguments"):
        model.predict(b"%PDF-1.4 not an image")


def test_call_decodes_like_run_and_errors_are_typed(api_svc, samples):
    api = api_svc.exposed
    listing = api.call("v2/models/")
    assert isinstance(listing, oj.JSONResult) and listing.value["models"][0]["id"] == "digits"
    result = api.call("v2/models/digits/predict/", files={"data": picture(samples, 4)}, params={"top_k": 2})
    assert isinstance(result, oj.PredictionResult) and result.labels[0] == "4"
    with pytest.raises(errors.NotFound, match="404"):
        api.get("no/such/path")


def test_many_calls_reuse_one_replica_and_its_weights(api_svc, samples):
    model = api_svc.exposed.deepaas.model()
    image = picture(samples, 2)
    for _ in range(20):
        assert model.predict(image, top_k=1).labels == ["2"]
    logs = api_svc.deployment_logs(timestamps=True)
    trained = [e for e in logs.entries if "digits: weights" in e.message]
    assert len(trained) == api_svc.deployment().active_instances  # one load per replica, none per request
    assert all(e.timestamp for e in logs.entries)
    assert "listening" in str(logs) and "log line" in display.mimebundle(logs)["text/plain"]


def test_not_exposed_services_say_so(cluster, unique_name):
    cluster.create({"name": unique_name, "image": "alpine", "script": "echo hi"})
    try:
        svc = cluster.service(unique_name)
        with pytest.raises(errors.NotSupported, match="not exposed"):
            svc.exposed
        with pytest.raises(errors.NotSupported, match="not exposed"):
            svc.stop()
    finally:
        cluster.delete(unique_name)


def test_deployment_of_a_missing_service_is_not_found(cluster):
    """The Manager's deployment routes answer 403 "You do not have permission..." for a service
    that does not exist; the client reads the service to say which it was."""
    svc = oj.Service(cluster, "no-such-service")
    for call in (svc.deployment, svc.deployment_logs):
        with pytest.raises(errors.NotFound, match="there is no service 'no-such-service'"):
            call()


def test_v37_clusters_lack_the_lifecycle_routes(tmp_path):
    from oscar_jupyter import local

    v37 = local.start(data_dir=str(tmp_path / "v37"), port=0, password=uuid.uuid4().hex, api_version="3.7")
    cl = oj.connect(v37.endpoint, user=v37.user, password=v37.password, id="exposed-v37")
    try:
        svc = oj.Service(cl, "anything")
        for call in (svc.stop, svc.start, svc.restart, svc.deployment, svc.deployment_logs):
            with pytest.raises(errors.NotSupported, match=r"OSCAR 3\.7\.1.*no such route"):
                call()
    finally:
        oj.disconnect("exposed-v37")
        v37.stop()


def test_set_auth_sends_the_service_credentials(cluster, unique_name):
    script = (ROOT / "tests" / "integration" / "exposed_backend.py")
    sys.path.insert(0, str(script.parent))
    from exposed_backend import backend
    [svc] = cluster.apply({"name": unique_name, "image": "python:3", "cpu": "0.5", "script": backend(),
                           "expose": {"api_port": 8080, "set_auth": True, "health_path": "/health"}},
                          timeout=120)
    try:
        api = svc.exposed
        assert api.get("hello").json()["path"] == "/hello"
        api.session.auth = oj.BasicAuth(unique_name, "wrong-token")
        with pytest.raises(errors.AuthError, match="401") as caught:
            api.get("hello")
        assert "svc.token" in str(caught.value) and "wrong-token" not in str(caught.value)
    finally:
        cluster.delete(unique_name)


def test_stop_start_restart(api_svc, samples):
    stopped = api_svc.stop()
    assert stopped.state == "stopped" and "stopped" in display.mimebundle(stopped)["text/plain"]
    api = api_svc.exposed
    deadline = time.monotonic() + 60  # the front door may finish a request or two while draining
    while api.request("GET", "v2/", check=False, timeout=10).status_code != 503:
        assert time.monotonic() < deadline, "a stopped service still answers"
        time.sleep(0.5)
    with pytest.raises(errors.APIError, match="no replica is ready"):
        api.get("v2/", timeout=10)
    assert api_svc.deployment().active_instances == 0
    with pytest.raises(errors.Conflict, match="stopped"):
        api_svc.wait_ready(timeout=10)
    started = api_svc.start()
    assert started.state in ("pending", "ready", "degraded")
    api_svc.wait_ready(timeout=300, progress=False)
    assert api_svc.exposed.deepaas.model().predict(picture(samples, 9)).labels[0] == "9"
    api_svc.restart()
    api_svc.wait_ready(timeout=300, progress=False)
    assert api_svc.deployment().state == "ready"


# -- magics ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shell(local41: Any, cluster: Any) -> Iterator[TestingShell]:
    sh = TestingShell.preconfigured()
    sh.user_ns.update(ep=local41.endpoint, user=local41.user, pw=local41.password)
    out = sh.check("%oscar connect {ep} --user {user} --password $pw")
    assert out.error is None, out.stdout + out.stderr
    yield sh


def test_magic_call_get_json_and_files(shell, api_svc, samples, tmp_path):
    out = shell.check(f"%oscar call {api_svc.name} v2/models/ -o listing")
    assert out.error is None, out.stdout + out.stderr
    assert shell.user_ns["listing"].value["models"][0]["id"] == "digits"
    shell.user_ns["six"] = picture(samples, 6)
    out = shell.check(f"%oscar call {api_svc.name} v2/models/digits/predict/ --file data=six -q top_k=2 -o p")
    assert out.error is None, out.stdout + out.stderr
    assert shell.user_ns["p"].labels[0] == "6" and 'class="oj-bar"' in out.html
    out = shell.check(f"%oscar call {api_svc.name} nothing/here")
    assert isinstance(out.error, errors.NotFound) or "404" in out.stdout + out.stderr


def test_magic_deployment_and_lifecycle(shell, api_svc):
    out = shell.check(f"%oscar deployment {api_svc.name} --logs --tail 5")
    assert out.error is None, out.stdout + out.stderr
    assert "ready" in out.text and "log line" in out.text
    out = shell.check("%oscar stop no-such-service")
    assert "No service 'no-such-service'" in out.stdout + out.stderr
    out = shell.check(f"%oscar restart {api_svc.name} --wait")
    assert out.error is None, out.stdout + out.stderr
    assert f"Restarted {api_svc.name}" in out.stdout and "ready" in out.text


# -- panels ------------------------------------------------------------------------------------

def test_exposed_panel_live_state_logs_and_link(cluster, api_svc):
    from oscar_jupyter.notebook.panels import ExposedPanel, open_panel
    panel = open_panel("exposed", cluster, service=api_svc.name, interval=0.3, path="api")
    try:
        assert panel.service.options == (api_svc.name,)  # only exposed services
        assert panel.deployment.state == "ready" and "ready" in panel.state_html.value
        assert panel.ui_url.endswith(f"/system/services/{api_svc.name}/exposed/api")
        assert panel.ui_url in panel.link_html.value and 'target="_blank"' in panel.link_html.value
        panel.auto_refresh = True
        assert panel.worker_alive
        before = panel.deployment
        time.sleep(1.0)
        assert panel.deployment is not before  # the thread refreshed it
        panel.logs_button.click()
        assert "listening" in panel.logs_html.value
        thread = panel._worker
    finally:
        panel.close()
    assert thread is not None and not thread.is_alive()  # closing joined the live refresh
    assert isinstance(panel, ExposedPanel)


def test_deepaas_panel_form_from_the_models_arguments(cluster, api_svc, samples):
    import ipywidgets as widgets

    from oscar_jupyter.notebook.panels import DeepaasPanel
    namespace = {"five": picture(samples, 5)}
    panel = DeepaasPanel(cluster, api_svc.name, namespace=namespace)
    try:
        assert panel.model.name == "digits"
        assert set(panel.uploads) == {"data"} and isinstance(panel.inputs["top_k"], widgets.IntText)
        assert isinstance(panel.inputs["accept"], widgets.Dropdown)
        assert list(panel.inputs["accept"].options) == ["application/json", "image/png"]
        panel.variables["data"].value = "five"
        panel.inputs["top_k"].value = 4
        panel.predict_button.click()
        assert panel.last_error is None, panel.status_text()
        assert isinstance(panel.result, oj.PredictionResult) and panel.result.labels[0] == "5"
        assert len(panel.result.labels) == 4
        panel.inputs["accept"].value = "image/png"
        panel.predict_button.click()
        assert isinstance(panel.result, oj.ImageResult)
        panel.variables["data"].value = "nothing_here"
        panel.predict_button.click()
        assert "nothing_here" in panel.status_text()
    finally:
        panel.close()
