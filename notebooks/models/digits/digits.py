"""A handwritten-digit classifier served with the DEEPaaS v2 API, fully offline.

Trained on scikit-learn's digits (8x8 images that ship with scikit-learn) at
start-up, or loaded from the weights a previous start cached in the working
directory (``digits-weights.npz``; ``DIGITS_CACHE_DIR`` moves it). Weights are
numbers in an ``.npz`` read with ``allow_pickle=False``; predicting needs only
numpy and Pillow.

    python3 digits.py serve [--port 5000]   # DEEPaaS v2 API (+ a web UI at /api)
    python3 digits.py predict IMAGE [--output DIR] [--top-k 10]
    python3 digits.py --write-script        # regenerate script.sh from this file

The routes and JSON shapes are DEEPaaS v2's (deepaas 2.6): ``GET /`` (versions),
``GET /v2/``, ``GET /v2/models/``, ``GET /v2/models/digits/``,
``POST /v2/models/digits/predict/`` (multipart file ``data``, query ``top_k``,
header ``accept``: ``application/json`` or ``image/png``), ``GET /swagger.json``;
a missing argument gets 422 ``{field: ["Missing data for required field."]}``.
Every link the web UI uses is relative, so it works below any path prefix
(``/system/services/<name>/exposed/``) and through jupyter-server-proxy.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time

# one BLAS/OpenMP thread: several threads per replica on a small, shared machine made
# training take minutes instead of a second
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

MODEL = "digits"
CLASSES = [str(d) for d in range(10)]
#: the dataset's last images are never trained on: they measure the model
HELD_OUT = 297
WEIGHTS = "digits-weights.npz"
METADATA = {
    "description": "Handwritten digit classifier (multinomial logistic regression on 8x8 images), "
                   "trained at start-up on scikit-learn's digits data set.",
    "author": "oscar-jupyter",
    "version": "1.0.0",
    "license": "Apache 2.0",
    "url": "https://scikit-learn.org/stable/datasets/toy_dataset.html#digits-dataset",
}
MAX_UPLOAD = 16 * 1024 * 1024
Image.MAX_IMAGE_PIXELS = 40_000_000  # refuse decompression bombs early


# -- the model ---------------------------------------------------------------------------------

def to_features(image: Image.Image) -> np.ndarray:
    """64 values in 0..16 like the data set's: light-on-dark, the ink's bounding box centred
    in a square with a margin, averaged down to 8x8."""
    gray = np.asarray(image.convert("L"), dtype=np.float64)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 127:  # dark ink on a light background: make the ink bright
        gray = 255.0 - gray
    gray = gray - np.median(border if np.median(border) <= 127 else 255.0 - border)
    gray = np.clip(gray, 0, None)
    if gray.max() <= 0:
        return np.zeros(64)
    rows = np.where(gray.max(axis=1) > gray.max() * 0.2)[0]
    cols = np.where(gray.max(axis=0) > gray.max() * 0.2)[0]
    crop = gray[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    side = int(max(crop.shape) * 1.25) + 1
    canvas = np.zeros((side, side))
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    canvas[top:top + crop.shape[0], left:left + crop.shape[1]] = crop
    small = Image.fromarray(canvas.astype(np.float32), mode="F").resize((8, 8), Image.Resampling.BOX)
    values = np.asarray(small, dtype=np.float64)
    return (values / values.max() * 16.0).reshape(64) if values.max() > 0 else values.reshape(64)


def dataset_image(pixels: np.ndarray, scale: int = 8) -> Image.Image:
    """A data-set sample (64 values in 0..16) as a dark-on-light grayscale picture."""
    grid = (255 - pixels.reshape(8, 8) / 16.0 * 255).astype(np.uint8)
    return Image.fromarray(grid, mode="L").resize((8 * scale, 8 * scale), Image.Resampling.NEAREST)


class Model:
    """Softmax over 10 classes: probabilities = softmax(x @ coef.T + intercept)."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, accuracy: float, source: str,
                 seconds: float) -> None:
        self.coef, self.intercept = coef, intercept
        self.accuracy, self.source, self.seconds = accuracy, source, seconds

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        scores = features @ self.coef.T + self.intercept
        scores = scores - scores.max()
        exp = np.exp(scores)
        return exp / exp.sum()

    def predict(self, image: Image.Image, top_k: int = 10) -> dict:
        probs = self.probabilities(to_features(image))
        order = np.argsort(-probs)[:top_k]
        return {"labels": [CLASSES[i] for i in order],
                "probabilities": [round(float(probs[i]), 6) for i in order]}


