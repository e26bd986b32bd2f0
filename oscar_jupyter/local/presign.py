"""Presigned S3 URLs that sign request headers, as the Manager's presign route makes them.

The Manager (``pkg/handlers/buckets/presign_bucket.go``) calls minio-go's
``PresignHeader``: an upload's ``content_type`` and every ``extra_headers``
entry become signed headers of the URL (``X-Amz-SignedHeaders``), so the
client must send exactly those values; a download's ``content_type`` becomes
the ``response-content-type`` query parameter. This is AWS Signature V4 in
query form (path-style URL, ``UNSIGNED-PAYLOAD``).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import urllib.parse
from typing import Mapping


def _quote(text: str, safe: str = "-_.~") -> str:
    return urllib.parse.quote(text, safe=safe)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def presign_v4(method: str, endpoint: str, bucket: str, key: str, *, access_key: str, secret_key: str,
               region: str, expires: int, headers: Mapping[str, str] | None = None,
               query: Mapping[str, str] | None = None, now: _dt.datetime | None = None) -> str:
    """A presigned ``method`` URL for ``bucket/key`` on ``endpoint`` signing ``headers``."""
    parsed = urllib.parse.urlparse(endpoint)
    host = parsed.netloc
    moment = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc)
    stamp, day = moment.strftime("%Y%m%dT%H%M%SZ"), moment.strftime("%Y%m%d")
    scope = f"{day}/{region}/s3/aws4_request"
    signed = {"host": host}
    signed.update({k.strip().lower(): " ".join(str(v).split()) for k, v in (headers or {}).items()})
    names = sorted(signed)
    params = dict(query or {})
    params.update({
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{access_key}/{scope}",
        "X-Amz-Date": stamp,
        "X-Amz-Expires": str(int(expires)),
        "X-Amz-SignedHeaders": ";".join(names),
    })
    canonical_query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(params.items()))
    path = "/" + _quote(bucket) + "/" + _quote(key, safe="-_.~/")
    canonical = "\n".join([
        method.upper(), path, canonical_query,
        "".join(f"{name}:{signed[name]}\n" for name in names), ";".join(names), "UNSIGNED-PAYLOAD",
    ])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signing_key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), "s3"), "aws4_request")
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{parsed.scheme}://{host}{path}?{canonical_query}&X-Amz-Signature={signature}"
