"""In-notebook data -> the body of a synchronous invocation; response body -> `Result`.

Request bodies follow what faas-supervisor does with them: a body that parses
as JSON is handed to the script as that JSON; anything else is base64-decoded
into the script's input file. So files, images, arrays and text are sent as
base64 of their bytes, and dicts as a raw JSON body.

Encoding rule when `encoding=None`:

==========================================  ==============
data                                        encoding
==========================================  ==============
None                                        an empty body
dict / list / number / bool                 ``json``
PIL image                                   ``png``
numpy uint8 array HxW, HxWx3, HxWx4         ``png``
any other numpy array                       ``npy``
bytes / bytearray / memoryview / file obj   ``base64``
pathlib.Path, or str naming an existing     ``base64`` of the file
file
any other str                               ``base64`` of its UTF-8
==========================================  ==============

``encoding=`` forces one of `ENCODINGS`. ``oscar-files`` wraps the payload in
the AI4OS envelope (see `oscar_files`).

Responses: faas-supervisor answers with base64 of the single output file,
base64 of a zip when there are several, or the script's output when there are
none; supervisor log lines (``2025-01-10 10:00:00,123 - supervisor - INFO -
...``) may come first. `decode` strips those lines into `Result.log`, decodes
base64 when it is base64, and sniffs the bytes (PNG, JPEG, GIF, TIFF, PDF,
zip, .npy, JSON, text). JSON with ``labels``/``probabilities`` becomes a
`PredictionResult`, a list of boxes a `DetectionResult`; a ``return: <repr>``
line is read with `ast.literal_eval` (never `eval`).
"""
from __future__ import annotations

import ast
import base64
import binascii
import io
import json
import logging
import os
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from . import errors
from .results import (ArrayResult, BytesResult, DetectionResult, FilesResult, ImageResult,
                      JSONResult, PDFResult, PredictionResult, Result, TextResult)

logger = logging.getLogger(__name__)

__all__ = ["ENCODINGS", "Encoded", "encode", "payload", "choose_encoding", "oscar_files",
           "decode", "result_from_bytes", "sniff", "split_log", "failure_in_log", "failure_in_output",
           "EXIT_CODE_HEADERS"]

ENCODINGS = ("json", "base64", "raw", "png", "jpeg", "npy", "oscar-files")

#: Response headers that carry the script's exit status (oscar-local sets one;
#: a real cluster sets none and answers 200 even when the script failed).
EXIT_CODE_HEADERS = ("X-Oscar-Exit-Code", "X-Exit-Code", "X-Script-Exit-Code")

# faas-supervisor's logging format: '%(asctime)s - %(name)s - %(levelname)s - %(message)s'
_LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)? - [\w.\-]+ - "
    r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) - ")
_BASE64 = re.compile(rb"^[A-Za-z0-9+/]*={0,2}$")
_RETURN_LINE = re.compile(r"^\s*return:\s*(.+?)\s*$", re.MULTILINE)
_MAX_PATH_LEN = 4096


@dataclass(frozen=True)
class Encoded:
    """A request body ready to POST, and how it was made."""

    body: bytes
    content_type: str
    encoding: str
    #: the bytes the script will find in its input file (before base64)
    size: int = 0


# -- data -> bytes ---------------------------------------------------------------------------

def _is_pil_image(data: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        return False
    return isinstance(data, Image.Image)


def _is_ndarray(data: Any) -> bool:
    return type(data).__module__ == "numpy" and type(data).__name__ == "ndarray"


def _looks_like_image_array(array: Any) -> bool:
    if str(array.dtype) != "uint8":
        return False
    return array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))


def _as_path(data: Any) -> Optional[Path]:
    """The file `data` names, or None when it is not a path to a file."""
    if isinstance(data, os.PathLike):
        path = Path(data)
        if not path.is_file():
            raise errors.InvalidInput(f"No such file: {str(path)!r}.",
                                      hint="Pass an existing file, or the data itself.")
        return path
    if isinstance(data, str) and data and len(data) < _MAX_PATH_LEN and "\n" not in data:
        try:
            if os.path.isfile(data):
                return Path(data)
        except (OSError, ValueError):
            return None
    return None


def choose_encoding(data: Any) -> str:
    """The encoding the rule in this module's docstring picks for `data`."""
    if isinstance(data, (dict, list, tuple, bool, int, float)) or data is None:
        return "json"
    if _is_pil_image(data):
        return "png"
    if _is_ndarray(data):
        return "png" if _looks_like_image_array(data) else "npy"
    return "base64"


