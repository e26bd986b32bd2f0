"""Input-bucket objects -> exactly one job each.

Two sources feed the same gate: the S3 endpoint's event stream (live
uploads) and a reconciliation scan of every input ``bucket/folder/`` at
start (uploads the event stream missed while oscar-local was down). The
gate is the state's seen-objects table, written in the same transaction as
the Pending job, so a restart neither loses nor repeats an upload:

* an event is one creation (its ``sequencer`` is unique): it starts a job
  unless that event was seen, or a listing found the same object version
  (bucket, key, ETag) moments before and already started its job;
* a listed object starts a job only when no creation of that version was
  accounted for (by an event, an earlier listing, or the baseline).

So re-uploading identical bytes under the same key starts a new job (a new
event), as on OSCAR; only on an external S3 without bucket notifications,
where listing is the only source, is such a re-upload not noticed. Objects
already present when a service is created are remembered without a job (as
on OSCAR, only new uploads trigger). Folder markers never trigger.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, AsyncIterator, Callable
from urllib.parse import unquote

from . import services as svcs
from .jobs import JobManager, new_job_name
from .s3server import minio_event
from .state import State

log = logging.getLogger(__name__)

SCAN_EVENT = "s3:ObjectCreated:Put"
# An event arriving this long after a listing started a job for the same object
# version is taken as that same upload.
ABSORB_WINDOW = 60.0


def clean_etag(etag: Any) -> str:
    return str(etag or "").strip().strip('"')


def event_object(event: dict[str, Any]) -> tuple[str, str, str, int, str] | None:
    """``(bucket, key, etag, size, sequencer)`` of a created-object event, or None for other events."""
    try:
        record = event["Records"][0]
        name = str(record.get("eventName") or event.get("EventName") or "")
        bucket = record["s3"]["bucket"]["name"]
        obj = record["s3"]["object"]
        key = unquote(str(obj["key"]).replace("+", " "))
    except (KeyError, IndexError, TypeError):
        return None
    if name and "ObjectCreated" not in name:
        return None
    etag = clean_etag(obj.get("eTag") or obj.get("etag"))
    sequencer = str(obj.get("sequencer") or "") or f"{record.get('eventTime', '')}/{etag}"
    return bucket, key, etag, int(obj.get("size") or 0), sequencer


class Triggers:
    """Watches the input places of all services and starts one job per new object."""

    def __init__(
        self,
        state: State,
        store: Any,
        jobs: JobManager,
        services: Callable[[], list[dict[str, Any]]],
        events: AsyncIterator[dict[str, Any]] | None,
    ) -> None:
        self.state = state
        self.store = store
        self.jobs = jobs
        self.services = services
        self.events = events
        self._task: asyncio.Task | None = None
        self.started_jobs = 0

    async def start(self) -> None:
        """Begin consuming events, then reconcile what is already in the input buckets."""
        if self.events is not None:
            self._task = asyncio.get_running_loop().create_task(self._consume(), name="s3 events")
        await self.scan()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    # -- sources --------------------------------------------------------
    async def _consume(self) -> None:
        assert self.events is not None
        async for event in self.events:
            try:
                self.handle_event(event)
            except Exception:  # one bad event must not stop the stream
                log.exception("could not handle an S3 event")

    def handle_event(self, event: dict[str, Any]) -> int:
        """Start the jobs one event implies; returns how many started."""
        parsed = event_object(event)
        if parsed is None:
            return 0
        bucket, key, etag, _size, sequencer = parsed
        if key.endswith("/"):
            return 0
        body = json.dumps(event).encode("utf-8")
        started = 0
        for svc in self._watching(bucket, key):
            name = new_job_name(svc["name"])
            if self.state.claim_event(bucket, key, etag, svc["name"], sequencer, name, body, ABSORB_WINDOW):
                started += self._launch(svc["name"], name)
        return started

    async def scan(self) -> int:
        """Start jobs for input objects no job has been started for; returns how many."""
        started = 0
        for svc in self.services():
            for place in svcs.places(svc, "input"):
                for obj in await self._list(place):
                    key, etag, size = obj.key, clean_etag(obj.etag), obj.size
                    if not key or key.endswith("/") or obj.is_dir:
                        continue
                    if self.state.is_listed(place.bucket, key, etag, svc["name"]):
                        continue
                    name = new_job_name(svc["name"])
                    body = json.dumps(minio_event(place.bucket, key, SCAN_EVENT, size=size, etag=etag)).encode()
                    if self.state.claim_listed(place.bucket, key, etag, svc["name"], name, body):
                        started += self._launch(svc["name"], name)
        if started:
            log.info("reconciliation scan started %d job(s) for uploads not seen before", started)
        return started

    async def baseline(self, svc: dict[str, Any]) -> None:
        """Remember the objects already under a new service's inputs, so they start no job."""
        for place in svcs.places(svc, "input"):
            for obj in await self._list(place):
                if obj.key and not obj.key.endswith("/") and not obj.is_dir:
                    self.state.claim_listed(place.bucket, obj.key, clean_etag(obj.etag), svc["name"], None, None,
                                            baseline=True)

    async def _list(self, place: svcs.StoragePlace) -> list[Any]:
        try:
            return await asyncio.to_thread(self.store.list, place.bucket, place.prefix, True)
        except Exception as exc:
            log.warning("could not list %s/%s: %s", place.bucket, place.prefix, exc)
            return []

    # -- the gate -------------------------------------------------------
    def _watching(self, bucket: str, key: str) -> list[dict[str, Any]]:
        """Services with an input folder on this server's storage that contains ``bucket/key``."""
        out = []
        for svc in self.services():
            if any(p.bucket == bucket and key.startswith(p.prefix) for p in svcs.places(svc, "input")):
                out.append(svc)
        return out

    def _launch(self, service: str, name: str) -> int:
        job = self.state.get_job(service, name)
        if job is None:
            return 0
        self.jobs.launch(job)
        self.started_jobs += 1
        log.debug("started job %s", name)
        return 1
