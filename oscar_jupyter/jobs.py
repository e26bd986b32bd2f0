"""Asynchronous jobs: listing (with pagination and status filters), logs, deletion,
waiting, and tracking the jobs that uploaded inputs started (`AsyncRun`).

The Manager does not say which job an upload started (`POST /job` and the
MinIO notification return no job name). `AsyncRun` finds them by this rule:

1. Before uploading, the names of the service's existing jobs are recorded.
2. After uploading, each *new* job (not recorded, not taken by another
   `AsyncRun` of this process, and not created more than `CLOCK_SKEW` seconds
   before the object was stored) is a candidate. Its log is read once it has
   finished; faas-supervisor writes the object key it downloads
   (``Downloading item from bucket 'b' with key 'in/x.png'``), so a candidate
   whose log names an uploaded key belongs to that input. The file's base
   name (INPUT_FILE_PATH) is the second choice.
3. When logs name no keys (e.g. ``log_level: CRITICAL`` hides the supervisor
   lines) and exactly as many new jobs as uploads remain, they are paired in
   creation-time order with the uploads in the order the storage stored them.
   Job times have a resolution of one second: jobs created in the same second
   are paired in an order that is a guess (a warning says so).

Outputs. faas-supervisor logs every file it uploads, at INFO level and before
the script's printed output::

    <time> - supervisor - INFO - Searching for files to upload in folder '/tmp/...'
    <time> - supervisor - INFO - Checking files for uploading to 'minio.default' on path: 'b/out'
    <time> - supervisor - INFO - Uploading file 'out/cat.png' to bucket 'b'

so when a job's log has the ``Searching for files to upload`` line, its
outputs are exactly the objects its ``Uploading file`` lines name (for the
cluster's own MinIO; none when it names none). When it has not (``log_level``
WARNING and above hides these lines), an output belongs to the job only if
(a) the object was not in the listing of the output folders taken before the
upload (same key, etag and time), (b) it was written between the job's start
and finish (to the second, the resolution of job times; where the job was
paired by a guess, of any job the input may have run in), (c) no other job of
the run claims it by its log, and (d) the job is the only one of the run whose
window holds it, or among those the only one whose input's file stem begins
the output's name. Anything else is left out (and logged), never guessed.
An object rewritten with the same bytes within the second it was listed
cannot be told from the listed one on a store whose times have a resolution of
one second (moto; MinIO keeps milliseconds), and is left out. Runs of the same
service waited on at the same time in other processes (or
not yet waited on here) can still write into a quiet job's window: give such
services ``log_level: INFO`` (the default) for exact matching.

A job that wrote no output file gives what its script printed (its log after
the supervisor lines), as a synchronous call does.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Union
from urllib.parse import quote

from . import errors

logger = logging.getLogger(__name__)

__all__ = ["Job", "JobList", "JobPage", "Jobs", "AsyncRun", "Upload", "parse_time", "parse_jobs",
           "TERMINAL_STATUSES", "match_outputs"]

TERMINAL_STATUSES = ("Succeeded", "Failed")
STATUSES = ("Suspended", "Pending", "Running", "Succeeded", "Failed")
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_time(value: Any) -> Optional[datetime]:
    """An RFC3339 time (``2025-01-10T10:00:00Z``, ``...+00:00``, fractions) as aware UTC."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    text = _FRACTION.sub(lambda m: m.group(1).ljust(7, "0"), text)  # 3.9 wants 6 digits
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


@dataclass
class Job:
    """One job of a service, as `GET /system/logs/<svc>` lists it."""

    name: str
    status: str = "Unknown"
    creation_time: Optional[str] = None
    start_time: Optional[str] = None
    finish_time: Optional[str] = None
    service: str = ""

    @property
    def created(self) -> Optional[datetime]:
        return parse_time(self.creation_time)

    @property
    def started(self) -> Optional[datetime]:
        return parse_time(self.start_time)

    @property
    def finished(self) -> Optional[datetime]:
        return parse_time(self.finish_time)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def failed(self) -> bool:
        return self.status == "Failed"

    @property
    def duration(self) -> Optional[float]:
        if self.started and self.finished:
            return (self.finished - self.started).total_seconds()
        return None


