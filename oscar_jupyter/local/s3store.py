"""The S3 client oscar-local uses: `S3Store`, a thin layer over the `minio` client.

It talks to any S3 endpoint (the embedded one of `s3.S3Endpoint` or an
external MinIO/S3); failures raise `StoreError`, listings give `ObjectEntry`s.
"""
from __future__ import annotations

import datetime as _dt
import io
import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from .s3server import REGION


class StoreError(Exception):
    """An S3 operation failed. `code` is S3's error code (NoSuchBucket...) when there is one."""

    def __init__(self, message: str, *, code: str = "", status: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ObjectEntry:
    """One listed object (or, in non-recursive listings, a common prefix `is_dir`)."""

    key: str
    size: int
    last_modified: Optional[_dt.datetime]
    etag: str
    is_dir: bool = False

    def as_dict(self) -> Dict[str, Any]:
        return {"key": self.key, "size": self.size, "etag": self.etag, "is_dir": self.is_dir,
                "last_modified": self.last_modified.isoformat() if self.last_modified else None}


class S3Store:
    """A thin layer over the `minio` client with the operations oscar-local needs."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, *, region: str = REGION,
                 verify: bool = True) -> None:
        from minio import Minio
        import urllib3

        parsed = urllib.parse.urlparse(endpoint if "://" in endpoint else "http://" + endpoint)
        self.endpoint = f"{parsed.scheme}://{parsed.netloc}"
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=10, read=300), maxsize=32,
            cert_reqs="CERT_REQUIRED" if verify else "CERT_NONE",
            retries=urllib3.Retry(total=3, backoff_factor=0.2,
                                  status_forcelist=(500, 502, 503, 504)))
        self._signing = (access_key, secret_key, region)
        self.client = Minio(parsed.netloc, access_key=access_key, secret_key=secret_key,
                            secure=parsed.scheme == "https", region=region, http_client=http,
                            cert_check=verify)

    def __repr__(self) -> str:
        return f"S3Store({self.endpoint!r})"

    def _fail(self, what: str, exc: Exception, bucket: str = "", key: str = "") -> StoreError:
        from minio.error import S3Error
        where = f"{bucket}/{key}" if key else bucket
        if isinstance(exc, S3Error):
            return StoreError(f"{what} {where!r} failed: {exc.code} ({exc.message})",
                              code=exc.code or "", status=exc.response.status if exc.response else None)
        import urllib3.exceptions
        if isinstance(exc, (OSError, urllib3.exceptions.HTTPError)):
            # connection errors name the endpoint's internal address: say what is wrong instead
            return StoreError(f"{what} {where!r} failed: the object storage is not reachable "
                              f"({type(exc).__name__}); try again shortly")
        return StoreError(f"{what} {where!r} failed: {type(exc).__name__}: {exc}")

    def bucket_exists(self, bucket: str) -> bool:
        try:
            return self.client.bucket_exists(bucket)
        except Exception as exc:  # noqa: BLE001
            raise self._fail("checking bucket", exc, bucket) from None

    def buckets(self) -> List[str]:
        """Names of all buckets."""
        try:
            return [b.name for b in self.client.list_buckets()]
        except Exception as exc:  # noqa: BLE001
            raise self._fail("listing buckets", exc) from None

    def ensure_bucket(self, bucket: str) -> bool:
        """Create `bucket` unless it exists. True when it was created."""
        from minio.error import S3Error
        try:
            if self.client.bucket_exists(bucket):
                return False
            self.client.make_bucket(bucket)
            return True
        except S3Error as exc:
            if exc.code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                return False
            raise self._fail("creating bucket", exc, bucket) from None
        except Exception as exc:  # noqa: BLE001
            raise self._fail("creating bucket", exc, bucket) from None

    def put_marker(self, bucket: str, folder: str) -> None:
        """Create the empty `folder/` object OSCAR uses to show a folder."""
        folder = folder.strip("/")
        if not folder:
            return
        self.put_bytes(bucket, folder + "/", b"")

    def put_bytes(self, bucket: str, key: str, data: bytes,
                  content_type: str = "application/octet-stream") -> None:
        try:
            self.client.put_object(bucket, key, io.BytesIO(data), len(data), content_type=content_type)
        except Exception as exc:  # noqa: BLE001
            raise self._fail("writing", exc, bucket, key) from None

    def get_bytes(self, bucket: str, key: str) -> bytes:
        try:
            resp = self.client.get_object(bucket, key)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()
        except Exception as exc:  # noqa: BLE001
            raise self._fail("reading", exc, bucket, key) from None

    def upload_file(self, bucket: str, key: str, path: str,
                    content_type: str = "application/octet-stream") -> None:
        try:
            self.client.fput_object(bucket, key, path, content_type=content_type)
        except Exception as exc:  # noqa: BLE001
            raise self._fail("uploading", exc, bucket, key) from None

    def download_file(self, bucket: str, key: str, path: str) -> None:
        try:
            self.client.fget_object(bucket, key, path)
        except Exception as exc:  # noqa: BLE001
            raise self._fail("downloading", exc, bucket, key) from None

    def stat(self, bucket: str, key: str) -> Optional[ObjectEntry]:
        """The object's entry, or None when it does not exist."""
        from minio.error import S3Error
        try:
            st = self.client.stat_object(bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return None
            raise self._fail("reading", exc, bucket, key) from None
        except Exception as exc:  # noqa: BLE001
            raise self._fail("reading", exc, bucket, key) from None
        return ObjectEntry(key, int(st.size or 0), st.last_modified, (st.etag or "").strip('"'))

    def remove(self, bucket: str, key: str) -> None:
        try:
            self.client.remove_object(bucket, key)
        except Exception as exc:  # noqa: BLE001
            raise self._fail("deleting", exc, bucket, key) from None

    def list(self, bucket: str, prefix: str = "", recursive: bool = True,
             start_after: Optional[str] = None, limit: Optional[int] = None) -> List[ObjectEntry]:
        """Objects under `prefix`, in key order; at most `limit` (None = all)."""
        out: List[ObjectEntry] = []
        try:
            for obj in self.client.list_objects(bucket, prefix=prefix or None, recursive=recursive,
                                                start_after=start_after or None):
                out.append(ObjectEntry(obj.object_name or "", int(obj.size or 0), obj.last_modified,
                                       (obj.etag or "").strip('"'), bool(obj.is_dir)))
                if limit is not None and len(out) >= limit:
                    break
        except Exception as exc:  # noqa: BLE001
            raise self._fail("listing", exc, bucket, prefix) from None
        return out

    def delete_bucket(self, bucket: str, force: bool = False) -> bool:
        """Delete `bucket` (with `force`, its objects first). False when it did not exist."""
        from minio.deleteobjects import DeleteObject
        from minio.error import S3Error
        try:
            if not self.client.bucket_exists(bucket):
                return False
            if force:
                names = (DeleteObject(o.object_name) for o in
                         self.client.list_objects(bucket, recursive=True))
                errors = list(self.client.remove_objects(bucket, names))
                if errors:
                    raise StoreError(f"deleting objects of bucket {bucket!r} failed: "
                                     f"{errors[0].code} on {errors[0].name!r}")
            self.client.remove_bucket(bucket)
            return True
        except StoreError:
            raise
        except S3Error as exc:
            if exc.code == "NoSuchBucket":
                return False
            raise self._fail("deleting bucket", exc, bucket) from None
        except Exception as exc:  # noqa: BLE001
            raise self._fail("deleting bucket", exc, bucket) from None

    def presign(self, method: str, bucket: str, key: str, expires: float = 3600, *,
                headers: Optional[Dict[str, str]] = None, query: Optional[Dict[str, str]] = None) -> str:
        """A presigned URL for `method` (GET/PUT/...) on `bucket/key`, valid `expires` seconds,
        signing `headers` (which the client must then send) and carrying `query`."""
        seconds = int(expires.total_seconds()) if isinstance(expires, _dt.timedelta) else int(expires)
        if not 1 <= seconds <= 7 * 24 * 3600:
            raise StoreError(f"presign expiry must be 1 s to 7 days, got {seconds} s")
        if headers or query:
            from .presign import presign_v4

            access, secret, region = self._signing
            return presign_v4(method, self.endpoint, bucket, key, access_key=access, secret_key=secret,
                              region=region, expires=seconds, headers=headers, query=query)
        try:
            return self.client.get_presigned_url(method.upper(), bucket, key,
                                                 expires=_dt.timedelta(seconds=seconds))
        except Exception as exc:  # noqa: BLE001
            raise self._fail("presigning", exc, bucket, key) from None
