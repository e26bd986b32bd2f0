"""What the Manager's router answers for a request that no route takes.

The Manager serves its API with gin as ``gin.Default()`` leaves it:
``RedirectTrailingSlash`` on, ``RedirectFixedPath`` and
``HandleMethodNotAllowed`` off. Routes are looked up per method, so HEAD is
not GET's and a known path asked with another method is simply not found.
For a request no route takes:

* a path one trailing slash away from a route of the same method is
  redirected there (gin's ``redirectTrailingSlash``, written by net/http's
  ``Redirect``): 301 for GET, 307 otherwise, the query kept, an HTML link as
  the body of a GET; ``X-Forwarded-Prefix`` is put in front, as gin does;
* anything else is ``404 page not found`` (``text/plain``).

Either answer comes before any middleware of a route group: no credentials
are asked for and nothing is logged. Clients that follow redirects (requests,
oscar-python, oscar-cli's net/http) reach the same handler through a
trailing slash as without one; curl without ``-L`` sees what it would see on
a cluster.
"""
from __future__ import annotations

import posixpath
import re
from urllib.parse import quote

from aiohttp import web
from yarl import URL

NOT_FOUND = b"404 page not found"
_SAFE_PREFIX = re.compile(r"[^a-zA-Z0-9/-]+")
_SLASHES = re.compile(r"/{2,}")
# net/http's htmlReplacer
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def page_not_found() -> web.Response:
    """gin's ``serveError(c, 404, default404Body)``: exactly ``text/plain``, no charset."""
    return web.Response(status=404, body=NOT_FOUND, headers={"Content-Type": "text/plain"})


async def unmatched(request: web.Request) -> web.Response:
    """gin's answer to ``request``, which no route of its method takes."""
    path = request.path
    if path != "/" and request.method != "CONNECT":
        twin = path[:-1] if path.endswith("/") else path + "/"
        match = await request.app.router.resolve(request.clone(rel_url=URL.build(path=twin, encoded=False)))
        if match.http_exception is None:
            return _redirect(request, path)
    return page_not_found()


def _redirect(request: web.Request, path: str) -> web.Response:
    """gin's ``redirectTrailingSlash`` then net/http's ``Redirect`` (Location cleaned, trailing
    slash kept; an HTML link for GET; Content-Type for GET and HEAD)."""
    forwarded = _go_clean(request.headers.get("X-Forwarded-Prefix", ""))
    if forwarded != ".":
        prefix = _SLASHES.sub("/", _SAFE_PREFIX.sub("", forwarded))
        path = prefix + "/" + path
    target = path[:-1] if len(path) > 1 and path.endswith("/") else path + "/"
    trailing = target.endswith("/")
    location = _go_clean(target)
    if trailing and not location.endswith("/"):
        location += "/"
    location = quote(location, safe="/$&+,:;=@")
    if request.rel_url.raw_query_string:
        location += "?" + request.rel_url.raw_query_string
    code = 301 if request.method == "GET" else 307
    headers = {"Location": location}
    if request.method in ("GET", "HEAD"):
        headers["Content-Type"] = "text/html; charset=utf-8"
    body = b""
    if request.method == "GET":
        text = "Moved Permanently" if code == 301 else "Temporary Redirect"
        body = f'<a href="{location.translate(_HTML)}">{text}</a>.\n\n'.encode()
    return web.Response(status=code, body=body, headers=headers)


def _go_clean(path: str) -> str:
    """Go's ``path.Clean``: "." for nothing; one leading slash at most (POSIX keeps two)."""
    if not path:
        return "."
    return posixpath.normpath(_SLASHES.sub("/", path))