class JobList(list):
    """A list of `Job`; renders as a table."""

    def __init__(self, items: Iterable[Job] = (), *, service: str = "") -> None:
        super().__init__(items)
        self.service = service

    def by_status(self, *statuses: str) -> "JobList":
        wanted = {s.lower() for s in statuses}
        return JobList((j for j in self if j.status.lower() in wanted), service=self.service)

    def names(self) -> List[str]:
        return [j.name for j in self]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        from . import display
        return display.mimebundle(self, include=include, exclude=exclude)


@dataclass
class JobPage:
    """One page of a job listing; `next_page` is None on the last."""

    jobs: JobList
    next_page: Optional[str] = None
    remaining: Optional[int] = None


def parse_jobs(data: Any, service: str = "") -> JobPage:
    """Read both listing shapes: v3.7+ ``{"jobs": {...}, "next_page", "remaining_jobs"}``
    and the bare ``{<job>: {...}}`` map of v3.6 and older."""
    if not isinstance(data, dict):
        raise errors.APIError(f"list jobs of {service!r}: expected a JSON object.", body=str(data)[:200])
    inner = data.get("jobs")
    wrapped = isinstance(inner, dict) and not isinstance(inner.get("status"), str)
    jobs_map = inner if wrapped else data
    next_page = data.get("next_page") if wrapped else None
    remaining = data.get("remaining_jobs") if wrapped else None
    jobs = []
    for name, info in (jobs_map or {}).items():
        if not isinstance(info, dict):
            continue
        jobs.append(Job(name=str(name), status=str(info.get("status") or "Unknown"),
                        creation_time=info.get("creation_time"), start_time=info.get("start_time"),
                        finish_time=info.get("finish_time"), service=service))
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    jobs.sort(key=lambda j: (j.created or epoch, j.name))
    return JobPage(JobList(jobs, service=service), next_page or None,
                   remaining if isinstance(remaining, int) else None)


def _status_set(status: Union[str, Sequence[str], None]) -> Optional[Set[str]]:
    if status is None:
        return None
    items = [status] if isinstance(status, str) else list(status)
    known = {s.lower(): s for s in STATUSES}
    unknown = [s for s in items if s.lower() not in known]
    if unknown:
        raise errors.InvalidInput(f"Unknown job status {unknown[0]!r}.",
                                  hint=f"Use one of: {', '.join(STATUSES)}.")
    return {s.lower() for s in items}