def train() -> Model:
    """Fit on the data set's images as a user would send them (the same preprocessing)."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    data = load_digits()
    features = np.stack([to_features(dataset_image(x)) for x in data.data])
    fit_x, fit_y = features[:-HELD_OUT], data.target[:-HELD_OUT]
    clf = LogisticRegression(max_iter=3000, C=0.5)
    clf.fit(fit_x, fit_y)
    accuracy = float((clf.predict(features[-HELD_OUT:]) == data.target[-HELD_OUT:]).mean())
    return Model(clf.coef_.copy(), clf.intercept_.copy(), accuracy, "trained", time.perf_counter() - start)


def load_or_train(cache_dir: str) -> Model:
    """The cached weights in `cache_dir`, else a model trained now and cached there."""
    path = os.path.join(cache_dir, WEIGHTS)
    start = time.perf_counter()
    try:
        with np.load(path, allow_pickle=False) as saved:
            model = Model(saved["coef"], saved["intercept"], float(saved["accuracy"]), "cache", 0.0)
        model.seconds = time.perf_counter() - start
        return model
    except (OSError, KeyError, ValueError):
        pass
    model = train()
    try:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp.npz"
        np.savez(tmp, coef=model.coef, intercept=model.intercept, accuracy=model.accuracy)
        os.replace(tmp, path)
    except OSError as exc:
        print(f"digits: could not cache the weights in {cache_dir}: {exc}", flush=True)
    return model


def read_image(raw: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(raw))
    image.load()
    return image


def seen_image(image: Image.Image, scale: int = 16) -> bytes:
    """PNG of the 8x8 picture the model classifies (what ``accept: image/png`` answers)."""
    return png(dataset_image(to_features(image), scale))


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# -- the DEEPaaS v2 API --------------------------------------------------------------------------

ACCEPT = ["application/json", "image/png", "*/*"]


def swagger() -> dict:
    model_meta = {"responses": {"200": {"schema": {"$ref": "#/definitions/ModelMeta"}, "description": ""}},
                  "parameters": [], "tags": ["models"], "produces": ["application/json"]}
    return {
        "swagger": "2.0",
        "info": {"title": "DEEP as a Service API endpoint", "version": "2.6.0",
                 "description": "The digits model behind the DEEPaaS v2 API."},
        "paths": {
            "/v2/": {"get": {"summary": "Get V2 API version information", "tags": ["versions"],
                             "parameters": [], "produces": ["application/json"],
                             "responses": {"200": {"schema": {"$ref": "#/definitions/Version"},
                                                   "description": ""}}}},
            "/v2/models/": {"get": dict(model_meta, summary="Return loaded models and its information")},
            f"/v2/models/{MODEL}/": {"get": dict(model_meta, summary="Return model's metadata")},
            f"/v2/models/{MODEL}/predict/": {"post": {
                "summary": "Make a prediction given the input data", "tags": ["models"],
                "produces": ACCEPT,
                "parameters": [
                    {"in": "formData", "name": "data", "required": True, "type": "file",
                     "description": "An image of one handwritten digit (PNG, JPEG...)."},
                    {"in": "query", "name": "top_k", "required": False, "type": "integer",
                     "format": "int32", "default": 10,
                     "description": "How many of the most probable digits to return (1-10)."},
                    {"in": "header", "name": "accept", "required": False, "type": "string",
                     "default": "application/json", "enum": ACCEPT,
                     "description": "Media type(s) that is/are acceptable for the response."},
                ],
                "responses": {"200": {"schema": {"$ref": "#/definitions/ModelPredictionResponse"},
                                      "description": ""},
                              "400": {"schema": {"$ref": "#/definitions/Failure"}, "description": ""}}}},
        },
        "definitions": {
            "Failure": {"type": "object", "properties": {"message": {"type": "string"}},
                        "required": ["message"]},
            "ModelMeta": {"type": "object", "required": ["description", "id", "name"],
                          "properties": {k: {"type": "string"} for k in
                                         ("id", "name", "description", "license", "author", "version", "url")}},
            "ModelPredictionResponse": {"type": "object", "properties": {
                "status": {"type": "string"}, "predictions": {"type": "object"}}},
            "Version": {"type": "object", "properties": {"version": {"type": "string"},
                                                         "id": {"type": "string"}}},
        },
    }


def make_app(model: Model):
    from aiohttp import web

    loads = {"count": 1}

    def meta(request: "web.Request", href: str) -> dict:
        m = {"id": MODEL, "name": MODEL, "links": [{"rel": "self", "href": href}]}
        m.update(METADATA)
        m["weights"] = {"source": model.source, "seconds": round(model.seconds, 3),
                        "held_out_accuracy": round(model.accuracy, 4), "loads": loads["count"]}
        return m

    def version() -> dict:
        return {"version": "stable", "id": "v2",
                "links": [{"rel": "self", "type": "application/json", "href": "/v2"}]}

    async def root(request):
        return web.json_response({"versions": [version()]})

    async def v2(request):
        return web.json_response(version())

    async def models(request):
        return web.json_response({"models": [meta(request, f"/v2/models/{MODEL}")]})

    async def model_meta(request):
        return web.json_response(meta(request, request.path.rstrip("/")))

    def failure(status: int, body: dict):
        return web.json_response(body, status=status)

    async def predict(request):
        accept = request.headers.get("accept", "application/json").split(",")[0].strip() or "application/json"
        if accept not in ACCEPT:
            return failure(422, {"accept": [f"Must be one of: {', '.join(ACCEPT)}."]})
        top = request.query.get("top_k", "10")
        try:
            top_k = int(top)
            if not 1 <= top_k <= 10:
                raise ValueError
        except ValueError:
            return failure(422, {"top_k": ["Not a valid integer between 1 and 10."]})
        if not request.content_type.startswith("multipart/"):
            return failure(422, {"data": ["Missing data for required field."]})
        form = await request.post()
        field = form.get("data")
        if field is None or not hasattr(field, "file"):
            return failure(422, {"data": ["Missing data for required field."]})
        try:
            image = read_image(field.file.read(MAX_UPLOAD + 1)[:MAX_UPLOAD + 1])
        except Exception as exc:  # PIL raises many kinds for bad input
            return failure(400, {"message": f"data is not an image Pillow can read ({type(exc).__name__})."})
        if accept == "image/png":
            return web.Response(body=seen_image(image), content_type="image/png")
        return web.json_response({"status": "OK", "predictions": model.predict(image, top_k)})

    async def ui(request):
        return web.Response(text=UI_PAGE, content_type="text/html")

    async def ui_redirect(request):
        raise web.HTTPFound("api")  # relative: stays below any path prefix

    async def spec(request):
        return web.json_response(swagger())

    app = web.Application(client_max_size=MAX_UPLOAD + 64 * 1024)
    for path, handler in (("/", root), ("/v2", v2), ("/v2/", v2), ("/v2/models", models),
                          ("/v2/models/", models), (f"/v2/models/{MODEL}", model_meta),
                          (f"/v2/models/{MODEL}/", model_meta), ("/api", ui), ("/ui", ui_redirect),
                          ("/swagger.json", spec)):
        app.router.add_get(path, handler, allow_head=False)
    app.router.add_post(f"/v2/models/{MODEL}/predict/", predict)
    app.router.add_post(f"/v2/models/{MODEL}/predict", predict)
    return app


UI_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>digits · DEEPaaS</title>
<style>body{font-family:sans-serif;margin:1.5em;max-width:46em}canvas{border:1px solid #888;
touch-action:none;background:#fff}.bar{background:#1f77b4;height:12px}td{padding:1px 6px}</style></head>
<body><h2>digits</h2><p id="meta">loading the model's metadata…</p>
<p>Draw a digit, or choose an image file, then predict.</p>
<canvas id="pad" width="160" height="160"></canvas><br>
<button id="clear">Clear</button> <input type="file" id="file" accept="image/*">
<button id="go">Predict</button>
<table id="out"></table>
<script>
const pad=document.getElementById('pad'),ctx=pad.getContext('2d');
function clear(){ctx.fillStyle='#fff';ctx.fillRect(0,0,pad.width,pad.height);}
clear();let down=false;ctx.lineWidth=14;ctx.lineCap='round';ctx.strokeStyle='#000';
pad.onpointerdown=e=>{down=true;ctx.beginPath();ctx.moveTo(e.offsetX,e.offsetY);};
pad.onpointermove=e=>{if(down){ctx.lineTo(e.offsetX,e.offsetY);ctx.stroke();}};
pad.onpointerup=()=>{down=false;};
document.getElementById('clear').onclick=clear;
fetch('v2/models/digits/').then(r=>r.json()).then(m=>{document.getElementById('meta').textContent=
  m.description+' Held-out accuracy: '+(100*m.weights.held_out_accuracy).toFixed(1)+'%.';});
async function send(blob){const f=new FormData();f.append('data',blob,'digit.png');
  const r=await fetch('v2/models/digits/predict/?top_k=5',{method:'POST',body:f,
    headers:{accept:'application/json'}});const j=await r.json();const t=document.getElementById('out');
  t.innerHTML='';if(!r.ok){t.textContent=JSON.stringify(j);return;}
  const p=j.predictions;p.labels.forEach((l,i)=>{const row=t.insertRow();row.insertCell().textContent=l;
    const b=document.createElement('div');b.className='bar';b.style.width=(200*p.probabilities[i])+'px';
    row.insertCell().appendChild(b);row.insertCell().textContent=(100*p.probabilities[i]).toFixed(1)+'%';});}
document.getElementById('go').onclick=()=>{const file=document.getElementById('file').files[0];
  if(file){send(file);}else{pad.toBlob(send,'image/png');}};
</script></body></html>
"""


