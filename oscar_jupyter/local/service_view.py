"""What ``GET /system/services[/{name}]`` answers: the Manager's stored ``types.Service``.

The Manager decodes the request into its Go ``types.Service`` (unknown keys
dropped), fills what ``checkValues`` in ``pkg/handlers/create.go`` fills
(cpu, memory, visibility, log level, token, the default MinIO provider with
``hidden`` keys, labels, an empty annotations map), stores it as YAML in a
ConfigMap and, on read, writes the decoded struct back with ``encoding/json``.
This module rebuilds that from what oscar-local stores:

* every non-``omitempty`` field in struct order, Go zero values where unset
  (``expose`` keeps the zeros the user did not set; unset slices and maps,
  at every depth, come back as ``[]``/``{}`` after the ConfigMap's YAML
  round trip: ``gotypes.shape(read_back=True)``);
* the labels ``create.go`` adds: ``oscar_service``, ``applicationId`` and
  ``queue`` (``root.oscar-queue.<name>``), and from v4 ``owner_name``
  (``oscar`` for the admin) and ``oscar.grycap/user-service: "true"``
  (the Kubernetes backend's user-service label);
* ``namespace`` ``oscar-svc``; v4.1's ``volume_status`` (``volumes.status``).

Secrets: environment secrets are blanked as the Manager blanks them. The
Manager returns user-supplied storage credentials and cluster passwords in
clear; oscar-local writes ``hidden`` there (secrets never leave it).
"""
from __future__ import annotations

from typing import Any

from . import gotypes, services as svcs
from .versions import Wire

SERVICES_NAMESPACE = "oscar-svc"
USER_SERVICE_LABEL = "oscar.grycap/user-service"


def manager_labels(svc: dict[str, Any], wire: Wire, creating: bool) -> dict[str, str]:
    """The labels to store: the user's, with those ``checkValues`` sets on create and update,
    and from v4 the backend's user-service label and (on create only) ``owner_name``."""
    name = str(svc.get("name") or "")
    labels = {str(k): str(v) for k, v in (svc.get("labels") or {}).items()} \
        if isinstance(svc.get("labels"), dict) else {}
    labels["oscar_service"] = name
    labels["applicationId"] = name
    labels["queue"] = f"root.oscar-queue.{name}"
    if wire.major_minor >= (4, 0):
        if creating:
            owner = str(svc.get("owner") or svcs.DEFAULT_OWNER)
            labels["owner_name"] = "oscar" if owner == svcs.DEFAULT_OWNER else owner.replace(" ", "_")
        labels[USER_SERVICE_LABEL] = "true"
    return labels


def service_view(svc: dict[str, Any], wire: Wire, deployment: dict[str, Any] | None = None,
                 volume_status: dict[str, Any] | None = None) -> Any:
    """``svc`` as the Manager of ``wire``'s release answers it (a ``gojson.Struct``), with
    ``deployment`` (a v4 ``ServiceDeploymentSummary``) when asked for and v4.1's
    ``volume_status`` (``volumes.status``)."""
    view = wire.shape_service(svcs.public_view(svc))
    view["deployment"] = deployment
    if not isinstance(view.get("labels"), dict):
        view["labels"] = manager_labels(svc, wire, creating=True)
    view["namespace"] = SERVICES_NAMESPACE
    view["volume_status"] = volume_status or {"enabled": False}
    return gotypes.shape(gotypes.TYPES[wire.api_version], "Service", view, read_back=True)
