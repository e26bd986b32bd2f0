"""What an invocation gives back: one class per kind of output.

Every result keeps the bytes it was made from (`raw`), the supervisor log that
came with it (`log`), the time the call took (`elapsed`, seconds) and the input
it was made from (`input`), so the notebook can show input and output side by
side. `_repr_mimebundle_` hands the object to `oscar_jupyter.display`.
"""
from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

logger = logging.getLogger(__name__)

__all__ = ["Result", "ImageResult", "JSONResult", "PredictionResult", "DetectionResult", "Box",
           "TextResult", "BytesResult", "PDFResult", "ArrayResult", "FilesResult", "BatchItem",
           "BatchResult"]

PathLike = Union[str, Path]


class _Displayable:
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        from . import display
        return display.mimebundle(self, include=include, exclude=exclude)


class Result(_Displayable):
    """Base of every result. `kind` names the concrete type ('image', 'json', ...)."""

    kind = "bytes"
    extension = ".bin"

    def __init__(self, raw: bytes = b"", *, log: str = "", elapsed: Optional[float] = None,
                 input: Any = None, name: Optional[str] = None) -> None:
        self.raw = raw
        self.log = log
        self.elapsed = elapsed
        self.input = input
        self.name = name

    def _default_name(self) -> str:
        if self.name:
            return Path(self.name).name
        return "result" + self.extension

    def save(self, path: PathLike) -> Path:
        """Write the result to `path` (a file, or a folder to write it into). Returns the file."""
        target = Path(path)
        if target.is_dir():
            target = target / self._default_name()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.raw)
        return target

    def _summary(self) -> str:
        return f"{len(self.raw)} bytes"

    def __repr__(self) -> str:
        parts = [self._summary()]
        if self.name:
            parts.insert(0, repr(self.name))
        if self.elapsed is not None:
            parts.append(f"{self.elapsed:.2f}s")
        return f"<{type(self).__name__} {', '.join(parts)}>"


class BytesResult(Result):
    """Bytes of a kind not recognised (`data` is `raw`)."""

    kind = "bytes"

    @property
    def data(self) -> bytes:
        return self.raw


class PDFResult(BytesResult):
    """A PDF document."""

    kind = "pdf"
    extension = ".pdf"
    mime = "application/pdf"


class ImageResult(Result):
    """An image (PNG, JPEG, GIF, TIFF ...); `image` opens it with PIL."""

    kind = "image"

    def __init__(self, raw: bytes, **kwargs: Any) -> None:
        super().__init__(raw, **kwargs)
        self._image = None

    @property
    def image(self):  # -> PIL.Image.Image
        if self._image is None:
            from PIL import Image
            image = Image.open(io.BytesIO(self.raw))
            image.load()
            self._image = image
        return self._image

    @property
    def format(self) -> str:
        return (self.image.format or "PNG").upper()

    @property
    def mime(self) -> str:
        return f"image/{self.format.lower()}"

    @property
    def extension(self) -> str:  # type: ignore[override]
        return {"JPEG": ".jpg", "TIFF": ".tiff"}.get(self.format, "." + self.format.lower())

    @property
    def size(self):
        return self.image.size

    def _summary(self) -> str:
        width, height = self.image.size
        return f"{self.format} {width}x{height} {self.image.mode}"


class TextResult(Result):
    """Text the script printed (or a text file it wrote)."""

    kind = "text"
    extension = ".txt"

    def __init__(self, text: str, *, raw: Optional[bytes] = None, **kwargs: Any) -> None:
        super().__init__(raw if raw is not None else text.encode("utf-8"), **kwargs)
        self.text = text

    def __str__(self) -> str:
        return self.text

    def _summary(self) -> str:
        first = self.text.strip().splitlines()[0] if self.text.strip() else ""
        return repr(first[:60] + ("..." if len(first) > 60 else ""))


class JSONResult(Result):
    """A JSON value (`value`)."""

    kind = "json"
    extension = ".json"

    def __init__(self, value: Any, *, raw: Optional[bytes] = None, **kwargs: Any) -> None:
        if raw is None:
            raw = json.dumps(value, ensure_ascii=False).encode("utf-8")
        super().__init__(raw, **kwargs)
        self.value = value
        self.text: Optional[str] = None

    def __getitem__(self, key: Any) -> Any:
        return self.value[key]

    def _summary(self) -> str:
        text = json.dumps(self.value, ensure_ascii=False, default=str)
        return text[:60] + ("..." if len(text) > 60 else "")


_BOX_KEYS = ("box", "bbox", "bounding_box")


