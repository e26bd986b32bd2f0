"""The batch tutorial's outputs as a researcher sees them: executed in a real kernel
against oscar-local, exported to HTML and laid out by headless Debian chromium.

Checks what a screenshot shows: each job of the jobs table on one line, batch
labels unbroken, a failed item's cause readable without opening its log, and no
'0 ms' for jobs. The page is saved as test-artifacts/screenshots/tutorial-02.png.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab_server import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "screenshots"
NOTEBOOK = REPO / "notebooks" / "02-batch-and-async.ipynb"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium"),
    pytest.mark.timeout(240),
]

# For each table whose header has `first` as its first column: the rendered heights of
# its body rows, and the height of one line of its text.
_ROW_HEIGHTS = """(first) => [...document.querySelectorAll('table')]
  .filter(t => t.querySelector('th') && t.querySelector('th').textContent.trim() === first)
  .map(t => ({
    line: parseFloat(getComputedStyle(t).fontSize) * 1.6,
    rows: [...t.querySelectorAll('tbody tr')].map(r => r.getBoundingClientRect().height)}))"""

_LABEL_HEIGHTS = """(names) => [...document.querySelectorAll('td div')]
  .filter(d => names.includes(d.textContent.trim()))
  .map(d => [d.textContent.trim(), d.getBoundingClientRect().height,
             parseFloat(getComputedStyle(d).fontSize)])"""


@pytest.fixture(scope="module")
def executed_html(local_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nbconvert = pytest.importorskip("nbconvert")
    mp = pytest.MonkeyPatch()
    mp.setenv("OSCAR_ENDPOINT", local_cluster.endpoint)   # the kernel inherits these
    mp.setenv("OSCAR_USER", local_cluster.user)
    mp.setenv("OSCAR_PASSWORD", local_cluster.password)
    mp.setenv("PYTHONPATH", str(REPO))
    try:
        nb = nbformat.read(NOTEBOOK, as_version=4)
        nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    finally:
        mp.undo()
    html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    out = tmp_path_factory.mktemp("tutorial") / "02-batch-and-async.html"
    out.write_text(html, encoding="utf-8")
    return out


def test_batch_tutorial_outputs_are_laid_out_for_reading(executed_html: Path) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(executed_html.as_uri())
            page.screenshot(path=str(ARTIFACTS / "tutorial-02.png"), full_page=True)

            tables = page.evaluate(_ROW_HEIGHTS, "job")
            assert len(tables) == 3, "jobs tables: after submit, after wait, after deleting"
            for table in tables:
                assert table["rows"], table
                assert all(h <= table["line"] + 1 for h in table["rows"]), \
                    f"a job row wraps: heights {table['rows']}, one line {table['line']:.1f}px"

            names = [f"tile-{i}.jpg" for i in range(6)] + ["notes.txt"]
            labels = page.evaluate(_LABEL_HEIGHTS, names)
            assert {name for name, _h, _f in labels} == set(names)
            for name, height, font in labels:
                assert height < 2 * font, f"the label {name!r} is broken over lines ({height}px)"

            batch = page.locator("table", has=page.locator("th", has_text="output / error")).nth(1)
            failed_row = batch.locator("tbody tr").first
            cause = failed_row.get_by_text("UnidentifiedImageError").first
            assert cause.is_visible(), "the failed item's cause is hidden inside its log"
            assert "Read .log" not in failed_row.inner_text()
            elapsed = batch.locator("tbody tr td:nth-child(4)").all_inner_texts()
            assert len(elapsed) == 7 and "0 ms" not in elapsed, elapsed
        finally:
            browser.close()
