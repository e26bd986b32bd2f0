"""Differential tests: real faas-supervisor 1.5.8 answers (what a cluster's /run returns,
log lines first) decoded by codecs. The supervisor runs as a subprocess, no server."""
from __future__ import annotations

import base64
import io
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from oscar_jupyter import codecs, errors
from oscar_jupyter.results import ArrayResult, FilesResult, ImageResult, PredictionResult, TextResult

pytest.importorskip("faassupervisor", reason="the reference faas-supervisor is not installed")


def supervisor(script: str, body: bytes, log_level: str = "INFO") -> bytes:
    """The supervisor's stderr log lines followed by its answer, as a cluster relays them."""
    env = dict(os.environ, SCRIPT=base64.b64encode(script.encode()).decode(),
               FUNCTION_CONFIG=base64.b64encode(f"log_level: {log_level}\n".encode()).decode())
    proc = subprocess.run([sys.executable, "-m", "faassupervisor.supervisor"], input=body, env=env,
                          capture_output=True, timeout=60)
    return proc.stderr + proc.stdout


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (5, 3), "red").save(out, format="PNG")
    return out.getvalue()


def test_one_output_file_is_an_image():
    body = codecs.encode(Image.new("RGB", (5, 3), "red")).body
    result = codecs.decode(supervisor('cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/o.png"', body))
    assert isinstance(result, ImageResult) and result.image.size == (5, 3)
    assert "Creating response" in result.log


def test_several_output_files_are_a_zip():
    script = 'echo one > "$TMP_OUTPUT_DIR/a.txt"; echo two > "$TMP_OUTPUT_DIR/b.txt"'
    result = codecs.decode(supervisor(script, codecs.encode("x").body))
    assert isinstance(result, FilesResult) and {k.rsplit("/", 1)[-1] for k in result} == {"a.txt", "b.txt"}


def test_printed_text_and_json_body():
    result = codecs.decode(supervisor('echo "got: $(cat "$INPUT_FILE_PATH")"', codecs.encode({"k": "é"}).body))
    assert isinstance(result, TextResult)
    assert result.text.strip() == 'got: {"k": "\\u00e9"}'  # the supervisor re-serialises JSON


def test_npy_and_predictions_at_critical_level():
    script = 'python3 -c \'import numpy, os; numpy.save(os.environ["TMP_OUTPUT_DIR"] + "/x.npy", numpy.ones(3))\''
    result = codecs.decode(supervisor(script, codecs.encode(np.zeros(2)).body, "CRITICAL"))
    assert isinstance(result, ArrayResult) and result.array.tolist() == [1.0, 1.0, 1.0] and result.log == ""
    script = 'echo "loading"; echo \'{"labels": ["a", "b"], "probabilities": [0.9, 0.1]}\''
    result = codecs.decode(supervisor(script, b""))
    assert isinstance(result, PredictionResult) and result.labels == ["a", "b"]


def test_a_failing_script_is_recognised_from_its_output():
    with pytest.raises(errors.ServiceFailed, match="shell error") as info:
        codecs.decode(supervisor("no-such-command-here --x", b""))
    assert "no-such-command-here" in info.value.log
    script = "python3 -c 'raise ValueError(\"bad input\")'"
    with pytest.raises(errors.ServiceFailed, match="traceback") as info:
        codecs.decode(supervisor(script, b""))
    assert "ValueError: bad input" in info.value.log
