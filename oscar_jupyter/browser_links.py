"""URLs a person's browser can open for a service's web UI.

The kernel reaches oscar-local on this machine's loopback; a browser does too
when Jupyter runs on the same machine as the browser. Behind JupyterHub or
Binder the browser is elsewhere: it reaches the Jupyter server only, and
jupyter-server-proxy (a dependency; its server extension is enabled when it is
installed) forwards ``<jupyter base>/proxy/<port>/<path>`` to
``http://localhost:<port>/<path>``. So a loopback URL is rewritten to that
path when the notebook runs behind a Jupyter server the browser reaches from
elsewhere:

- ``OSCAR_JUPYTER_PROXY_BASE``: the Jupyter server's base URL as the browser
  sees it (``/`` or ``/user/me/`` or a full ``https://hub.example/user/me/``);
  ``off`` never rewrites;
- else ``JUPYTERHUB_SERVICE_PREFIX`` (set by JupyterHub and Binder for the
  single-user server) is that base;
- else links stay direct (a local Jupyter: the browser reaches 127.0.0.1).

URLs of remote clusters are never rewritten.
"""
from __future__ import annotations

import importlib.util
import ipaddress
import logging
import os
from typing import Mapping, Optional
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

__all__ = ["browser_url", "proxy_base", "is_loopback", "PROXY_BASE_VARIABLE"]

PROXY_BASE_VARIABLE = "OSCAR_JUPYTER_PROXY_BASE"


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    host = (host or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def proxy_base(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The Jupyter server's base URL to proxy through, or None for direct links."""
    env = os.environ if environ is None else environ
    explicit = (env.get(PROXY_BASE_VARIABLE) or "").strip()
    if explicit.lower() in ("off", "false", "no", "0", "none"):
        return None
    base = explicit or (env.get("JUPYTERHUB_SERVICE_PREFIX") or "").strip()
    if not base:
        return None
    return base if base.endswith("/") else base + "/"


def proxy_available() -> bool:
    """Whether jupyter-server-proxy is installed next to this package."""
    return importlib.util.find_spec("jupyter_server_proxy") is not None


def browser_url(url: str, *, environ: Optional[Mapping[str, str]] = None) -> str:
    """`url`, or its jupyter-server-proxy path when the browser cannot reach it (see the module)."""
    parts = urlsplit(url)
    base = proxy_base(environ)
    if base is None or not is_loopback(parts.hostname or ""):
        return url
    if parts.scheme != "http":
        return url  # jupyter-server-proxy forwards plain HTTP to localhost only
    if not proxy_available():
        logger.warning("jupyter-server-proxy is not installed: the link %s may not open in a remote "
                       "browser.", url)
        return url
    port = parts.port or 80
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{base}proxy/{port}{path}{query}"