def _image_bytes(data: Any, fmt: str) -> bytes:
    from PIL import Image
    if _is_ndarray(data):
        if not _looks_like_image_array(data):
            raise errors.InvalidInput(
                f"A {data.dtype} array of shape {tuple(data.shape)} is not an image.",
                hint="Images are uint8 HxW, HxWx3 or HxWx4; use encoding='npy' for other arrays.")
        image = Image.fromarray(data)
    elif _is_pil_image(data):
        image = data
    else:
        raw = _raw_bytes(data)
        try:
            image = Image.open(io.BytesIO(raw))
            image.load()
        except Exception as exc:
            raise errors.InvalidInput(f"The data is not an image PIL can read ({exc}).",
                                      hint="Use encoding='base64' to send it as it is.") from exc
    out = io.BytesIO()
    if fmt == "JPEG" and image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    image.save(out, format=fmt)
    return out.getvalue()


def _npy_bytes(data: Any) -> bytes:
    import numpy as np
    out = io.BytesIO()
    np.save(out, np.asarray(data), allow_pickle=False)
    return out.getvalue()


def _raw_bytes(data: Any) -> bytes:
    """The bytes of bytes-like data, a file, a file object or text."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    path = _as_path(data)
    if path is not None:
        return path.read_bytes()
    if isinstance(data, str):
        return data.encode("utf-8")
    if hasattr(data, "read"):
        content = data.read()
        return content.encode("utf-8") if isinstance(content, str) else bytes(content)
    if _is_pil_image(data):
        return _image_bytes(data, "PNG")
    if _is_ndarray(data):
        return _image_bytes(data, "PNG") if _looks_like_image_array(data) else _npy_bytes(data)
    if isinstance(data, (dict, list, tuple, bool, int, float)) or data is None:
        return _json_bytes(data)
    raise errors.InvalidInput(f"Cannot send a {type(data).__name__}.",
                              hint="Pass bytes, str, a path, a PIL image, a numpy array or a dict.")


def _json_bytes(data: Any) -> bytes:
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8")
    if isinstance(data, str):
        try:
            json.loads(data)
        except ValueError as exc:
            raise errors.InvalidInput(f"encoding='json' but the text is not JSON ({exc}).",
                                      hint="Pass a dict, or valid JSON text.") from exc
        return data.encode("utf-8")
    try:
        return json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise errors.InvalidInput(f"The data cannot be written as JSON ({exc}).",
                                  hint="Use plain dicts, lists, strings and numbers.") from exc


def _extension_of(data: Any, encoding: str, raw: bytes) -> str:
    if encoding in ("png", "jpeg", "npy"):
        return {"png": "png", "jpeg": "jpg", "npy": "npy"}[encoding]
    if encoding == "json":
        return "json"
    path = _as_path(data) if isinstance(data, (str, os.PathLike)) else None
    if path is not None and path.suffix:
        return path.suffix.lstrip(".").lower()
    kind = sniff(raw)
    return {"png": "png", "jpeg": "jpg", "gif": "gif", "tiff": "tiff", "pdf": "pdf",
            "zip": "zip", "npy": "npy", "json": "json", "text": "txt"}.get(kind, "bin")


def payload(data: Any, encoding: Optional[str] = None) -> Tuple[bytes, str]:
    """The bytes a script will read for `data`, and a file extension for them.

    This is what `submit` uploads as an object, and what `encode` base64-encodes.
    """
    encoding = encoding or choose_encoding(data)
    _check_encoding(encoding)
    if encoding == "png":
        raw = _image_bytes(data, "PNG")
    elif encoding == "jpeg":
        raw = _image_bytes(data, "JPEG")
    elif encoding == "npy":
        if not _is_ndarray(data):
            raise errors.InvalidInput(f"encoding='npy' needs a numpy array, not a {type(data).__name__}.")
        raw = _npy_bytes(data)
    elif encoding == "json":
        raw = _json_bytes(data)
    elif encoding == "oscar-files":
        raw = _json_bytes(data if _is_envelope(data) else oscar_files(data))
    else:
        raw = _raw_bytes(data)
    return raw, _extension_of(data, encoding, raw)


def _check_encoding(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise errors.InvalidInput(f"Unknown encoding {encoding!r}.",
                                  hint=f"Use one of: {', '.join(ENCODINGS)}.")


def _is_envelope(data: Any) -> bool:
    return isinstance(data, Mapping) and "oscar-files" in data


def oscar_files(data: Any = None, *, key: str = "files", file_format: Optional[str] = None,
                files: Optional[List[Tuple[str, Any]]] = None, **arguments: Any) -> Dict[str, Any]:
    """Build the AI4OS envelope ``{"oscar-files": [{"key", "file_format", "data"}], **arguments}``.

    `data` is one input (image, array, bytes, path, text) sent under `key`;
    `files` adds more as ``(key, data)`` pairs. `file_format` defaults to the
    data's kind (``png`` for images, the file's suffix for paths). Extra keyword
    arguments are the model's other inputs and go beside the list.
    """
    entries = []
    items = ([(key, data)] if data is not None else []) + list(files or [])
    if not items:
        raise errors.InvalidInput("oscar_files() needs at least one input.")
    for item_key, item in items:
        raw, ext = payload(item, None if not isinstance(item, (dict, list)) else "json")
        entries.append({"key": item_key,
                        "file_format": (file_format if item_key == key and file_format else ext),
                        "data": base64.b64encode(raw).decode("ascii")})
    envelope: Dict[str, Any] = {"oscar-files": entries}
    envelope.update(arguments)
    return envelope


def encode(data: Any, encoding: Optional[str] = None) -> Encoded:
    """The request body for a synchronous invocation with `data`."""
    if isinstance(data, Encoded):
        return data
    if data is None and encoding is None:
        return Encoded(b"", "application/octet-stream", "raw", 0)  # an empty input file
    if encoding is None and _is_envelope(data):
        encoding = "json"
    encoding = encoding or choose_encoding(data)
    _check_encoding(encoding)
    if encoding in ("json", "oscar-files"):
        raw, _ = payload(data, encoding)
        return Encoded(raw, "application/json", encoding, len(raw))
    raw, _ = payload(data, encoding)
    if encoding == "raw":
        return Encoded(raw, "application/octet-stream", encoding, len(raw))
    return Encoded(base64.b64encode(raw), "text/plain", encoding, len(raw))


# -- bytes -> Result -------------------------------------------------------------------------

def sniff(data: bytes) -> str:
    """The kind of `data`: png, jpeg, gif, tiff, pdf, zip, npy, json, text or bytes."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"BM") or head[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image"
    text = _as_text(data)
    if text is None:
        return "bytes"
    stripped = text.strip()
    if stripped[:1] in ("{", "[") or stripped in ("true", "false", "null"):
        try:
            json.loads(stripped)
            return "json"
        except ValueError:
            pass
    return "text"


