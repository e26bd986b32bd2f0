"""The Manager version oscar-local answers as: the wire differences clients see.

One oscar-local speaks the shapes of one Manager release, chosen at start
(``--api-version``, ``start(api_version=...)``). What differs, from the
Manager's specs (v3.7.1, v4.1.2) and source:

* ``GET /system/info`` ``version``;
* ``POST /system/services`` with a taken name: 409 up to v3, 400 from v4;
* ``expose.api_port`` / ``expose.nodePort``: numbers up to v4.0, lists from
  v4.1, in what GET returns and in what POST/PUT accept (the Manager's JSON
  decoding refuses the other shape with a 400);
* ``GET /system/services/{name}/deployment`` and ``.../deployment/logs``:
  v4 only (a v3 Manager answers 404: no such route);
* ``GET /system/status``: v4 adds schedulable totals and per-node requests;
* ``GET /system/logs/{name}``: ``{"jobs": {...}, "next_page"?,
  "remaining_jobs"?}`` from v3.7, the bare ``{job: info}`` map before;
* ``PUT /system/services``: v3 runs ``checkValues`` again, which makes a new
  service token; v4 keeps the stored one;
* storage paths: v4 trims ``" /"`` from input/output paths and turns a
  bucket-only MinIO/S3 path ``p`` into ``<service>/p`` (``normalizeStoragePaths``,
  an empty path is a 400); v3 takes paths as sent, and a bucket-only MinIO
  input or output fails after the service was stored (a 500, which
  oscar-local gives without storing anything);
* the service view: v4's ``types.Service`` adds ``ephemeral_storage_request``,
  ``federation``, ``volume``, ``volume_status``, ``deployment``, ``kserve``
  and drops ``replicas``, ``delegation``, ``rescheduler_threshold``
  (``gotypes``); v4 adds the ``owner_name`` and user-service labels
  (``service_view``); ``/system/config`` adds ``volume_enable``,
  ``minio_quota_enabled`` and ``allowed_image_repositories``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from . import providers

#: accepted ``api_version`` values and the Manager release each one answers as
RELEASES = {"3.6": "3.6.5", "3.7": "3.7.1", "4.1": "4.1.2"}
DEFAULT = "4.1"
#: the Manager's message for a taken service name
DUPLICATE_MESSAGE = "A service with the provided name already exists"


class UnknownVersion(ValueError):
    """An ``api_version`` oscar-local cannot answer as."""


@dataclass(frozen=True)
class Wire:
    """The shapes of one Manager release."""

    api_version: str

    @classmethod
    def of(cls, api_version: Any) -> "Wire":
        text = str(api_version if api_version is not None else DEFAULT).strip().lstrip("v")
        for key, release in RELEASES.items():
            if text in (key, release):
                return cls(key)
        raise UnknownVersion(
            f"api_version {api_version!r} is not one oscar-local emulates; use one of: {', '.join(RELEASES)}"
        )

    @property
    def major_minor(self) -> tuple[int, int]:
        major, minor = self.api_version.split(".")
        return int(major), int(minor)

    @property
    def release(self) -> str:
        """The version string ``/system/info`` reports."""
        return RELEASES[self.api_version]

    @property
    def duplicate_status(self) -> int:
        """Status of a POST whose name is taken: 409 (v3) or 400 (v4)."""
        return 400 if self.major_minor >= (4, 0) else 409

    @property
    def port_lists(self) -> bool:
        """``expose.api_port``/``nodePort`` are lists (v4.1+)."""
        return self.major_minor >= (4, 1)

    @property
    def deployment_routes(self) -> bool:
        """``/system/services/{name}/deployment[/logs]`` exist (v4)."""
        return self.major_minor >= (4, 0)

    @property
    def jobs_envelope(self) -> bool:
        """The logs listing is ``{"jobs": ...}`` (v3.7+) rather than the bare map."""
        return self.major_minor >= (3, 7)

    @property
    def schedulable_metrics(self) -> bool:
        """``/system/status`` carries schedulable totals and node requests (v4)."""
        return self.major_minor >= (4, 0)

    def duplicate_answer(self, name: str, has_secrets: bool) -> tuple[int, str]:
        """Status and text of a POST whose name is taken.

        A definition with environment secrets first meets the existing
        Secret: v4 answers 409 ``A secret with the given name already
        exists``; v3 writes that, the Secret error and the duplicate message
        one after the other in one 409 body (its handler does not return
        between them). Otherwise 409 (v3) or 400 (v4) with the duplicate message.
        """
        if has_secrets:
            if self.major_minor >= (4, 0):
                return 409, "A secret with the given name already exists"
            return 409, ("A secret with the given name already exists"
                         f'Error creating secrets for service: secrets "{name}" already exists'
                         + DUPLICATE_MESSAGE)
        return self.duplicate_status, DUPLICATE_MESSAGE

    @property
    def keeps_token_on_update(self) -> bool:
        """A PUT keeps the service token (v4); v3 makes a new one."""
        return self.major_minor >= (4, 0)

    def storage_paths(self, data: Any) -> tuple[Any, str | None, int]:
        """``data`` with input/output paths as this release stores them, or a refusal.

        Returns ``(data, message, status)``; ``message`` is None when accepted.
        """
        if not isinstance(data, dict):
            return data, None, 0
        name = data.get("name") if isinstance(data.get("name"), str) else ""
        out = dict(data)
        for field in ("input", "output"):
            entries = data.get(field)
            if not isinstance(entries, list):
                continue
            fixed = []
            for i, entry in enumerate(entries):
                if not isinstance(entry, dict):
                    fixed.append(entry)
                    continue
                kind = providers.info(entry.get("storage_provider"))[1]
                path = entry.get("path") if isinstance(entry.get("path"), str) else ""  # unset is ""
                if self.major_minor >= (4, 0):
                    path = path.strip(" /")
                    if not path:
                        return data, f"{field} path cannot be empty", 400
                    if kind in ("minio", "s3") and "/" not in path:
                        path = f"{name}/{path}"
                    entry = dict(entry, path=path)
                elif kind == "minio" and "/" not in path.strip(" /"):
                    return data, (f"Error creating the service: {field}[{i}].path: Manager v{self.release} "
                                  f"needs 'bucket/folder' for MinIO, got {path!r} (its bucket and "
                                  "notification setup fails on a bare bucket)"), 500
                fixed.append(entry)
            out[field] = fixed
        return out, None, 0

    def shape_service(self, view: dict[str, Any]) -> dict[str, Any]:
        """``view`` (a copy the caller owns) with ``expose`` ports in this release's shape."""
        expose = view.get("expose")
        if not isinstance(expose, dict):
            return view
        expose = copy.copy(expose)
        for key in ("api_port", "nodePort"):
            if key not in expose:
                continue
            value = expose[key]
            if self.port_lists:
                if isinstance(value, int) and not isinstance(value, bool):
                    expose[key] = [value] if value else []
                elif value is None:
                    expose[key] = []
            elif isinstance(value, list):
                first = next((v for v in value if isinstance(v, int) and not isinstance(v, bool)), 0)
                expose[key] = first
        view["expose"] = expose
        return view

    def jobs_listing(self, jobs: dict[str, Any], next_page: str | None, remaining: int) -> dict[str, Any]:
        """The body of ``GET /system/logs/{name}`` in this release's shape."""
        from . import gotypes

        types = gotypes.TYPES[self.api_version]
        if not self.jobs_envelope:
            return {name: gotypes.shape(types, "JobInfo", info) for name, info in jobs.items()}
        out: dict[str, Any] = {"jobs": jobs}
        if next_page is not None:
            out["next_page"] = next_page
            out["remaining_jobs"] = remaining
        return gotypes.shape(types, "JobsResponse", out)
