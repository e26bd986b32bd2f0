"""Several oscar-locals in one process (a kernel, a test session) are independent:
stopping one leaves the others' front door, storage and processes running."""
from __future__ import annotations

import uuid

import requests

from oscar_jupyter import local


def test_stopping_one_server_leaves_another_in_the_same_process_serving(tmp_path) -> None:
    first = local.start(data_dir=str(tmp_path / "first"), port=0, password=uuid.uuid4().hex)
    second = local.start(data_dir=str(tmp_path / "second"), port=0, password=uuid.uuid4().hex,
                         api_version="3.7")
    try:
        s = requests.Session()
        s.auth = (second.user, second.password)
        created = s.post(f"{second.endpoint}/system/services",
                         json={"name": "still-here", "image": "x", "script": "echo alive"}, timeout=60)
        assert created.status_code == 201, created.text
        first.stop()
        assert s.get(f"{second.endpoint}/system/info", timeout=10).status_code == 200
        token = s.get(f"{second.endpoint}/system/services/still-here", timeout=10).json()["token"]
        run = requests.post(f"{second.endpoint}/run/still-here", data=b"eA==",  # base64 of "x", as the contract wants
                            headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert run.status_code == 200 and run.text.rstrip().endswith("alive"), run.text
    finally:
        first.stop()
        second.stop()