def _as_text(data: bytes) -> Optional[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    control = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\n\r\t\f\b")
    return None if control else text


def split_log(text: str) -> Tuple[str, str]:
    """Split supervisor log lines (leading, and any trailing) from the payload between them."""
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines) and (_LOG_LINE.match(lines[i]) or (i and not lines[i].strip())):
        i += 1
    j = len(lines)
    while j > i and _LOG_LINE.match(lines[j - 1]):
        j -= 1
    if i == 0 and j == len(lines):
        return "", text
    return "".join(lines[:i] + lines[j:]), "".join(lines[i:j])


def failure_in_log(log: str) -> bool:
    """True when supervisor lines report an error (``- ERROR -`` / ``- CRITICAL -``)."""
    return any(m and m.group(1) in ("ERROR", "CRITICAL")
               for m in (_LOG_LINE.match(line) for line in log.splitlines()))


_TRACEBACK = re.compile(r"^Traceback \(most recent call last\):\s*$", re.MULTILINE)
_SHELL_ERROR = re.compile(
    r"^(?:\S*/)?[\w.\-]+(?:: line \d+|: \d+): .*(?:not found|Permission denied|"
    r"[Ss]yntax error|No such file or directory|cannot open)", re.MULTILINE)


def failure_in_output(text: str) -> Optional[str]:
    """What in a script's printed output shows it failed (a Python traceback, a shell
    error), or None. Used when no exit status came with the answer: a real cluster
    answers 200 even when the script fails."""
    if _TRACEBACK.search(text):
        return "a Python traceback"
    match = _SHELL_ERROR.search(text)
    if match:
        return f"a shell error ({match.group(0).strip()[:80]})"
    return None


