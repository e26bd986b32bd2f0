"""Which 5xx answers oscar-local documents (docs/oscar-local.md, local/app.py); any other is a bug."""
from __future__ import annotations

import requests


def documented(resp: requests.Response) -> bool:
    """True for any answer below 500, and for the documented 5xx: 503 busy (with ``Retry-After``) or
    while a service is updated/deleted, 504 out of time, 502/500 ``Storage error: ...``, and the
    Manager's 500 for a definition it hands on to Kubernetes, which refuses it (``Error creating the
    service: ...`` / ``Error updating the service: ...``, see local/strictness.py), and the 500s of its
    own provider checks (local/providers.py)."""
    if resp.status_code < 500:
        return True
    if resp.status_code == 503:
        return bool(resp.headers.get("Retry-After")) or "is being updated or deleted" in resp.text
    if resp.status_code == 504:
        return True
    if resp.status_code == 500 and resp.text.startswith(("Error creating the service: ",
                                                         "Error updating the service: ",
                                                         'the StorageProvider "', 'the provided MinIO server "',
                                                         "mount options contain invalid characters")):
        return True
    return resp.status_code in (500, 502) and resp.text.startswith("Storage error:")
