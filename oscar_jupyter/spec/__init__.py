"""The OSCAR service model, shared by the client and oscar-local.

A service definition is the JSON object the Manager's REST API takes and
returns (`types.Service`). This package knows its schema (merged from the
Manager v3.7.1 and v4.1.2 OpenAPI specs plus a small supplement, packaged as
``schema/service.json``) and the rules OSCAR applies on top of it. Data flows
one way: normalise, then validate, then fill defaults.

* :func:`normalise` (``normalisation.py``) rewrites a definition into the
  Manager's canonical shape and says what it changed. ``source="api"`` (the
  default) follows the Manager's JSON decoding: lenient on key case, strict on
  types. ``source="fdl"`` follows oscar-cli's YAML decoding, which also turns
  numbers and booleans given for text fields into strings;
* :func:`validate` (``validation.py``, ``rules.py``) returns every
  :class:`Problem` (schema types, unknown fields with near-miss suggestions,
  names, paths, quantities, scales, storage-provider references);
  :func:`warm_up` builds its validator on a thread ahead of the first call;
* :func:`with_defaults` (``defaults.py``) fills what the Manager fills on creation;
* :func:`redact_service` (``secret_fields.py``) blanks secrets for display;
* :func:`comparable` (``comparison.py``) is what is left to compare with a deployed service;
* :class:`ServiceSpec` (``service_spec.py``) is one checked service as the client holds it.

Regenerate the packaged schema with
``python -m oscar_jupyter.spec --regenerate oscar-swagger-v3.7.1.yaml oscar-swagger-v4.1.2.yaml``.
"""
from __future__ import annotations

from .cli import main
from .comparison import comparable, is_int, prune
from .defaults import DEFAULTS, EXPOSE_DEFAULTS, with_defaults
from .normalisation import SOURCES, normalise, stringify, version_tuple
from .problems import (UNKNOWN_FIELD, UNKNOWN_MODES, PathT, Problem, errors_of, format_path, show,
                       unknown_fields_of, unknown_message, unknown_mode, warnings_of)
from .regenerate import regenerate
from .rules import check_quantity, io_key_of
from .schema import (SCHEMA_PATH, SUPPLEMENT_PATH, field_types, known_fields, schema_at,
                     service_schema)
from .secret_fields import REDACTED, SECRET_FIELDS, is_secret_path, redact_service
from .service_spec import ServiceSpec
from .suggestions import ALIASES, suggest, suggest_name
from .validation import validate, warm_up
from .vocabulary import (DEFAULT_PROVIDER, INPUT_PROVIDER_TYPES, LABEL_FIELDS, LOG_LEVELS,
                         NAME_MAX, ORIGIN_CLUSTER_ANNOTATION, ORIGIN_SERVICE_ANNOTATION,
                         PROVIDER_TYPES, SERVER_LABELS, SERVER_SET_FIELDS, VISIBILITIES)

__all__ = [
    "ALIASES", "DEFAULTS", "DEFAULT_PROVIDER", "EXPOSE_DEFAULTS", "INPUT_PROVIDER_TYPES",
    "LABEL_FIELDS", "LOG_LEVELS", "NAME_MAX", "ORIGIN_CLUSTER_ANNOTATION",
    "ORIGIN_SERVICE_ANNOTATION", "PROVIDER_TYPES", "PathT", "Problem", "REDACTED",
    "SCHEMA_PATH", "SECRET_FIELDS", "SERVER_LABELS", "SERVER_SET_FIELDS", "SOURCES",
    "SUPPLEMENT_PATH", "ServiceSpec", "UNKNOWN_FIELD", "UNKNOWN_MODES", "VISIBILITIES", "check_quantity", "comparable",
    "errors_of", "field_types", "format_path", "io_key_of", "is_int", "is_secret_path",
    "known_fields", "main", "normalise", "prune", "redact_service", "regenerate", "schema_at",
    "service_schema", "show", "stringify", "suggest", "suggest_name", "unknown_fields_of", "unknown_message",
    "unknown_mode", "validate", "warm_up",
    "version_tuple", "warnings_of", "with_defaults",
]
