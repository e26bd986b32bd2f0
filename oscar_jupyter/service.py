"""`Service`: a handle on one deployed service - run, map, submit, jobs, logs, diff, delete."""
from __future__ import annotations

import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union
from urllib.parse import quote

from . import codecs, errors
from .auth import BearerAuth
from .jobs import AsyncRun, JobList, Jobs, Upload
from .results import BatchItem, BatchResult, Result

logger = logging.getLogger(__name__)

__all__ = ["Definitions", "Service", "ServiceList", "specs_of"]


class Definitions(list):
    """The `ServiceSpec`s read from a source, with the warnings found while reading them."""

    def __init__(self, specs: Iterable[Any] = (), warnings: Iterable[Any] = ()) -> None:
        super().__init__(specs)
        self.warnings: list = []
        for warning in warnings:
            if all(str(warning) != str(w) for w in self.warnings):
                self.warnings.append(warning)


def specs_of(source: Any, *, strict: bool = False) -> Definitions:
    """Every `ServiceSpec` in `source`, all validated before any is returned.

    `source`: an FDL object, a path or YAML text of an FDL, an FDL dict (with
    ``functions``), a service dict, a `ServiceSpec`, or a list of these.
    Keys the schema does not know are warnings (``.warnings`` of the result);
    with `strict` they are errors.
    """
    from . import fdl
    from .spec import ServiceSpec
    if isinstance(source, ServiceSpec) and not strict:
        return Definitions([source], source.warnings)
    if isinstance(source, (list, tuple)):
        out = Definitions()
        problems: list = []
        for item in source:
            try:
                part = specs_of(item, strict=strict)
            except errors.InvalidDefinition as exc:
                problems.extend(exc.problems or [exc.message])
                continue
            out.extend(part)
            out.warnings.extend(w for w in part.warnings if w not in out.warnings)
        if problems:
            raise errors.InvalidDefinition("Some definitions are invalid", problems)
        return out
    try:
        loaded = fdl.load(source, strict=strict)
    except TypeError:
        raise errors.InvalidDefinition(
            f"Cannot read service definitions from a {type(source).__name__}.",
            hint="Pass an FDL (path, text, dict or object) or a ServiceSpec.") from None
    return Definitions(loaded.services,
                       list(loaded.warnings) + [w for s in loaded.services for w in s.warnings])


class ServiceList(list):
    """Services of a cluster; renders as a table. Index by position or name."""

    def __init__(self, items: Iterable["Service"] = (), *, cluster: Any = None,
                 warnings: Iterable[Any] = ()) -> None:
        super().__init__(items)
        self.cluster = cluster
        #: what reading the definitions warned about (unknown keys, ...), for `apply`'s result
        self.warnings = list(warnings)

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            for svc in self:
                if svc.name == key:
                    return svc
            raise KeyError(key)
        return super().__getitem__(key)

    def names(self) -> List[str]:
        return [s.name for s in self]

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return item in self.names()
        return super().__contains__(item)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        from . import display
        return display.mimebundle(self, include=include, exclude=exclude)


