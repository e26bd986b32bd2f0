"""Asynchronous jobs: listing (with pagination and status filters), logs, deletion,
waiting, and tracking the jobs that uploaded inputs started (`AsyncRun`).

The Manager does not say which job an upload started (`POST /job` and the
MinIO notification return no job name). `AsyncRun` finds them by this rule:

1. Before uploading, the names of the service's existing jobs are recorded.
2. After uploading, each *new* job (not recorded) is a candidate. Its log is
   read once it has started; faas-supervisor writes the object key it
   downloads (``Downloading item from bucket 'b' with key 'in/x.png'``, and
   STORAGE_OBJECT_KEY in the event), so a candidate whose log names an
   uploaded key belongs to that input. The file's base name (INPUT_FILE_PATH)
   is the second choice.
3. When logs name no keys (e.g. ``log_level: CRITICAL`` hides the supervisor
   lines) and exactly as many new jobs as uploads remain, they are paired in
   creation-time order with the uploads in the order they finished.

A job that wrote no output file gives what its script printed (its log after
the supervisor lines), as a synchronous call does. Outputs are matched to
inputs by file stem (``cat.jpg`` -> ``cat.png``,
``cat_gray.jpg``, ``cat.json``), then by the job's time window (an output
written between the job's start and finish, when only one job ran then).
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
        return response.content.decode("utf-8", "replace")

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

@dataclass
class Upload:
    """One uploaded input: `name` relative to the input folder, `bucket`/`key` in storage."""

    name: str
    bucket: str
    key: str
    input: Any = None
    uploaded_at: float = 0.0
    job: Optional[str] = None

    @property
    def stem(self) -> str:
        return PurePosixPath(self.name).stem


def _mentions(log: str, upload: Upload) -> int:
    """2 when `log` names the upload's key, 1 its base name, 0 neither."""
    for score, needle, before in ((2, upload.key, r"(?<![\w.\-/%])"),
                                  (2, quote(upload.key, safe=""), r"(?<![\w.\-/%])"),
                                  (1, "/" + PurePosixPath(upload.key).name, "")):
        if re.search(before + re.escape(needle) + r"(?![\w.\-/%])", log):
            return score
    return 0


def _stem_match(output_name: str, stem: str) -> bool:
    base = PurePosixPath(output_name).name
    if PurePosixPath(base).stem == stem or base == stem:
        return True
    return base.startswith(stem) and len(base) > len(stem) and not base[len(stem)].isalnum()


def match_outputs(uploads: Sequence[Upload], outputs: Sequence[Any],
                  windows: Optional[Dict[str, tuple]] = None) -> Dict[str, List[Any]]:
    """Assign output objects (with `.key`, `.last_modified`) to uploads by name.

    Longest matching stem wins (outputs older than the job's start are from an
    earlier run and ignored); outputs no stem claims go to the one upload whose
    job window (start, finish) contains the output's time. Returns name -> outputs.
    """
    assigned: Dict[str, List[Any]] = {u.name: [] for u in uploads}
    by_stem = sorted(uploads, key=lambda u: len(u.stem), reverse=True)
    slack = timedelta(seconds=2)

    def not_older(obj: Any, upload: Upload) -> bool:
        # an output written before this input's job began is from an earlier run
        start = windows.get(upload.job, (None, None))[0] if windows and upload.job else None
        when = getattr(obj, "last_modified", None)
        return start is None or when is None or when >= start - slack

    leftovers = []
    for obj in outputs:
        owner = next((u for u in by_stem if _stem_match(obj.key, u.stem)), None)
        if owner is not None:
            if not_older(obj, owner):
                assigned[owner.name].append(obj)
        else:
            leftovers.append(obj)
    if windows:
        for obj in leftovers:
            when = getattr(obj, "last_modified", None)
            if when is None:
                continue
            owners = [u for u in uploads if u.job in windows and windows[u.job][0] is not None
                      and windows[u.job][1] is not None
                      and windows[u.job][0] - slack <= when <= windows[u.job][1] + slack]
            if len(owners) == 1:
                assigned[owners[0].name].append(obj)
    return assigned


