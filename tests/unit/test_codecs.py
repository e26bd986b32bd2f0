"""codecs: request bodies as faas-supervisor reads them; response bodies into Results."""
from __future__ import annotations

import base64
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from oscar_jupyter import codecs, errors
from oscar_jupyter.results import (ArrayResult, BytesResult, DetectionResult, FilesResult, ImageResult,
                                   JSONResult, PDFResult, PredictionResult, TextResult)

LOG = ("2025-01-10 10:00:00,123 - supervisor - INFO - SUPERVISOR: Initializing Binary supervisor\n"
       "2025-01-10 10:00:00,124 - supervisor - INFO - Creating response\n")


def png_bytes(size=(5, 4), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "red" if mode == "RGB" else 128).save(out, format="PNG")
    return out.getvalue()


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


# -- encoding --------------------------------------------------------------------------------

def test_dict_is_a_raw_json_body_not_form_encoded():
    enc = codecs.encode({"text": "héllo", "n": 3})
    assert enc.content_type == "application/json"
    assert json.loads(enc.body.decode("utf-8")) == {"text": "héllo", "n": 3}


def test_non_ascii_text_is_base64_of_utf8():
    enc = codecs.encode("naïve 日本語 ✓")
    assert enc.encoding == "base64"
    assert base64.b64decode(enc.body).decode("utf-8") == "naïve 日本語 ✓"


def test_pil_image_becomes_png():
    enc = codecs.encode(Image.new("RGB", (7, 3), "blue"))
    raw = base64.b64decode(enc.body)
    assert raw.startswith(b"\x89PNG") and Image.open(io.BytesIO(raw)).size == (7, 3)


@pytest.mark.parametrize("shape", [(4, 5), (4, 5, 3), (4, 5, 4)])
def test_uint8_image_arrays_become_png(shape):
    enc = codecs.encode(np.zeros(shape, dtype=np.uint8))
    assert enc.encoding == "png"
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(enc.body))))
    assert back.shape == shape


@pytest.mark.parametrize("array", [np.arange(10.0), np.zeros((2, 3, 5), np.uint8), np.zeros((4, 4), np.int32)])
def test_other_arrays_become_npy(array):
    enc = codecs.encode(array)
    assert enc.encoding == "npy"
    back = np.load(io.BytesIO(base64.b64decode(enc.body)))
    assert back.shape == array.shape and back.dtype == array.dtype


def test_array_encoding_can_be_forced():
    enc = codecs.encode(np.zeros((4, 4), np.uint8), encoding="npy")
    assert base64.b64decode(enc.body).startswith(b"\x93NUMPY")
    enc = codecs.encode(np.zeros((4, 4, 3), np.uint8), encoding="jpeg")
    assert base64.b64decode(enc.body).startswith(b"\xff\xd8\xff")


def test_bytes_and_files(tmp_path):
    assert base64.b64decode(codecs.encode(b"\x00\x01\xff").body) == b"\x00\x01\xff"
    f = tmp_path / "in.bin"
    f.write_bytes(b"\x00file")
    assert base64.b64decode(codecs.encode(f).body) == b"\x00file"
    assert base64.b64decode(codecs.encode(str(f)).body) == b"\x00file"  # str naming a file


def test_missing_path_object_is_an_error(tmp_path):
    with pytest.raises(errors.InvalidInput, match="No such file"):
        codecs.encode(tmp_path / "nope.png")


def test_none_is_an_empty_body():
    assert codecs.encode(None).body == b""
    assert codecs.encode(None, encoding="json").body == b"null"


def test_raw_and_json_text():
    assert codecs.encode(b'{"a": 1}', encoding="raw").body == b'{"a": 1}'
    assert codecs.encode('{"a": 1}', encoding="json").body == b'{"a": 1}'
    with pytest.raises(errors.InvalidInput, match="not JSON"):
        codecs.encode("not json", encoding="json")
    with pytest.raises(errors.InvalidInput, match="Unknown encoding"):
        codecs.encode(b"x", encoding="gzip")


def test_non_image_array_cannot_be_png():
    with pytest.raises(errors.InvalidInput, match="not an image"):
        codecs.encode(np.arange(5.0), encoding="png")


def test_oscar_files_envelope():
    env = codecs.oscar_files(Image.new("L", (3, 3)), accept="application/json")
    assert env["accept"] == "application/json"
    [entry] = env["oscar-files"]
    assert entry["key"] == "files" and entry["file_format"] == "png"
    assert base64.b64decode(entry["data"]).startswith(b"\x89PNG")
    enc = codecs.encode(env)
    assert enc.content_type == "application/json" and json.loads(enc.body)["oscar-files"][0]["key"] == "files"
    wrapped = json.loads(codecs.encode(b"abc", encoding="oscar-files").body)
    assert base64.b64decode(wrapped["oscar-files"][0]["data"]) == b"abc"