def _named_inputs(inputs: Any) -> List[Tuple[str, Any, Optional[Path]]]:
    """(name, data, local file) for each input of `submit`.

    How inputs are read (by type first, never by what the working directory holds):

    - ``{name: data}`` dict: named inputs. ``(name, data)`` tuple (two items, the
      first a str): always one named input; a list may hold several such pairs.
    - a named input's data is a file or folder only when it is a `Path` (any
      ``os.PathLike``); a str there is text, bytes are bytes, images/arrays/dicts
      are encoded as `codecs.payload` does.
    - an unnamed input (alone, or an item of a list or of a tuple that is not a
      pair): a `Path` is a file or folder (which must exist); a str naming an
      existing file or folder is that file or folder; any other str is text.
      In-memory data is named ``input-0001.<ext>``.
    - folders are walked recursively, names relative to the folder (below the
      given name for a named folder); files keep their base name.
    """
    if isinstance(inputs, dict):
        entries: List[Tuple[Optional[str], Any]] = [(str(k), v) for k, v in inputs.items()]
    elif _is_pair(inputs):
        entries = [(inputs[0], inputs[1])]
    elif isinstance(inputs, (list, tuple)):
        entries = [(p[0], p[1]) if _is_pair(p) else (None, p) for p in inputs]
    else:
        entries = [(None, inputs)]
    out: List[Tuple[str, Any, Optional[Path]]] = []
    counter = 0
    for name, data in entries:
        if name is not None:
            _check_name(name)
        local = _local_path(data, named=name is not None)
        if local is not None and local.is_dir():
            for file in sorted(p for p in local.rglob("*") if p.is_file()):
                rel = file.relative_to(local).as_posix()
                out.append(((name.strip("/") + "/" + rel) if name else rel, file, file))
            continue
        if local is not None:
            out.append((name or local.name, local, local))
            continue
        counter += 1
        if not name:
            _, ext = codecs.payload(data)
            name = f"input-{counter:04d}.{ext}"
        out.append((name, data, None))
    names = [n for n, _, _ in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise errors.InvalidInput(f"Two inputs would be uploaded as {duplicates[0]!r}.",
                                  hint="Give them distinct names with a {name: data} dict.")
    return out


def _check_name(name: str) -> None:
    """An input's name becomes part of an object key: non-empty, no '.'/'..' parts, UTF-8."""
    parts = name.strip("/").split("/")
    problem = ""
    if not name.strip("/"):
        problem = "names must not be empty"
    elif any(p in ("", ".", "..") for p in parts):
        problem = "names must not have empty, '.' or '..' parts"
    elif any(ord(ch) < 32 for ch in name):
        problem = "names must not hold control characters"
    else:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            problem = "names must be valid Unicode text"
    if problem:
        raise errors.InvalidInput(f"An input is named {name!r}: {problem}.",
                                  hint="Name each input like 'photo.png' or 'folder/photo.png'.")


def _is_pair(value: Any) -> bool:
    """A ``(name, data)`` pair: a tuple of two items whose first is a str (always a pair,
    whatever files exist)."""
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)


def _local_path(data: Any, *, named: bool = False) -> Optional[Path]:
    """The local file or folder `data` stands for, or None for in-memory data.

    A Path always is one (and must exist); a str is one only when it is not the
    data of a named input and names an existing file or folder.
    """
    if isinstance(data, os.PathLike):
        path = Path(data)
        if not path.exists():
            raise errors.InvalidInput(f"No such file or folder: {str(path)!r}.")
        return path
    if (not named and isinstance(data, str) and 0 < len(data) < 4096 and "\n" not in data
            and os.path.exists(data)):
        return Path(data)
    return None


def _upload_bytes(data: Any) -> Any:
    """What `Storage.put` gets for in-memory data: a str is its UTF-8 text, never a path."""
    return data.encode("utf-8") if isinstance(data, str) else data


def _check_timeout(timeout: Optional[float], what: str = "timeout") -> None:
    """A timeout is None (the default) or a positive number of seconds."""
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise errors.InvalidInput(f"{what} must be a positive number of seconds or None, not {timeout!r}.")


def _check_concurrency(concurrency: Any) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise errors.InvalidInput(f"concurrency must be a whole number of at least 1, not {concurrency!r}.")


def _redacted(exc: errors.OscarError, cluster: Any) -> errors.OscarError:
    """`exc` with the secrets the cluster knows replaced in its message, hint and log."""
    exc.message = cluster.redact(exc.message)
    exc.hint = cluster.redact(exc.hint)
    exc.args = (exc.message,)
    if isinstance(exc, errors.ServiceFailed):
        exc.log = cluster.redact(exc.log)
    return exc


#: deployment states (v4 `/deployment`) that mean "not ready yet"
_STARTING_STATES = ("pending", "creating", "deploying", "progressing", "starting", "provisioning",
                    "containercreating", "scaling", "updating")


def _item_name(data: Any, index: int) -> str:
    """A file's base name for path inputs, else the item's position."""
    try:
        path = _local_path(data)
    except errors.InvalidInput:
        path = None
    return path.name if path is not None else str(index)