class AsyncRun:
    """Inputs uploaded to a service's input folder, and the jobs they started.

    `wait()` finds the jobs, waits for them, collects each input's outputs and the
    logs of failed jobs, and returns a `BatchResult` in input order.
    """

    def __init__(self, service: Any, uploads: List[Upload], known_jobs: Set[str], *,
                 started: float, progress: bool = True) -> None:
        self.service = service
        self.uploads = uploads
        self.known_jobs = set(known_jobs)
        self.started = started
        self.progress = progress
        self._jobs: Dict[str, Job] = {}
        self._logs: Dict[str, str] = {}
        self._final_logs: Set[str] = set()
        self._result = None
        self._lock = threading.Lock()

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

    def _match_jobs(self, jobs: Jobs, listing: JobList) -> None:
        unmatched = [u for u in self.uploads if u.job is None]
        taken = {u.job for u in self.uploads if u.job}
        candidates = [j for j in listing if j.name not in self.known_jobs and j.name not in taken]
        if not unmatched or not candidates:
            return
        for job in candidates:
            if not job.done:
                continue  # its log is read once, when it has finished
            log = self._log(jobs, job)
            scored = [(_mentions(log, u), u) for u in unmatched if u.job is None]
            scored = [s for s in scored if s[0]]
            if scored:
                best = max(s[0] for s in scored)
                winners = [u for s, u in scored if s == best]
                if len(winners) == 1:
                    winners[0].job = job.name
                    taken.add(job.name)
        unmatched = [u for u in self.uploads if u.job is None]
        rest = [j for j in candidates if j.name not in taken]
        if unmatched and len(rest) == len(unmatched) and all(j.done for j in rest):
            logs = [self._log(jobs, j) for j in rest]
            if not any(any(_mentions(l, u) for u in unmatched) for l in logs):
                for upload, job in zip(sorted(unmatched, key=lambda u: u.uploaded_at), rest):
                    upload.job = job.name
                logger.info("Paired %d job(s) with inputs by creation order (their logs name no keys).",
                            len(rest))

    def wait(self, timeout: Optional[float] = 600.0, *, poll: float = 0.5,
             progress: Optional[bool] = None):
        """Find and wait for the jobs, collect outputs; returns a `BatchResult`.

        Inputs whose job was not found or did not finish within `timeout` get an
        `errors.Timeout` as their error; failed jobs an `errors.ServiceFailed`
        with the job's log.
        """
        from .results import BatchItem, BatchResult
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
        outputs = self._collect_outputs()
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
                result, paths = outputs.get(upload.name, (None, []))
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

    def _collect_outputs(self) -> Dict[str, Any]:
        from .codecs import result_from_bytes
        from .results import FilesResult
        storage = self.service.cluster.storage
        objects = []
        for path in self.service.output_paths():
            objects.extend(storage.iter_objects(path, recursive=True))
        windows = {}
        for upload in self.uploads:
            job = self._jobs.get(upload.job) if upload.job else None
            if job is not None:
                windows[job.name] = (job.started or job.created, job.finished)
        done = [u for u in self.uploads if u.job and self._jobs.get(u.job) and self._jobs[u.job].done]
        assigned = match_outputs(done, objects, windows)
        wanted = [(name, obj) for name, objs in assigned.items() for obj in objs]

        def fetch(pair):
            name, obj = pair
            return name, obj, storage.read(obj.path)

        results: Dict[str, Any] = {}
        with ThreadPoolExecutor(max_workers=8) as pool:
            fetched = list(pool.map(fetch, wanted))
        grouped: Dict[str, list] = {}
        for name, obj, data in fetched:
            grouped.setdefault(name, []).append((obj, data))
        for upload in done:
            pairs = grouped.get(upload.name, [])
            if not pairs:
                continue  # no output file: the result is what the script printed (see wait)
            if len(pairs) == 1:
                obj, data = pairs[0]
                result = result_from_bytes(data, name=obj.key.rsplit("/", 1)[-1])
            else:
                result = FilesResult({o.key.rsplit("/", 1)[-1]: result_from_bytes(d, name=o.key)
                                      for o, d in pairs})
            results[upload.name] = (result, [f"{o.bucket}/{o.key}" for o, _ in pairs])
        return results