# -- decoding --------------------------------------------------------------------------------

def test_png_after_supervisor_log_lines():
    result = codecs.decode(LOG.encode() + b64(png_bytes()))
    assert isinstance(result, ImageResult) and result.image.size == (5, 4)
    assert "Creating response" in result.log


@pytest.mark.parametrize("fmt,magic", [("JPEG", b"\xff\xd8"), ("GIF", b"GIF8"), ("TIFF", b"II*")])
def test_other_image_kinds(fmt, magic):
    out = io.BytesIO()
    Image.new("RGB", (3, 3)).save(out, format=fmt)
    result = codecs.decode(b64(out.getvalue()))
    assert isinstance(result, ImageResult) and result.raw.startswith(magic)


def test_pdf_npy_json_text_bytes():
    assert isinstance(codecs.decode(b64(b"%PDF-1.4\n...")), PDFResult)
    buf = io.BytesIO()
    np.save(buf, np.arange(6).reshape(2, 3))
    arr = codecs.decode(b64(buf.getvalue()))
    assert isinstance(arr, ArrayResult) and arr.array.tolist() == [[0, 1, 2], [3, 4, 5]]
    js = codecs.decode(b64(b'{"x": [1, 2]}'))
    assert isinstance(js, JSONResult) and js.value == {"x": [1, 2]}
    txt = codecs.decode(b64("a text file ✓\nline 2\n".encode()))
    assert isinstance(txt, TextResult) and txt.text == "a text file ✓\nline 2\n"
    blob = bytes(range(256)) * 2
    assert isinstance(codecs.decode(b64(blob)), BytesResult)


def test_plain_stdout_is_text():
    for out in (b"hello world\n", b"done", b"test", b"1234", b"Completed\n", b"ab\ncd\n",
                "größe ✓\n".encode()):
        result = codecs.decode(out)
        assert isinstance(result, TextResult), out
        assert result.text == out.decode()


def test_short_single_output_file_is_decoded():
    assert codecs.decode(b"YWJj\n").text == "abc"  # base64 of a 3-byte text file


def test_zip_of_several_files():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("out/a.png", png_bytes())
        z.writestr("out/b.json", '{"k": 1}')
        z.writestr("c.txt", "hi")
    result = codecs.decode(LOG.encode() + b64(buf.getvalue()))
    assert isinstance(result, FilesResult)
    assert set(result) == {"out/a.png", "out/b.json", "c.txt"}
    assert isinstance(result["out/a.png"], ImageResult)
    assert result["out/b.json"].value == {"k": 1}


