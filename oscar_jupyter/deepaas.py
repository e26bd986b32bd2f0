"""DEEPaaS v2 models behind an exposed service: list them, read their metadata, predict.

DEEPaaS (the API AI4OS models are served with) answers, below the service's root:

- ``GET v2/models/``: ``{"models": [{"id", "name", "links", "description", "author",
  "version", "license", "url", ...}]}``;
- ``GET v2/models/<name>/``: one of those;
- ``POST v2/models/<name>/predict/``: the model's predict arguments, file
  arguments as multipart fields, the others where its OpenAPI (Swagger 2.0)
  document at ``swagger.json`` places them (``query``, ``formData``), and the
  wanted media type in the ``accept`` header (``application/json`` by default;
  models may offer e.g. ``image/png``). JSON answers are
  ``{"status": "OK", "predictions": ...}`` or the model's own schema; a
  missing or invalid argument gets 400/422 with ``{field: [messages]}``.

`Deepaas.model(name).predict(data, **arguments)` checks the arguments against
that document before sending anything, encodes in-notebook data (PIL images,
numpy arrays, bytes, files) as `codecs.payload` does, and decodes the answer
into the same `Result` kinds `Service.run` gives (a classification becomes a
`PredictionResult`, shown as a bar chart).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from . import errors
from .exposed import decode_response, multipart
from .results import Result

__all__ = ["Deepaas", "DeepaasModel", "ModelList", "Argument"]

PREFIX = "v2/"


@dataclass
class Argument:
    """One predict argument as the model's OpenAPI document declares it."""

    name: str
    type: str = "string"           # string, integer, number, boolean, file, array
    location: str = "query"        # query, formData, header
    required: bool = False
    default: Any = None
    enum: Optional[List[Any]] = None
    description: str = ""
    format: str = ""

    @classmethod
    def from_swagger(cls, item: Mapping[str, Any]) -> "Argument":
        enum = item.get("enum")
        return cls(name=str(item.get("name", "")), type=str(item.get("type") or "string"),
                   location=str(item.get("in") or "query"), required=bool(item.get("required")),
                   default=item.get("default"), enum=list(enum) if isinstance(enum, list) else None,
                   description=str(item.get("description") or ""), format=str(item.get("format") or ""))

    @property
    def is_file(self) -> bool:
        return self.type == "file"

    def check(self, value: Any, model: str) -> Any:
        """`value` converted to what this argument takes; `InvalidInput` naming it otherwise."""
        where = f"{model}: argument {self.name!r}"
        if self.is_file:
            return value
        if self.enum is not None and value not in self.enum:
            raise errors.InvalidInput(f"{where} is {value!r}; choose one of {self.enum}.")
        if self.type == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                    return int(value)
                raise errors.InvalidInput(f"{where} must be a whole number, not {value!r}.")
        elif self.type == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                try:
                    return float(value)
                except (TypeError, ValueError):
                    raise errors.InvalidInput(f"{where} must be a number, not {value!r}.") from None
        elif self.type == "boolean":
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            if not isinstance(value, bool):
                raise errors.InvalidInput(f"{where} must be true or false, not {value!r}.")
        return value

    def wire(self, value: Any) -> Any:
        """How the value travels in a query string or form field."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (list, dict)):
            return json.dumps(value)
        return value


class DeepaasModel:
    """One model served by DEEPaaS: `metadata`, `arguments` (predict's), `accepts`, `predict`."""

    def __init__(self, api: "Deepaas", metadata: Mapping[str, Any]) -> None:
        self.api = api
        self.metadata: Dict[str, Any] = dict(metadata)
        self.name = str(metadata.get("name") or metadata.get("id") or "")
        self._arguments: Optional[List[Argument]] = None

    kind = "deepaas-model"

    @property
    def description(self) -> str:
        return str(self.metadata.get("description") or "")

    @property
    def version(self) -> str:
        return str(self.metadata.get("version") or "")

    def __repr__(self) -> str:
        return f"<DeepaasModel {self.name!r} of {self.api.exposed.name!r}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        from . import display
        return display.mimebundle(self, include=include, exclude=exclude)

    @property
    def path(self) -> str:
        return f"{self.api.prefix}models/{self.name}/"

    def _operation(self) -> Mapping[str, Any]:
        paths = (self.api.swagger() or {}).get("paths") or {}
        suffix = f"/models/{self.name}/predict/"
        for key, ops in paths.items():
            if str(key).rstrip("/").endswith(suffix.rstrip("/")) and isinstance(ops, Mapping):
                post = ops.get("post")
                if isinstance(post, Mapping):
                    return post
        return {}

    @property
    def arguments(self) -> List[Argument]:
        """The predict arguments (from ``swagger.json``; [] when the server publishes none)."""
        if self._arguments is None:
            params = self._operation().get("parameters") or []
            self._arguments = [Argument.from_swagger(p) for p in params if isinstance(p, Mapping)]
        return self._arguments

    @property
    def accepts(self) -> List[str]:
        """Media types predict can answer in (the ``accept`` argument's choices)."""
        for arg in self.arguments:
            if arg.name == "accept" and arg.enum:
                return [str(v) for v in arg.enum if v != "*/*"]
        produces = self._operation().get("produces")
        return [str(v) for v in produces if v != "*/*"] if isinstance(produces, list) else ["application/json"]

    def file_arguments(self) -> List[Argument]:
        return [a for a in self.arguments if a.is_file]

    def predict(self, data: Any = None, *, accept: Optional[str] = None,
                files: Optional[Mapping[str, Any]] = None, timeout: Optional[float] = None,
                **arguments: Any) -> Result:
        """Run the model on `data` (its one file argument) and/or `files` (``{argument: data}``),
        with the other predict `arguments`; the decoded `Result`.

        Raises `InvalidInput` (nothing sent) for an unknown, missing or ill-typed
        argument, or an `accept` the model does not offer.
        """
        declared = {a.name: a for a in self.arguments}
        file_args = [a.name for a in self.file_arguments()]
        upload: Dict[str, Any] = dict(files or {})
        if data is not None:
            target = file_args[0] if len(file_args) == 1 else ("data" if not file_args else None)
            if target is None:
                raise errors.InvalidInput(f"{self.name}: predict takes several files ({', '.join(file_args)}); "
                                          "pass them as files={name: data}.")
            upload[target] = data
        if declared:
            unknown = [n for n in sorted(set(arguments) | set(upload)) if n not in declared]
            if unknown:
                known = ", ".join(n for n in declared if n != "accept") or "none"
                raise errors.InvalidInput(f"{self.name}: no predict argument named {unknown[0]!r} "
                                          f"(its arguments: {known}).")
            missing = [a.name for a in self.arguments
                       if a.required and a.name != "accept" and a.name not in arguments and a.name not in upload]
            if missing:
                raise errors.InvalidInput(f"{self.name}: predict needs {', '.join(repr(m) for m in missing)}.",
                                          hint="Pass files as predict(data) or files={name: data}, "
                                               "the others as keyword arguments.")
        if accept is not None and self.arguments and accept not in self.accepts + ["*/*"]:
            raise errors.InvalidInput(f"{self.name}: cannot answer in {accept!r}; it offers "
                                      f"{', '.join(self.accepts)}.")
        query: Dict[str, Any] = {}
        form: Dict[str, Any] = {}
        headers: Dict[str, str] = {"accept": accept or "application/json"}
        for name, value in arguments.items():
            arg = declared.get(name, Argument(name))
            value = arg.check(value, self.name)
            if arg.location == "header":
                headers[name] = str(arg.wire(value))
            elif arg.location == "formData":
                form[name] = arg.wire(value)
            else:
                query[name] = arg.wire(value)
        start = time.perf_counter()
        try:
            response = self.api.exposed.request(
                "POST", self.path + "predict/", params=query, data=form or None,
                files=multipart(upload) if upload else None, headers=headers, timeout=timeout)
        except errors.APIError as exc:
            if exc.status in (400, 422):
                raise errors.InvalidInput(f"{self.name}: the model refused the arguments: {exc.body or exc.status}.") from None
            raise
        inputs = data if data is not None else upload
        return decode_response(response, elapsed=time.perf_counter() - start, input=inputs,
                               redact=self.api.exposed.redact)


class ModelList(list):
    """The models a DEEPaaS server offers; renders as a table; index by position or name."""

    kind = "deepaas-models"

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            for model in self:
                if model.name == key:
                    return model
            raise KeyError(key)
        return super().__getitem__(key)

    def names(self) -> List[str]:
        return [m.name for m in self]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        from . import display
        return display.mimebundle(self, include=include, exclude=exclude)


@dataclass
class Deepaas:
    """The DEEPaaS v2 API of an exposed service (`ExposedService.deepaas`)."""

    exposed: Any
    prefix: str = PREFIX
    _swagger: Optional[Dict[str, Any]] = field(default=None, repr=False)

    def version(self) -> Dict[str, Any]:
        """``GET v2/``: the API version document."""
        return self._json(self.prefix, "the DEEPaaS version")

    def models(self) -> ModelList:
        """``GET v2/models/``: every model the server offers."""
        data = self._json(self.prefix + "models/", "the DEEPaaS models")
        items = data.get("models") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise errors.APIError(f"{self.exposed.name}: v2/models/ did not list models; is it a DEEPaaS "
                                  "server?", body=str(data)[:200])
        return ModelList(DeepaasModel(self, m) for m in items if isinstance(m, dict))

    def model(self, name: Optional[str] = None) -> DeepaasModel:
        """One model (``GET v2/models/<name>/``); without a name, the server's only model."""
        if name is None:
            models = self.models()
            if len(models) != 1:
                raise errors.InvalidInput(f"{self.exposed.name} serves {len(models)} models "
                                          f"({', '.join(models.names()) or 'none'}): name one.")
            return models[0]
        try:
            data = self._json(f"{self.prefix}models/{name}/", f"model {name!r}")
        except errors.NotFound:
            names = []
            try:
                names = self.models().names()
            except errors.OscarError:
                pass
            raise errors.NotFound(f"{self.exposed.name} serves no model {name!r}.",
                                  hint=f"Its models: {', '.join(names)}." if names else "") from None
        return DeepaasModel(self, data if isinstance(data, dict) else {"name": name})

    def swagger(self) -> Dict[str, Any]:
        """The server's OpenAPI document (``swagger.json``; {} when it has none). Read once."""
        if self._swagger is None:
            try:
                data = self.exposed.get("swagger.json").json()
            except (errors.NotFound, ValueError):
                data = {}
            self._swagger = data if isinstance(data, dict) else {}
        return self._swagger

    def _json(self, path: str, what: str) -> Any:
        response = self.exposed.get(path)
        try:
            return response.json()
        except ValueError:
            raise errors.APIError(f"{self.exposed.name}: {what} is not JSON ({path}).",
                                  body=response.text[:200]) from None
