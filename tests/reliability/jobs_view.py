"""Reading a service's jobs and objects back from an oscar-local, for the burst and restart runs."""
from __future__ import annotations

import time
from typing import Any, Callable, Dict
from urllib.parse import urlparse

import requests
import urllib3
from minio import Minio


def jobs(endpoint: str, auth: tuple, service: str) -> Dict[str, Dict[str, Any]]:
    """Every job of ``service`` (all pages): name -> {status, creation_time, ...}."""
    found: Dict[str, Dict[str, Any]] = {}
    page = None
    while True:
        params = {"limit": 1000}
        if page:
            params["page"] = page
        resp = requests.get(f"{endpoint}/system/logs/{service}", params=params, auth=auth, timeout=60)
        resp.raise_for_status()
        doc = resp.json()
        found.update(doc.get("jobs", {}))
        page = doc.get("next_page")
        if not page:
            return found


def job_log(endpoint: str, auth: tuple, service: str, job: str) -> str:
    resp = requests.get(f"{endpoint}/system/logs/{service}/{job}", auth=auth, timeout=60)
    resp.raise_for_status()
    return resp.text


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.5) -> float:
    """Poll ``condition`` until true; the seconds it took. AssertionError naming ``what`` on timeout."""
    t0 = time.monotonic()
    while not condition():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - t0


def s3_client(endpoint: str, auth: tuple, *, retry: bool = True) -> Minio:
    """A minio client from ``/system/config``'s minio_provider, as a user would build it
    (with a connection pool large enough for 32 threads); ``retry=False``: one attempt per call."""
    cfg = requests.get(endpoint + "/system/config", auth=auth, timeout=30).json()["minio_provider"]
    url = urlparse(cfg["endpoint"])
    return Minio(url.netloc, access_key=cfg["access_key"], secret_key=cfg["secret_key"],
                 secure=url.scheme == "https", region=cfg.get("region") or None,
                 http_client=urllib3.PoolManager(maxsize=64, timeout=urllib3.Timeout(connect=10, read=120),
                                                 retries=urllib3.Retry(total=3, backoff_factor=0.2,
                                                                       status_forcelist=[500, 502, 503, 504])
                                                 if retry else False))