def test_zip_save_refuses_escaping_paths(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../evil.txt", "x")
    result = codecs.decode(b64(buf.getvalue()))
    with pytest.raises(ValueError):
        result.save(tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_deepaas_prediction_json():
    body = json.dumps({"status": "OK", "predictions": {"labels": ["cat", "dog", "fox"],
                                                        "probabilities": [0.1, 0.7, 0.2]}})
    result = codecs.decode(body.encode())
    assert isinstance(result, PredictionResult)
    assert result.labels[0] == "dog" and result.top(2) == [("dog", 0.7), ("fox", 0.2)]


def test_detections_with_boxes_after_prints():
    payload = [{"name": "cat", "confidence": 0.9, "box": {"x1": 1, "y1": 2, "x2": 30, "y2": 40}},
               {"label": "dog", "score": 0.5, "bbox": [5, 6, 7, 8]}]
    result = codecs.decode(LOG.encode() + b"loading model\n" + json.dumps(payload).encode())
    assert isinstance(result, DetectionResult)
    assert [(b.name, b.confidence, b.x2) for b in result.boxes] == [("cat", 0.9, 30.0), ("dog", 0.5, 7.0)]


def test_return_line_parsed_with_literal_eval_never_eval(tmp_path):
    body = b"model loaded\nreturn: {'labels': ['a', 'b'], 'probabilities': [0.25, 0.75]}\n"
    result = codecs.decode(body)
    assert isinstance(result, PredictionResult) and result.labels == ["b", "a"]
    marker = tmp_path / "pwned"
    hostile = f"return: __import__('os').system('touch {marker}')\n".encode()
    result = codecs.decode(hostile)
    assert isinstance(result, TextResult) and not marker.exists()


def test_exit_code_header_raises_service_failed_with_log():
    with pytest.raises(errors.ServiceFailed) as info:
        codecs.decode(LOG.encode() + b"boom: command not found\n", headers={"X-Oscar-Exit-Code": "127"},
                      service="svc")
    assert info.value.exit_code == 127 and "boom" in info.value.log
    assert "127" in str(info.value)
    assert info.value.cause == "boom: command not found" and "boom: command not found." in str(info.value)
    # empty header (never ran) or 0 is not a failure
    assert isinstance(codecs.decode(b"ok\n", headers={"X-Oscar-Exit-Code": "0"}), TextResult)
    assert isinstance(codecs.decode(b"ok\n", headers={"X-Oscar-Exit-Code": ""}), TextResult)


def test_supervisor_error_lines_mean_failure_on_a_real_cluster():
    body = (LOG + "2025-01-10 10:00:01,000 - supervisor - ERROR - Creating error response\n").encode()
    with pytest.raises(errors.ServiceFailed, match="reported an error"):
        codecs.decode(body)


def test_sniff_kinds():
    assert codecs.sniff(png_bytes()) == "png"
    assert codecs.sniff(b"PK\x03\x04rest") == "zip"
    assert codecs.sniff(b"[1, 2]") == "json"
    assert codecs.sniff(b"plain") == "text"
    assert codecs.sniff(b"\x00\x01\x02") == "bytes"


def test_trailing_supervisor_lines_are_log_too():
    tail = "2025-01-10 10:00:02,000 - supervisor - INFO - Finished\n"
    result = codecs.decode(LOG.encode() + b64(png_bytes()) + b"\n" + tail.encode())
    assert isinstance(result, ImageResult) and result.log.endswith(tail)


@pytest.mark.parametrize("output,failed", [
    ("/tmp/x/script.sh: 1: deepaas-cli: not found\n", True),             # dash
    ("script.sh: line 3: foo: command not found\n", True),                # bash
    ("sh: 2: Syntax error: \"(\" unexpected\n", True),
    ("Traceback (most recent call last):\n  File \"x\"\nValueError: no\n", True),
    ("the word Traceback alone is fine\n", False),
    ("file not found: that is our answer\n", False),
])
def test_failure_shown_in_output_without_an_exit_code(output, failed):
    if failed:
        with pytest.raises(errors.ServiceFailed):
            codecs.decode(output.encode())
    else:
        assert isinstance(codecs.decode(output.encode()), TextResult)
    # oscar-local's exit-code header is authoritative: status 0 means it worked
    assert isinstance(codecs.decode(output.encode(), headers={"X-Oscar-Exit-Code": "0"}), TextResult)


def test_zip_bomb_is_kept_as_bytes(monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.txt", b"0" * 200_000)
    monkeypatch.setattr(codecs, "MAX_UNZIPPED", 100_000)
    result = codecs.decode(b64(buf.getvalue()))
    assert isinstance(result, BytesResult) and result.raw == buf.getvalue()


def _zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_zip_of_zips_shares_one_unzip_budget(monkeypatch):
    # each inner zip alone unpacks under the limit; together (and with the outer level) they do not
    inner = _zip_of({"part.txt": b"0" * 40_000})
    outer = _zip_of({f"inner{i}.zip": inner for i in range(4)})
    monkeypatch.setattr(codecs, "MAX_UNZIPPED", 100_000)
    result = codecs.decode(b64(outer))
    assert isinstance(result, FilesResult)
    kinds = [type(r).__name__ for r in result.files.values()]
    unpacked = sum(1 for r in result.files.values() if isinstance(r, FilesResult))
    # the outer level costs ~4 small zips; at most two inner 40 kB zips then fit in 100 kB
    assert unpacked <= 2 and "BytesResult" in kinds, kinds


def test_zips_nested_past_the_depth_limit_stay_bytes():
    data = b"leaf"
    for _ in range(codecs.MAX_ZIP_DEPTH + 2):
        data = _zip_of({"next.zip" if data[:2] == b"PK" else "leaf.txt": data})
    result = codecs.decode(b64(data))
    depth = 0
    while isinstance(result, FilesResult):
        [result] = result.files.values()
        depth += 1
    assert depth == codecs.MAX_ZIP_DEPTH and isinstance(result, BytesResult)


def test_log_lines_around_a_large_base64_answer_are_split_off():
    png = io.BytesIO()
    Image.new("RGB", (300, 300), "red").save(png, format="PNG")
    head = b"2025-01-10 10:00:00,123 - supervisor - INFO - Script file created\n\n"
    tail = b"\n2025-01-10 10:00:01,456 - supervisor - INFO - Creating response\n"
    result = codecs.decode(head + b64(png.getvalue()) + tail)
    assert isinstance(result, ImageResult) and result.image.size == (300, 300)
    assert "Script file created" in result.log and "Creating response" in result.log
    # a binary answer is kept whole, even with newlines inside it
    raw = bytes(range(256)) * 8 + b"\n2025-01-10 10:00:01,456 -"
    assert codecs.decode(raw).raw == raw
