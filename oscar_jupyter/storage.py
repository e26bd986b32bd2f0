"""The cluster's object storage (MinIO / S3), through the `minio` client.

Credentials and endpoint come from `GET /system/config` (`minio_provider`), as
every OSCAR client does. Paths are ``"bucket/folder/name"`` strings (a leading
``minio://`` or ``s3://`` is accepted). Large transfers show a tqdm progress
bar when `progress=True`.
"""
from __future__ import annotations

import io
import logging
import mimetypes
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union
from urllib.parse import urlsplit

from . import errors

logger = logging.getLogger(__name__)

__all__ = ["Storage", "ObjectInfo", "ObjectList", "parse_path", "PROGRESS_MIN_BYTES"]

#: transfers at least this big show a progress bar when progress=None (auto)
PROGRESS_MIN_BYTES = 8 * 1024 * 1024


def parse_path(path: str) -> Tuple[str, str]:
    """``'bucket/folder/file'`` -> ``('bucket', 'folder/file')``; raise on an empty bucket."""
    text = str(path or "").strip()
    for scheme in ("minio://", "s3://"):
        if text.startswith(scheme):
            text = text[len(scheme):]
    text = text.lstrip("/")
    bucket, _, key = text.partition("/")
    if not bucket:
        raise errors.InvalidInput(f"{path!r} names no bucket.", hint="Write paths as 'bucket/folder/name'.")
    return bucket, key


@dataclass
class ObjectInfo:
    """One object (or folder, when listing non-recursively)."""

    bucket: str
    key: str
    size: Optional[int] = None
    last_modified: Optional[datetime] = None
    etag: Optional[str] = None
    is_dir: bool = False

    @property
    def name(self) -> str:
        """The object's base name."""
        return self.key.rstrip("/").rsplit("/", 1)[-1]

    @property
    def path(self) -> str:
        """``bucket/key``."""
        return f"{self.bucket}/{self.key}"


class ObjectList(list):
    """A listing of `ObjectInfo`; renders as a table."""

    def __init__(self, items: Iterable[ObjectInfo] = (), *, path: str = "") -> None:
        super().__init__(items)
        self.path = path

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        from . import display
        return display.mimebundle(self, include=include, exclude=exclude)


