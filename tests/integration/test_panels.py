"""The panels against a real oscar-local: set widget values, click buttons, check the cluster."""
from __future__ import annotations

import base64
import io
import re
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import ipywidgets as widgets
import pytest
import requests
import yaml
from PIL import Image

import oscar_jupyter as oj
from oscar_jupyter.errors import InvalidDefinition, OscarError
from oscar_jupyter.notebook.panels import (DeployPanel, InvokePanel, JobsPanel, ServicesPanel,
                                           StoragePanel, open_panel)

GRAY_SCRIPT = """#!/bin/sh
echo "gray: $(basename "$INPUT_FILE_PATH")"
python3 - "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR" <<'EOF'
import os, sys
from PIL import Image, ImageOps
stem = os.path.splitext(os.path.basename(sys.argv[1]))[0]
ImageOps.grayscale(Image.open(sys.argv[1])).save(os.path.join(sys.argv[2], stem + "-gray.png"))
EOF
"""


def _fdl(name: str, *, buckets: bool = True, cpu: str = "0.5") -> str:
    doc = {"functions": {"oscar": [{"oscar-cluster": {
        "name": name, "image": "ghcr.io/grycap/imagemagick", "cpu": cpu, "memory": "256Mi",
        "script": GRAY_SCRIPT}}]}}
    if buckets:
        svc = doc["functions"]["oscar"][0]["oscar-cluster"]
        svc["input"] = [{"storage_provider": "minio.default", "path": f"{name}/in"}]
        svc["output"] = [{"storage_provider": "minio.default", "path": f"{name}/out"}]
    return yaml.safe_dump(doc, sort_keys=False)


