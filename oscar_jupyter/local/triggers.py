"""Input-bucket objects -> exactly one job each.

Two sources feed the same gate: the S3 endpoint's event stream (live
uploads) and a reconciliation scan of every input ``bucket/folder/`` at
start (uploads the event stream missed while oscar-local was down). The
gate is ``State.claim_object_with_job``: one transaction that remembers
``(bucket, key, etag, service)`` and records the Pending job, so an object
version starts one job per service whichever source sees it first, and a
restart neither loses nor repeats it. Objects already present when a
service is created are remembered without a job (as on OSCAR, only new
uploads trigger). Folder markers (keys ending in ``/``) never trigger.

Limitation: an object re-uploaded under the same key with identical bytes
(same ETag) is the same object version here and starts no second job.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, AsyncIterator, Callable
from urllib.parse import unquote

from . import services as svcs
from .jobs import JobManager, new_job_name
from .s3 import minio_event
from .state import State

log = logging.getLogger(__name__)

SCAN_EVENT = "s3:ObjectCreated:Put"


def clean_etag(etag: Any) -> str:
    return str(etag or "").strip().strip('"')


def event_object(event: dict[str, Any]) -> tuple[str, str, str, int, str] | None:
    """``(bucket, key, etag, size, eventName)`` of a created-object event, or None for other events."""
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
    return bucket, key, clean_etag(obj.get("eTag") or obj.get("etag")), int(obj.get("size") or 0), name


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
        bucket, key, etag, size, name = parsed
        body = json.dumps(event).encode("utf-8")
        return self._offer(bucket, key, etag, size, lambda: body)

    async def scan(self) -> int:
        """Start jobs for input objects no job has been started for; returns how many."""
        started = 0
        for svc in self.services():
            for place in svcs.places(svc, "input"):
                for obj in await self._list(place):
                    key, etag, size = obj.key, clean_etag(obj.etag), obj.size
                    if not key or key.endswith("/") or obj.is_dir:
                        continue
                    started += self._offer_one(
                        svc, place.bucket, key, etag,
                        lambda b=place.bucket, k=key, s=size, e=etag: json.dumps(minio_event(b, k, SCAN_EVENT, size=s, etag=e)).encode(),
                    )
        if started:
            log.info("reconciliation scan started %d job(s) for uploads not seen before", started)
        return started

    async def baseline(self, svc: dict[str, Any]) -> None:
        """Remember the objects already under a new service's inputs, so they start no job."""
        for place in svcs.places(svc, "input"):
            for obj in await self._list(place):
                if obj.key and not obj.key.endswith("/") and not obj.is_dir:
                    self.state.claim_object(place.bucket, obj.key, clean_etag(obj.etag), svc["name"], None)

    async def _list(self, place: svcs.StoragePlace) -> list[Any]:
        try:
            return await asyncio.to_thread(self.store.list, place.bucket, place.prefix, True)
        except Exception as exc:
            log.warning("could not list %s/%s: %s", place.bucket, place.prefix, exc)
            return []

    # -- the gate -------------------------------------------------------
    def _offer(self, bucket: str, key: str, etag: str, size: int, body: Callable[[], bytes]) -> int:
        if key.endswith("/"):
            return 0
        started = 0
        for svc in self.services():
            for place in svcs.places(svc, "input"):
                if place.bucket == bucket and key.startswith(place.prefix):
                    started += self._offer_one(svc, bucket, key, etag, body)
                    break
        return started

    def _offer_one(self, svc: dict[str, Any], bucket: str, key: str, etag: str, body: Callable[[], bytes]) -> int:
        name = new_job_name(svc["name"])
        if not self.state.claim_object_with_job(bucket, key, etag, svc["name"], name, body()):
            return 0
        job = self.state.get_job(svc["name"], name)
        if job is not None:
            self.jobs.launch(job)
        self.started_jobs += 1
        log.debug("object %s/%s started job %s", bucket, key, name)
        return 1
