"""oscar-local as Binder runs it: as a user who is not root.

Binder starts oscar-local as an unprivileged user (``binder/start``), so
nginx serves without its ``user`` directive, bubblewrap makes the replicas'
namespaces without privileges, and every scratch directory belongs to that
user. Run as root, this test builds a venv from the system's Python (the
test's own interpreter may sit where other users cannot read), installs the
checkout there, and runs oscar-local in it as ``nobody``: an exposed service
with two replicas on one hard-coded port, behind nginx, with ``set_auth``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from checkout_copy import copy_checkout
from exposed_backend import backend
from oscar_jupyter.local.exposed.frontdoor import nginx_binary

SYSTEM_PYTHON = "/usr/bin/python3"
NOBODY = 65534

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run oscar-local as another user"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is not installed"),
    pytest.mark.skipif(nginx_binary("nginx") is None, reason="nginx is not installed"),
    pytest.mark.skipif(not os.access(SYSTEM_PYTHON, os.X_OK), reason="no system Python at /usr/bin/python3"),
]

CHECK = r'''
import json, os, sys, tempfile, time
import requests
from oscar_jupyter import local

args = json.load(open(sys.argv[1]))
out = {"uid": os.geteuid()}
c = local.start(data_dir=args["data"], port=0, password="nonroot-test-password")
try:
    auth = (c.user, c.password)
    svc = {"name": "nonroot", "image": "python:3", "script": args["script"],
           "expose": {"api_port": [8080], "min_scale": 2, "max_scale": 2, "set_auth": True}}
    out["create"] = requests.post(c.endpoint + "/system/services", json=svc, auth=auth, timeout=60).status_code
    deadline = time.monotonic() + 180
    while True:
        d = requests.get(c.endpoint + "/system/services/nonroot/deployment", auth=auth, timeout=30).json()
        if (d["state"], d["active_instances"]) == ("ready", 2) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    out["deployment"] = [d["state"], d["active_instances"], d.get("reason", "")]
    token = requests.get(c.endpoint + "/system/services/nonroot", auth=auth, timeout=30).json()["token"]
    url = c.endpoint + "/system/services/nonroot/exposed/hello"
    refused = requests.get(url, timeout=30)
    out["refused"] = [refused.status_code, refused.headers.get("Server", "")]
    answers = [requests.get(url, auth=("nonroot", token), timeout=30) for _ in range(30)]
    out["bodies"] = sorted({r.text[:200] for r in answers if r.status_code != 200})
    out["statuses"] = sorted({r.status_code for r in answers})
    out["servers"] = sorted({r.headers.get("Server", "") for r in answers})
    ok = [r.json() for r in answers if r.status_code == 200]
    out["paths"] = sorted({a["path"] for a in ok})
    out["replicas"] = len({a["pid"] for a in ok})
    requests.delete(c.endpoint + "/system/services/nonroot", auth=auth, timeout=60)
    out["deleted"] = requests.get(url, timeout=30).status_code
finally:
    c.stop()
tmp = tempfile.gettempdir()
out["left"] = [n for n in os.listdir(tmp) if os.stat(os.path.join(tmp, n)).st_uid == os.geteuid()]
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def user_venv() -> str:
    """A venv made from the system's Python with the checkout installed, readable by every user
    (outside /tmp: replicas run with a private /tmp, and their scripts' python3 is this venv's)."""
    base = tempfile.mkdtemp(prefix="oj-nonroot-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None)
    os.chmod(base, 0o755)
    try:
        source = Path(base, "checkout")
        copy_checkout(source)
        env_dir = os.path.join(base, "venv")
        made = subprocess.run([SYSTEM_PYTHON, "-m", "venv", env_dir], capture_output=True, text=True, timeout=120)
        if made.returncode != 0:
            pytest.skip(f"the system Python cannot make a venv: {made.stderr.strip()[-300:]}")
        py = os.path.join(env_dir, "bin", "python")
        install = subprocess.run([py, "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check",
                                  str(source)], capture_output=True, text=True, timeout=480)
        assert install.returncode == 0, install.stderr[-3000:]
        subprocess.run(["chmod", "-R", "a+rX", base], check=True)
        yield py
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_binder_as_a_user_not_root_serves_replicas_through_nginx(user_venv: str) -> None:
    work = tempfile.mkdtemp(prefix="oj-nobody-")
    try:
        os.chown(work, NOBODY, NOBODY)
        check = Path(work, "check.py")
        check.write_text(CHECK)
        args = Path(work, "args.json")
        args.write_text(json.dumps({"data": os.path.join(work, "data"), "script": backend(8080)}))
        scratch = os.path.join(work, "tmp")  # the user's own temporary directory, as on Binder
        os.mkdir(scratch)
        for path in (check, args, scratch):
            os.chown(path, NOBODY, NOBODY)
        env = {"PATH": f"{os.path.dirname(user_venv)}:/usr/bin:/bin", "HOME": work, "TMPDIR": scratch}
        done = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                               user_venv, str(check), str(args)], cwd=work, env=env, capture_output=True,
                              text=True, timeout=400)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        got = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert got["uid"] == NOBODY and got["create"] == 201
    assert got["deployment"][:2] == ["ready", 2], got["deployment"]
    assert got["refused"][0] == 401 and got["refused"][1].startswith("nginx"), got["refused"]
    assert got["statuses"] == [200] and all(s.startswith("nginx") for s in got["servers"]), got
    assert got["paths"] == ["/hello"] and got["replicas"] == 2, got  # one hard-coded port, two namespaces
    assert got["deleted"] == 404
    assert got["left"] == [], got["left"]  # every scratch directory removed at stop
