"""Figures that need no cluster: FDL parse + validate time, display bundle size of a large image."""
from __future__ import annotations

import io
import json
import time
from typing import List, Tuple

import yaml

FDL_TEXT = """\
functions:
  oscar:
  - oscar-cluster:
      name: grayify
      image: ghcr.io/grycap/imagemagick
      cpu: '0.5'
      memory: 512Mi
      log_level: CRITICAL
      environment:
        Variables:
          QUALITY: "90"
      script: |
        #!/bin/sh
        echo "SCRIPT: Invoked File Function. File available in $INPUT_FILE_PATH"
        FILE_NAME=$(basename "$INPUT_FILE_PATH")
        OUTPUT_FILE="$TMP_OUTPUT_DIR/$FILE_NAME"
        convert "$INPUT_FILE_PATH" -type Grayscale "$OUTPUT_FILE"
      input:
      - storage_provider: minio.default
        path: grayify/in
      output:
      - storage_provider: minio.default
        path: grayify/out
        suffix: [png, jpg]
"""


def fdl_parse(n: int) -> Tuple[List[float], List[float]]:
    """(yaml.load seconds, FDL.parse seconds) of the same FDL text, interleaved."""
    from oscar_jupyter.fdl import FDL

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    FDL.parse(FDL_TEXT)  # imports, schema load
    bare: List[float] = []
    full: List[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        yaml.load(FDL_TEXT, Loader=loader)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        FDL.parse(FDL_TEXT)
        full.append(time.perf_counter() - t0)
    return bare, full


def image_bundle() -> Tuple[int, int, float]:
    """(JPEG bytes of a 4000x3000 photo-like image, JSON bytes of its mime bundle, seconds to build it)."""
    import numpy as np
    from PIL import Image

    from oscar_jupyter import display
    from oscar_jupyter.results import ImageResult

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:3000, 0:4000]
    base = np.stack([(x * 255 // 4000), (y * 255 // 3000), ((x + y) * 255 // 7000)], axis=-1)
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    raw = buf.getvalue()
    t0 = time.perf_counter()
    bundle = display.mimebundle(ImageResult(raw, name="photo.jpg"))
    seconds = time.perf_counter() - t0
    return len(raw), len(json.dumps(bundle)), seconds