def _try_base64(text: str) -> Optional[bytes]:
    """The bytes `text` encodes when it is the supervisor's base64 of one output, else None.

    faas-supervisor writes that base64 on one line. Script output that merely
    looks like base64 (a single word) is kept as text unless it decodes to a
    known file kind or to clean text (random words rarely decode to either);
    undecodable binary counts only for runs of 24+ characters.
    """
    raw = text.strip().encode("ascii", "ignore")
    if len(raw) != len(text.strip()):
        return None
    return _try_base64_bytes(raw)


def _try_base64_bytes(data: bytes) -> Optional[bytes]:
    """`_try_base64` on bytes. Every step runs in C (strip, length, the alphabet check
    and the decoding in one `b64decode(validate=True)` pass), never per character in
    Python: answers are megabytes."""
    stripped = data.strip()
    if len(stripped) < 4 or len(stripped) % 4:
        return None
    try:
        if _STRICT_BASE64:  # one C pass: alphabet check and decoding together
            decoded = binascii.a2b_base64(stripped, strict_mode=True)
        else:  # a regex pass, then the decoding
            decoded = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        return None
    kind = sniff(decoded)
    if kind == "bytes":
        return decoded if len(stripped) >= 24 else None
    return decoded


def _json_result(value: Any, raw: bytes, **common: Any) -> Result:
    boxes = DetectionResult.find_boxes(value)
    if boxes is not None:
        return DetectionResult(value, raw=raw, **common)
    prediction = PredictionResult.find_prediction(value)
    if prediction is not None:
        return PredictionResult(value, raw=raw, **common)
    return JSONResult(value, raw=raw, **common)


def _structured_from_text(text: str) -> Optional[Any]:
    """A JSON value or a `return: <repr>` literal found at the end of script output."""
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    # JSON starting on some line and running to the end (after the script's own prints)
    lines = stripped.splitlines()
    tries = 0
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].lstrip()[:1] in ("{", "[") and tries < 50:  # '[INFO] ...' lines: bounded
            tries += 1
            try:
                return json.loads("\n".join(lines[i:]))
            except ValueError:
                continue
    matches = _RETURN_LINE.findall(stripped)
    for candidate in reversed(matches):
        if len(candidate) > MAX_LITERAL:
            continue
        try:
            return ast.literal_eval(candidate)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
    return None


def result_from_bytes(data: bytes, *, name: Optional[str] = None, log: str = "",
                      elapsed: Optional[float] = None, input: Any = None,
                      unzip_budget: Optional["UnzipBudget"] = None) -> Result:
    """A `Result` for one output file's bytes, by sniffing them.

    A zip is unpacked into a `FilesResult`, zips inside it too, all within one
    `UnzipBudget` (a fresh one of `MAX_UNZIPPED` bytes unless given)."""
    common = dict(log=log, elapsed=elapsed, input=input, name=name)
    kind = sniff(data)
    if kind in ("png", "jpeg", "gif", "tiff", "image"):
        return ImageResult(data, **common)
    if kind == "pdf":
        return PDFResult(data, **common)
    if kind == "zip":
        return _files_result(data, unzip_budget or UnzipBudget(MAX_UNZIPPED), **common)
    if kind == "npy":
        return ArrayResult(data, **common)
    if kind == "json":
        return _json_result(json.loads(data.decode("utf-8")), data, **common)
    if kind == "text":
        text = data.decode("utf-8")
        value = _structured_from_text(text)
        if isinstance(value, (dict, list)):
            result = _json_result(value, data, **common)
            if not isinstance(result, JSONResult) or isinstance(result, (PredictionResult, DetectionResult)):
                result.text = text
                return result
        return TextResult(text, raw=data, **common)
    return BytesResult(data, **common)


#: a zip answer unpacking to more than this stays a BytesResult (a zip bomb guard)
MAX_UNZIPPED = 1 << 30
#: longest `return: <repr>` value read with ast.literal_eval
MAX_LITERAL = 1 << 20


#: zips inside zips are unpacked this many levels deep at most
MAX_ZIP_DEPTH = 8


