"""nginx as oscar-local's front door, so exposed-service traffic never touches Python.

Measured on a 2-core machine (``python -m bench --only exposed``), a proxy
in the server's own interpreter reaches 0.36-0.49x of a replica's direct
throughput; nginx in front reaches 0.64-0.89x with under 0.25 ms added, and
0.85-1.04x with a model behind it (figures in docs/architecture.md). Where nginx is installed it serves
the public address (``front="aiohttp"`` or ``OSCAR_LOCAL_FRONT=aiohttp``
opts out); where it is missing or cannot start, aiohttp serves it and its
own streaming proxy carries exposed traffic. oscar-local runs it (one
master and a worker per core up to ``WORKERS``, children of oscar-local):

* ``/system/services/<name>/exposed...`` matches one regex location, the
  Manager's ingress path (``<base>/?(.*)``). The service's route link
  (``bays.Bays``) names its bay, and so the ``upstream`` of fixed slot
  sockets it is sent to (``slots.Slots``: a replica in rotation is
  hard-linked to a slot path and leaves rotation by its unlinking), the
  rewrite (``/$1``, or the full path with ``rewrite_target``) and the
  ingress auth (``auth_basic`` with the bay's users file for ``set_auth``;
  ``auth_request`` to oscar-local's ``/auth`` for ``auth_type: forward``).
  Each bay is ``least_conn`` with a keep-alive pool whose connections live
  at most ``keepalive_time`` (so a replica out of rotation is drained of
  them); no body size limit, bodies streamed both ways, WebSocket upgrades,
  and ingress-nginx's retries (``proxy_next_upstream error timeout``: a
  request that could not connect to a slot, or an idempotent one whose
  replica died, is tried on the next; a POST in flight on a dying replica is
  a 502);
* the bays' ``backup`` server, used when no slot accepts (no replica in
  rotation, or nginx still counts a just-filled slot as failed), is an
  internal nginx server that hands the request, with its original URI, to
  oscar-local's aiohttp application: it proxies to a ready replica itself,
  or answers 503 + Retry-After when there is none (404 for a deleted one);
* an exposed path without a route (no such exposed service, or replicas
  without network namespaces, one on the host's port) and everything else
  (the API) go to the aiohttp application on a private Unix socket,
  unbuffered, with the request line and headers bounded by
  ``header_timeout`` as before.

So creating, changing and deleting services, and replicas starting, dying,
restarting or scaling, change files, never nginx's configuration: a reload
(SIGHUP) would close clients' idle keep-alive connections to the whole API.
The one reload is when the bays run out and their number doubles.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
from typing import TYPE_CHECKING, Iterable

from aiohttp import web

from .. import scratch
from ..slot import KEEPER
from .bays import INITIAL, VARIANTS, Bays, variant
from .deployment import MACHINE_REPLICAS

if TYPE_CHECKING:
    from .deployment import ExposedDeployment

log = logging.getLogger(__name__)

READ_TIMEOUT = 300  # seconds a replica may take to answer (an ingress waits 60 s)
API_TIMEOUT = 3600  # seconds oscar-local's own API may take (long /run calls)
# a worker per core, at most four: with 8 clients on 2 cores, two workers measured 0.70x of direct
# against one worker's 0.66x (six alternating runs each); a local tool needs no more than four
WORKERS = max(1, min(4, len(os.sched_getaffinity(0))))


def nginx_binary(choice: str | None = None) -> str | None:
    """The nginx to run where it is installed, unless aiohttp was chosen (``front="aiohttp"`` or
    ``OSCAR_LOCAL_FRONT=aiohttp``); None otherwise."""
    choice = choice or os.environ.get("OSCAR_LOCAL_FRONT") or "nginx"
    if choice != "nginx":
        return None
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class FrontDoor:
    """One nginx in front of one oscar-local."""

    def __init__(self, binary: str, prefix: str, header_timeout: float, v4: bool, *, bays: int = INITIAL) -> None:
        self.binary = binary
        self.prefix = prefix
        self.header_timeout = header_timeout
        self.v4 = v4
        self.api_socket = os.path.join(prefix, "api.sock")
        self.proc: subprocess.Popen | None = None
        self.listen = ""
        self._listener: socket.socket | None = None
        self._reload: asyncio.Task | None = None
        # routes are resolved per request, a system call per path component: a short root
        self._routes = scratch.make("oj", os.path.dirname(os.path.dirname(prefix)))
        self.bays = Bays(self._routes.path,
                         MACHINE_REPLICAS + 1, max(1, bays))  # a slot more while rolling
        self._rendered_bays = 0

    async def open(self, runner: web.AppRunner, host: str, port: int) -> int:
        """Serve ``runner`` behind nginx on ``host:port``; the port bound."""
        site = web.UnixSite(runner, self.api_socket)
        await site.start()
        os.chmod(self.api_socket, 0o600)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        # nginx takes an inherited listener as it is: a blocking one makes a worker that lost the
        # race for a connection (old and new workers both watch it during a reload) block in
        # accept() with its other clients' requests unread
        sock.setblocking(False)
        bound = sock.getsockname()[1]
        self._listener = sock
        self.listen = f"[{host}]:{bound}" if family == socket.AF_INET6 else f"{host}:{bound}"
        self._write()
        env = dict(os.environ, NGINX=f"{sock.fileno()};")
        self.proc = subprocess.Popen(
            [self.binary, "-p", self.prefix, "-c", self._conf, "-e", os.path.join(self.prefix, "error.log"),
             "-g", "daemon off; master_process on;"],
            pass_fds=(sock.fileno(),), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True)
        KEEPER.hold(self.proc.pid)
        await self._until_serving(bound, host)
        return bound

    async def _until_serving(self, port: int, host: str) -> None:
        for _ in range(100):
            if self.proc is not None and self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"nginx exited at start ({self.proc.returncode}): {err.strip()[-500:]}")
            try:
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(b"GET /health HTTP/1.0\r\nHost: oscar-local\r\n\r\n")
                await writer.drain()
                head = await asyncio.wait_for(reader.read(12), 5)
                writer.close()
                if head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200"):
                    return
            except (OSError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError("nginx did not start answering within 5 s")

    @property
    def _conf(self) -> str:
        return os.path.join(self.prefix, "nginx.conf")

    def configure(self, deployments: Iterable["ExposedDeployment"]) -> None:
        """Route these deployments and put their ready replicas in their bays' slots, now. nginx is
        reloaded (soon, once for a burst) only when the bays ran out and their number doubled."""
        by_name = {d.settings.name: d for d in deployments}
        for name in [n for n in self.bays.names() if n not in by_name]:
            self.bays.release(name)
        for name, d in by_name.items():
            if d.isolation.single:
                continue  # one replica on the host's port: no route, so aiohttp proxies it
            s = d.settings
            auth = ("fwd" if s.auth_type == "forward" and self.v4 else "basic") if s.set_auth else "none"
            sockets = [r.socket_path for r in d.ready() if r.socket_path]
            self.bays.place(name, variant(s.rewrite_target, auth), str(d.svc.get("token") or ""), sockets)
        if self.proc is not None and self.bays.count != self._rendered_bays:
            if self._reload is None or self._reload.done():
                self._reload = asyncio.get_running_loop().create_task(self._apply())

    async def _apply(self) -> None:
        await asyncio.sleep(0.02)
        try:
            self._write()
            if self.proc is not None and self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGHUP)
        except OSError as exc:
            log.warning("could not reconfigure nginx: %s", exc)

    async def close(self) -> None:
        if self._reload is not None:
            self._reload.cancel()
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGQUIT)
            try:
                await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 5)
            except asyncio.TimeoutError:
                with contextlib.suppress(OSError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                await asyncio.to_thread(self.proc.wait)
        if self.proc is not None:
            KEEPER.release(self.proc.pid)
        if self._listener is not None:
            self._listener.close()
        self._routes.remove()

    # -- configuration -------------------------------------------------
    def _write(self) -> None:
        text = self.render()
        tmp = self._conf + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, self._conf)

    def _maps(self) -> str:
        """Exact-match maps (hash tables) from where a route resolves (``$realpath_root``) to a
        short route code, and from that code to how the request is routed: the bay's upstream,
        its rewrite and its auth. ``$realpath_root`` is read in one map only: a map's source is
        resolved once per request, where ``set`` would resolve it twice (length, then value)."""
        route, upstream, rewrite, realm, forward, users = [], [], [], [], [], []
        for k in range(self.bays.count):
            for v in VARIANTS:
                code = f"{k}{v}"
                route.append(f"    {self.bays.route_dir(k, v)} {code};")
                upstream.append(f"    {code} oscar_bay_{k};")
                if v[0] == "r":
                    rewrite.append(f"    {code} 1;")
                if v[1] == "b":
                    realm.append(f'    {code} "Authentication Required";')
                    users.append(f"    {code} {os.path.join(self.bays.route_dir(k, v), 'users')};")
                if v[1] == "f":
                    forward.append(f"    {code} 1;")

        def block(source: str, name: str, default: str, lines: list[str]) -> str:
            body = "\n".join(lines)
            return f"  map {source} ${name} {{\n    default {default};\n{body}\n  }}"

        return "\n".join([
            "  # an exposed service's route: the bay directory its link resolves to (bays.py)",
            block("$realpath_root", "oscar_route", '""', route),
            block("$oscar_route", "oscar_upstream", "oscar_fallback", upstream),
            block("$oscar_route", "oscar_rewrite", '""', rewrite),
            block("$oscar_route", "oscar_realm", "off", realm),
            block("$oscar_route", "oscar_users", '""', users),
            block("$oscar_route", "oscar_forward", '""', forward),
            '  map $oscar_rewrite $oscar_uri {',
            '    "" /$oscar_rest;',
            '    default /system/services/$oscar_service/exposed/$oscar_rest;',
            '  }'])

    def render(self) -> str:
        p = self.prefix
        ht = max(1, round(self.header_timeout))
        # pooled connections to aiohttp are dropped well before aiohttp closes them (header_timeout)
        api_idle = max(100, int(self.header_timeout * 500))
        user = ""
        if os.geteuid() == 0:
            user = f"user {pwd.getpwuid(0).pw_name} {grp.getgrgid(0).gr_name};"
        fallback = os.path.join(p, "fallback.sock")
        upstreams = []
        for k, slots in enumerate(self.bays.bays):
            servers = "\n".join(f"    server unix:{path} max_fails=1 fail_timeout=1s;" for path in slots.paths)
            upstreams.append(f"  upstream oscar_bay_{k} {{\n    least_conn;\n{servers}\n"
                             f"    server unix:{fallback} backup;\n"
                             f"    keepalive 64;\n    keepalive_timeout 4s;\n    keepalive_time 2s;\n"
                             f"    keepalive_requests 100000;\n  }}")
        self._rendered_bays = self.bays.count
        longest = len(self.bays.route_dir(self.bays.count, "xx"))
        bucket = max(64, 1 << (longest + 16).bit_length())
        routes = self.bays.root
        to_replica = f"""      proxy_pass http://$oscar_upstream;
      proxy_set_header Host $oscar_host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Oscar-Exposed-Uri $request_uri;
      proxy_read_timeout {READ_TIMEOUT}s;
      proxy_send_timeout {READ_TIMEOUT}s;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 0;
      error_log {os.path.join(self.prefix, "error.log")} alert;  # not a line per try of an empty slot
      error_page 502 504 = @bad_gateway;"""
        return f"""# written by oscar-local: the front door of {self.listen}
{user}
worker_processes {WORKERS};
pid {p}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  server_tokens off;
  map_hash_bucket_size {bucket};
  map_hash_max_size {max(2048, self.bays.count * len(VARIANTS) * 2)};
  client_body_temp_path {p}/tmp-body;
  proxy_temp_path {p}/tmp-proxy;
  fastcgi_temp_path {p}/tmp-fastcgi;
  uwsgi_temp_path {p}/tmp-uwsgi;
  scgi_temp_path {p}/tmp-scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; "" ""; }}
  map $http_host $oscar_host {{ "" $server_addr:$server_port; default $http_host; }}
{self._maps()}
  upstream oscar_api {{
    server unix:{self.api_socket};
    keepalive 32;
    keepalive_timeout {api_idle}ms;
  }}
  upstream oscar_fallback {{
    server unix:{fallback};
    keepalive 16;
  }}
{chr(10).join(upstreams)}
  server {{
    listen {self.listen} backlog=1024;
    client_header_timeout {ht}s;
    keepalive_timeout {ht}s;
    keepalive_requests 100000;
    client_body_timeout {API_TIMEOUT}s;
    send_timeout {API_TIMEOUT}s;
    client_max_body_size 0;
    ignore_invalid_headers off;
    underscores_in_headers on;
    merge_slashes off;
    large_client_header_buffers 4 16k;
    proxy_http_version 1.1;
    proxy_set_header Host $oscar_host;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_buffering off;
    proxy_request_buffering off;
    proxy_next_upstream off;
    location / {{
      proxy_pass http://oscar_api;
      proxy_pass_header Server;
      proxy_pass_header Date;
      proxy_read_timeout {API_TIMEOUT}s;
      proxy_send_timeout {API_TIMEOUT}s;
    }}
    location /_oscar_api/ {{
      # an exposed path nginx does not route (no such exposed service, or one replica on the
      # host's port): oscar-local answers it, for the URI as sent
      internal;
      proxy_pass http://oscar_api$request_uri;
      proxy_pass_header Server;
      proxy_pass_header Date;
      proxy_read_timeout {API_TIMEOUT}s;
      proxy_send_timeout {API_TIMEOUT}s;
    }}
    location = /_oscar_auth {{
      internal;
      proxy_pass http://oscar_api/system/services/$oscar_service/auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
    location @bad_gateway {{
      default_type text/plain;
      return 502 "Bad Gateway: a replica of '$oscar_service' failed or closed the connection while handling the request\\n";
    }}
    # the Manager's ingress path: <base>/?(.*), rewritten to /$1 or, with rewrite_target, <base>/$1
    location ~ "^/system/services/(?<oscar_service>[a-z0-9][-a-z0-9]*)/exposed/?(?<oscar_rest>.*)$" {{
      if (!-e {routes}/$oscar_service) {{ rewrite ^ /_oscar_api/ last; }}
      root {routes}/$oscar_service;
      if ($oscar_forward) {{ rewrite ^ /_oscar_forward/ last; }}
      rewrite ^ $oscar_uri break;
      auth_basic $oscar_realm;
      auth_basic_user_file $oscar_users;
{to_replica}
    }}
    location /_oscar_forward/ {{
      # auth_type forward (v4.1): only these routes pay for the subrequest to /auth
      internal;
      rewrite ^ $oscar_uri break;
      auth_request /_oscar_auth;
      auth_request_set $oscar_cookie $upstream_http_set_cookie;
      add_header Set-Cookie $oscar_cookie;
{to_replica}
    }}
  }}
  server {{
    # the backup of every bay, and the upstream of a deleted service's route: oscar-local's own
    # proxy (or its 503, or its 404) for the original URI
    listen unix:{fallback};
    client_max_body_size 0;
    client_body_timeout {API_TIMEOUT}s;
    send_timeout {API_TIMEOUT}s;
    ignore_invalid_headers off;
    underscores_in_headers on;
    merge_slashes off;
    large_client_header_buffers 4 16k;
    proxy_http_version 1.1;
    proxy_buffering off;
    proxy_request_buffering off;
    proxy_next_upstream off;
    location / {{
      proxy_pass http://oscar_api$http_x_oscar_exposed_uri;
      proxy_pass_header Server;
      proxy_pass_header Date;
      proxy_set_header Host $http_host;
      proxy_set_header X-Oscar-Exposed-Uri "";
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout {READ_TIMEOUT}s;
      proxy_send_timeout {READ_TIMEOUT}s;
    }}
  }}
}}
"""
