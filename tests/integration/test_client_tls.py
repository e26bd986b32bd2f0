"""ssl_verify against oscar-local behind TLS (a self-signed certificate, terminated by a
TCP relay started here): verification is on by default, 'False' really turns it off,
and a CA bundle path is accepted."""
from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
import uuid
from urllib.parse import urlsplit

import pytest

import oscar_jupyter as oj
from oscar_jupyter import errors


@pytest.fixture(scope="module")
def tls_endpoint(local_cluster, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    target = urlsplit(local_cluster.endpoint)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state = {}

    async def pipe(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def relay(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(target.hostname, target.port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, up_writer), pipe(up_reader, client_writer))

    async def start():
        server = await asyncio.start_server(relay, "127.0.0.1", 0, ssl=context)
        state["server"] = server
        state["port"] = server.sockets[0].getsockname()[1]
        ready.set()

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield f"https://127.0.0.1:{state['port']}", str(cert)

    async def shutdown():
        state["server"].close()
        await state["server"].wait_closed()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_verification_is_on_by_default(local_cluster, tls_endpoint):
    url, _ = tls_endpoint
    with pytest.raises(errors.ConnectionFailed, match="TLS verification") as info:
        oj.connect(url, user=local_cluster.user, password=local_cluster.password, retry=0)
    assert "ssl_verify=False" in str(info.value)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_string_false_really_disables_verification(local_cluster, tls_endpoint):
    url, _ = tls_endpoint
    c = oj.connect(url, user=local_cluster.user, password=local_cluster.password, ssl_verify="False")
    assert c.ssl_verify is False and c.info()["version"]
    name = "tt-" + uuid.uuid4().hex[:6]
    [svc] = c.apply({"name": name, "image": "x", "script": 'echo "over tls"'})
    try:
        assert svc.run().text.strip() == "over tls"
    finally:
        c.delete(name)
        oj.disconnect(c)


def test_a_ca_bundle_path_verifies(local_cluster, tls_endpoint):
    url, cert = tls_endpoint
    c = oj.connect(url, user=local_cluster.user, password=local_cluster.password, ssl_verify=cert)
    assert c.ssl_verify == cert and c.info()["version"]
    oj.disconnect(c)


@pytest.mark.parametrize("verify", [False, True])
def test_an_endpoint_without_scheme_on_plain_http_says_so(local_cluster, verify):
    # '127.0.0.1:PORT' gets https:// assumed; oscar-local speaks plain HTTP. The error must
    # name the missing http://, not TLS verification (ssl_verify=False was given).
    hostport = urlsplit(local_cluster.endpoint).netloc
    with pytest.raises(errors.ConnectionFailed) as info:
        oj.connect(hostport, user=local_cluster.user, password=local_cluster.password,
                   ssl_verify=verify, retry=0)
    message = str(info.value)
    assert f"http://{hostport}" in message and "no scheme" in message, message
    assert "pass ssl_verify=False" not in message
