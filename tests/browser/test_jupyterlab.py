"""The panels in a real JupyterLab, in headless Debian chromium, against a real oscar-local.

The notebook connects to oscar-local through the environment JupyterLab hands
its kernel. The test clicks the deploy panel's Deploy button in the page,
types a notebook variable into the invoke panel and clicks Invoke, then checks
that the processed image is on the page. Each panel is screenshotted into
test-artifacts/screenshots/; with OSCAR_UPDATE_SCREENSHOTS=1 they are also
copied to docs/screenshots/ for the documentation.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, List

import pytest

from tests.browser.lab_server import REPO, LabServer

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "screenshots"
DOCS_SHOTS = REPO / "docs" / "screenshots"
MAX_SHOT_BYTES = 300 * 1024
SERVICE = "lab-grayify"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium"),
    pytest.mark.timeout(300),
]

FDL = f"""\
functions:
  oscar:
  - oscar-cluster:
      name: {SERVICE}
      image: ghcr.io/grycap/imagemagick
      cpu: '0.5'
      memory: 256Mi
      script: |
        #!/bin/sh
        python3 - "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR" <<'EOF'
        import os, sys
        from PIL import Image, ImageOps
        source, out = sys.argv[1], sys.argv[2]
        ImageOps.grayscale(Image.open(source)).save(os.path.join(out, "gray.png"))
        EOF
      input:
      - storage_provider: minio.default
        path: {SERVICE}/in
      output:
      - storage_provider: minio.default
        path: {SERVICE}/out