# -- command line --------------------------------------------------------------------------------

def serve(host: str, port: int, cache_dir: str) -> None:
    import asyncio

    from aiohttp import web

    model = load_or_train(cache_dir)
    how = "trained in" if model.source == "trained" else "loaded from the cache in"
    print(f"digits: weights {how} {model.seconds:.2f} s (held-out accuracy {model.accuracy:.3f})", flush=True)

    async def main() -> None:
        runner = web.AppRunner(make_app(model), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        print(f"digits: DEEPaaS v2 API listening on http://{host}:{bound}/", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


def predict_file(path: str, output: str, top_k: int, cache_dir: str) -> None:
    """One prediction as a sync or async invocation makes it: JSON in `output` (when given) or
    on stdout."""
    model = load_or_train(cache_dir)
    result = {"status": "OK", "predictions": model.predict(read_image(open(path, "rb").read()), top_k)}
    text = json.dumps(result)
    if output:
        stem = os.path.splitext(os.path.basename(path))[0]
        with open(os.path.join(output, f"{stem}.json"), "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        print(text)


def write_script(target: str) -> None:
    """script.sh: this file embedded in the /bin/sh script the FDLs use (OSCAR sends the script's
    text, not the files beside it)."""
    with open(os.path.abspath(__file__), encoding="utf-8") as fh:
        source = fh.read()
    with open(target, "w", encoding="utf-8") as fh:
        fh.write(SCRIPT_HEAD + source + SCRIPT_TAIL)


SCRIPT_HEAD = """#!/bin/sh
# The digits model, generated from digits.py by `python3 digits.py --write-script`: edit that file.
# With an input file (a sync or async invocation): classify it, the JSON into $TMP_OUTPUT_DIR.
# Without one (a replica of an exposed service): serve the DEEPaaS v2 API on port 5000.
# (find_spec looks the packages up without importing them: a sync invocation pays no import twice)
if ! python3 -c "import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in
    ('numpy', 'PIL', 'aiohttp', 'sklearn')))" 2>/dev/null; then
  pip install --quiet numpy pillow aiohttp scikit-learn
fi
if [ -n "$INPUT_FILE_PATH" ]; then
  set -- predict "$INPUT_FILE_PATH" --output "$TMP_OUTPUT_DIR"
else
  set -- serve --port 5000
fi
exec python3 - "$@" <<'PYTHON'
"""
SCRIPT_TAIL = "PYTHON\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="The digits model (DEEPaaS v2 API).")
    parser.add_argument("--write-script", metavar="PATH", nargs="?", const="",
                        help="write script.sh (default: beside this file)")
    sub = parser.add_subparsers(dest="command")
    s = sub.add_parser("serve")
    s.add_argument("--host", default="0.0.0.0")
    s.add_argument("--port", type=int, default=5000)
    p = sub.add_parser("predict")
    p.add_argument("image")
    p.add_argument("--output", default="")
    p.add_argument("--top-k", type=int, default=10)
    args = parser.parse_args(argv)
    cache_dir = os.environ.get("DIGITS_CACHE_DIR") or os.getcwd()
    if args.write_script is not None:
        write_script(args.write_script or os.path.join(os.path.dirname(os.path.abspath(__file__)), "script.sh"))
    elif args.command == "serve":
        serve(args.host, args.port, cache_dir)
    elif args.command == "predict":
        predict_file(args.image, args.output, args.top_k, cache_dir)
    else:
        parser.print_help()
        sys.exit(2)


if __name__ == "__main__":
    main()
