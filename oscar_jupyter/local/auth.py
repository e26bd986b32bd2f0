"""Server-side credentials: the admin password, Basic auth checks, service tokens.

Comparisons use ``hmac.compare_digest``; nothing here logs or formats a secret.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets

ADMIN_USER = "oscar"
PASSWORD_FILE = "admin-password"
PASSWORD_ENV = "OSCAR_LOCAL_PASSWORD"
REALM = 'Basic realm="Authorization Required"'
TOKEN_LENGTH = 64


def new_service_token() -> str:
    """A service token as OSCAR makes them: 32 random bytes as 64 hex characters."""
    return secrets.token_hex(TOKEN_LENGTH // 2)


def new_password() -> str:
    """A random admin password (24 URL-safe characters)."""
    return secrets.token_urlsafe(18)


def load_or_create_password(data_dir: str, given: str | None = None) -> tuple[str, bool]:
    """The admin password and whether it was generated now.

    Order: ``given``, then ``$OSCAR_LOCAL_PASSWORD``, then the 0600 file in the
    data dir, else a new random one written to that file.
    """
    if given:
        return given, False
    env = os.environ.get(PASSWORD_ENV)
    if env:
        return env, False
    path = os.path.join(data_dir, PASSWORD_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            stored = fh.read().strip()
        if stored:
            return stored, False
    password = new_password()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(password + "\n")
    os.chmod(path, 0o600)
    return password, True


def basic_ok(header: str | None, user: str, password: str) -> bool:
    """True when an ``Authorization: Basic`` header carries exactly ``user``:``password``."""
    if not header or not header[:6].lower() == "basic ":
        return False
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    given_user, sep, given_pw = raw.partition(b":")
    if not sep:
        return False
    ok_user = hmac.compare_digest(given_user, user.encode("utf-8"))
    ok_pw = hmac.compare_digest(given_pw, password.encode("utf-8"))
    return ok_user and ok_pw


def bearer_of(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    if not header or not header[:7].lower() == "bearer ":
        return None
    token = header[7:].strip()
    return token or None


def token_ok(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a service token."""
    if not given or not expected or len(given) != TOKEN_LENGTH:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))