class Jobs:
    """The jobs of one service."""

    def __init__(self, cluster: Any, service: str, *, page_size: Optional[int] = None) -> None:
        self.cluster = cluster
        self.service = service
        #: jobs per page asked for (``?limit=``, which oscar-local honours; the Manager
        #: picks its own page size and ignores it)
        self.page_size = page_size

    def _path(self, job: Optional[str] = None) -> str:
        base = f"/system/logs/{quote(self.service, safe='')}"
        return base if job is None else f"{base}/{quote(job, safe='')}"

    def page(self, page: Optional[str] = None) -> JobPage:
        """One page of the listing (`page` is a continuation token from `next_page`)."""
        params: Dict[str, Any] = {"page": page} if page else {}
        if self.page_size:
            params["limit"] = self.page_size
        data = self.cluster.get_json(self._path(), params=params or None,
                                     what=f"list jobs of {self.service!r}")
        return parse_jobs(data, self.service)

    def pages(self) -> Iterator[JobPage]:
        """Every page, following `next_page` until there is none."""
        token: Optional[str] = None
        seen: Set[str] = set()
        while True:
            current = self.page(token)
            yield current
            token = current.next_page
            if not token or token in seen:
                return
            seen.add(token)

    def __iter__(self) -> Iterator[Job]:
        for current in self.pages():
            yield from current.jobs

    def list(self, status: Union[str, Sequence[str], None] = None, *,
             limit: Optional[int] = None) -> JobList:
        """Jobs (all pages), optionally only those whose status is in `status`."""
        wanted = _status_set(status)
        out = JobList(service=self.service)
        for job in self:
            if wanted is None or job.status.lower() in wanted:
                out.append(job)
                if limit and len(out) >= limit:
                    break
        return out

    def get(self, name: str) -> Job:
        for job in self:
            if job.name == name:
                return job
        raise errors.NotFound(f"Service {self.service!r} has no job {name!r}.",
                              hint="List the jobs with service.jobs().")

    def logs(self, job: Union[str, Job], *, timestamps: bool = False) -> str:
        """The text log of `job` (supervisor lines, then the script's output)."""
        name = job.name if isinstance(job, Job) else job
        params = {"timestamps": "true"} if timestamps else None
        response = self.cluster.request("GET", self._path(name), params=params,
                                        what=f"logs of job {name!r}")
        text = response.content.decode("utf-8", "replace")
        redact = getattr(self.cluster, "redact", None)
        return redact(text) if redact is not None else text

    def delete(self, job: Union[str, Job]) -> None:
        name = job.name if isinstance(job, Job) else job
        self.cluster.request("DELETE", self._path(name), expect=(200, 204),
                             what=f"delete job {name!r}")

    def delete_all(self, *, all: bool = False) -> None:
        """Delete finished jobs (`all=True`: pending, running and failed ones too)."""
        params = {"all": "true"} if all else None
        self.cluster.request("DELETE", self._path(), params=params, expect=(200, 204),
                             what=f"delete jobs of {self.service!r}")

    def wait(self, names: Iterable[str], *, timeout: Optional[float] = 600.0, poll: float = 1.0,
             progress: bool = False) -> Dict[str, Job]:
        """Wait until every job in `names` has finished; return them by name.

        Raises `Timeout` (naming the unfinished jobs) when `timeout` passes.
        """
        pending = set(names)
        found: Dict[str, Job] = {}
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = _bar(len(pending), "jobs", progress)
        try:
            while pending:
                for job in self.list():
                    if job.name in pending:
                        found[job.name] = job
                        if job.done:
                            pending.discard(job.name)
                            if bar is not None:
                                bar.update(1)
                if not pending:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise errors.Timeout(
                        f"{len(pending)} job(s) of {self.service!r} still unfinished after "
                        f"{timeout:.0f} s: {', '.join(sorted(pending)[:5])}.",
                        hint="Wait longer (timeout=...) or check them with service.jobs().")
                time.sleep(poll)
        finally:
            if bar is not None:
                bar.close()
        return found


def _bar(total: int, unit: str, progress: bool, desc: str = ""):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, unit=unit, desc=desc or None, leave=True)


# -- asynchronous runs ---------------------------------------------------------------------------

#: seconds a job's creation time may precede its object's time (clocks of MinIO and the Manager)
CLOCK_SKEW = 2.0
#: storage providers whose objects this client reads (the cluster's own MinIO)
_OWN_PROVIDERS = ("minio", "minio.default")

_INFO = r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)? - supervisor - INFO - "
_SEARCHING = re.compile(_INFO + r"Searching for files to upload in folder '")
_CHECKING = re.compile(_INFO + r"Checking files for uploading to '(?P<provider>[^']*)' on path: '(?P<path>.*)'\s*$")
_UPLOADING = re.compile(_INFO + r"Uploading file '(?P<key>.*)' to bucket '(?P<bucket>[^']*)'\s*$")
_RESPONSE = re.compile(_INFO + r"Creating response\s*$")


def logged_outputs(log: str) -> Optional[List[str]]:
    """``bucket/key`` of every output a job's log says faas-supervisor uploaded to the
    cluster's MinIO; None when the log does not show the upload step (a quiet
    ``log_level``, or a job that failed before it).

    Only the supervisor's INFO lines before ``Creating response`` count: the
    script's printed output comes after them, so it cannot add names.
    """
    searched = False
    provider: Optional[str] = None
    found: List[str] = []
    for line in log.splitlines():
        if _RESPONSE.match(line):
            break
        if _SEARCHING.match(line):
            searched, provider = True, None
            continue
        if not searched:
            continue
        match = _CHECKING.match(line)
        if match:
            provider = match.group("provider")
            continue
        match = _UPLOADING.match(line)
        if match and provider in _OWN_PROVIDERS:
            path = f"{match.group('bucket')}/{match.group('key')}"
            if path not in found:
                found.append(path)
    return found if searched else None


