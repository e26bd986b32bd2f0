"""Reading the script file an FDL names: what may be read, and what is worth a warning.

A script file's text is sent to the cluster as the service's script, so an FDL
from elsewhere (a published example, a colleague's notebook) must not be able
to pick up a local secret: the oscar-cli config, SSH/cloud/Kubernetes
credentials, an oscar-local data dir, a private key, the process table.
Those are refused with an error naming the file. A file outside the FDL's
folder (``../x.sh``, an absolute path) is read, with a warning naming it.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Optional, Tuple

#: A script file larger than this is refused (OSCAR scripts are a few KB).
MAX_SCRIPT_BYTES = 4 * 1024 * 1024

#: Places under the home directory that hold credentials.
HOME_SECRETS = (".oscar-cli", ".ssh", ".aws", ".kube", ".gnupg", ".docker", ".azure",
                ".config/oidc-agent", ".oidc-agent", ".config/gcloud", ".config/rclone", ".mc",
                ".netrc", ".git-credentials", ".pgpass", ".s3cfg", ".boto", ".password-store",
                ".local/share/keyrings", ".config/oscar-jupyter", ".jupyter/jupyter_server_config.json")

#: System places no script comes from.
SYSTEM_SECRETS = ("/proc", "/sys", "/dev", "/etc/shadow", "/etc/gshadow", "/etc/sudoers",
                  "/etc/ssh", "/etc/ssl/private", "/root/.ssh", "/var/run/secrets", "/run/secrets")

#: Files that make a folder an oscar-local data dir (its state holds every token and secret).
DATA_DIR_MARKS = ("state.sqlite3", "endpoint.json")

_KEY_MARKS = (b"-----BEGIN RSA PRIVATE KEY", b"-----BEGIN OPENSSH PRIVATE KEY",
              b"-----BEGIN EC PRIVATE KEY", b"-----BEGIN PRIVATE KEY", b"-----BEGIN DSA PRIVATE KEY",
              b"-----BEGIN ENCRYPTED PRIVATE KEY", b"-----BEGIN PGP PRIVATE KEY")


def _within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _real(path: str) -> Optional[Path]:
    try:
        return Path(os.path.realpath(os.path.expanduser(path)))
    except (OSError, ValueError):
        return None


def secret_place(target: Path) -> Optional[str]:
    """Why `target` (already resolved) holds credentials, or None."""
    home = _real("~")
    if home is not None and str(home) not in ("/", ""):
        for place in HOME_SECRETS:
            where = home / place
            if target == where or _within(target, where):
                return f"it is in ~/{place}, which holds credentials"
    for variable in ("OSCAR_CLI_CONFIG", "KUBECONFIG", "AWS_SHARED_CREDENTIALS_FILE",
                     "AWS_CONFIG_FILE"):
        for value in (os.environ.get(variable) or "").split(os.pathsep):
            configured = _real(value) if value else None
            if configured is not None and target == configured:
                return f"it is the file ${variable} names"
    for place in SYSTEM_SECRETS:
        real = _real(place)
        for where in {Path(place), real} - {None}:
            if target == where or _within(target, where):
                return f"it is under {place}"
    folder = target.parent
    if target.name in DATA_DIR_MARKS or target.name.startswith("state.sqlite3"):
        if all((folder / mark).exists() for mark in DATA_DIR_MARKS):
            return "it is part of an oscar-local data dir (service tokens and secrets)"
    return None


def read_script_file(name: str, base: Path) -> Tuple[Optional[str], Path, Optional[str], Optional[str]]:
    """Read the script file `name` (relative to `base`, or absolute).

    Returns ``(text, path, warning, error)``: `text` is None when `error` says
    why the file is not read; `warning` names a file outside `base`.
    """
    given = Path(os.path.expanduser(name)) if name.startswith("~") else Path(name)
    target = given if given.is_absolute() else base / given
    real = _real(str(target)) or target
    secret = secret_place(real)
    if secret is not None:
        return None, target, None, (f"script file {name!r} ({real}) is not read: {secret}; "
                                    "an FDL's script is sent to the cluster")
    try:
        info = os.stat(real)
    except FileNotFoundError:
        return None, target, None, (f"script file {name!r} not found (looked for {target}); "
                                    "give the path relative to the FDL file, or the script itself")
    except OSError as exc:
        return None, target, None, f"cannot read script file {name!r} ({target}): {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return None, target, None, f"script file {name!r} ({real}) is not a regular file"
    if info.st_size > MAX_SCRIPT_BYTES:
        return None, target, None, (f"script file {name!r} ({real}) is {info.st_size:,} bytes; "
                                    f"a script is at most {MAX_SCRIPT_BYTES:,}")
    try:
        with open(real, "rb") as handle:
            raw = handle.read(MAX_SCRIPT_BYTES + 1)
    except OSError as exc:
        return None, target, None, f"cannot read script file {name!r} ({target}): {exc.strerror or exc}"
    if any(mark in raw for mark in _KEY_MARKS):
        return None, target, None, (f"script file {name!r} ({real}) is not read: it holds a "
                                    "private key; an FDL's script is sent to the cluster")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, target, None, f"script file {name!r} is not UTF-8 text (byte {exc.start})"
    warning = None
    base_real = _real(str(base)) or base
    if not _within(real, base_real):
        warning = (f"script file {name!r} is outside the FDL's folder: {real} is read and sent "
                   "to the cluster as the service's script")
    return text, target, warning, None
