"""What the sandbox costs a synchronous call: ``POST /run`` with and without it.

Two oscar-locals run side by side, one with ``--sandbox none`` (the
baseline) and one with the strongest mode this machine allows, each with the
same trivial service; calls alternate between them so both see the same
load. Two paths are timed:

* steady calls (``min_scale: 0``): after each request the executor prepares
  the next slot, sandbox included, so a request finds its sandbox started;
* first calls to freshly created services, which start their sandbox while
  the request waits.
"""
from __future__ import annotations

import base64
import os
import time
import uuid
from typing import Dict, List, Tuple

import requests

SCRIPT = 'cat "$INPUT_FILE_PATH"\n'
PAYLOAD = b"hello from the sandbox benchmark\n"


def _service(endpoint: str, auth: Tuple[str, str], name: str) -> requests.Session:
    svc = {"name": name, "image": "alpine", "script": SCRIPT, "log_level": "CRITICAL",
           "synchronous": {"min_scale": 0, "max_scale": 1}}
    requests.post(endpoint + "/system/services", json=svc, auth=auth, timeout=60).raise_for_status()
    token = requests.get(f"{endpoint}/system/services/{name}", auth=auth, timeout=30).json()["token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _call(session: requests.Session, endpoint: str, name: str) -> float:
    t0 = time.perf_counter()
    resp = session.post(f"{endpoint}/run/{name}", data=base64.b64encode(PAYLOAD), timeout=60)
    took = time.perf_counter() - t0
    if resp.status_code != 200 or resp.headers.get("X-Oscar-Exit-Code") != "0" \
            or not resp.content.endswith(PAYLOAD + b"\n"):
        raise RuntimeError(f"/run answered {resp.status_code}: {resp.text[:200]}")
    return took


def sandbox_overhead(n: int, first: int, tmp: str) -> Tuple[str, Dict[str, List[float]]]:
    """The sandbox mode used, and seconds per call: plain/boxed steady, plain/boxed first."""
    from oscar_jupyter import local

    plain = local.start(data_dir=os.path.join(tmp, "plain"), port=0, password="bench", sandbox="none")
    boxed = local.start(data_dir=os.path.join(tmp, "boxed"), port=0, password="bench", sandbox="auto")
    try:
        info = requests.get(boxed.endpoint + "/system/info", auth=(boxed.user, boxed.password), timeout=30)
        mode = info.headers.get("X-Oscar-Local-Sandbox", "?").split(" ")[0]
        out: Dict[str, List[float]] = {k: [] for k in ("plain", "boxed", "plain_first", "boxed_first")}
        sessions = {c.endpoint: _service(c.endpoint, (c.user, c.password), "bench-sandbox") for c in (plain, boxed)}
        for _ in range(5):  # warm both
            for c in (plain, boxed):
                _call(sessions[c.endpoint], c.endpoint, "bench-sandbox")
        for _ in range(n):
            out["plain"].append(_call(sessions[plain.endpoint], plain.endpoint, "bench-sandbox"))
            out["boxed"].append(_call(sessions[boxed.endpoint], boxed.endpoint, "bench-sandbox"))
        for _ in range(first):
            name = f"bench-first-{uuid.uuid4().hex[:8]}"
            for key, c in (("plain_first", plain), ("boxed_first", boxed)):
                session = _service(c.endpoint, (c.user, c.password), name)
                out[key].append(_call(session, c.endpoint, name))
                session.close()
        for session in sessions.values():
            session.close()
        return mode, out
    finally:
        plain.stop()
        boxed.stop()