def _label_score(item: Mapping) -> Optional[tuple]:
    """(label, score) of one ``{"label"|"name"|"class", "probability"|"score"|"confidence"}``
    entry without a box, else None."""
    if any(key in item for key in _BOX_KEYS):
        return None
    label = next((item[k] for k in ("label", "name", "class", "class_name") if k in item), None)
    score = next((item[k] for k in ("probability", "score", "confidence", "prob") if k in item), None)
    if label is None or isinstance(score, bool) or not isinstance(score, (int, float)):
        return None
    return str(label), float(score)


class PredictionResult(JSONResult):
    """A DEEPaaS classification: `labels` and `probabilities`, best first."""

    kind = "prediction"

    def __init__(self, value: Any, **kwargs: Any) -> None:
        super().__init__(value, **kwargs)
        found = self.find_prediction(value) or ([], [])
        pairs = sorted(zip(found[0], found[1]), key=lambda p: -p[1])
        self.labels: List[str] = [str(p[0]) for p in pairs]
        self.probabilities: List[float] = [float(p[1]) for p in pairs]

    @staticmethod
    def find_prediction(value: Any, depth: int = 0):
        """(labels, probabilities) found in a DEEPaaS answer, or None."""
        if depth > 4:
            return None
        if isinstance(value, Mapping):
            labels = value.get("labels", value.get("classes"))
            probs = value.get("probabilities", value.get("probs", value.get("scores")))
            if (isinstance(labels, list) and isinstance(probs, list) and labels
                    and len(labels) == len(probs)
                    and all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in probs)):
                return labels, probs
            for key in ("predictions", "prediction", "result", "results", "output"):
                if key in value:
                    found = PredictionResult.find_prediction(value[key], depth + 1)
                    if found:
                        return found
        if isinstance(value, list) and value and all(isinstance(i, Mapping) for i in value):
            pairs = [_label_score(i) for i in value]
            if all(p is not None for p in pairs):  # [{"label": "cat", "probability": 0.9}, ...]
                return [p[0] for p in pairs], [p[1] for p in pairs]  # type: ignore[index]
        if isinstance(value, list) and len(value) == 1:
            return PredictionResult.find_prediction(value[0], depth + 1)
        return None

    def top(self, k: int = 5) -> List[tuple]:
        """The `k` most probable (label, probability) pairs."""
        return list(zip(self.labels, self.probabilities))[:k]

    def _summary(self) -> str:
        best = ", ".join(f"{label} {p:.2f}" for label, p in self.top(3))
        return best or "no labels"


@dataclass
class Box:
    """One detection: a label, a confidence and corners in pixels."""

    name: str
    confidence: Optional[float]
    x1: float
    y1: float
    x2: float
    y2: float
    extra: Dict[str, Any] = field(default_factory=dict)



def _box_from(item: Mapping) -> Optional[Box]:
    coords = None
    for key in _BOX_KEYS:
        if key in item:
            coords = item[key]
            break
    if coords is None:
        return None
    try:
        if isinstance(coords, Mapping):
            x1, y1 = coords["x1"], coords["y1"]
            x2 = coords.get("x2", x1 + coords.get("width", 0) if "width" in coords else None)
            y2 = coords.get("y2", y1 + coords.get("height", 0) if "height" in coords else None)
        else:
            x1, y1, x2, y2 = list(coords)[:4]
        values = [float(v) for v in (x1, y1, x2, y2)]
    except (KeyError, TypeError, ValueError):
        return None
    name = item.get("name", item.get("label", item.get("class", "")))
    confidence = item.get("confidence", item.get("score", item.get("probability")))
    try:
        confidence = None if confidence is None else float(confidence)
    except (TypeError, ValueError):
        confidence = None
    extra = {k: v for k, v in item.items()
             if k not in _BOX_KEYS + ("name", "label", "class", "confidence", "score", "probability")}
    return Box(str(name), confidence, *values, extra=extra)


class DetectionResult(JSONResult):
    """Object detections: `boxes` (list of `Box`)."""

    kind = "detection"

    def __init__(self, value: Any, **kwargs: Any) -> None:
        super().__init__(value, **kwargs)
        self.boxes: List[Box] = self.find_boxes(value) or []

    @staticmethod
    def find_boxes(value: Any, depth: int = 0) -> Optional[List[Box]]:
        """The boxes in a detector's answer, or None when it has none."""
        if depth > 4:
            return None
        if isinstance(value, list) and value and all(isinstance(i, Mapping) for i in value):
            boxes = [_box_from(i) for i in value]
            if all(b is not None for b in boxes):
                return boxes  # type: ignore[return-value]
            if len(value) == 1:
                return DetectionResult.find_boxes(value[0], depth + 1)
        if isinstance(value, Mapping):
            for key in ("detections", "boxes", "objects", "predictions", "results", "result"):
                if key in value:
                    found = DetectionResult.find_boxes(value[key], depth + 1)
                    if found is not None:
                        return found
        return None

    def _summary(self) -> str:
        return f"{len(self.boxes)} boxes"