@dataclass
class Upload:
    """One uploaded input: `name` relative to the input folder, `bucket`/`key` in storage.

    `stored_at` is the object's time as the storage reports it (its clock, not ours).
    """

    name: str
    bucket: str
    key: str
    input: Any = None
    uploaded_at: float = 0.0
    job: Optional[str] = None
    stored_at: Optional[datetime] = None

    @property
    def stem(self) -> str:
        return PurePosixPath(self.name).stem

    @property
    def path(self) -> str:
        return f"{self.bucket}/{self.key}"


def _mentions(log: str, upload: Upload) -> int:
    """2 when `log` names the upload's key, 1 its base name, 0 neither."""
    for score, needle, before in ((2, upload.key, r"(?<![\w.\-/%])"),
                                  (2, quote(upload.key, safe=""), r"(?<![\w.\-/%])"),
                                  (1, "/" + PurePosixPath(upload.key).name, "")):
        if re.search(before + re.escape(needle) + r"(?![\w.\-/%])", log):
            return score
    return 0


def _could_have_started(job: Job, upload: Upload) -> bool:
    """False when `job` was created before `upload` was stored (allowing CLOCK_SKEW)."""
    if job.created is None or upload.stored_at is None:
        return True
    return job.created >= upload.stored_at.replace(microsecond=0) - timedelta(seconds=CLOCK_SKEW)


def _stem_match(output_name: str, stem: str) -> bool:
    base = PurePosixPath(output_name).name
    if PurePosixPath(base).stem == stem or base == stem:
        return True
    return base.startswith(stem) and len(base) > len(stem) and not base[len(stem)].isalnum()


def _window(job_window: tuple) -> Optional[tuple]:
    """(start, finish) widened to whole seconds (job times have a resolution of one second)."""
    start, finish = job_window
    if start is None or finish is None:
        return None
    return start.replace(microsecond=0), finish.replace(microsecond=0) + timedelta(seconds=1)


def match_outputs(uploads: Sequence[Upload], outputs: Sequence[Any], windows: Dict[str, tuple], *,
                  before: Optional[Dict[str, tuple]] = None,
                  claimed: Iterable[str] = ()) -> Dict[str, List[Any]]:
    """Assign output objects (``.path``, ``.etag``, ``.last_modified``) to uploads whose
    jobs' logs do not name their outputs. Returns upload name -> objects.

    `windows`: job name -> (start, finish). `before`: path -> (etag, last_modified)
    of the objects listed before the upload (left out unless rewritten since).
    `claimed`: paths other jobs' logs name, and the uploaded inputs (left out).
    An object goes to the one upload whose job window holds its time; when several
    windows hold it, to the only one of those whose stem begins its name; else nobody.
    """
    assigned: Dict[str, List[Any]] = {u.name: [] for u in uploads}
    before = before or {}
    taken = set(claimed)
    spans = {u.name: _window(windows[u.job]) for u in uploads if u.job in windows}
    for obj in outputs:
        if obj.path in taken:
            continue
        if obj.path in before and before[obj.path] == (obj.etag, obj.last_modified):
            continue  # there before the upload: an earlier run's
        when = getattr(obj, "last_modified", None)
        if when is None:
            continue
        owners = [u for u in uploads if spans.get(u.name) and spans[u.name][0] <= when <= spans[u.name][1]]
        if len(owners) > 1:
            owners = [u for u in owners if _stem_match(obj.key, u.stem)]
            if len(owners) != 1:
                logger.warning("Output %s was written while several jobs ran and its name does not "
                               "say whose it is; it is left out.", obj.path)
                continue
        if owners:
            assigned[owners[0].name].append(obj)
    return assigned


