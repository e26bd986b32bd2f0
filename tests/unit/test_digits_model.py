"""The digits model of the tutorials: it trains offline, predicts held-out digits, caches its
weights once, serves the DEEPaaS v2 shapes, and its FDL script is generated from its source."""
from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

HERE = Path(__file__).resolve().parents[2] / "notebooks" / "models" / "digits"
sys.path.insert(0, str(HERE))
import digits  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return digits.load_or_train(str(tmp_path_factory.mktemp("digits")))


@pytest.fixture(scope="module")
def held_out():
    from sklearn.datasets import load_digits
    data = load_digits()
    return data.data[-digits.HELD_OUT:], data.target[-digits.HELD_OUT:]


def test_trains_offline_and_classifies_unseen_digits(model, held_out):
    assert model.source == "trained"
    pixels, labels = held_out
    right = sum(model.predict(digits.read_image(digits.png(digits.dataset_image(x))), 1)["labels"][0]
                == str(y) for x, y in zip(pixels, labels))
    assert right / len(labels) >= 0.85, right / len(labels)
    assert abs(model.accuracy - right / len(labels)) < 0.02  # the figure it reports is what it does


def test_a_known_digit_in_any_picture_form(model, held_out):
    pixels, labels = held_out
    index = int(np.where(labels == 3)[0][0])
    small = digits.dataset_image(pixels[index], scale=4)
    big_rgb = digits.dataset_image(pixels[index], scale=30).convert("RGB")
    light_on_dark = Image.fromarray(255 - np.asarray(small))
    for picture in (small, big_rgb, light_on_dark):
        out = model.predict(picture, 3)
        assert out["labels"][0] == "3", out
        assert out["probabilities"] == sorted(out["probabilities"], reverse=True)
        assert 0.5 < out["probabilities"][0] <= 1.0


def test_blank_image_gives_valid_probabilities(model):
    out = model.predict(Image.new("L", (32, 32), 255))
    assert len(out["labels"]) == 10 and abs(sum(out["probabilities"]) - 1) < 1e-3


def test_weights_are_cached_and_loaded_without_training(tmp_path, model):
    first = digits.load_or_train(str(tmp_path))
    assert first.source == "trained" and (tmp_path / digits.WEIGHTS).is_file()
    again = digits.load_or_train(str(tmp_path))
    assert again.source == "cache"
    np.testing.assert_allclose(again.coef, first.coef)
    (tmp_path / digits.WEIGHTS).write_bytes(b"not an npz")  # a broken cache: train again
    assert digits.load_or_train(str(tmp_path)).source == "trained"


def test_script_is_generated_from_the_model_source(tmp_path):
    script = (HERE / "script.sh").read_text(encoding="utf-8")
    assert script == digits.SCRIPT_HEAD + (HERE / "digits.py").read_text(encoding="utf-8") + digits.SCRIPT_TAIL, \
        "script.sh is stale: run `python3 notebooks/models/digits/digits.py --write-script`"
    assert "\nPYTHON\n" not in (HERE / "digits.py").read_text(encoding="utf-8")  # the here-document's end


def test_script_classifies_an_input_file_as_an_invocation_would(tmp_path, held_out):
    pixels, labels = held_out
    image = tmp_path / "digit.png"
    image.write_bytes(digits.png(digits.dataset_image(pixels[0])))
    out = tmp_path / "out"
    out.mkdir()
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "INPUT_FILE_PATH": str(image),
           "TMP_OUTPUT_DIR": str(out), "DIGITS_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    subprocess.run(["/bin/sh", str(HERE / "script.sh")], env=env, cwd=tmp_path, check=True, timeout=300)
    answer = json.loads((out / "digit.json").read_text())
    assert answer["status"] == "OK" and answer["predictions"]["labels"][0] == str(labels[0])


def test_deepaas_v2_routes_and_shapes(model, held_out):
    from aiohttp.test_utils import TestClient, TestServer

    pixels, labels = held_out
    picture = digits.png(digits.dataset_image(pixels[5]))

    async def scenario():
        async with TestClient(TestServer(digits.make_app(model))) as client:
            listing = await (await client.get("/v2/models/")).json()
            assert [m["id"] for m in listing["models"]] == ["digits"]
            assert {"description", "author", "version", "license", "url", "links"} <= set(listing["models"][0])
            meta = await (await client.get("/v2/models/digits/")).json()
            assert meta["links"][0]["href"] == "/v2/models/digits"
            spec = await (await client.get("/swagger.json")).json()
            params = spec["paths"]["/v2/models/digits/predict/"]["post"]["parameters"]
            assert [(p["name"], p["in"]) for p in params] == [("data", "formData"), ("top_k", "query"),
                                                              ("accept", "header")]
            form = {"data": io.BytesIO(picture)}
            r = await client.post("/v2/models/digits/predict/?top_k=2", data=form)
            body = await r.json()
            assert r.status == 200 and body["status"] == "OK"
            assert body["predictions"]["labels"][0] == str(labels[5]) and len(body["predictions"]["labels"]) == 2
            r = await client.post("/v2/models/digits/predict/", data={"data": io.BytesIO(picture)},
                                  headers={"accept": "image/png"})
            assert r.content_type == "image/png" and (await r.read()).startswith(b"\x89PNG")
            r = await client.post("/v2/models/digits/predict/", data={"other": "x"})
            assert r.status == 422 and await r.json() == {"data": ["Missing data for required field."]}
            r = await client.post("/v2/models/digits/predict/", data={"data": io.BytesIO(b"<svg/>")})
            assert r.status == 400 and "message" in await r.json()
            r = await client.post("/v2/models/digits/predict/?top_k=11", data={"data": io.BytesIO(picture)})
            assert r.status == 422
            r = await client.get("/ui", allow_redirects=False)
            assert r.status == 302 and r.headers["Location"] == "api"  # relative: works below a prefix
            page = await (await client.get("/api")).text()
            assert "fetch('v2/models/digits/'" in page and "'/v2" not in page

    asyncio.run(scenario())
