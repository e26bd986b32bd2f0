"""Bays: how services come and go behind nginx without reloading it.

nginx's configuration (``frontdoor.py``) never names a service. It holds a
fixed number of *bays*, each an ``upstream`` of fixed slot sockets
(``slots.Slots``), and one regex location for every exposed path. A request
for ``/system/services/<name>/exposed/...`` finds its bay through the file
system, at request time:

* ``<name>`` is a relative symbolic link to ``_<k><mode><auth>``, a
  directory of bay ``k`` (its slots are in ``_<k>/``): ``mode`` is ``r`` (``rewrite_target``: the replica
  gets the full path) or ``s`` (stripped); ``auth`` is ``n`` (none), ``b``
  (``set_auth``: its ``users`` file holds the service's name and token) or
  ``f`` (``auth_type: forward``, v4.1);
* nginx resolves the link (``$realpath_root``) and looks the directory up
  in exact-match maps (hash tables): the upstream, the URI rewrite and the
  auth to apply.

Resolving costs a system call per path component (glibc's ``realpath``),
for every request: the root is a short directory of its own under the
temporary directory, links and directories sit side by side in it (service
names are DNS labels, so never start with ``_`` or ``.``) and the link is
relative, so a request pays four ``readlink`` calls and one ``stat``.

Creating a service takes a free bay and writes its link; changing its
``rewrite_target`` or auth replaces the link atomically; deleting it empties
the bay's slots and points the link at ``_none`` (nginx hands such
requests to oscar-local, which answers 404), never unlinking a route nginx
may be resolving. A bay is reused longest-vacated first, so nginx's pooled
connections of the previous service have drained (``keepalive_time``).
Only running out of bays grows their number (``place`` doubles it), and
that is the one reload: it happens once per doubling, from ``INITIAL`` bays.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import time

from .slots import Slots

INITIAL = 16
NONE = "none"
VARIANTS = tuple(m + a for m in "sr" for a in "nbf")


def _ssha(password: str) -> str:
    salt = secrets.token_bytes(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def variant(rewrite_target: bool, auth: str) -> str:
    """The name of a bay's directory for these route settings (``auth``: none, basic or fwd)."""
    return ("r" if rewrite_target else "s") + {"none": "n", "basic": "b", "fwd": "f"}[auth]


class Bays:
    """The bays under ``root``, their slots, and the route link of each service."""

    def __init__(self, root: str, slots_per_bay: int, count: int = INITIAL) -> None:
        self.root = root  # the route links, the bays' slot directories and their route directories
        self.slots_per_bay = slots_per_bay
        self.gone = os.path.join(root, "_" + NONE)
        os.makedirs(root, mode=0o700, exist_ok=True)
        os.makedirs(self.gone, mode=0o700, exist_ok=True)
        self.bays: list[Slots] = []
        self.owner: dict[int, str] = {}          # bay -> service
        self.bay_of: dict[str, int] = {}         # service -> bay
        self.vacated: dict[int, float] = {}      # bay -> when it was last freed
        self._tokens: dict[tuple[int, str], str] = {}  # (bay, variant) -> token its users file holds
        self.grow(count)

    @property
    def count(self) -> int:
        return len(self.bays)

    def directory(self, k: int) -> str:
        """Where bay ``k``'s slot sockets are."""
        return os.path.join(self.root, f"_{k}")

    def route_dir(self, k: int, mode: str) -> str:
        """The directory a route with settings ``mode`` (a ``variant``) in bay ``k`` links to."""
        return os.path.join(self.root, f"_{k}{mode}")

    def grow(self, count: int) -> None:
        for k in range(len(self.bays), count):
            self.bays.append(Slots(self.directory(k), self.slots_per_bay))

    def route(self, name: str) -> str:
        return os.path.join(self.root, name)

    def place(self, name: str, mode: str, token: str, sockets: list[str]) -> None:
        """Route ``name`` with route settings ``mode`` (a ``variant``) to its bay, holding these
        replica sockets in its slots; a new name when no bay is free doubles the bays (``count``
        then differs from what nginx was configured with: the caller reloads it)."""
        k = self.bay_of.get(name)
        if k is None:
            free = [b for b in range(len(self.bays)) if b not in self.owner]
            if not free:
                free = [len(self.bays)]
                self.grow(len(self.bays) * 2)
            k = min(free, key=lambda b: self.vacated.get(b, 0.0))
            self.owner[k], self.bay_of[name] = name, k
        target = self.route_dir(k, mode)
        os.makedirs(target, mode=0o700, exist_ok=True)
        if mode.endswith("b") and self._tokens.get((k, mode)) != token:
            users = os.path.join(target, "users")
            with open(users + ".tmp", "w", encoding="utf-8") as fh:
                os.chmod(users + ".tmp", 0o600)
                fh.write(f"{name}:{_ssha(token or secrets.token_hex(32))}\n")
            os.replace(users + ".tmp", users)
            self._tokens[(k, mode)] = token
        self._link(name, target)
        self.bays[k].sync(sockets)

    def release(self, name: str) -> None:
        """``name`` is no longer routed: its bay's slots are emptied, its link points at ``none``."""
        k = self.bay_of.pop(name, None)
        if k is not None:
            self.owner.pop(k, None)
            self.bays[k].clear()
            self.vacated[k] = time.monotonic()
            for key in [key for key in self._tokens if key[0] == k]:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.route_dir(k, key[1]), "users"))
                del self._tokens[key]
        if os.path.islink(self.route(name)):
            self._link(name, self.gone)

    def names(self) -> list[str]:
        return list(self.bay_of)

    def _link(self, name: str, target: str) -> None:
        link = self.route(name)
        with contextlib.suppress(OSError):
            if os.readlink(link) == os.path.relpath(target, self.root):
                return
        tmp = os.path.join(self.root, f".{name}.{secrets.token_hex(4)}")
        os.symlink(os.path.relpath(target, self.root), tmp)
        os.replace(tmp, link)