def _png(color: Any = (200, 40, 40), size: Any = (48, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _drop(upload: widgets.FileUpload, name: str, content: bytes, *more: Tuple[str, bytes]) -> None:
    """What the browser sends when files are dropped on a FileUpload (its serialised state)."""
    files = [(name, content)] + list(more)
    upload.set_state({"value": [{"name": n, "type": "image/png", "size": len(c),
                                 "content": memoryview(c), "last_modified": 1_700_000_000_000}
                                for n, c in files]})


def _all_widgets(root: widgets.Widget) -> Iterator[widgets.Widget]:
    yield root
    for child in getattr(root, "children", ()):
        yield from _all_widgets(child)


def _rendered_text(root: widgets.Widget) -> str:
    """Everything a panel renders as HTML or output (what could end up in a notebook)."""
    parts: List[str] = []
    for w in _all_widgets(root):
        if isinstance(w, (widgets.HTML, widgets.Label)):
            parts.append(w.value)
        if isinstance(w, widgets.Output):
            parts.append(repr(w.outputs))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def cluster(local_cluster: Any) -> Any:
    return oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password)


@pytest.fixture(scope="module")
def gray(cluster: Any) -> Any:
    """A deployed service with input/output buckets, shared by the invoke/jobs/storage tests."""
    (svc,) = cluster.apply(_fdl("panels-gray"), wait=True)
    return svc


def _names(cluster: Any) -> List[str]:
    return [s.name for s in cluster.services()]


# -- deploy panel --------------------------------------------------------------------------
def test_form_edits_rewrite_the_fdl_and_fdl_edits_refill_the_form(cluster: Any) -> None:
    panel = DeployPanel(cluster)
    panel.name.value = "form-made"
    panel.cpu.value = "1.5"
    panel.env.value = "MODE=fast\nLEVEL=3"
    panel.input_path.value = "form-made/in"
    panel.max_scale.value = 3
    panel.api_port.value = 8080
    panel.log_level.value = "CRITICAL"
    doc = yaml.safe_load(panel.fdl_text.value)
    svc = doc["functions"]["oscar"][0]["oscar-cluster"]
    assert svc["name"] == "form-made" and svc["cpu"] == "1.5"
    assert svc["environment"]["variables"] == {"MODE": "fast", "LEVEL": "3"}
    assert svc["input"] == [{"storage_provider": "minio.default", "path": "form-made/in"}]
    assert svc["synchronous"] == {"min_scale": 0, "max_scale": 3}
    assert svc["expose"] == {"api_port": 8080} and svc["log_level"] == "CRITICAL"
    panel.api_port.value = 0
    assert "expose" not in yaml.safe_load(panel.fdl_text.value)["functions"]["oscar"][0]["oscar-cluster"]
    assert "#!/bin/sh" in svc["script"]

    # the other way: YAML text -> form, keeping fields the form has no widget for
    text = _fdl("yaml-made", cpu="0.25").replace("memory: 256Mi", "memory: 512Mi\n      annotations: {team: vision}")
    panel.fdl_text.value = text
    assert panel.name.value == "yaml-made"
    assert panel.cpu.value == "0.25" and panel.memory.value == "512Mi"
    assert panel.input_path.value == "yaml-made/in" and panel.output_path.value == "yaml-made/out"
    assert panel.script.value == GRAY_SCRIPT
    panel.gpu.value = True
    svc = yaml.safe_load(panel.fdl_text.value)["functions"]["oscar"][0]["oscar-cluster"]
    assert svc["enable_gpu"] is True and svc["annotations"] == {"team": "vision"}
    assert svc["memory"] == "512Mi"


def test_multi_service_fdl_keeps_the_other_services_when_the_form_changes(cluster: Any) -> None:
    two = _fdl("first-svc", buckets=False) + _fdl("second-svc", buckets=False).split("oscar:\n", 1)[1]
    panel = DeployPanel(cluster, fdl=two)
    assert panel.name.value == "first-svc"
    assert any("first of 2 services" in n for n in panel.notices)
    panel.memory.value = "1Gi"
    services = yaml.safe_load(panel.fdl_text.value)["functions"]["oscar"]
    assert [list(s.values())[0]["name"] for s in services] == ["first-svc", "second-svc"]
    assert list(services[0].values())[0]["memory"] == "1Gi"
    assert list(services[1].values())[0]["memory"] == "256Mi"
    deployed = panel.deploy()
    assert sorted(s.name for s in deployed) == ["first-svc", "second-svc"]
    assert cluster.service("first-svc").spec["memory"] == "1Gi"
    for name in ("first-svc", "second-svc"):
        cluster.delete(name)


def test_validation_lists_problems_with_field_and_line_and_deploys_nothing(cluster: Any) -> None:
    panel = DeployPanel(cluster, fdl=_fdl("Bad_Name!"))
    assert panel.problems, "an invalid service name must be reported"
    shown = panel.problems_html.value
    assert "name" in shown and re.search(r"line \d+", shown), shown
    with pytest.raises(InvalidDefinition):
        panel.deploy()
    panel.deploy_button.click()  # from the page: shown, not raised
    assert "problems" in panel.status_text()
    assert "Bad_Name!" not in _names(cluster)

    panel.env.value = "NOT A PAIR"
    assert "KEY=value" in panel.problems_html.value


def test_unknown_keys_are_warnings_with_their_line_and_strict_makes_them_errors(cluster: Any) -> None:
    name = "panel-unk-" + uuid.uuid4().hex[:4]
    text = _fdl(name, buckets=False).replace("  memory: 256Mi", "  memory: 256Mi\n      memroy: 1Gi")
    assert "memroy" in text
    panel = DeployPanel(cluster, fdl=text)
    assert panel.problems == [] and [w.path[-1] for w in panel.warnings] == ["memroy"]
    shown = panel.problems_html.value
    assert "⚠" in shown and "memroy" in shown and "did you mean" in shown and "line 8" in shown
    assert "✔ valid" in shown
    panel.strict.value = True  # ticking the box re-checks
    assert [p.path[-1] for p in panel.problems] == ["memroy"] and "✖" in panel.problems_html.value
    with pytest.raises(InvalidDefinition):
        panel.deploy()
    assert name not in _names(cluster)
    panel.strict.value = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the panel lists the warnings; nothing else is raised
        (svc,) = panel.deploy()
    try:
        assert svc.name == name and name in _names(cluster)
    finally:
        cluster.delete(name, check_buckets=False)


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_hostile_values_are_text_in_the_deploy_panel(cluster: Any) -> None:
    """A pasted FDL whose name, image, keys and labels carry markup shows it as text."""
    doc = yaml.safe_load(_fdl("hostile"))
    body = doc["functions"]["oscar"][0]["oscar-cluster"]
    body.update(name=HOSTILE, image=HOSTILE, labels={HOSTILE: HOSTILE})
    body[HOSTILE] = 1
    panel = DeployPanel(cluster, fdl=yaml.safe_dump(doc))
    assert panel.problems
    shown = _rendered_text(panel)
    assert "<script" not in shown and "<img src=x" not in shown
    assert "&lt;script&gt;" in panel.problems_html.value
    panel.close()


def test_long_text_is_bounded_and_keeps_its_end() -> None:
    from oscar_jupyter.notebook.panels.base import MAX_TEXT, pre

    log = "".join(f"line {i} {HOSTILE}\n" for i in range(20_000)) + "finished: exit 3\n"
    shown = pre(log)
    assert len(shown) < MAX_TEXT * 2 and "finished: exit 3" in shown
    assert "characters are not shown" in shown and "<script" not in shown


def test_log_level_choices_include_every_supervisor_level(cluster: Any) -> None:
    doc = yaml.safe_load(_fdl("levels"))
    doc["functions"]["oscar"][0]["oscar-cluster"]["log_level"] = "NOTSET"
    panel = DeployPanel(cluster, fdl=yaml.safe_dump(doc))
    assert panel.log_level.value == "NOTSET"
    panel.cpu.value = "0.25"  # a form edit rewrites the FDL: the level survives
    assert "log_level: NOTSET" in panel.fdl_text.value
    assert panel.log_level.label.startswith("NOTSET")
    panel.log_level.value = ""
    assert "log_level" not in panel.fdl_text.value
    assert "default (INFO)" in panel.log_level.label
    panel.close()


def test_deploy_button_creates_the_service_and_reports_progress(cluster: Any) -> None:
    panel = DeployPanel(cluster, fdl=_fdl("panel-deployed", buckets=False))
    assert not panel.problems
    deployed: List[Any] = []
    panel.on_deployed(deployed.extend)
    panel.deploy_button.click()
    assert panel.last_error is None, panel.status_text()
    assert "deployed panel-deployed" in panel.status_text()
    assert panel.progress.value == panel.progress.max
    assert [s.name for s in deployed] == ["panel-deployed"]
    assert cluster.service("panel-deployed").spec["cpu"] == "0.5"

    # an edit in the form, deployed again, updates the service in place
    panel.cpu.value = "0.75"
    panel.deploy()
    assert cluster.service("panel-deployed").spec["cpu"] == "0.75"
    cluster.delete("panel-deployed")


def test_diff_shows_what_deploying_would_change(cluster: Any) -> None:
    panel = DeployPanel(cluster, fdl=_fdl("diffed", buckets=False))
    assert panel.diff() == {"diffed": ""} and "new service" in panel.diff_html.value
    panel.deploy()
    panel.diff_button.click()
    assert "no changes" in panel.diff_html.value
    panel.memory.value = "1Gi"
    changes = panel.diff()["diffed"]
    assert re.search(r"^-\s*memory: 256Mi", changes, re.M) and re.search(r"^\+\s*memory: 1Gi", changes, re.M)
    assert "1Gi" in panel.diff_html.value
    assert cluster.service("diffed").spec["memory"] == "256Mi"  # comparing changes nothing
    cluster.delete("diffed")


def test_write_files_and_download_links_are_what_oscar_cli_reads(cluster: Any, tmp_path: Path) -> None:
    from oscar_jupyter import fdl

    panel = DeployPanel(cluster, fdl=_fdl("cli-export"))
    written = panel.write_files(tmp_path)
    assert all(p.exists() for p in written)
    fdl_file = next(p for p in written if p.suffix in (".yaml", ".yml"))
    raw = yaml.safe_load(fdl_file.read_text())
    script_ref = raw["functions"]["oscar"][0]["oscar-cluster"]["script"]
    assert "\n" not in script_ref and (fdl_file.parent / script_ref).read_text() == GRAY_SCRIPT
    again = fdl.load(fdl_file)
    assert again.to_yaml()  # the written pair loads back

    links = panel.download_links()
    hrefs = re.findall(r'href="data:[^;]+;base64,([^"]+)"', links)
    assert len(hrefs) == len(written)
    decoded = {base64.b64decode(h).decode() for h in hrefs}
    assert GRAY_SCRIPT in decoded


# -- services panel ------------------------------------------------------------------------
def test_services_table_filter_fdl_and_token_never_rendered(cluster: Any, gray: Any) -> None:
    cluster.apply(_fdl("other-svc", buckets=False), wait=True)
    panel = ServicesPanel(cluster)
    assert {"panels-gray", "other-svc"} <= set(panel.row_buttons)
    panel.filter.value = "panels-g"
    assert panel.visible_names == ["panels-gray"]
    assert set(panel.row_buttons) == {"panels-gray"}
    panel.filter.value = ""

    panel.row_buttons["panels-gray"]["fdl"].click()
    text = panel.fdl_text("panels-gray")
    assert "token" not in yaml.safe_load(text)["functions"]["oscar"][0]["oscar-cluster"]
    assert "ImageOps.grayscale" in _rendered_text(panel)

    token = cluster.service("panels-gray").token
    assert token and len(token) >= 32
    panel.row_buttons["panels-gray"]["token"].click()
    box = panel.detail.children[0].children[1]
    assert not box.revealed
    box.reveal_button.click()
    assert box.field.value == token
    assert token not in _rendered_text(panel)
    assert token not in repr(panel) and token not in repr(box)
    assert token not in str(panel._repr_mimebundle_())
    box.hide_button.click()
    assert box.field.value == ""

    panel.row_buttons["panels-gray"]["invoke"].click()
    assert isinstance(panel.detail.children[0], InvokePanel)
    assert panel.detail.children[0].service.value == "panels-gray"
    panel.row_buttons["panels-gray"]["jobs"].click()
    jobs = panel.detail.children[0]
    assert isinstance(jobs, JobsPanel)
    jobs.auto_refresh = True
    assert jobs.auto_refresh
    panel.row_buttons["panels-gray"]["token"].click()  # replacing the detail closes the monitor
    assert not jobs.auto_refresh and jobs.comm is None and jobs.table.comm is None
    box = panel.detail.children[0].children[1]
    box.reveal()
    panel.close()
    assert box.field.value == "" and box.field.comm is None and panel.comm is None


def test_services_fdl_never_shows_credentials(cluster: Any) -> None:
    """Cluster passwords and delegation headers stay out of the FDL view, valid or not."""
    body = {"name": "panels-creds", "image": "alpine", "script": "echo hi",
            "clusters": {"other": {"endpoint": "https://other.example", "auth_user": "u",
                                   "auth_password": "cluster-pw-4242"}},
            "replicas": [{"type": "endpoint", "url": "https://r.example",
                          "headers": {"Authorization": "Bearer hdr-4242"}}],
            "x_unknown_field": "kept by some Managers"}
    cluster.create(body)
    try:
        panel = ServicesPanel(cluster)
        text = panel.show_fdl("panels-creds")
        shown = text + _rendered_text(panel)
        assert "cluster-pw-4242" not in shown and "hdr-4242" not in shown
        assert "panels-creds" in text
        panel.close()
    finally:
        cluster.delete("panels-creds")


def test_services_edit_opens_the_deploy_panel_and_deploying_updates(cluster: Any) -> None:
    cluster.apply(_fdl("to-edit", buckets=False), wait=True)
    panel = ServicesPanel(cluster)
    panel.row_buttons["to-edit"]["edit"].click()
    editor = panel.detail.children[0]
    assert isinstance(editor, DeployPanel)
    assert editor.name.value == "to-edit" and editor.script.value == GRAY_SCRIPT
    assert not editor.problems
    editor.cpu.value = "0.3"
    editor.deploy_button.click()
    assert editor.last_error is None, editor.status_text()
    assert cluster.service("to-edit").spec["cpu"] == "0.3"
    assert "to-edit" in panel.row_buttons and panel.last_error is None
    panel.close()
    cluster.delete("to-edit")


def test_services_delete_asks_first(cluster: Any) -> None:
    cluster.apply(_fdl("to-delete", buckets=False), wait=True)
    panel = ServicesPanel(cluster)
    panel.row_buttons["to-delete"]["delete"].click()
    assert panel.pending_delete == "to-delete"
    assert panel.confirm_box.layout.display is None
    panel.cancel_button.click()
    assert "to-delete" in _names(cluster)
    panel.row_buttons["to-delete"]["delete"].click()
    panel.confirm_button.click()
    assert panel.last_error is None, panel.status_text()
    assert "to-delete" not in _names(cluster)
    assert "to-delete" not in panel.row_buttons


# -- invoke panel --------------------------------------------------------------------------
def _bundle_types(output: widgets.Output) -> set:
    types = set()
    for entry in output.outputs:
        types |= set(entry.get("data", {}))
    return types


def _has_image(output: widgets.Output) -> bool:
    for entry in output.outputs:
        data = entry.get("data", {})
        if "image/png" in data or "image/jpeg" in data or "<img" in data.get("text/html", ""):
            return True
    return False


def test_invoke_a_dropped_file_sync(cluster: Any, gray: Any) -> None:
    panel = open_panel("invoke", cluster, service="panels-gray")
    _drop(panel.upload, "red.png", _png())
    assert _has_image(panel.input_view)
    panel.run_button.click()
    assert panel.last_error is None, panel.status_text()
    assert panel.result.image.mode == "L"
    assert panel.result.image.size == (48, 32)
    assert _has_image(panel.output_view)
    assert re.search(r"\d+\.\d\d s", panel.elapsed_html.value)
    assert panel.elapsed and panel.elapsed > 0


def test_invoke_a_notebook_variable_async(cluster: Any) -> None:
    # a service of its own: outputs of other tests' calls landing in the same output folder
    # within a job's time window would be collected with its result
    cluster.apply(_fdl("panels-var"), wait=True)
    picture = Image.new("RGB", (20, 10), (10, 200, 10))
    panel = InvokePanel(cluster, service="panels-var", namespace={"picture": picture})
    panel.variable.value = "picture"
    panel.mode.value = "async"
    result = panel.invoke()
    assert result.image.mode == "L" and result.image.size == (20, 10)
    assert _has_image(panel.output_view)
    names = [o.name for o in cluster.storage.ls("panels-var/in")]
    assert len(names) == 1 and re.fullmatch(r"picture-[0-9a-f]{8}\.png", names[0]), names


def test_two_quick_async_invocations_get_their_own_outputs(cluster: Any) -> None:
    cluster.apply(_fdl("panels-quick"), wait=True)
    panel = InvokePanel(cluster, service="panels-quick")
    panel.mode.value = "async"
    first = panel.invoke(Image.new("RGB", (20, 10), (10, 200, 10)))
    second = panel.invoke(Image.new("RGB", (8, 6), (1, 2, 3)))  # each upload gets its own name
    assert first.image.size == (20, 10)
    assert len(cluster.storage.ls("panels-quick/in")) == 2
    assert second.image.size == (8, 6)


def test_invoke_a_dropped_file_async_keeps_its_name(cluster: Any, gray: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cluster.apply(_fdl("panels-drop"), wait=True)  # a fresh output folder (see the xfail above)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "orange.png").write_bytes(b"a file of the same name in the working directory")
    panel = InvokePanel(cluster, service="panels-drop")
    _drop(panel.upload, "orange.png", _png((250, 120, 20), (16, 12)))
    panel.mode.value = "async"
    panel.run_button.click()
    assert panel.last_error is None, panel.status_text()
    assert panel.result.image.size == (16, 12)
    assert cluster.storage.exists("panels-drop/in/orange.png")


def test_invoke_a_batch_of_dropped_files_sync_and_async(cluster: Any, gray: Any) -> None:
    panel = InvokePanel(cluster, service="panels-gray", concurrency=2)
    _drop(panel.upload, "a.png", _png((255, 0, 0), (10, 10)), ("b.png", _png((0, 255, 0), (20, 10))),
          ("c.png", _png((0, 0, 255), (30, 10))))
    assert len(panel.input_view.outputs) == 3
    panel.run_button.click()
    assert panel.last_error is None, panel.status_text()
    batch = panel.result
    assert [item.name for item in batch] == ["a.png", "b.png", "c.png"]
    assert [item.result.image.size for item in batch] == [(10, 10), (20, 10), (30, 10)]
    assert "for 3 inputs, 0 failed" in panel.elapsed_html.value
    assert _has_image(panel.output_view)

    batch = panel.invoke_batch({"d.png": _png((9, 9, 9), (12, 12)), "broken.png": b"not an image"},
                               mode="async")
    by_name = {item.name: item for item in batch}
    assert by_name["d.png"].result.image.size == (12, 12)
    assert by_name["broken.png"].error is not None
    assert "1 failed" in panel.elapsed_html.value


def test_invoke_without_input_or_with_unknown_variable_says_what_is_wrong(cluster: Any, gray: Any) -> None:
    panel = InvokePanel(cluster, service="panels-gray", namespace={})
    panel.run_button.click()
    assert "No input" in panel.status_text()
    panel.variable.value = "missing"
    panel.run_button.click()
    assert "missing" in panel.status_text()
    with pytest.raises(OscarError):
        panel.select("no-such-service")


# -- jobs panel ----------------------------------------------------------------------------
def test_jobs_monitor_lists_logs_auto_refreshes_and_deletes(cluster: Any, gray: Any) -> None:
    gray.submit([_png((1, 2, 3)), _png((4, 5, 6))], wait=True, progress=False)
    panel = JobsPanel(cluster, service="panels-gray", expected=2, interval=0.2)
    assert panel.counts.get("Succeeded", 0) >= 2
    assert panel.progress.value == sum(panel.counts.get(s, 0) for s in ("Succeeded", "Failed"))
    assert panel.progress.bar_style == ("danger" if panel.counts.get("Failed") else "success")
    name = next(iter(panel.job_buttons))
    panel.job_buttons[name].click()
    assert "gray:" in panel.log_html.value

    panel.expected = None
    panel.auto.value = True
    assert panel.auto_refresh
    time.sleep(0.5)
    assert panel.worker_alive
    panel.close()
    assert not panel.auto_refresh and not panel.worker_alive  # close joins the thread

    panel = JobsPanel(cluster, service="panels-gray")
    failed = [j.name for j in gray.jobs(status="Failed")]  # the batch test's broken input
    panel.status_filter.value = "Failed"
    assert sorted(j.name for j in panel.jobs) == sorted(failed)
    panel.status_filter.value = "all"
    assert len(panel.jobs) > len(failed)
    panel.delete_button.click()
    assert panel.last_error is None, panel.status_text()
    assert list(gray.jobs(status="Succeeded")) == []
    assert sorted(panel.job_buttons) == sorted(failed)  # failed jobs stay, as on OSCAR


def test_refreshing_does_not_pile_up_widgets(cluster: Any, gray: Any) -> None:
    from ipywidgets.widgets.widget import _instances

    gray.submit([_png((3, 3, 3))], wait=True, progress=False)
    panels = [JobsPanel(cluster, service="panels-gray"), ServicesPanel(cluster),
              StoragePanel(cluster, path="panels-gray")]
    for panel in panels:
        panel.refresh()
    before = len(_instances)
    for _ in range(5):
        for panel in panels:
            panel.refresh()
    assert len(_instances) == before
    for panel in panels:
        panel.close()
    assert len(_instances) < before


def test_jobs_monitor_of_an_async_run_counts_only_its_jobs(cluster: Any, gray: Any) -> None:
    gray.submit([_png((7, 7, 7))], wait=True, progress=False)  # an earlier job, not part of the run
    run = gray.submit([_png((1, 1, 1)), _png((2, 2, 2)), _png((3, 3, 3))], wait=False, progress=False)
    panel = JobsPanel(run=run, interval=0.2, auto_refresh=True)
    assert panel.service.value == "panels-gray" and panel.expected == 3
    deadline = time.monotonic() + 60
    while panel.auto_refresh and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not panel.auto_refresh, "auto-refresh stops by itself when the batch has finished"
    assert panel.counts == {"Succeeded": 3}
    assert panel.progress.value == 3 and panel.progress.max == 3
    assert len(panel.job_buttons) == 3
    assert "batch finished" in panel.status_text()
    run.wait(timeout=60, progress=False)


# -- storage panel -------------------------------------------------------------------------
def test_storage_navigate_upload_preview_download_presign(cluster: Any, gray: Any, tmp_path: Path) -> None:
    panel = StoragePanel(cluster)
    assert "panels-gray" in panel.entry_buttons
    panel.entry_buttons["panels-gray"]["open"].click()
    assert panel.path == "panels-gray"
    assert {"in", "out"} <= set(panel.entry_buttons)
    panel.navigate("panels-gray/out")
    assert panel.path == "panels-gray/out"

    content = _png((9, 9, 200), (30, 30))
    _drop(panel.upload_widget, "blue.png", content)
    panel.upload_button.click()
    assert panel.last_error is None, panel.status_text()
    assert panel.upload_progress.value == 1
    assert "blue.png" in panel.entry_buttons

    panel.entry_buttons["blue.png"]["preview"].click()
    assert _has_image(panel.preview_view)
    panel.download_folder.value = str(tmp_path)
    panel.entry_buttons["blue.png"]["download"].click()
    assert (tmp_path / "blue.png").read_bytes() == content
    assert "data:image/png;base64," in panel.link_html.value

    url = panel.presign("blue.png")
    assert requests.get(url, timeout=10).content == content

    panel.entry_buttons["blue.png"]["delete"].click()
    assert panel.pending_delete == "blue.png" and cluster.storage.exists("panels-gray/out/blue.png")
    panel.cancel_button.click()
    assert cluster.storage.exists("panels-gray/out/blue.png")
    panel.entry_buttons["blue.png"]["delete"].click()
    panel.confirm_button.click()
    assert panel.last_error is None, panel.status_text()
    assert not cluster.storage.exists("panels-gray/out/blue.png")
    assert "blue.png" not in panel.entry_buttons

    panel.up()
    assert panel.path == "panels-gray"
    panel.up()
    assert panel.path == ""
    _drop(panel.upload_widget, "x.png", content)
    panel.upload_button.click()
    assert "Open a bucket first" in panel.status_text()


def test_open_panel_names(cluster: Any) -> None:
    with pytest.raises(OscarError, match="deploy, services"):
        open_panel("nope", cluster)
    assert isinstance(open_panel("Storage", cluster), StoragePanel)


# -- confirmed deletes (one strip shared by the services and storage panels) -----------------
def test_services_and_storage_share_one_delete_confirmation(cluster: Any, gray: Any) -> None:
    from oscar_jupyter.notebook.panels.confirm import DeleteConfirmation

    KEEP = "<i>keep&.txt"
    cluster.storage.put(b"keep me", f"panels-gray/out/{KEEP}")
    services = ServicesPanel(cluster)
    storage = StoragePanel(cluster, path="panels-gray/out")
    try:
        for panel, name, nothing in ((services, "panels-gray", "a service's delete button"),
                                     (storage, KEEP, "an object's delete button")):
            assert isinstance(panel.confirm_box, DeleteConfirmation)
            assert panel.confirm_box in panel.children
            assert panel.confirm_box.layout.display == "none" and panel.pending_delete is None
            # Delete with nothing pending: an error in the status line, nothing deleted
            panel.confirm_button.click()
            assert nothing in (panel.last_error or ""), panel.status_text()
            with pytest.raises(OscarError, match="Nothing to delete"):
                panel.confirm_delete()
            panel.ask_delete(name)
            assert panel.pending_delete == name and panel.confirm_box.layout.display is None
            assert "<i>" not in panel.confirm_html.value  # names are text, not markup
            panel.cancel_delete()
            assert panel.pending_delete is None and panel.confirm_html.value == ""
            assert panel.confirm_box.layout.display == "none"
        assert "panels-gray" in _names(cluster)
        assert cluster.storage.exists(f"panels-gray/out/{KEEP}")
        storage.ask_delete(KEEP)
        storage.confirm_button.click()
        assert storage.last_error is None, storage.status_text()
        assert not cluster.storage.exists(f"panels-gray/out/{KEEP}")
        assert storage.pending_delete is None and storage.confirm_box.layout.display == "none"
    finally:
        services.close()
        storage.close()