class _Progress:
    """minio's progress protocol (set_meta/update) over a tqdm.auto bar."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.bar = None

    def set_meta(self, object_name: str, total_length: int) -> None:
        from tqdm.auto import tqdm
        self.bar = tqdm(total=total_length, unit="B", unit_scale=True, unit_divisor=1024,
                        desc=self.description or object_name, leave=False)

    def update(self, length: int) -> None:
        if self.bar is not None:
            self.bar.update(length)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _want_progress(progress: Optional[bool], size: Optional[int]) -> bool:
    if progress is None:
        return bool(size and size >= PROGRESS_MIN_BYTES)
    return bool(progress)


class Storage:
    """Buckets and objects of one cluster."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, *,
                 region: Optional[str] = None, verify: Any = True, cluster: Any = None) -> None:
        from minio import Minio
        import urllib3
        parts = urlsplit(endpoint if "://" in endpoint else "https://" + endpoint)
        if not parts.hostname:
            raise errors.ConfigError(f"The storage endpoint {endpoint!r} is not a URL.")
        self.endpoint = f"{parts.scheme}://{parts.netloc}"
        self._secret_key = secret_key
        self.cluster = cluster
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5.0, read=120.0), maxsize=64,
            cert_reqs="CERT_REQUIRED" if verify is not False else "CERT_NONE",
            ca_certs=verify if isinstance(verify, str) else None,
            retries=urllib3.Retry(total=3, backoff_factor=0.3, status_forcelist=(500, 502, 503, 504)))
        self.client = Minio(parts.netloc, access_key=access_key, secret_key=secret_key,
                            secure=parts.scheme == "https", region=region or None,
                            http_client=http, cert_check=verify is not False)

    @classmethod
    def from_cluster(cls, cluster: Any) -> "Storage":
        config = cluster._raw_config()
        provider = config.get("minio_provider") if isinstance(config, dict) else None
        if not isinstance(provider, dict) or not provider.get("endpoint"):
            raise errors.StorageError(f"{cluster.endpoint} did not say where its MinIO is "
                                      "(no minio_provider in /system/config).",
                                      hint="Is this an OSCAR Manager with MinIO?")
        verify = provider.get("verify", True)
        if verify is True and cluster.ssl_verify is not True:
            verify = cluster.ssl_verify
        return cls(str(provider["endpoint"]), str(provider.get("access_key") or ""),
                   str(provider.get("secret_key") or ""), region=provider.get("region"),
                   verify=verify, cluster=cluster)

    def __repr__(self) -> str:
        return f"<Storage {self.endpoint}>"

    # -- error mapping -----------------------------------------------------------------------

    def _fail(self, exc: Exception, what: str) -> errors.OscarError:
        from minio.error import S3Error
        if isinstance(exc, errors.OscarError):
            return exc
        if isinstance(exc, S3Error):
            code = exc.code or ""
            if code in ("NoSuchKey", "NoSuchBucket", "NoSuchObject", "ResourceNotFound"):
                return errors.NotFound(f"{what}: {code}.", hint="List with storage.ls(...) to see what exists.")
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return errors.AuthError(f"{what}: the storage refused the credentials ({code}).",
                                        hint="The cluster's /system/config gives the storage keys; "
                                             "reconnect if they changed.")
            return errors.StorageError(f"{what}: {code or 'S3 error'} ({exc.message}).")
        text = errors.redact(str(exc), [self._secret_key])
        if isinstance(exc, (ValueError, UnicodeError)):  # refused by the client before sending
            return errors.InvalidInput(f"{what}: {text}.", hint="Check the bucket and object name.")
        if "timed out" in text.lower() or "timeout" in type(exc).__name__.lower():
            return errors.Timeout(f"{what}: the storage at {self.endpoint} timed out.")
        return errors.StorageError(f"{what}: {type(exc).__name__} talking to {self.endpoint}.",
                                   hint="Check that the cluster's MinIO is reachable from here.")

    # -- listing -----------------------------------------------------------------------------

    def buckets(self) -> List[str]:
        """Names of the buckets these credentials see."""
        try:
            return [b.name for b in self.client.list_buckets()]
        except Exception as exc:
            raise self._fail(exc, "list buckets") from None

    def make_bucket(self, bucket: str) -> None:
        try:
            if not self.client.bucket_exists(bucket):
                self.client.make_bucket(bucket)
        except Exception as exc:
            raise self._fail(exc, f"create bucket {bucket!r}") from None

    def iter_objects(self, path: str, *, recursive: bool = True,
                     include_markers: bool = False) -> Iterator[ObjectInfo]:
        """Objects under `path` (``bucket`` or ``bucket/prefix``)."""
        bucket, prefix = parse_path(path)
        if prefix and not prefix.endswith("/") and not recursive:
            prefix += "/"
        try:
            for obj in self.client.list_objects(bucket, prefix=prefix or None, recursive=recursive):
                key = obj.object_name or ""
                is_dir = bool(obj.is_dir)
                if key == prefix and key.endswith("/"):
                    continue  # the folder itself
                if recursive and key.endswith("/") and not include_markers:
                    continue  # the empty 'folder/' markers OSCAR creates
                yield ObjectInfo(bucket, key, obj.size, obj.last_modified, obj.etag, is_dir)
        except Exception as exc:
            raise self._fail(exc, f"list {path!r}") from None

    def ls(self, path: str = "", *, recursive: bool = False) -> ObjectList:
        """List a bucket or folder (`''` lists the buckets as folders)."""
        if not str(path).strip("/"):
            return ObjectList((ObjectInfo(b, "", is_dir=True) for b in self.buckets()), path="")
        return ObjectList(self.iter_objects(path, recursive=recursive), path=str(path))

    def count(self, path: str, *, limit: Optional[int] = None) -> int:
        """How many objects (folder markers excluded) are under `path`, up to `limit`."""
        total = 0
        for _ in self.iter_objects(path, recursive=True):
            total += 1
            if limit and total >= limit:
                break
        return total

    def exists(self, path: str) -> bool:
        bucket, key = parse_path(path)
        try:
            if not key:
                return self.client.bucket_exists(bucket)
            self.client.stat_object(bucket, key)
            return True
        except Exception as exc:
            error = self._fail(exc, f"stat {path!r}")
            if isinstance(error, errors.NotFound):
                return False
            raise error from None

    def stat(self, path: str) -> ObjectInfo:
        bucket, key = parse_path(path)
        try:
            obj = self.client.stat_object(bucket, key)
        except Exception as exc:
            raise self._fail(exc, f"stat {path!r}") from None
        return ObjectInfo(bucket, key, obj.size, obj.last_modified, obj.etag)

    # -- transfer ----------------------------------------------------------------------------

    def put(self, source: Any, path: str, *, progress: Optional[bool] = None,
            content_type: Optional[str] = None) -> ObjectInfo:
        """Upload `source` (a local file path, bytes, or any data `codecs.payload` knows)
        to `path`. A `path` ending in '/' keeps the file's name. Returns the object."""
        bucket, key = parse_path(path)
        local = Path(source) if isinstance(source, (os.PathLike,)) or (
            isinstance(source, str) and os.path.isfile(source)) else None
        if local is not None and not local.is_file():
            raise errors.InvalidInput(f"No such file: {str(local)!r}.")
        if not key or key.endswith("/"):
            if local is None:
                raise errors.InvalidInput(f"{path!r} ends in '/' but the data has no name.",
                                          hint="Give the full object path, e.g. 'bucket/in/name.png'.")
            key = key + local.name
        content_type = content_type or mimetypes.guess_type(key)[0] or "application/octet-stream"
        bar = None
        try:
            if local is not None:
                size = local.stat().st_size
                bar = _Progress(f"upload {local.name}") if _want_progress(progress, size) else None
                self.client.fput_object(bucket, key, str(local), progress=bar,
                                        content_type=content_type)
            else:
                if isinstance(source, (bytes, bytearray, memoryview)):
                    raw = bytes(source)
                else:
                    from . import codecs
                    raw, _ = codecs.payload(source)
                bar = _Progress(f"upload {key.rsplit('/', 1)[-1]}") if _want_progress(progress, len(raw)) else None
                self.client.put_object(bucket, key, io.BytesIO(raw), len(raw), progress=bar,
                                       content_type=content_type)
        except errors.OscarError:
            raise
        except Exception as exc:
            raise self._fail(exc, f"upload to {bucket}/{key}") from None
        finally:
            if bar is not None:
                bar.close()
        return ObjectInfo(bucket, key)

    def put_folder(self, folder: Union[str, Path], path: str, *, progress: Optional[bool] = None) -> List[ObjectInfo]:
        """Upload every file under `folder` (recursively) below `path`, keeping relative names."""
        root = Path(folder)
        if not root.is_dir():
            raise errors.InvalidInput(f"No such folder: {str(root)!r}.")
        bucket, prefix = parse_path(path)
        prefix = prefix.rstrip("/") + "/" if prefix else ""
        done = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = file.relative_to(root).as_posix()
            done.append(self.put(file, f"{bucket}/{prefix}{rel}", progress=progress))
        return done

    def read(self, path: str) -> bytes:
        """The bytes of the object at `path`."""
        bucket, key = parse_path(path)
        response = None
        try:
            response = self.client.get_object(bucket, key)
            return response.read()
        except Exception as exc:
            raise self._fail(exc, f"download {path!r}") from None
        finally:
            if response is not None:
                response.close()
                response.release_conn()

    def get(self, path: str, dest: Union[str, Path, None] = None, *,
            progress: Optional[bool] = None) -> Union[Path, bytes]:
        """Download `path` to the file or folder `dest` (returns the file), or return its
        bytes when `dest` is None."""
        if dest is None:
            return self.read(path)
        bucket, key = parse_path(path)
        target = Path(dest)
        if target.is_dir() or str(dest).endswith(("/", os.sep)):
            target = target / key.rsplit("/", 1)[-1]
        bar = None
        try:
            size = self.client.stat_object(bucket, key).size if progress is None else None
            if _want_progress(progress, size):
                bar = _Progress(f"download {target.name}")
            self.client.fget_object(bucket, key, str(target), progress=bar)
        except Exception as exc:
            raise self._fail(exc, f"download {path!r}") from None
        finally:
            if bar is not None:
                bar.close()
        return target

    def rm(self, path: str, *, recursive: bool = False) -> int:
        """Delete the object at `path`, or with `recursive` everything under it. Returns a count."""
        from minio.deleteobjects import DeleteObject
        bucket, key = parse_path(path)
        try:
            if not recursive:
                if not key:
                    raise errors.InvalidInput(f"{path!r} is a bucket; pass recursive=True to empty it.")
                self.client.remove_object(bucket, key)
                return 1
            keys = [o.key for o in self.iter_objects(path, recursive=True, include_markers=True)]
            failures = list(self.client.remove_objects(bucket, (DeleteObject(k) for k in keys)))
            if failures:
                raise errors.StorageError(f"Could not delete {len(failures)} object(s) under {path!r} "
                                          f"(first: {failures[0].name}: {failures[0].code}).")
            return len(keys)
        except errors.OscarError:
            raise
        except Exception as exc:
            raise self._fail(exc, f"delete {path!r}") from None

    def presign(self, path: str, *, expires: Union[int, timedelta] = 3600, method: str = "GET") -> str:
        """A presigned URL for `path` (GET to download, PUT to upload), valid `expires` seconds."""
        bucket, key = parse_path(path)
        if isinstance(expires, (int, float)):
            expires = timedelta(seconds=int(expires))
        try:
            return self.client.get_presigned_url(method.upper(), bucket, key, expires=expires)
        except Exception as exc:
            raise self._fail(exc, f"presign {path!r}") from None