class Service:
    """A deployed service on a `Cluster`."""

    def __init__(self, cluster: Any, name: str, *, spec: Optional[Dict[str, Any]] = None) -> None:
        self.cluster = cluster
        self.name = name
        self._spec = spec

    # -- definition --------------------------------------------------------------------------

    def refresh(self) -> "Service":
        """Fetch the deployed definition again (raises `NotFound`)."""
        self._spec = self.cluster.get_service_spec(self.name)
        return self

    @property
    def spec(self) -> Dict[str, Any]:
        """The deployed definition (the Manager's JSON)."""
        if self._spec is None:
            self.refresh()
        assert self._spec is not None
        return self._spec

    def to_dict(self) -> Dict[str, Any]:
        return json.loads(json.dumps(self.spec))

    @property
    def token(self) -> Optional[str]:
        """The service token (for `/run` and `/job`); never shown in reprs."""
        token = self.spec.get("token")
        if not token:
            self.refresh()
            token = self.spec.get("token")
        return token or None

    def __repr__(self) -> str:
        return f"<Service {self.name!r} on {self.cluster.id!r}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        from . import display
        return display.mimebundle(self, include=include, exclude=exclude)

    def _paths(self, key: str) -> List[str]:
        paths = []
        for entry in self.spec.get(key) or []:
            provider = str(entry.get("storage_provider") or "minio")
            if provider in ("minio", "minio.default") and entry.get("path"):
                paths.append(str(entry["path"]).strip("/"))
        return paths

    def input_paths(self) -> List[str]:
        """``bucket/folder`` of each MinIO input of the service."""
        return self._paths("input")

    def output_paths(self) -> List[str]:
        """``bucket/folder`` of each MinIO output of the service."""
        return self._paths("output")

    def diff(self, source: Any) -> str:
        """A unified diff from the deployed definition to `source` (FDL or spec); '' when equal.

        Server-set fields (token, owner, the cluster's own MinIO credentials) and
        blanked secret values are ignored; both sides are normalised and defaulted.
        """
        from .fdl import diff_service
        specs = [s for s in specs_of(source) if s.name == self.name]
        if not specs:
            raise errors.InvalidDefinition(f"The definition has no service named {self.name!r}.")
        diff = diff_service(specs[0], self.refresh().spec,
                            deployed_label=f"deployed on {self.cluster.id}")
        return self.cluster.redact(diff)

    def delete(self) -> None:
        """Delete the service (warns when its buckets hold objects)."""
        self.cluster.delete(self.name)

    # -- exposed services (a long-running server per replica) ---------------------------------

    @property
    def exposed(self):
        """The HTTP API of the service's server (`ExposedService`, one per handle while the
        definition's expose section and token stay the same); `NotSupported` when not exposed."""
        from .exposed import ExposedService
        key = json.dumps([self.spec.get("expose"), self.spec.get("token")], sort_keys=True, default=str)
        cached = getattr(self, "_exposed", None)
        if cached is None or cached[0] != key:
            if cached is not None:
                cached[1].close()
            self._exposed = (key, ExposedService(self))
        return self._exposed[1]

    def deployment(self):
        """The deployment's state and replicas (`Deployment`; Manager v4)."""
        from .deployment import get_deployment
        return get_deployment(self.cluster, self.name, expose=(self._spec or {}).get("expose"))

    def deployment_logs(self, *, timestamps: bool = False, tail_lines: Optional[int] = None):
        """The replicas' recent output (`DeploymentLogs`; Manager v4)."""
        from .deployment import get_logs
        return get_logs(self.cluster, self.name, timestamps=timestamps, tail_lines=tail_lines)

    def stop(self):
        """Scale the exposed service to zero and suspend its autoscaling (Manager v4.1); the definition,
        route and buckets stay. Returns the new `Deployment`."""
        from .deployment import change
        return change(self.cluster, self.name, "stop")

    def start(self):
        """Start a stopped exposed service again (its replicas before the stop, else min_scale)."""
        from .deployment import change
        return change(self.cluster, self.name, "start")

    def restart(self):
        """Replace the exposed service's replicas one by one (in-memory state is lost)."""
        from .deployment import change
        return change(self.cluster, self.name, "restart")

    def wait_ready(self, timeout: float = 120.0, *, poll: float = 1.0,
                   progress: Optional[bool] = None) -> "Service":
        """Wait until the service is deployed (and, on v4, its deployment reports ready).

        An exposed service is ready once its replicas answer their health check: its
        deployment says so (v4, with a progress bar of ready replicas unless
        `progress=False`), or - where the Manager has no deployment route - its
        ``health_path`` answers through the exposed URL.
        """
        from .deployment import wait_exposed
        from .exposed import api_port, expose_settings
        if api_port(expose_settings(self.refresh().spec)):
            wait_exposed(self, timeout=timeout, poll=poll, progress=progress is not False)
            return self
        deadline = time.monotonic() + timeout
        state = "not found"
        while True:
            try:
                self.refresh()
                state = self._deployment_state()
                if state in ("failed", "error", "crashloopbackoff", "imagepullbackoff", "errimagepull"):
                    raise errors.ServiceFailed(f"Service {self.name!r} failed to deploy ({state}).",
                                               hint="Check its image and resources; read "
                                                    "/system/services/<name>/deployment/logs.")
                if state not in _STARTING_STATES:
                    return self  # ready, idle (scaled to zero), or a state this client does not know
            except errors.NotFound:
                state = "not found"
            if time.monotonic() > deadline:
                raise errors.Timeout(f"Service {self.name!r} not ready after {timeout:.0f} s ({state}).",
                                     hint="Wait longer, or check the cluster's status.")
            time.sleep(poll)

    def _deployment_state(self) -> str:
        try:
            data = self.cluster.get_json(f"/system/services/{quote(self.name, safe='')}/deployment",
                                         what=f"deployment of {self.name!r}",
                                         timeout=self.cluster.timeout)
        except (errors.NotFound, errors.APIError):
            return ""  # v3 and oscar-local: no deployment endpoint; the service exists
        if isinstance(data, dict):
            return str(data.get("state") or "").lower()
        return ""

    # -- synchronous -------------------------------------------------------------------------

    def _run_auth(self) -> Any:
        token = self.spec.get("token") if self._spec else None
        if not token:
            try:
                token = self.token
            except errors.AuthError:  # e.g. a bearer that /system refuses: use it on /run
                token = None
        if token:
            self.cluster.remember_secret(token)
            return BearerAuth(token)
        bearer = self.cluster.auth.bearer_token() if self.cluster.auth else None
        if bearer:
            return self.cluster.auth
        raise errors.AuthError(f"No token to invoke {self.name!r}: the cluster returned none and the "
                               "connection has no OIDC token.",
                               hint="Connect with token=/refresh_token= or as the service's owner.")

    def run(self, data: Any = None, *, encoding: Optional[str] = None,
            timeout: Optional[float] = None) -> Result:
        """Invoke synchronously with `data`; return the decoded `Result`.

        See `oscar_jupyter.codecs` for how data is encoded (`encoding=` overrides)
        and how the answer is decoded. Raises `ServiceFailed` (with `.log`) when the
        script failed, `Timeout` after `timeout` seconds (default 310).
        """
        _check_timeout(timeout)
        body = codecs.encode(data, encoding)
        auth = self._run_auth()
        start = time.perf_counter()
        read_timeout = None if timeout is None else (min(5.0, timeout), float(timeout))
        def post(auth: Any):
            return self.cluster.request(
                "POST", f"/run/{quote(self.name, safe='')}", data=body.body,
                headers={"Content-Type": body.content_type}, auth=auth, timeout=read_timeout,
                what=f"run {self.name!r}")

        try:
            response = post(auth)
        except errors.AuthError:
            # the service may have been re-created with a new token since it was read
            old = self._spec.get("token") if self._spec else None
            if not old or not isinstance(auth, BearerAuth):
                raise
            try:
                self.refresh()
            except errors.OscarError:
                raise errors.AuthError(f"run {self.name!r}: the service token was refused.") from None
            if not self._spec or self._spec.get("token") in (None, old):
                raise
            start = time.perf_counter()
            response = post(self._run_auth())
        elapsed = time.perf_counter() - start
        try:
            result = codecs.decode(response.content, headers=response.headers, service=self.name,
                                   elapsed=elapsed, input=data)
        except errors.ServiceFailed as exc:
            raise _redacted(exc, self.cluster)
        result.log = self.cluster.redact(result.log or "")
        return result

    def map(self, items: Iterable[Any], *, concurrency: int = 4, progress: bool = True,
            encoding: Optional[str] = None, timeout: Optional[float] = None) -> BatchResult:
        """`run` each item, `concurrency` at a time; results in input order, failures
        kept on their items (never raised for the batch)."""
        inputs = list(items)
        _check_concurrency(concurrency)
        _check_timeout(timeout)
        batch = [BatchItem(input=i, name=_item_name(i, n)) for n, i in enumerate(inputs)]
        start = time.perf_counter()
        self._run_auth()  # fetch the token once, before the threads start
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(inputs), desc=f"{self.name}", unit="call")

        def one(index: int) -> None:
            t0 = time.perf_counter()
            try:
                batch[index].result = self.run(inputs[index], encoding=encoding, timeout=timeout)
            except Exception as exc:  # kept per item; the batch goes on
                batch[index].error = exc
            batch[index].elapsed = time.perf_counter() - t0

        pool = ThreadPoolExecutor(max_workers=min(concurrency, max(1, len(inputs))))
        try:
            futures = [pool.submit(one, i) for i in range(len(inputs))]
            for future in as_completed(futures):
                future.result()
                if bar is not None:
                    bar.update(1)
        finally:
            # on an interrupt, calls not yet started are dropped instead of waited for
            pool.shutdown(wait=True, cancel_futures=True)
            if bar is not None:
                bar.close()
        result = BatchResult(batch, elapsed=time.perf_counter() - start, service=self.name)
        failed = len(result.errors)
        if failed:
            logger.warning("%d of %d calls to %r failed (see .errors).", failed, len(batch), self.name)
        return result

    # -- asynchronous ------------------------------------------------------------------------

    def submit(self, inputs: Any, *, wait: bool = True, timeout: Optional[float] = 600.0,
               progress: bool = True, concurrency: int = 4, input_path: Optional[str] = None):
        """Upload `inputs` to the service's input folder; each upload starts one job.

        `inputs`: a file or folder path (folders recursively), in-memory data, a
        list of those, a ``{name: data}`` dict or ``(name, data)`` pairs (a str as
        named data is text; only a `Path` there is a file). The full rules are in
        `_named_inputs`. With
        `wait` (default) returns the `BatchResult` (outputs matched back to
        inputs, failed jobs' logs as errors); otherwise the `AsyncRun` to `.wait()`
        on later. See `oscar_jupyter.jobs` for how jobs and outputs are matched.
        """
        _check_timeout(timeout)
        _check_concurrency(concurrency)
        paths = [input_path] if input_path else self.input_paths()
        if not paths:
            raise errors.InvalidInput(f"Service {self.name!r} has no MinIO input folder to upload to.",
                                      hint="Add `input: [{storage_provider: minio.default, path: "
                                           "bucket/in}]` to its definition, or use run()/map().")
        target = paths[0]
        named = _named_inputs(inputs)
        if not named:
            raise errors.InvalidInput("Nothing to submit: no inputs (an empty folder?).")
        self._warn_filters(named)
        jobs = Jobs(self.cluster, self.name)
        known = {j.name for j in jobs.list()}
        storage = self.cluster.storage
        # what the output folders hold before the upload is an earlier run's, never ours
        before: Dict[str, tuple] = {}
        for path in self.output_paths():
            try:
                before.update({obj.path: (obj.etag, obj.last_modified)
                               for obj in storage.iter_objects(path, recursive=True)})
            except errors.NotFound:  # no bucket yet: nothing there before
                pass
        bucket, _, folder = target.partition("/")
        folder = folder.strip("/")
        started = time.monotonic()
        uploads: List[Upload] = []
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(named), desc=f"upload to {target}", unit="file")

        # every in-memory input is encoded before anything is uploaded: a bad one uploads none
        bodies: Dict[int, bytes] = {}
        for index, (name, data, local) in enumerate(named):
            if local is None:
                try:
                    bodies[index] = codecs.payload(_upload_bytes(data))[0]
                except errors.InvalidInput as exc:
                    raise errors.InvalidInput(f"Input {name!r}: {exc.message}", hint=exc.hint) from None

        def put(index: int) -> Upload:
            name, data, local = named[index]
            key = f"{folder}/{name}" if folder else name
            storage.put(local if local is not None else bodies[index], f"{bucket}/{key}",
                        progress=False if progress is False else None)
            uploaded_at = time.monotonic()
            stored = storage.stat(f"{bucket}/{key}")  # the object's time on the storage's clock
            return Upload(name=name, bucket=bucket, key=key, input=data, uploaded_at=uploaded_at,
                          stored_at=stored.last_modified)

        done: Dict[int, Upload] = {}
        failed: Dict[int, BaseException] = {}
        pool = ThreadPoolExecutor(max_workers=min(concurrency, len(named)))
        try:
            futures = {pool.submit(put, i): i for i in range(len(named))}
            for future in as_completed(futures):
                try:
                    done[futures[future]] = future.result()
                except errors.OscarError as exc:
                    failed[futures[future]] = exc
                if bar is not None:
                    bar.update(1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if bar is not None:
                bar.close()
        uploads = [done[i] for i in sorted(done)]
        if failed:
            first = failed[min(failed)]
            error = errors.StorageError(
                f"{len(failed)} of {len(named)} input(s) could not be uploaded to {target} (first: "
                f"{named[min(failed)][0]}: {getattr(first, 'message', first)}); the {len(uploads)} "
                "uploaded ones started their jobs.",
                hint="The AsyncRun of the uploaded inputs is on this error's .run: .wait() on it.")
            error.run = AsyncRun(self, uploads, known, started=started, progress=progress,  # type: ignore[attr-defined]
                                 before=before)
            raise error
        logger.info("Uploaded %d input(s) to %s for %r.", len(uploads), target, self.name)
        run = AsyncRun(self, uploads, known, started=started, progress=progress, before=before)
        if not wait:
            return run
        return run.wait(timeout=timeout)

    def _warn_filters(self, named: Sequence[Tuple[str, Any, Optional[Path]]]) -> None:
        entries = self.spec.get("input") or []
        if not entries:
            return
        suffixes = entries[0].get("suffix") or []
        prefixes = entries[0].get("prefix") or []
        for name, _, _ in named:
            base = name.rsplit("/", 1)[-1]
            if suffixes and not any(base.endswith(s) for s in suffixes):
                logger.warning("%r does not end with %s: the input filter of %r will skip it.",
                               name, suffixes, self.name)
            if prefixes and not any(base.startswith(p) for p in prefixes):
                logger.warning("%r does not start with %s: the input filter of %r will skip it.",
                               name, prefixes, self.name)

    # -- jobs --------------------------------------------------------------------------------

    @property
    def job_api(self) -> Jobs:
        return Jobs(self.cluster, self.name)

    def jobs(self, status: Union[str, Sequence[str], None] = None, *,
             limit: Optional[int] = None) -> JobList:
        """The service's jobs (every page), optionally filtered by status."""
        return self.job_api.list(status, limit=limit)

    def logs(self, job: Any, *, timestamps: bool = False) -> str:
        """The log of one job."""
        return self.cluster.redact(self.job_api.logs(job, timestamps=timestamps))

    def delete_job(self, job: Any) -> None:
        """Delete one job (name or `Job`)."""
        self.job_api.delete(job)

    def delete_jobs(self, all: bool = False) -> None:
        """Delete finished jobs (`all=True`: every job)."""
        self.job_api.delete_all(all=all)
