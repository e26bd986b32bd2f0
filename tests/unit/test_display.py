"""Mime bundles of results and listings: sizes bounded, escaping, charts, boxes, secrets."""
from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from oscar_jupyter import display, errors
from oscar_jupyter.display import boxes as boxes_mod
from oscar_jupyter.display.images import encode_preview
from oscar_jupyter.display.listings import render_jobs
from oscar_jupyter.display.secrets import masked
from oscar_jupyter.results import (ArrayResult, BatchItem, BatchResult, DetectionResult,
                                   FilesResult, ImageResult, JSONResult, PredictionResult,
                                   TextResult)

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
_IMG_SRC = re.compile(r'<img src="data:(image/(?:png|jpeg));base64,([A-Za-z0-9+/=]+)"')


def photo(w: int, h: int, seed: int = 0) -> Image.Image:
    """A hard-to-compress picture: coloured blocks with sharp edges plus noise."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (h // 50 + 1, w // 50 + 1, 3), dtype=np.uint8)
    big = np.kron(blocks, np.ones((50, 50, 1), dtype=np.uint8))[:h, :w]
    noise = rng.integers(-20, 20, (h, w, 3))
    return Image.fromarray(np.clip(big.astype(int) + noise, 0, 255).astype(np.uint8))


def encoded(img: Image.Image, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, quality=90)
    return buf.getvalue()


def embedded_images(html: str):
    return [(m, Image.open(io.BytesIO(base64.b64decode(b)))) for m, b in _IMG_SRC.findall(html)]


def bundle_size(bundle) -> int:
    return sum(len(v.encode("utf-8")) if isinstance(v, str) else len(v) for v in bundle.values())


def test_anything_has_text_plain():
    assert display.mimebundle(42) == {"text/plain": "42"}
    assert "text/plain" in display.mimebundle(object())


def test_huge_image_result_with_image_input_stays_small():
    big = photo(4000, 3000)
    raw = encoded(big)
    assert len(raw) > 1_000_000
    result = ImageResult(raw, input=big, elapsed=1.25)
    bundle = display.mimebundle(result)
    assert bundle_size(bundle) < 300_000
    imgs = embedded_images(bundle["text/html"])
    assert len(imgs) == 2  # the input beside the output, nothing else
    for _mime, im in imgs:
        assert max(im.size) <= display.options.preview_size
    assert "4000×3000" in bundle["text/html"] and "1.25 s" in bundle["text/html"]
    assert set(bundle) == {"text/plain", "text/html"}
    assert result.image.size == (4000, 3000)  # the full data stays on the object


def test_preview_picks_the_smaller_encoding():
    flat = Image.new("RGB", (300, 200), (10, 200, 30))
    mime, data, size = encode_preview(flat, 512, 100_000)
    assert mime == "image/png" and size == (300, 200)
    mime, data, size = encode_preview(photo(1024, 768, seed=3), 512, 100_000)
    assert mime == "image/jpeg" and max(size) == 512 and len(data) <= 100_000


def test_preview_respects_byte_budget_by_shrinking():
    rng = np.random.default_rng(1)
    noise = Image.fromarray(rng.integers(0, 256, (600, 600, 3), dtype=np.uint8))
    mime, data, size = encode_preview(noise, 512, 20_000)
    assert len(data) <= 20_000 and max(size) < 512


def test_preview_size_option_is_used():
    old = display.options.preview_size
    try:
        display.options.preview_size = 128
        bundle = display.mimebundle(ImageResult(encoded(photo(800, 600))))
        (_m, im), = embedded_images(bundle["text/html"])
        assert max(im.size) == 128
    finally:
        display.options.preview_size = old


def test_predictions_bar_chart_and_escaping():
    value = {"labels": ["cat", HOSTILE, "dog", "fox", "owl", "eel", "ant"],
             "probabilities": [0.6, 0.2, 0.1, 0.04, 0.03, 0.02, 0.01]}
    bundle = display.mimebundle(PredictionResult(value, elapsed=0.2))
    html = bundle["text/html"]
    assert "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html
    widths = [int(w) for w in re.findall(r'class="oj-bar" style="width:(\d+)px', html)]
    assert len(widths) == display.options.top_k
    assert widths == sorted(widths, reverse=True)
    assert widths[0] == round(0.6 * 220) and widths[1] == round(0.2 * 220)
    assert "60.0%" in html and "all classes" in html
    assert bundle["text/plain"].startswith("PredictionResult: cat (60.0%)")
    assert "█" in bundle["text/plain"]


def test_predictions_beside_image_input():
    inp = photo(640, 480)
    bundle = display.mimebundle(PredictionResult({"labels": ["a"], "probabilities": [1.0]}, input=inp))
    assert len(embedded_images(bundle["text/html"])) == 1


def test_detections_drawn_on_input():
    inp = Image.new("RGB", (400, 300), (255, 255, 255))
    value = [{"name": "cat", "confidence": 0.91, "box": {"x1": 100, "y1": 80, "x2": 300, "y2": 250}},
             {"name": HOSTILE, "confidence": 0.5, "box": {"x1": 10, "y1": 10, "x2": 60, "y2": 60}}]
    result = DetectionResult(value, input=inp)
    bundle = display.mimebundle(result)
    html = bundle["text/html"]
    assert "<script" not in html and "&lt;script&gt;" in html
    (mime, drawn), = embedded_images(html)
    drawn = drawn.convert("RGB")
    assert drawn.size == (400, 300)
    labels = sorted({"cat", HOSTILE})
    cat_color = boxes_mod.color_for("cat", labels)
    edge = drawn.getpixel((200, 250))      # bottom edge of the cat box
    assert all(abs(a - b) < 40 for a, b in zip(edge, cat_color)), edge
    assert drawn.getpixel((200, 160)) == (255, 255, 255) or mime == "image/jpeg"
    assert all(c > 230 for c in drawn.getpixel((200, 160)))  # inside stays white
    assert "0.910" in html and "cat 0.91 [100, 80, 300, 250]" in bundle["text/plain"]


def test_draw_boxes_scales_coordinates_and_colors():
    img = Image.new("RGB", (100, 100), (0, 0, 0))
    box = boxes_mod.Box("x", None, 20, 20, 180, 180)
    out = boxes_mod.draw_boxes(img, [box], scale=0.5)
    assert out.getpixel((10, 50)) == boxes_mod.PALETTE[0]
    assert out.getpixel((50, 50)) == (0, 0, 0)
    assert img.getpixel((10, 50)) == (0, 0, 0)  # the original is untouched


def test_box_shapes_are_normalised():
    got = boxes_mod.normalise([
        {"label": "a", "score": 0.5, "bbox": [1, 2, 3, 4]},
        {"class": "b", "x": 5, "y": 6, "width": 10, "height": 20},
        {"name": "c", "box": {"x1": 9, "y1": 9, "x2": 1, "y2": 1}},
        {"name": "broken"},
    ])
    assert [(b.label, b.x1, b.y1, b.x2, b.y2) for b in got] == [
        ("a", 1, 2, 3, 4), ("b", 5, 6, 15, 26), ("c", 1, 1, 9, 9)]


def test_json_tree_is_collapsible_escaped_and_bounded():
    value = {"ok": True, "items": list(range(10_000)), "name": HOSTILE}
    bundle = display.mimebundle(JSONResult(value))
    html = bundle["text/html"]
    assert "<details" in html and "more" in html
    assert "<script" not in html
    assert len(html) < 400_000
    assert json.loads(json.dumps(value))["ok"] is True and '"ok": true' in bundle["text/plain"]


def test_huge_text_truncated_with_note():
    text = ("line <b>bold</b>\n" * 100_000)
    bundle = display.mimebundle(TextResult(text))
    html = bundle["text/html"]
    assert len(html) < 2 * display.options.max_text + 5_000
    assert "more characters not shown" in html and "<b>bold" not in html
    assert "more characters" in bundle["text/plain"]


def test_files_gallery_lists_non_images():
    files = {"a.png": ImageResult(encoded(photo(300, 200), "PNG")),
             "b.jpg": ImageResult(encoded(photo(2000, 1500))),
             f"{HOSTILE}.txt": TextResult("hello")}
    bundle = display.mimebundle(FilesResult(files))
    html = bundle["text/html"]
    imgs = embedded_images(html)
    assert len(imgs) == 2 and all(max(i.size) <= display.options.thumb_size for _m, i in imgs)
    assert "<script" not in html and ".txt" in html
    assert "3 files (2 images)" in html
    assert bundle_size(bundle) < 60_000


def test_batch_shows_status_timing_and_failure_log():
    ok = BatchItem(input="cat.jpg", result=PredictionResult({"labels": ["cat"], "probabilities": [0.9]}),
                   elapsed=0.5, name="cat.jpg")
    bad = BatchItem(input="dog.jpg", error=errors.ServiceFailed(
        "The script failed (exit 1).", log="Traceback...\nValueError: <bad> input\n", exit_code=1),
        elapsed=0.25, name="dog.jpg")
    bundle = display.mimebundle(BatchResult([ok, bad], elapsed=0.8))
    html, text = bundle["text/html"], bundle["text/plain"]
    assert "2 items: 1 ✓, 1 ✗" in html and "✓" in text and "✗" in text
    assert "cat (90.0%)" in html and "500 ms" in html and "250 ms" in html
    assert "ValueError: &lt;bad&gt; input" in html and "<bad>" not in html


def test_batch_grid_thumbnails_are_bounded():
    items = [BatchItem(input=photo(1000, 800, seed=i), result=ImageResult(encoded(photo(1000, 800, seed=i))),
                       elapsed=0.1) for i in range(40)]
    bundle = display.mimebundle(BatchResult(items))
    assert len(embedded_images(bundle["text/html"])) == display.options.max_thumbs
    assert bundle_size(bundle) < 300_000


def test_array_result_as_image_and_values():
    arr = (np.arange(64 * 64).reshape(64, 64) % 256).astype(np.uint8)
    buf = io.BytesIO()
    np.save(buf, arr)
    bundle = display.mimebundle(ArrayResult(buf.getvalue()))
    assert len(embedded_images(bundle["text/html"])) == 1
    assert "shape=(64, 64)" in bundle["text/plain"]


def test_jobs_table_colors_statuses():
    jobs = [{"name": "svc-1", "status": "Succeeded", "creation_time": "2025-01-10T10:00:00Z",
             "start_time": "2025-01-10T10:00:01Z", "finish_time": "2025-01-10T10:00:03Z"},
            {"name": "svc-2", "status": "Failed"}, {"name": HOSTILE, "status": "Running"}]
    text, html = render_jobs(jobs)
    assert "#2e7d32" in html and "#c62828" in html and "#1565c0" in html
    assert "2.00 s" in html and "<script" not in html
    assert "1 Failed" in text and "svc-1" in text


def test_secrets_masked_in_fdl_and_mappings():
    spec = {"name": "s", "environment": {"variables": {"A": "1"}, "secrets": {"KEY": "s3cr3t-v4lue"}},
            "clusters": {"c": {"endpoint": "https://x", "auth_user": "u", "auth_password": "pa55w0rd"}},
            "token": "abcdef0123456789"}

    class FDL:
        notices = ["normalised environment.Variables to variables"]
        warnings = [HOSTILE]
        services = [spec]

        def to_dict(self):
            return {"functions": {"oscar": [{"c": spec}]}}

    bundle = display.mimebundle(FDL())
    flat = json.dumps(bundle)
    for secret in ("s3cr3t-v4lue", "pa55w0rd", "abcdef0123456789"):
        assert secret not in flat
    assert "***" in bundle["text/html"] and "notice:" in bundle["text/plain"]
    assert "<script" not in bundle["text/html"]
    assert masked({"A": "1", "password": None}) == {"A": "1", "password": None}


def test_include_exclude_filters():
    r = TextResult("hi")
    assert set(display.mimebundle(r, exclude=["text/html"])) == {"text/plain"}
    assert set(display.mimebundle(r, include=["text/html"])) == {"text/plain", "text/html"}


def test_broken_object_never_raises():
    class Bad:
        kind = "image"

        @property
        def image(self):
            raise RuntimeError("boom")

        def __repr__(self):
            return "<Bad>"

    bundle = display.mimebundle(Bad())
    assert bundle["text/plain"]


def test_results_repr_mimebundle_delegates_here():
    bundle = TextResult("hello")._repr_mimebundle_()
    assert "hello" in bundle["text/html"]


@pytest.mark.parametrize("value", [{"a": 1, "b": "x"}, [1, 2, {"c": None}], Image.new("L", (10, 10))])
def test_plain_values(value):
    bundle = display.mimebundle(value)
    assert "text/html" in bundle and bundle["text/plain"]


def test_real_fdl_shows_scripts_as_blocks_and_notices():
    from oscar_jupyter import fdl
    f = fdl.load("functions:\n  oscar:\n  - oscar-cluster:\n      name: x\n      image: alpine\n"
                 "      script: |\n        echo one\n        echo two\n"
                 "      environment:\n        Variables: {A: '1'}\n        secrets: {K: v3ry-s3cret}\n")
    bundle = display.mimebundle(f)
    assert "script: |\n        echo one\n        echo two" in bundle["text/html"]
    assert "<details><summary" in bundle["text/html"]
    assert "notice:" in bundle["text/plain"] and "v3ry-s3cret" not in json.dumps(bundle)
    assert "oscar-cluster  x     alpine" in bundle["text/plain"]


def test_batch_labels_prefer_input_over_index_names():
    item = BatchItem(input=photo(300, 200), result=TextResult("ok"), name="0", elapsed=0.1)
    text = display.mimebundle(BatchResult([item]))["text/plain"]
    assert "image 300×200" in text


def test_json_tree_bounded_by_characters_too():
    value = [("x" * 1500 + HOSTILE) for _ in range(1000)]
    html = display.mimebundle(JSONResult(value))["text/html"]
    assert len(html) < 200_000 and "more" in html and "<script" not in html


def test_long_table_cells_are_truncated():
    from oscar_jupyter.display.html import table
    html = table(["a"], [["y" * 100_000]])
    assert len(html) < 2_000 and "…" in html


def test_attribute_that_raises_while_dispatching():
    class Weird:
        @property
        def kind(self):
            raise RuntimeError("no")

    assert display.mimebundle(Weird())["text/plain"]


def test_plain_str_and_bytes():
    b = display.mimebundle("a <b>\nc")
    assert b["text/plain"] == "a <b>\nc" and "a &lt;b&gt;" in b["text/html"]
    b = display.mimebundle(b"\x00\x01binary")
    assert b["text/plain"].startswith("bytes: 8 B") and "00 01 62" in b["text/html"]
    b = display.mimebundle(encoded(photo(900, 600), "PNG"))
    assert len(embedded_images(b["text/html"])) == 1


def test_relative_box_coordinates_are_scaled_to_the_image():
    inp = Image.new("RGB", (400, 200), (255, 255, 255))
    result = DetectionResult([{"name": "a", "box": [0.25, 0.25, 0.75, 0.75]}], input=inp)
    bundle = display.mimebundle(result)
    (_m, drawn), = embedded_images(bundle["text/html"])
    drawn = drawn.convert("RGB")
    assert max(abs(a - b) for a, b in zip(drawn.getpixel((200, 150)), boxes_mod.PALETTE[0])) < 40
    assert all(c > 230 for c in drawn.getpixel((200, 100)))
    assert "[100, 50, 300, 150]" in bundle["text/plain"]


def test_hostile_text_is_escaped_in_every_renderer():
    """Names, labels, keys, log lines and messages from a cluster are data, never markup."""
    from oscar_jupyter.display.listings import render_cluster, render_objects, render_service

    class Svc:
        name = HOSTILE
        spec = {"name": HOSTILE, "image": HOSTILE, "cpu": HOSTILE, "memory": "1Gi",
                "input": [{"storage_provider": "minio.default", "path": HOSTILE}],
                "visibility": HOSTILE, "log_level": HOSTILE, "token": "t0ken-value-1234",
                "expose": {"api_port": HOSTILE}}

    class Cl:
        id = HOSTILE
        endpoint = HOSTILE
        user = HOSTILE

    jobs = [{"name": HOSTILE, "status": HOSTILE, "creation_time": HOSTILE}]
    objects = [{"key": HOSTILE, "size": 3}]
    failed = BatchItem(input=HOSTILE, name=HOSTILE, error=errors.ServiceFailed(HOSTILE, log=HOSTILE))
    shown = [
        display.mimebundle(Svc()), display.mimebundle([Svc(), Svc()]),
        display.mimebundle(Cl()), display.mimebundle({HOSTILE: HOSTILE, "password": "pw-9876"}),
        display.mimebundle({"nested": {HOSTILE: [HOSTILE]}}),
        display.mimebundle(TextResult(HOSTILE, log=HOSTILE)),
        display.mimebundle(PredictionResult({"labels": [HOSTILE], "probabilities": [0.5]})),
        display.mimebundle(JSONResult({HOSTILE: HOSTILE})),
        display.mimebundle(BatchResult([failed, BatchItem(input=HOSTILE, name=HOSTILE,
                                                          result=TextResult(HOSTILE))])),
        display.mimebundle(HOSTILE),
    ]
    render_jobs(jobs), render_objects(objects), render_service(Svc()), render_cluster(Cl())
    for html in [b.get("text/html", "") for b in shown] + [
            render_jobs(jobs)[1], render_objects(objects)[1], render_service(Svc())[1],
            render_cluster(Cl())[1]]:
        assert "<script" not in html and "<img src=x" not in html, html[:300]
    assert all("t0ken-value-1234" not in json.dumps(b) for b in shown)
    assert "pw-9876" not in json.dumps(shown[3])


def test_delegation_headers_are_masked():
    doc = {"name": "s", "replicas": [{"type": "endpoint", "url": "https://x",
                                      "headers": {"Authorization": "Bearer hdr-secret-1"}}],
           "federation": {"members": [{"headers": {"X-Key": "hdr-secret-2"}}]}}
    flat = json.dumps(masked(doc))
    assert "hdr-secret-1" not in flat and "hdr-secret-2" not in flat and "https://x" in flat


def test_cluster_endpoint_with_a_password_in_the_url_is_masked():
    class Cluster:
        id = "c1"
        endpoint = "https://oscar:url-pass-77@oscar.example/"
        user = "oscar"

    bundle = display.mimebundle(Cluster())
    flat = json.dumps(bundle)
    assert "url-pass-77" not in flat and "oscar:***@oscar.example" in bundle["text/plain"]


def test_counts_in_titles_are_singular_for_one():
    from oscar_jupyter.display.listings import render_objects, render_services

    assert "1 service" in render_services([{"name": "a", "image": "i"}])[1]
    assert "1 services" not in render_services([{"name": "a", "image": "i"}])[1]
    assert "2 services" in render_services([{"name": "a"}, {"name": "b"}])[1]
    text, html = render_jobs([{"name": "svc-1", "status": "Failed"}])
    assert text.startswith("1 job (1 Failed)") and "1 jobs" not in html
    assert "1 object" in render_objects([{"key": "k", "size": 3}])[1]
    assert "1 objects" not in render_objects([{"key": "k", "size": 3}])[1]
    gallery = display.mimebundle(FilesResult({"a.png": ImageResult(encoded(photo(60, 40), "PNG"))}))
    assert "1 file (1 image)" in gallery["text/html"] and "1 files" not in gallery["text/plain"]


def test_jobs_table_keeps_names_and_times_on_one_line():
    jobs = [{"name": "thumbnail-0d4b3a5e-b47b-474b-89aa-c9c649e1dd20", "status": "Succeeded",
             "creation_time": "2026-11-24T23:30:34Z", "start_time": "2026-11-24T23:30:34Z",
             "finish_time": "2026-11-24T23:30:34Z"}]
    html = render_jobs(jobs)[1]
    cells = re.findall(r"<td style=\"([^\"]*)\">([^<]*)<", html)
    # the date is written once, in 'created'; started and finished the same day give the time
    assert [text for _s, text in cells][2:5] == ["2026-11-24 23:30:34", "23:30:34", "23:30:34"]
    for wanted in ("thumbnail-0d4b3a5e-b47b-474b-89aa-c9c649e1dd20", "2026-11-24 23:30:34", "23:30:34",
                   "< 1 s"):
        styles = [style for style, text in cells if text == wanted.replace("<", "&lt;")]
        assert styles and all("white-space:nowrap" in s for s in styles), wanted


def test_job_times_on_another_day_than_creation_keep_their_date():
    jobs = [{"name": "j", "status": "Succeeded", "creation_time": "2026-11-24T23:59:59Z",
             "start_time": "2026-11-25T00:00:01Z", "finish_time": "2026-11-25T00:00:03Z"}]
    text = render_jobs(jobs)[0]
    assert "2026-11-24 23:59:59" in text and "2026-11-25 00:00:01" in text and "2.00 s" in text


def test_async_items_with_whole_second_job_times_are_not_zero_ms():
    done = BatchItem(input="tile-0.jpg", result=TextResult("ok"), elapsed=0.0, name="tile-0.jpg",
                     job="thumbnail-1")
    synchronous = BatchItem(input="x", result=TextResult("ok"), elapsed=0.0004, name="x")
    bundle = display.mimebundle(BatchResult([done, synchronous], elapsed=0.7))
    html, text = bundle["text/html"], bundle["text/plain"]
    assert "< 1 s" in text and "&lt; 1 s" in html
    assert "0 ms" in html  # a real sub-millisecond call still shows its time
    assert html.count("&lt; 1 s") == 1


def test_failed_item_shows_why_at_a_glance_and_the_log_collapsed():
    log = ("2026-11-24 23:30:34,429 - supervisor - INFO - Storage event found.\n"
           "thumbnail of notes.txt\nTraceback (most recent call last):\n"
           '  File "<stdin>", line 3, in <module>\n'
           "PIL.UnidentifiedImageError: cannot identify image file 'notes.txt'\n")
    bad = BatchItem(input="notes.txt", name="notes.txt", job="thumbnail-1", elapsed=0.0,
                    error=errors.ServiceFailed("notes.txt: job thumbnail-1 failed.", log=log,
                                               hint="Read .log on this error for the job's output."))
    bundle = display.mimebundle(BatchResult([bad]))
    html, text = bundle["text/html"], bundle["text/plain"]
    cause = "PIL.UnidentifiedImageError: cannot identify image file &#x27;notes.txt&#x27;"
    # the cause is visible before (outside) the collapsed log
    assert cause in html.split("<details", 1)[0]
    assert "log (5 lines)" in html and "Read .log" not in html
    assert "notes.txt: job thumbnail-1 failed." in html
    assert "UnidentifiedImageError" in text and "✗" in text


def test_cause_line_picks_the_error_not_the_last_supervisor_line():
    from oscar_jupyter.errors import cause_line

    assert cause_line("a\nValueError: bad\n") == "ValueError: bad"
    assert cause_line("x - INFO - start\nsh: 1: convert: not found\nx - INFO - Creating response\n") \
        == "sh: 1: convert: not found"
    assert cause_line("only output\nlast words\n") == "last words"
    assert cause_line("\n\n") == ""


def test_bar_chart_label_column_fits_the_labels():
    from oscar_jupyter.display.charts import bar_chart

    short = bar_chart([("red", 0.7), ("grey", 0.3)])
    assert "width:4ch" in short
    long = bar_chart([("a" * 50, 1.0)])
    assert "width:20ch" in long and 'title="' + "a" * 50 in long


def test_detection_table_most_confident_first_with_box_colour_swatches():
    inp = Image.new("RGB", (320, 220), "white")
    value = [{"name": "red ellipse", "confidence": 0.5, "box": {"x1": 150, "y1": 20, "x2": 291, "y2": 121}},
             {"name": "no score", "box": {"x1": 1, "y1": 1, "x2": 9, "y2": 9}},
             {"name": "blue rectangle", "confidence": 0.98, "box": {"x1": 20, "y1": 30, "x2": 121, "y2": 111}}]
    bundle = display.mimebundle(DetectionResult(value, input=inp))
    html, text = bundle["text/html"], bundle["text/plain"]
    table = html[html.index("<table"):]
    assert table.index("blue rectangle") < table.index("red ellipse") < table.index("no score")
    assert text.index("blue rectangle") < text.index("red ellipse") < text.index("no score")
    labels = sorted(["red ellipse", "no score", "blue rectangle"])
    r, g, b = boxes_mod.color_for("blue rectangle", labels)
    swatch = f"background:rgb({r},{g},{b})\"></span>blue rectangle"
    assert swatch in table
    one = display.mimebundle(DetectionResult(value[:1], input=inp))
    assert "1 detection ·" in one["text/html"] and "1 detections" not in one["text/plain"]


def test_applied_services_show_the_warnings_of_their_definitions():
    from oscar_jupyter import display
    from oscar_jupyter.service import ServiceList
    from oscar_jupyter.spec import Problem
    warning = Problem(("functions", "oscar", 0, "c", "memroy"), "unknown field, ignored by oscar-cli "
                      "and OSCAR (not a field of a service)", suggestion="memory", severity="warning",
                      line=7, column=7)
    applied = ServiceList([], warnings=[warning])
    bundle = display.mimebundle(applied)
    assert "warning: line 7, column 7: functions.oscar[0].c.memroy: unknown field" in bundle["text/plain"]
    assert "did you mean &#x27;memory&#x27;?" in bundle["text/html"] or \
        "did you mean &#39;memory&#39;?" in bundle["text/html"]
    assert "warning" not in display.mimebundle(ServiceList([]))["text/plain"]


def test_a_service_shows_its_volume_and_its_state():
    from oscar_jupyter.display.listings import render_service

    spec = {"name": "cached", "image": "alpine",
            "volume": {"name": "cache", "size": "1Gi", "mount_path": "/data", "lifecycle_policy": "retain"},
            "volume_status": {"enabled": True, "name": "cache", "phase": "in_use"}}
    text, html = render_service(spec)
    assert "volume: cache (1Gi, retain) at /data: in_use" in text and "cache (1Gi, retain) at /data" in html
    spec["volume"] = {"name": "shared", "mount_path": "/d"}
    spec["volume_status"] = {"enabled": True, "name": "shared", "phase": "error",
                             "error": 'persistentvolumeclaims "shared" not found'}
    assert 'volume: shared at /d: error (persistentvolumeclaims "shared" not found)' in render_service(spec)[0]
    assert "volume" not in render_service({"name": "plain", "image": "alpine"})[0]
