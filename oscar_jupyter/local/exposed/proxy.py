"""The streaming reverse proxy from ``/system/services/<name>/exposed/...`` to replicas.

* bodies stream both ways (the client's upload is read as the replica takes
  it, the replica's answer is written as the client takes it; memory stays
  bounded whatever the size, and there is no size limit, as the Manager
  sets the ingress's ``proxy-body-size`` to 0);
* keep-alive connection pools per replica (aiohttp client sessions over the
  replica's Unix socket);
* least-outstanding-requests balancing over the replicas in rotation;
* WebSocket upgrades are relayed message by message (close codes too);
* 503 with ``Retry-After`` while no replica is ready; 502 saying which
  replica failed when one dies with the request in flight; a request that
  could not reach a replica that just left rotation (no body sent yet) is
  tried once on another one.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from .balancer import LeastOutstanding
from .deployment import ExposedDeployment
from .replica import Replica

log = logging.getLogger(__name__)

RETRY_AFTER = "5"
CHUNK = 1 << 18
SMALL = 1 << 16  # answers up to this size are read whole and sent in one write
_HOP_BY_HOP = frozenset(h.lower() for h in (
    "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
    "Transfer-Encoding", "Upgrade", "Proxy-Connection"))
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"))
_WS_REQUEST_SKIP = _HOP_BY_HOP | {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
                                  "sec-websocket-protocol", "host", "content-length"}


def _plain(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=message + "\n", content_type="text/plain", headers=headers)


def _request_headers(request: web.Request, skip: frozenset[str] | set[str] = _HOP_BY_HOP) -> CIMultiDict:
    connection = {t.strip().lower() for t in request.headers.get("Connection", "").split(",") if t.strip()}
    out: CIMultiDict = CIMultiDict()
    for key, value in request.headers.items():
        low = key.lower()
        if low in skip or low in connection:
            continue
        out.add(key, value)
    peer = request.remote or ""
    prior = request.headers.get("X-Forwarded-For")
    out["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
    out["X-Real-IP"] = peer
    out["X-Forwarded-Host"] = request.host
    out["X-Forwarded-Proto"] = request.scheme
    out["X-Original-URI"] = request.raw_path
    return out


def _response_headers(upstream: aiohttp.ClientResponse) -> CIMultiDict:
    connection = {t.strip().lower() for t in upstream.headers.get("Connection", "").split(",") if t.strip()}
    out: CIMultiDict = CIMultiDict()
    for key, value in upstream.headers.items():
        low = key.lower()
        if low in _HOP_BY_HOP or low in connection:
            continue
        out.add(key, value)
    return out


def _has_body(request: web.Request) -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


class Proxy:
    """Forwards requests to one service's replicas."""

    def __init__(self) -> None:
        self.balancer = LeastOutstanding()

    def unavailable(self, deployment: ExposedDeployment) -> web.Response:
        state = deployment.status()
        return _plain(503, f"Service Unavailable: no replica of '{deployment.settings.name}' is ready "
                           f"(deployment {state['state']}: {state['reason']})", {"Retry-After": RETRY_AFTER})

    async def forward(self, request: web.Request, deployment: ExposedDeployment, target: str,
                      extra_headers: dict[str, str] | None = None) -> web.StreamResponse:
        """Send ``request`` to a replica at ``target`` (path and query) and stream the answer back."""
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        tried: Replica | None = None
        for attempt in (1, 2):
            replica = self.balancer.pick(deployment.ready(), exclude=tried)
            if replica is None:
                return self.unavailable(deployment)
            replica.acquire()
            try:
                if upgrade:
                    return await self._websocket(request, replica, target)
                return await self._http(request, replica, target, extra_headers, retry=attempt == 1)
            except _Unreached:
                tried = replica
                continue
            finally:
                replica.release()
        return _plain(502, f"Bad Gateway: replica {tried.ident if tried else '?'} of "
                           f"'{deployment.settings.name}' could not be reached")

    async def _http(self, request: web.Request, replica: Replica, target: str,
                    extra_headers: dict[str, str] | None, retry: bool) -> web.StreamResponse:
        assert replica.session is not None
        body: Any = request.content if _has_body(request) else None
        headers = _request_headers(request)
        response: web.StreamResponse | None = None
        try:
            async with replica.session.request(request.method, replica.base_url + target, headers=headers,
                                               data=body, allow_redirects=False, compress=None,
                                               skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept",
                                                                  "Content-Type")) as upstream:
                length = upstream.content_length
                if length is not None and length <= SMALL and request.method != "HEAD":
                    # a small answer in one piece: fewer writes, same bytes
                    data = await upstream.read()
                    response = web.Response(status=upstream.status, reason=upstream.reason, body=data,
                                            headers=_response_headers(upstream))
                    if extra_headers:
                        for key, value in extra_headers.items():
                            response.headers.add(key, value)
                    return response
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason,
                                              headers=_response_headers(upstream))
                if extra_headers:
                    for key, value in extra_headers.items():
                        response.headers.add(key, value)
                if upstream.content_length is not None and request.method != "HEAD":
                    response.content_length = upstream.content_length
                elif request.method == "HEAD" or upstream.status in (204, 304) or 100 <= upstream.status < 200:
                    pass
                else:
                    response.enable_chunked_encoding()
                await response.prepare(request)
                if request.method != "HEAD":
                    async for chunk in upstream.content.iter_chunked(CHUNK):
                        await response.write(chunk)
                await response.write_eof()
                return response
        except aiohttp.ClientConnectorError as exc:  # nothing was sent: another replica may take it
            if response is None and retry:
                raise _Unreached() from exc
            return self._failed(request, replica, response, exc)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            # closed or reset before answering: an idempotent request without a body is tried on another
            # replica, as ingress-nginx does (proxy_next_upstream error)
            if response is None and retry and body is None and request.method in _IDEMPOTENT:
                raise _Unreached() from exc
            return self._failed(request, replica, response, exc)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return self._failed(request, replica, response, exc)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            # the client went away: drop the upstream connection too
            if request.transport is not None:
                request.transport.close()
            return response or web.Response(status=499)

    def _failed(self, request: web.Request, replica: Replica, response: web.StreamResponse | None,
                exc: BaseException) -> web.StreamResponse:
        if response is not None:  # headers already sent: cut the connection so the client sees it
            log.info("replica %s failed mid-answer: %s", replica.ident, exc)
            if request.transport is not None:
                request.transport.close()
            return response
        why = replica.failure or f"{type(exc).__name__}"
        return _plain(502, f"Bad Gateway: replica {replica.ident} failed while handling the request ({why})")

    async def _websocket(self, request: web.Request, replica: Replica, target: str) -> web.StreamResponse:
        assert replica.session is not None
        protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        headers = _request_headers(request, _WS_REQUEST_SKIP)
        try:
            upstream = await replica.session.ws_connect(replica.base_url + target, headers=headers,
                                                        protocols=protocols, autoping=False,
                                                        max_msg_size=0, autoclose=False)
        except aiohttp.WSServerHandshakeError as exc:
            return _plain(exc.status if exc.status >= 400 else 502,
                          f"Bad Gateway: replica {replica.ident} refused the WebSocket upgrade ({exc.status})")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            if not _alive(replica):
                raise _Unreached() from exc
            return _plain(502, f"Bad Gateway: replica {replica.ident} could not be reached for the WebSocket")
        client = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else (),
                                       autoping=False, max_msg_size=0, autoclose=False)
        await client.prepare(request)

        async def pump(src: Any, dst: Any) -> None:
            async for msg in src:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await dst.send_str(msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    await dst.send_bytes(msg.data)
                elif msg.type == aiohttp.WSMsgType.PING:
                    await dst.ping(msg.data)
                elif msg.type == aiohttp.WSMsgType.PONG:
                    await dst.pong(msg.data)
                elif msg.type == aiohttp.WSMsgType.CLOSE:
                    await dst.close(code=msg.data or 1000, message=(msg.extra or "").encode())
                    return
                else:
                    return
            await dst.close(code=src.close_code or 1000)

        tasks = [asyncio.ensure_future(pump(client, upstream)), asyncio.ensure_future(pump(upstream, client))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await upstream.close()
            with contextlib.suppress(Exception):
                await client.close()
        return client


class _Unreached(Exception):
    """Nothing reached the replica (it left rotation): another one may take the request."""


def _alive(replica: Replica) -> bool:
    return replica.alive and (replica.proc is None or replica.proc.returncode is None)
