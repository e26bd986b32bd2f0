"""Synchronous invocation against a real oscar-local: every data type in, every response kind out."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import oscar_jupyter as oj
from oscar_jupyter import codecs, errors
from oscar_jupyter.results import (ArrayResult, BytesResult, DetectionResult, FilesResult, ImageResult,
                                   JSONResult, PredictionResult, TextResult)

SCRIPTS = {
    # returns its input file unchanged: a round trip of what the script really received
    "echo": 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/out"',
    "png": """python3 - <<'PY'
import os
from PIL import Image
Image.open(os.environ["INPUT_FILE_PATH"]).convert("L").save(os.environ["TMP_OUTPUT_DIR"] + "/gray.png")
PY""",
    "predict": """echo "loading model..."
python3 -c 'import json; print(json.dumps({"status": "OK", "predictions": {"labels": ["cat", "dog"], "probabilities": [0.3, 0.7]}}))'""",
    "detect": """echo 'return: [{"name": "cat", "confidence": 0.9, "box": {"x1": 1, "y1": 2, "x2": 3, "y2": 4}}]'""",
    "zip": """cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/a.txt"
echo '{"n": 1}' > "$TMP_OUTPUT_DIR/b.json"
mkdir -p "$TMP_OUTPUT_DIR/sub" && printf 'three' > "$TMP_OUTPUT_DIR/sub/c.txt" """,
    "text": 'echo "Größe: $(wc -c < "$INPUT_FILE_PATH") bytes"',
    "npy": """python3 -c 'import numpy as np, os; np.save(os.environ["TMP_OUTPUT_DIR"] + "/x.npy", np.arange(6).reshape(2, 3))'""",
    "genpng": """python3 -c 'import os; from PIL import Image; Image.new("RGB", (2, 2)).save(os.environ["TMP_OUTPUT_DIR"] + "/g.png")'""",
    "fail": 'echo "about to fail"; echo "Traceback: bad input" >&2; exit 3',
    "slow": "sleep 4; echo late",
}


@pytest.fixture(scope="module")
def services(local_cluster):
    c = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password,
                   id="invoke-tests")
    prefix = "ti-" + __import__("uuid").uuid4().hex[:6]
    fdl = {"functions": {"oscar": [{"oscar-cluster": {"name": f"{prefix}-{k}", "image": "local/test",
                                                      "script": v, "log_level": "INFO"}}
                                   for k, v in SCRIPTS.items()]}}
    applied = c.apply(fdl)
    yield {k: c.service(f"{prefix}-{k}") for k in SCRIPTS}
    for svc in applied:
        c.delete(svc.name)
    oj.disconnect(c)


def _png(size=(8, 6)) -> Image.Image:
    return Image.new("RGB", size, (200, 30, 30))


def test_pil_image_in_png_out(services):
    image = _png()
    result = services["png"].run(image)
    assert isinstance(result, ImageResult) and result.image.mode == "L" and result.image.size == (8, 6)
    assert result.input is image and result.elapsed > 0
    assert "- supervisor - INFO - Creating response" in result.log  # log lines split from the payload


@pytest.mark.parametrize("data,kind,check", [
    (np.full((5, 7, 3), 9, np.uint8), ImageResult, lambda r: np.asarray(r.image).shape == (5, 7, 3)),
    (np.linspace(0, 1, 12).reshape(3, 4), ArrayResult, lambda r: r.array.shape == (3, 4)),
    (bytes(range(256)) * 4, BytesResult, lambda r: r.data == bytes(range(256)) * 4),
    ("héllo wörld ✓", TextResult, lambda r: r.text == "héllo wörld ✓"),
    ("abc", TextResult, lambda r: r.text == "abc"),
    ({"question": "¿qué?", "n": [1, 2]}, JSONResult, lambda r: r.value == {"question": "¿qué?", "n": [1, 2]}),
])
def test_data_types_round_trip(services, data, kind, check):
    result = services["echo"].run(data)
    assert isinstance(result, kind), result
    assert check(result)


def test_file_path_input(services, tmp_path):
    path = tmp_path / "photo.png"
    _png((3, 3)).save(path)
    for given in (path, str(path)):
        result = services["echo"].run(given)
        assert isinstance(result, ImageResult) and result.raw == path.read_bytes()


def test_oscar_files_envelope_reaches_the_script_as_json(services):
    envelope = codecs.oscar_files(_png((2, 2)), accept="image/png")
    result = services["echo"].run(envelope)
    assert isinstance(result, JSONResult)
    assert result.value["accept"] == "image/png" and result.value["oscar-files"][0]["file_format"] == "png"


def test_encoding_override(services):
    result = services["echo"].run(np.zeros((4, 4), np.uint8), encoding="npy")
    assert isinstance(result, ArrayResult) and result.array.dtype == np.uint8
    result = services["echo"].run(_png(), encoding="jpeg")
    assert isinstance(result, ImageResult) and result.format == "JPEG"


def test_prediction_after_script_prints(services):
    result = services["predict"].run({"x": 1})
    assert isinstance(result, PredictionResult) and result.labels == ["dog", "cat"]


def test_detection_from_return_line(services):
    result = services["detect"].run("x")
    assert isinstance(result, DetectionResult) and result.boxes[0].name == "cat"


def test_several_outputs_come_back_as_files(services, tmp_path):
    result = services["zip"].run("first")
    assert isinstance(result, FilesResult)
    assert set(result) == {"a.txt", "b.json", "sub/c.txt"}
    assert result["a.txt"].text == "first" and result["b.json"].value == {"n": 1}
    result.save(tmp_path / "out")
    assert (tmp_path / "out" / "sub" / "c.txt").read_text() == "three"


def test_text_output(services):
    result = services["text"].run("12345")
    assert isinstance(result, TextResult) and result.text.strip() == "Größe: 5 bytes"


def test_npy_output(services):
    result = services["npy"].run(b"x")
    assert isinstance(result, ArrayResult) and result.array.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_failing_script_raises_service_failed_with_log(services):
    with pytest.raises(errors.ServiceFailed) as info:
        services["fail"].run("x")
    assert info.value.exit_code == 3
    assert "about to fail" in info.value.log and "Traceback: bad input" in info.value.log


def test_client_timeout(services):
    with pytest.raises(errors.Timeout, match="did not answer within 1 s"):
        services["slow"].run("x", timeout=1)


def test_map_twenty_items_in_order_with_failures_kept(services):
    items = [f"item-{i}" for i in range(20)]
    batch = services["text"].map(items, concurrency=4, progress=True)
    assert len(batch) == 20 and batch.ok
    assert [r.text.strip() for r in batch.results] == [f"Größe: {len(s)} bytes" for s in items]
    assert all(item.elapsed and item.elapsed > 0 for item in batch)
    failing = services["fail"].map(["a", "b"], concurrency=2, progress=False)
    assert [i.status for i in failing] == ["failed", "failed"]
    assert isinstance(failing[0].error, errors.ServiceFailed)


def test_secrets_printed_by_a_script_are_redacted(local_cluster):
    c = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password,
                   id="secret-tests")
    name = "ts-" + __import__("uuid").uuid4().hex[:6]
    secret = "sup3r-" + __import__("uuid").uuid4().hex
    [svc] = c.apply({"name": name, "image": "x",
                     "script": 'echo "key=$API_KEY token=$OSCAR_SERVICE_TOKEN"; exit 1',
                     "environment": {"secrets": {"API_KEY": secret}}})
    try:
        with pytest.raises(errors.ServiceFailed) as info:
            svc.run("x")
        assert "key=***" in info.value.log and secret not in info.value.log
        assert svc.token not in info.value.log
        assert secret not in repr(svc) and secret not in str(svc._repr_mimebundle_())
    finally:
        c.delete(name)
        oj.disconnect(c)


def _inputs(tmp_path):
    path = tmp_path / "in.bin"
    path.write_bytes(b"\x00\x01 file")
    return {
        "pil": _png((3, 3)), "ndarray-image": np.zeros((3, 3, 3), np.uint8), "ndarray": np.ones(4),
        "bytes": b"\xff\x00raw", "str": "ünïcode ✓", "dict": {"k": ["é", 1]}, "path": path,
        "oscar-files": codecs.oscar_files(b"\x89PNG fake", file_format="png", extra=1),
    }


@pytest.mark.parametrize("kind,expected", [("genpng", ImageResult), ("predict", PredictionResult),
                                           ("zip", FilesResult), ("text", TextResult), ("npy", ArrayResult)])
def test_every_data_type_with_every_response_kind(services, tmp_path, kind, expected):
    for label, data in _inputs(tmp_path).items():
        result = services[kind].run(data)
        assert isinstance(result, expected), (label, result)
        assert result.input is data and result.elapsed > 0


# -- bad arguments, secrets, interrupted batches ------------------------------------------

@pytest.mark.parametrize("timeout", [0, -5, "10", True])
def test_a_timeout_that_is_not_a_positive_number_is_refused_before_calling(services, timeout):
    with pytest.raises(errors.InvalidInput, match="timeout must be a positive number"):
        services["echo"].run(b"x", timeout=timeout)
    with pytest.raises(errors.InvalidInput, match="timeout must be a positive number"):
        services["echo"].map([b"x"], timeout=timeout, progress=False)
    with pytest.raises(errors.InvalidInput, match="concurrency must be"):
        services["echo"].map([b"x"], concurrency=0, progress=False)


def test_secrets_are_blanked_in_the_log_and_in_failure_messages(local_cluster):
    c = oj.connect(local_cluster.endpoint, user=local_cluster.user, password=local_cluster.password,
                   id="invoke-secrets")
    name = "ts-" + __import__("uuid").uuid4().hex[:6]
    secret = "s3cr3t-" + __import__("uuid").uuid4().hex
    [svc] = c.apply({"name": name, "image": "x", "log_level": "DEBUG",
                     "environment": {"secrets": {"API_KEY": secret}},
                     "script": 'echo "key is $API_KEY"; echo "$OSCAR_SERVICE_TOKEN" > /dev/null'})
    try:
        result = svc.run(b"x")
        assert "key is" in result.log and secret not in result.log and "***" in result.log
        # a real cluster answers 200 with no exit status: failure seen in the output names it
        token = svc.token
        body = f"sh: 1: {token}: not found\n".encode()
        with pytest.raises(errors.ServiceFailed) as info:
            codecs.decode(body, service=name)
        assert token in str(info.value)  # what the decoder alone would show
        from oscar_jupyter.service import _redacted
        shown = _redacted(info.value, c)
        assert token not in str(shown) and token not in shown.log and "***" in str(shown)
    finally:
        c.delete(name, check_buckets=False)
        oj.disconnect(c)


def test_an_interrupted_map_stops_starting_calls_and_closes_its_bar(services, monkeypatch):
    """A KeyboardInterrupt (the notebook's stop button) during a batch: calls not yet
    started are dropped and the progress bar is closed."""
    import tqdm.auto
    bars = []
    real = tqdm.auto.tqdm

    def recording(*args, **kwargs):
        bars.append(real(*args, **kwargs))
        return bars[-1]

    monkeypatch.setattr(tqdm.auto, "tqdm", recording)
    svc = services["slow"]
    started = []
    original = svc.run

    def run(data, **kw):  # the interrupt arrives while the second call runs
        started.append(data)
        if len(started) == 2:
            raise KeyboardInterrupt
        return original(data, **kw)

    monkeypatch.setattr(svc, "run", run)
    with pytest.raises(KeyboardInterrupt):
        svc.map([b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h"], concurrency=2, progress=True)
    assert len(started) <= 3  # at most the one a free worker took before the stop
    assert len(bars) == 1 and bars[0].disable  # tqdm disables a bar when it is closed