def _relative_name(path: str, roots: Sequence[str]) -> str:
    """An output's name below the output folder that holds it (its whole path otherwise),
    so files of the same base name in different subfolders stay apart."""
    for root in sorted(roots, key=len, reverse=True):
        prefix = root.strip("/") + "/"
        if path.startswith(prefix) and len(path) > len(prefix):
            return path[len(prefix):]
    return path


class _Claims:
    """Jobs already matched to an upload by an `AsyncRun` of this process, per service."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: Dict[tuple, Set[str]] = {}

    def taken(self, service: tuple) -> Set[str]:
        with self._lock:
            return set(self._jobs.get(service, ()))

    def claim(self, service: tuple, job: str) -> bool:
        """Take `job`; False when another run took it first."""
        with self._lock:
            jobs = self._jobs.setdefault(service, set())
            if job in jobs:
                return False
            jobs.add(job)
            return True


_CLAIMS = _Claims()


class AsyncRun:
    """Inputs uploaded to a service's input folder, and the jobs they started.

    `wait()` finds the jobs, waits for them, collects each input's outputs and the
    logs of failed jobs, and returns a `BatchResult` in input order. `before` is
    the output folders' listing taken before the upload (path -> (etag, time)).
    """

    def __init__(self, service: Any, uploads: List[Upload], known_jobs: Set[str], *,
                 started: float, progress: bool = True,
                 before: Optional[Dict[str, tuple]] = None) -> None:
        self.service = service
        self.uploads = uploads
        self.known_jobs = set(known_jobs)
        self.started = started
        self.progress = progress
        self.before = dict(before or {})
        self._jobs: Dict[str, Job] = {}
        self._logs: Dict[str, str] = {}
        self._final_logs: Set[str] = set()
        #: input name -> the jobs it may have run in, when it was paired by creation order
        #: and other jobs were created in the same second
        self._could_be: Dict[str, List[str]] = {}
        self._result = None
        self._lock = threading.Lock()
        self._claims_key = (getattr(service.cluster, "endpoint", ""), service.name)

    @property
    def items(self):
        """BatchItems so far (pending until `wait` has collected them)."""
        if self._result is not None:
            return self._result.items
        from .results import BatchItem
        return [BatchItem(input=u.input, name=u.name, job=u.job) for u in self.uploads]

    @property
    def jobs(self) -> Dict[str, Optional[str]]:
        """Input name -> job name (None until found)."""
        return {u.name: u.job for u in self.uploads}

    def __repr__(self) -> str:
        found = sum(1 for u in self.uploads if u.job)
        return f"<AsyncRun {self.service.name!r}: {len(self.uploads)} inputs, {found} jobs found>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        from . import display
        return display.mimebundle(self, include=include, exclude=exclude)

    def _log(self, jobs: Jobs, job: Job) -> str:
        """The job's log; re-read until one was read after the job finished."""
        if job.name in self._final_logs:
            return self._logs[job.name]
        try:
            self._logs[job.name] = self.service.cluster.redact(jobs.logs(job.name))
        except errors.NotFound:
            self._logs[job.name] = ""
        if job.done:
            self._final_logs.add(job.name)
        return self._logs[job.name]

    def _assign(self, upload: Upload, job: Job) -> bool:
        if not _CLAIMS.claim(self._claims_key, job.name):
            return False
        upload.job = job.name
        return True

    def _match_jobs(self, jobs: Jobs, listing: JobList) -> None:
        unmatched = [u for u in self.uploads if u.job is None]
        if not unmatched:
            return
        taken = {u.job for u in self.uploads if u.job} | _CLAIMS.taken(self._claims_key)
        candidates = [j for j in listing if j.name not in self.known_jobs and j.name not in taken
                      and any(_could_have_started(j, u) for u in unmatched)]
        if not candidates:
            return
        for job in candidates:
            if not job.done:
                continue  # its log is read once, when it has finished
            log = self._log(jobs, job)
            scored = [(_mentions(log, u), u) for u in unmatched
                      if u.job is None and _could_have_started(job, u)]
            scored = [s for s in scored if s[0]]
            if scored:
                best = max(s[0] for s in scored)
                winners = [u for s, u in scored if s == best]
                if len(winners) == 1 and self._assign(winners[0], job):
                    taken.add(job.name)
        unmatched = [u for u in self.uploads if u.job is None]
        rest = [j for j in candidates if j.name not in taken]
        if unmatched and len(rest) == len(unmatched) and all(j.done for j in rest):
            logs = [self._log(jobs, j) for j in rest]
            if not any(any(_mentions(l, u) for u in unmatched) for l in logs):
                epoch = datetime.min.replace(tzinfo=timezone.utc)
                order = sorted(unmatched, key=lambda u: (u.stored_at or epoch, u.uploaded_at))
                pairs = list(zip(order, rest))
                if all(_could_have_started(j, u) for u, j in pairs):
                    for upload, job in pairs:
                        self._assign(upload, job)
                    logger.info("Paired %d job(s) with inputs by creation order (their logs name "
                                "no keys).", len(rest))
                    created = [j.created for j in rest]
                    for upload, job in pairs:  # the jobs each input may really have run in
                        self._could_be[upload.name] = [j.name for j in rest if j.created == job.created]
                    if len(set(created)) < len(created):
                        logger.warning(
                            "Some of these jobs were created in the same second, so which of their "
                            "inputs each one ran on is a guess; set log_level: INFO on %r for "
                            "exact matching.", self.service.name)

    def wait(self, timeout: Optional[float] = 600.0, *, poll: float = 0.5,
             progress: Optional[bool] = None):
        """Find and wait for the jobs, collect outputs; returns a `BatchResult`.

        Inputs whose job was not found or did not finish within `timeout` get an
        `errors.Timeout` as their error; failed jobs an `errors.ServiceFailed`
        with the job's log.
        """
        with self._lock:  # one wait at a time (a panel's thread and the notebook may both call it)
            return self._wait(timeout, poll, progress)

    def _wait(self, timeout: Optional[float], poll: float, progress: Optional[bool]):
        from .results import BatchItem, BatchResult
        if timeout is not None and not timeout > 0:
            raise errors.InvalidInput(f"timeout must be a positive number of seconds or None, not {timeout!r}.")
        progress = self.progress if progress is None else progress
        jobs = Jobs(self.service.cluster, self.service.name)
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = _bar(len(self.uploads), "job", progress, f"{self.service.name} jobs")
        finished: Set[str] = set()
        try:
            while True:
                listing = jobs.list()
                self._jobs.update({j.name: j for j in listing})
                self._match_jobs(jobs, listing)
                now_done = {u.name for u in self.uploads
                            if u.job and self._jobs.get(u.job) and self._jobs[u.job].done}
                if bar is not None and len(now_done) > len(finished):
                    bar.update(len(now_done) - len(finished))
                finished = now_done
                if len(finished) == len(self.uploads):
                    break
                if deadline is not None and time.monotonic() > deadline:
                    break
                time.sleep(poll)
        finally:
            if bar is not None:
                bar.close()
        outputs = self._collect_outputs(jobs)
        items = []
        for upload in self.uploads:
            item = BatchItem(input=upload.input, name=upload.name, job=upload.job)
            job = self._jobs.get(upload.job) if upload.job else None
            if job is not None and job.started and job.finished:
                item.elapsed = job.duration
            if job is None or not job.done:
                state = "no job found" if job is None else f"job {job.name} is {job.status}"
                item.error = errors.Timeout(
                    f"{upload.name}: {state} after {timeout:.0f} s." if timeout else f"{upload.name}: {state}.",
                    hint="Call .wait() again on the AsyncRun to keep waiting.")
            elif job.failed:
                log = self._log(jobs, job)
                item.error = errors.ServiceFailed(f"{upload.name}: job {job.name} failed.", log=log,
                                                  hint="Read .log on this error for the job's output.")
            else:
                log = self._log(jobs, job)
                result, paths, problem = outputs.get(upload.name, (None, [], None))
                if problem is not None:
                    item.error = problem
                    item.outputs = paths
                    items.append(item)
                    continue
                if result is None:  # like a sync call without output files: the script's output
                    from .codecs import result_from_bytes, split_log
                    result = result_from_bytes(split_log(log)[1].encode("utf-8"))
                result.log = log
                result.input = upload.input
                item.result = result
                item.outputs = paths
            items.append(item)
        self._result = BatchResult(items, elapsed=time.monotonic() - self.started,
                                   service=self.service.name)
        return self._result

    def _output_objects(self, jobs: Jobs, done: Sequence[Upload]) -> Dict[str, List[Any]]:
        """Upload name -> its job's output objects, by the rule in the module's docstring."""
        from .storage import ObjectInfo, parse_path
        found: Dict[str, List[Any]] = {}
        quiet: List[Upload] = []
        claimed: Set[str] = {u.path for u in self.uploads}
        for upload in done:
            named = logged_outputs(self._log(jobs, self._jobs[upload.job]))
            if named is None:
                quiet.append(upload)
                continue
            found[upload.name] = [ObjectInfo(*parse_path(path)) for path in named]
            claimed.update(named)
        if quiet:
            storage = self.service.cluster.storage
            listing: List[Any] = []
            for path in self.service.output_paths():
                try:
                    listing.extend(storage.iter_objects(path, recursive=True))
                except errors.NotFound:
                    logger.warning("The output folder %s of %r does not exist.", path, self.service.name)
            windows = {}
            for upload in quiet:
                # where the pairing was a guess, any of the jobs the input may have run in
                group = [self._jobs[n] for n in self._could_be.get(upload.name, [upload.job])
                         if n in self._jobs] or [self._jobs[upload.job]]
                starts = [j.started or j.created for j in group]
                finishes = [j.finished for j in group]
                windows[upload.job] = (None if None in starts else min(starts),
                                       None if None in finishes else max(finishes))
            found.update(match_outputs(quiet, listing, windows, before=self.before, claimed=claimed))
        return found

    def _collect_outputs(self, jobs: Jobs) -> Dict[str, tuple]:
        """Upload name -> (result or None, output paths, error or None) for succeeded jobs."""
        from .codecs import result_from_bytes
        from .results import FilesResult
        storage = self.service.cluster.storage
        done = [u for u in self.uploads
                if u.job and self._jobs.get(u.job) and self._jobs[u.job].status == "Succeeded"]
        assigned = self._output_objects(jobs, done)
        wanted = [(name, obj) for name, objs in assigned.items() for obj in objs]

        def fetch(pair):
            name, obj = pair
            try:
                return name, obj, storage.read(obj.path), None
            except errors.OscarError as exc:
                return name, obj, None, exc

        fetched = []
        if wanted:
            with ThreadPoolExecutor(max_workers=min(8, len(wanted))) as pool:
                fetched = list(pool.map(fetch, wanted))
        grouped: Dict[str, list] = {}
        problems: Dict[str, errors.OscarError] = {}
        for name, obj, data, problem in fetched:
            if problem is not None:
                problems.setdefault(name, errors.StorageError(
                    f"{name}: cannot read the output {obj.path} its job wrote ({problem.message})",
                    hint="Was it deleted or overwritten since? List it with storage.ls(...)."))
                continue
            grouped.setdefault(name, []).append((obj, data))
        results: Dict[str, tuple] = {}
        for upload in done:
            pairs = grouped.get(upload.name, [])
            paths = [o.path for o, _ in pairs]
            if upload.name in problems:
                results[upload.name] = (None, paths, problems[upload.name])
                continue
            if not pairs:
                continue  # no output file: the result is what the script printed (see wait)
            if len(pairs) == 1:
                obj, data = pairs[0]
                result = result_from_bytes(data, name=obj.name)
            else:
                roots = self.service.output_paths()
                result = FilesResult({_relative_name(o.path, roots): result_from_bytes(d, name=o.key)
                                      for o, d in pairs})
            results[upload.name] = (result, paths, None)
        return results