"""

CELLS = [
    # 0: connect, a picture, the deploy panel (deployed by clicking in the page)
    f'''import numpy as np
from PIL import Image
import oscar_jupyter as oj
from oscar_jupyter.notebook.panels import open_panel

c = oj.connect()
y, x = np.mgrid[0:160, 0:240]
img = Image.fromarray(np.dstack([x * 255 // 240, y * 255 // 160, 255 - x * 255 // 240]).astype("uint8"))
FDL = {FDL!r}
deploy = open_panel("deploy", c, fdl=FDL)
deploy''',
    # 1: the invoke panel (driven from the page)
    f'''invoke = open_panel("invoke", c, service={SERVICE!r})
invoke''',
    # 2: one asynchronous job, then the jobs monitor
    f'''c.service({SERVICE!r}).submit([img], wait=True, progress=False)
jobs = open_panel("jobs", c, service={SERVICE!r})
jobs''',
    # 3: the services browser
    '''services = open_panel("services", c)
services''',
    # 4: the storage browser on the output folder
    f'''storage = open_panel("storage", c, path="{SERVICE}/out")
storage.preview(storage.entries[0][0])
storage''',
]


def _notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


def _shrink(path: Path) -> None:
    """Keep a screenshot under MAX_SHOT_BYTES (palette PNG, then smaller) so docs stay light."""
    from PIL import Image

    if path.stat().st_size <= MAX_SHOT_BYTES:
        return
    with Image.open(path) as im:
        im = im.convert("RGB")
        while True:
            buf = io.BytesIO()
            im.quantize(colors=128).save(buf, format="PNG", optimize=True)
            if buf.tell() <= MAX_SHOT_BYTES or im.width < 400:
                break
            im = im.resize((im.width * 4 // 5, im.height * 4 // 5))
    path.write_bytes(buf.getvalue())


@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory: pytest.TempPathFactory):
    """An oscar-local of this module's own, so the screenshots show only what the page did."""
    from oscar_jupyter import local

    cluster = local.start(data_dir=str(tmp_path_factory.mktemp("browser-oscar-local")), port=0,
                          password=uuid.uuid4().hex)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def lab(local_cluster: Any, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("lab")
    _notebook(root / "panels.ipynb")
    env = {"OSCAR_ENDPOINT": local_cluster.endpoint, "OSCAR_USER": local_cluster.user,
           "OSCAR_PASSWORD": local_cluster.password}
    server = LabServer(root, env, root / "jupyter.log").start()
    yield server
    server.stop()


def _run_js(page: Any, script: str) -> Any:
    return page.evaluate(script)


def _run_cell(page: Any, index: int, below: bool = False) -> None:
    command = "notebook:run-all-below" if below else "notebook:run-cell"
    _run_js(page, f"""async () => {{
        const app = window.jupyterapp;
        const panel = app.shell.currentWidget;
        panel.content.activeCellIndex = {index};
        await app.commands.execute('{command}');
    }}""")


def _shot(locator: Any, name: str, saved: List[Path]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    locator.screenshot(path=str(path))
    _shrink(path)
    saved.append(path)


def test_deploy_and_invoke_from_the_page(lab: LabServer, local_cluster: Any) -> None:
    from playwright.sync_api import expect, sync_playwright

    import oscar_jupyter as oj

    cluster = oj.connect(local_cluster.endpoint, user=local_cluster.user,
                         password=local_cluster.password)
    saved: List[Path] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 1000})
            errors: List[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{lab.url}/lab/workspaces/{uuid.uuid4().hex}/tree/panels.ipynb?reset")
            page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)
            expect(page.get_by_text(re.compile(r"\| Idle")).first).to_be_visible(timeout=60_000)
            news = page.get_by_role("alert").get_by_role("button", name="No")
            if news.count():
                news.first.click()

            # Deploy: the panel is built by the notebook, the Deploy button clicked in the page.
            _run_cell(page, 0)
            deploy = page.locator(".oscar-panel").nth(0)
            expect(deploy.get_by_text("valid", exact=False).first).to_be_visible(timeout=60_000)
            expect(deploy.locator("textarea").last).to_have_value(
                re.compile(f"name: {SERVICE}"), timeout=10_000)
            _shot(deploy, "deploy-panel", saved)

            # Live validation and the two-way sync, typed in the page.
            name_box = deploy.get_by_placeholder("my-service (a DNS label)")
            name_box.fill("Bad_Name")
            name_box.press("Tab")
            problems = deploy.locator(".oscar-problems")
            expect(problems).to_contain_text("line 4", timeout=30_000)
            expect(problems).to_contain_text("bad-name")
            fdl_box = deploy.locator("textarea").last
            expect(fdl_box).to_have_value(re.compile("name: Bad_Name"), timeout=30_000)
            _shot(deploy, "deploy-panel-problems", saved)
            name_box.fill(SERVICE)
            name_box.press("Tab")
            expect(deploy.get_by_text("✔ valid")).to_be_visible(timeout=30_000)
            fdl_box.fill(fdl_box.input_value().replace("memory: 256Mi", "memory: 384Mi"))
            fdl_box.blur()
            expect(deploy.get_by_placeholder("e.g. 256Mi, 1Gi")).to_have_value("384Mi", timeout=30_000)

            deploy.get_by_role("button", name=re.compile(r"Deploy$")).click()
            expect(deploy.locator(".oscar-status-ok")).to_contain_text("deployed", timeout=90_000)

            # Invoke: name the notebook variable, click Invoke, see the processed image.
            _run_cell(page, 1)
            invoke = page.locator(".oscar-panel").nth(1)
            expect(invoke.get_by_role("button", name=re.compile(r"Invoke$"))).to_be_visible(timeout=30_000)
            invoke.get_by_placeholder("name in the notebook").fill("img")
            invoke.get_by_placeholder("name in the notebook").press("Tab")
            invoke.get_by_role("button", name=re.compile(r"Invoke$")).click()
            expect(invoke.locator(".oscar-status-ok")).to_contain_text("answered", timeout=90_000)
            out_img = invoke.locator(".oscar-invoke-output img")
            expect(out_img.first).to_be_visible(timeout=30_000)
            expect(invoke.locator(".oscar-invoke-input img").first).to_be_visible()
            _shot(invoke, "invoke-panel", saved)

            # A file dropped on the upload button, run through the input bucket. (It lies in
            # the kernel's working directory, so its name is also an existing path there.)
            picture = lab.root / "upload.png"
            from PIL import Image

            Image.new("RGB", (64, 48), (250, 120, 20)).save(picture)
            with page.expect_file_chooser() as chooser:
                invoke.get_by_role("button", name=re.compile("Drop or pick")).click()
            chooser.value.set_files(str(picture))
            expect(invoke.locator(".oscar-invoke-input")).to_contain_text("upload.png", timeout=30_000)
            invoke.get_by_role("button", name="async (bucket)").click()
            invoke.get_by_role("button", name=re.compile(r"Invoke$")).click()
            expect(invoke.locator(".oscar-status-ok")).to_contain_text("(async)", timeout=90_000)
            expect(invoke.locator(".oscar-invoke-output img").first).to_be_visible(timeout=30_000)

            # The remaining panels, rendered in the page.
            _run_cell(page, 2, below=True)
            jobs = page.locator(".oscar-panel").nth(2)
            expect(jobs.locator(".oscar-job-status", has_text="Succeeded").first).to_be_visible(timeout=90_000)
            jobs.locator("button", has_text=f"{SERVICE}-").first.click()
            expect(jobs.get_by_text("Log of", exact=False)).to_be_visible(timeout=30_000)
            _shot(jobs, "jobs-panel", saved)

            services = page.locator(".oscar-panel").nth(3)
            expect(services.get_by_text(SERVICE).first).to_be_visible(timeout=30_000)
            _shot(services, "services-panel", saved)

            # The token: masked, revealed into a text box on request, never rendered as text.
            token = cluster.service(SERVICE).token
            assert token and token not in page.content()
            services.locator(f'button[title="Token: {SERVICE}"]').click()
            reveal = services.get_by_role("button", name="Reveal to copy")
            expect(reveal).to_be_visible(timeout=30_000)
            reveal.click()
            field = services.locator("input[placeholder='click Reveal to copy']")
            expect(field).to_have_value(token, timeout=30_000)
            services.get_by_role("button", name="Hide").click()
            expect(field).to_have_value("", timeout=30_000)
            assert token not in page.content()

            storage = page.locator(".oscar-panel").nth(4)
            expect(storage.locator(".oscar-storage-preview img").first).to_be_visible(timeout=30_000)
            _shot(storage, "storage-panel", saved)
            assert not [e for e in errors if "oscar" in e.lower()], errors

            # What the notebook file keeps: the processed image, not the token.
            _run_js(page, "async () => { await window.jupyterapp.commands.execute('docmanager:save'); }")
            saved_nb = lab.root / "panels.ipynb"
            deadline = time.monotonic() + 30
            while "widget-view+json" not in saved_nb.read_text() and time.monotonic() < deadline:
                time.sleep(0.5)
            text = saved_nb.read_text()
            assert "application/vnd.jupyter.widget-view+json" in text
            assert token not in text
        finally:
            browser.close()

    # The cluster really has the service, and the job the notebook started succeeded.
    assert SERVICE in [s.name for s in cluster.services()]
    assert [j.status for j in cluster.service(SERVICE).jobs()] == ["Succeeded"] * 2
    assert cluster.service(SERVICE).spec["memory"] == "384Mi"
    for path in saved:
        assert 0 < path.stat().st_size <= MAX_SHOT_BYTES, path
    if os.environ.get("OSCAR_UPDATE_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        for path in saved:
            shutil.copy2(path, DOCS_SHOTS / path.name)