class UnzipBudget:
    """The bytes still allowed to be unpacked for one answer, across nested zips
    (a zip of zips must not unpack each level up to the limit)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.remaining = limit
        self.depth = 0

    def take(self, size: int) -> bool:
        """Reserve `size` bytes; False (nothing reserved) when they do not fit."""
        if size > self.remaining:
            return False
        self.remaining -= size
        return True


def _files_result(data: bytes, budget: UnzipBudget, **common: Any) -> Result:
    if budget.depth >= MAX_ZIP_DEPTH:
        logger.warning("A zip nested %d deep in the answer is kept as bytes.", budget.depth + 1)
        return BytesResult(data, **common)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if not i.is_dir()]
        total = sum(i.file_size for i in infos)
        if not budget.take(total):
            logger.warning("The zip answer would unpack to %d more bytes; kept as bytes "
                           "(limit %d for the whole answer, nested zips included).", total, budget.limit)
            return BytesResult(data, **common)
        budget.depth += 1
        try:
            files = {i.filename: result_from_bytes(archive.read(i), name=i.filename, unzip_budget=budget)
                     for i in infos}
        finally:
            budget.depth -= 1
    except (zipfile.BadZipFile, RuntimeError, ValueError, OSError, EOFError):
        return BytesResult(data, **common)
    return FilesResult(files, raw=data, **common)


def _exit_code(headers: Optional[Mapping[str, str]]) -> Optional[int]:
    if not headers:
        return None
    for header in EXIT_CODE_HEADERS:
        value = headers.get(header)
        if value is not None:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def decode(body: bytes, *, headers: Optional[Mapping[str, str]] = None, service: str = "",
           elapsed: Optional[float] = None, input: Any = None) -> Result:
    """Turn a `/run` response body into a `Result`.

    Raises `errors.ServiceFailed` (with the log) when an exit-code header says the
    script failed, when the supervisor's own lines report an error, or - with no
    exit-code header, as on a real cluster - when the script's printed output
    (no output file) shows a Python traceback or a shell error.
    """
    exit_code = _exit_code(headers)
    log_bytes, rest = _split_log_bytes(body)
    log = log_bytes.decode("utf-8", "replace")
    who = f"Service {service!r}" if service else "The service"
    if exit_code not in (None, 0) or failure_in_log(log):
        shown = body.decode("utf-8", "replace")
        status = f"exited with status {exit_code}" if exit_code not in (None, 0) else "reported an error"
        raise errors.ServiceFailed(f"{who} {status}.", log=shown, exit_code=exit_code,
                                   hint="Read .log on this exception for the script's output.")
    common = dict(log=log, elapsed=elapsed, input=input)
    decoded = _try_base64_bytes(rest)
    if decoded is not None:
        return result_from_bytes(decoded, **common)
    if exit_code is None and sniff(rest) in ("text", "json"):
        text = rest.decode("utf-8")
        reason = failure_in_output(text)
        if reason:
            raise errors.ServiceFailed(f"{who} failed: its output shows {reason}.",
                                       log=body.decode("utf-8", "replace"),
                                       hint="Read .log on this exception for the script's output.")
    return result_from_bytes(rest, **common)


_STRICT_BASE64 = sys.version_info >= (3, 11)
# without `^`: matched at offsets, where `^` would not match (match() anchors there anyway)
_LOG_LINE_BYTES = re.compile(_LOG_LINE.pattern.lstrip("^").encode("ascii"))


def _split_log_bytes(body: bytes) -> Tuple[bytes, bytes]:
    """`split_log` on the bytes of an answer: supervisor lines at its start (blank lines
    among them) and at its end become the log, the rest is the payload. Only the log
    lines are looked at, never the whole (often megabytes of) payload line by line;
    an answer that is not text keeps its bytes whole."""
    head: List[bytes] = []
    pos = 0
    while pos < len(body):
        end = body.find(b"\n", pos)
        end = len(body) if end < 0 else end + 1
        # match at an offset, never on a slice: a slice of a one-line answer copies it
        if _LOG_LINE_BYTES.match(body, pos, end) or (head and not body[pos:end].strip()):
            head.append(body[pos:end])
            pos = end
        else:
            break
    tail: List[bytes] = []
    stop = len(body)
    while stop > pos:
        start = max(body.rfind(b"\n", pos, stop - 1) + 1, pos)
        if _LOG_LINE_BYTES.match(body, start, stop):
            tail.insert(0, body[start:stop])
            stop = start
        else:
            break
    if not head and not tail:
        return b"", body
    log = b"".join(head + tail)
    if _as_text(log) is None:  # binary that happened to start like a log line
        return b"", body
    return log, (body if pos == 0 and stop == len(body) else body[pos:stop])
