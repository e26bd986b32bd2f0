"""The data directory's permissions: private to the server's user, whatever they were.

oscar-local keeps the admin password, every service's token and secrets,
the S3 credentials and all objects in its data directory. :func:`secure`
runs before anything is read or written there:

* a directory that another user owns, or that users other than the owner
  may write to (group or others write bit), is refused with
  :class:`DataDirUnsafe`: someone else could have planted files in it;
* everything inside is made private: directories 0700, files 0600
  (symbolic links are left alone and never followed).

Files made later stay private because they are created so: the state
database is created 0600 before SQLite opens it (its ``-wal``/``-shm``
files take the database's mode), the embedded S3 endpoint runs with umask
077, and the server's own files are written 0600.
"""
from __future__ import annotations

import os
import stat


class DataDirUnsafe(ValueError):
    """The data directory may be written by someone other than the server's user."""


def secure(data_dir: str) -> None:
    """Create ``data_dir`` 0700 or check and tighten an existing one (see the module doc)."""
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    info = os.stat(data_dir)
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise DataDirUnsafe(f"the data dir {data_dir!r} belongs to uid {info.st_uid}, not to this user "
                            f"(uid {os.geteuid()}); use a directory of your own")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise DataDirUnsafe(
            f"the data dir {data_dir!r} may be written by other users (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"oscar-local keeps secrets there: run 'chmod 700 {data_dir}' after checking its content, "
            "or use another --data-dir")
    private(data_dir)


def private(root: str) -> None:
    """Directories 0700 and files 0600 under ``root`` (links are not followed)."""
    os.chmod(root, 0o700)
    for here, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(here, name)
            try:
                mode = os.lstat(path).st_mode
                if stat.S_ISDIR(mode):
                    if stat.S_IMODE(mode) != 0o700:
                        os.chmod(path, 0o700)
                elif stat.S_ISREG(mode) and stat.S_IMODE(mode) & 0o077:
                    os.chmod(path, stat.S_IMODE(mode) & 0o700 or 0o600)
            except FileNotFoundError:
                continue