class ArrayResult(Result):
    """A numpy array read from `.npy` bytes (`array`)."""

    kind = "array"
    extension = ".npy"

    def __init__(self, raw: bytes, **kwargs: Any) -> None:
        super().__init__(raw, **kwargs)
        self._array = None

    @property
    def array(self):
        if self._array is None:
            import numpy as np
            self._array = np.load(io.BytesIO(self.raw), allow_pickle=False)
        return self._array

    def _summary(self) -> str:
        return f"{self.array.dtype} {tuple(self.array.shape)}"


class FilesResult(Result, Mapping):
    """Several output files (the supervisor's zip): a mapping name -> Result."""

    kind = "files"
    extension = ".zip"

    def __init__(self, files: Dict[str, Result], **kwargs: Any) -> None:
        super().__init__(kwargs.pop("raw", b""), **kwargs)
        self.files = dict(files)

    def __getitem__(self, name: str) -> Result:
        return self.files[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def save(self, path: PathLike) -> Path:
        """Write every file under the folder `path`; returns the folder."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        root = folder.resolve()
        for name, result in self.files.items():
            target = (folder / name).resolve()
            if root not in target.parents:
                from .errors import InvalidInput
                raise InvalidInput(f"Refusing to write {name!r} outside {str(folder)!r}.")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(result.raw)
        return folder

    def _summary(self) -> str:
        names = list(self.files)
        shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        return f"{len(names)} files: {shown}"

    __hash__ = object.__hash__
    __eq__ = object.__eq__


def _safe_stem(name: str) -> str:
    """`name` without its suffix, as a relative path that stays inside a folder."""
    parts = [p for p in Path(name).with_suffix("").parts if p not in ("", ".", "..", "/", "\\")]
    return "/".join(parts) or "item"


@dataclass
class BatchItem:
    """One input of a batch: its `result`, or the `error` it raised."""

    input: Any
    result: Optional[Result] = None
    error: Optional[BaseException] = None
    elapsed: Optional[float] = None
    name: Optional[str] = None
    job: Optional[str] = None
    outputs: List[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """'ok', 'failed' or 'pending' (no result and no error yet)."""
        if self.error is not None:
            return "failed"
        return "ok" if self.result is not None else "pending"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def __repr__(self) -> str:
        # compact: the input may be megabytes of bytes, an image or an array
        parts = [repr(self.name) if self.name else type(self.input).__name__, self.status]
        if self.job:
            parts.append(f"job {self.job}")
        if self.error is not None:
            parts.append(f"{type(self.error).__name__}: {str(self.error)[:200]}")
        elif self.result is not None:
            parts.append(repr(self.result))
        return f"<BatchItem {', '.join(parts)}>"


class BatchResult(_Displayable, Sequence):
    """Results of many inputs, in input order; failures kept per item."""

    kind = "batch"

    def __init__(self, items: Sequence[BatchItem], *, elapsed: Optional[float] = None,
                 service: str = "") -> None:
        self.items = list(items)
        self.elapsed = elapsed
        self.service = service

    def __getitem__(self, index):  # type: ignore[override]
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    @property
    def results(self) -> List[Optional[Result]]:
        return [i.result for i in self.items]

    @property
    def errors(self) -> List[BatchItem]:
        return [i for i in self.items if i.error is not None]

    @property
    def succeeded(self) -> List[BatchItem]:
        return [i for i in self.items if i.ok]

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.items)

    def raise_for_errors(self) -> "BatchResult":
        """Raise the first item's error, if any item failed; else return self."""
        for item in self.items:
            if item.error is not None:
                raise item.error
        return self

    def save(self, path: PathLike) -> Path:
        """Write each successful result into the folder `path`; returns the folder."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        used = set()
        for index, item in enumerate(self.items):
            if item.result is None:
                continue
            stem = _safe_stem(item.name) if item.name else f"{index:04d}"
            if stem.lower() in used:  # 'a.png' and 'a.jpg' must not overwrite each other
                stem = f"{stem}-{index:04d}"
            used.add(stem.lower())
            result = item.result
            if isinstance(result, FilesResult):
                result.save(folder / stem)
            else:
                result.save(folder / (stem + (result.extension or ".bin")))
        return folder

    def __repr__(self) -> str:
        failed = len(self.errors)
        timing = f", {self.elapsed:.2f}s" if self.elapsed is not None else ""
        return f"<BatchResult {len(self.items)} items, {len(self.items) - failed} ok, {failed} failed{timing}>"
