"""results: accessors, save(), batch bookkeeping, display delegation."""
from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image

from oscar_jupyter import errors
from oscar_jupyter.results import (ArrayResult, BatchItem, BatchResult, DetectionResult, FilesResult,
                                   ImageResult, JSONResult, PredictionResult, TextResult)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (6, 2), "green").save(out, format="PNG")
    return out.getvalue()


def test_image_result_save_keeps_original_bytes(tmp_path):
    result = ImageResult(_png(), elapsed=0.5, input="x")
    assert result.format == "PNG" and result.size == (6, 2) and result.extension == ".png"
    path = result.save(tmp_path)
    assert path.name == "result.png" and path.read_bytes() == result.raw
    assert "PNG 6x2" in repr(result) and "0.50s" in repr(result)


def test_prediction_sorted_best_first_and_top():
    result = PredictionResult({"labels": ["a", "b", "c"], "probabilities": [0.2, 0.5, 0.3]})
    assert result.labels == ["b", "c", "a"]
    assert result.top(1) == [("b", 0.5)]
    assert PredictionResult.find_prediction({"labels": ["a"], "probabilities": ["x"]}) is None


def test_detection_boxes_from_several_shapes():
    value = {"detections": [{"class": "car", "probability": "0.8",
                             "bounding_box": {"x1": 0, "y1": 0, "width": 10, "height": 5}}]}
    [box] = DetectionResult(value).boxes
    assert (box.name, box.confidence, box.x2, box.y2) == ("car", 0.8, 10.0, 5.0)
    assert DetectionResult.find_boxes([{"no": "box"}]) is None


def test_json_and_text_save(tmp_path):
    js = JSONResult({"a": "é"})
    assert json.loads(js.save(tmp_path / "o.json").read_text("utf-8")) == {"a": "é"}
    assert js["a"] == "é"
    txt = TextResult("line ✓\n")
    assert txt.save(tmp_path / "o.txt").read_text("utf-8") == "line ✓\n"
    assert str(txt) == "line ✓\n"


def test_array_result():
    buf = io.BytesIO()
    np.save(buf, np.eye(2))
    result = ArrayResult(buf.getvalue())
    assert result.array.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert "float64 (2, 2)" in repr(result)


def test_files_result_mapping_and_save(tmp_path):
    files = FilesResult({"a.txt": TextResult("A"), "sub/b.png": ImageResult(_png())})
    assert len(files) == 2 and list(files) == ["a.txt", "sub/b.png"]
    folder = files.save(tmp_path / "out")
    assert (folder / "a.txt").read_text() == "A"
    assert (folder / "sub" / "b.png").read_bytes().startswith(b"\x89PNG")


def test_batch_result_keeps_order_and_failures(tmp_path):
    failure = errors.ServiceFailed("boom", log="trace")
    batch = BatchResult([BatchItem(input=1, result=TextResult("one"), name="a.txt"),
                         BatchItem(input=2, error=failure),
                         BatchItem(input=3)], elapsed=1.5)
    assert [i.status for i in batch] == ["ok", "failed", "pending"]
    assert batch.results[0].text == "one" and batch.results[1] is None
    assert batch.errors[0].error is failure and not batch.ok
    assert "3 items, 2 ok, 1 failed" in repr(batch)
    batch.save(tmp_path / "b")
    assert (tmp_path / "b" / "a.txt").read_text() == "one"
    try:
        batch.raise_for_errors()
    except errors.ServiceFailed as exc:
        assert exc.log == "trace"
    else:
        raise AssertionError("raise_for_errors did not raise")


def test_results_render_through_display():
    bundle = ImageResult(_png())._repr_mimebundle_()
    assert "text/plain" in bundle and len(bundle) > 1
    bundle = PredictionResult({"labels": ["x"], "probabilities": [1.0]})._repr_mimebundle_(
        include=["text/plain"])
    assert list(bundle) == ["text/plain"]


def test_batch_save_keeps_relative_names_inside_the_folder(tmp_path):
    batch = BatchResult([BatchItem(input=1, result=TextResult("deep"), name="nested/deep.txt"),
                         BatchItem(input=2, result=TextResult("up"), name="../../escape.txt")])
    batch.save(tmp_path / "out")
    assert (tmp_path / "out" / "nested" / "deep.txt").read_text() == "deep"
    assert (tmp_path / "out" / "escape.txt").read_text() == "up"
    assert not (tmp_path / "escape.txt").exists()


def test_prediction_as_a_list_of_label_probability_entries():
    value = {"status": "OK", "predictions": [{"label": "cat", "probability": 0.2},
                                            {"label": "dog", "probability": 0.8}]}
    result = PredictionResult(value)
    assert result.labels == ["dog", "cat"] and result.probabilities == [0.8, 0.2]
    from oscar_jupyter import codecs
    assert isinstance(codecs.decode(json.dumps(value).encode()), PredictionResult)
    boxes = [{"label": "cat", "score": 0.9, "bbox": [1, 2, 3, 4]}]
    assert isinstance(codecs.decode(json.dumps(boxes).encode()), DetectionResult)


def test_batch_save_never_overwrites_one_item_with_another(tmp_path):
    batch = BatchResult([BatchItem(input=1, result=TextResult("from png"), name="a.png"),
                         BatchItem(input=2, result=TextResult("from jpg"), name="a.jpg"),
                         BatchItem(input=3, result=TextResult("upper"), name="A.gif")])
    batch.save(tmp_path / "out")
    texts = sorted(p.read_text() for p in (tmp_path / "out").iterdir())
    assert texts == ["from jpg", "from png", "upper"]


def test_files_result_refuses_names_outside_its_folder_as_bad_input(tmp_path):
    import pytest
    with pytest.raises(errors.InvalidInput, match="outside"):
        FilesResult({"../x.txt": TextResult("x")}).save(tmp_path / "f")


def test_a_batch_item_repr_is_short_whatever_its_input():
    item = BatchItem(input=b"\x00" * 1_000_000, result=TextResult("done"), name="big.bin", job="svc-1")
    text = repr(item)
    assert len(text) < 300 and "'big.bin'" in text and "ok" in text and "svc-1" in text
    failed = BatchItem(input="x", error=errors.ServiceFailed("boom", log="L" * 10_000))
    assert "ServiceFailed: boom" in repr(failed) and len(repr(failed)) < 300
