"""Links a browser opens: direct, or through jupyter-server-proxy behind JupyterHub/Binder."""
from __future__ import annotations

import pytest

from oscar_jupyter.browser_links import browser_url, is_loopback, proxy_base

URL = "http://127.0.0.1:8123/system/services/digits-api/exposed/api?x=1"


@pytest.mark.parametrize("host,loop", [("127.0.0.1", True), ("127.3.2.1", True), ("localhost", True),
                                       ("::1", True), ("[::1]", True), ("10.0.0.1", False),
                                       ("oscar.example.org", False), ("", False)])
def test_loopback(host, loop):
    assert is_loopback(host) is loop


def test_a_local_jupyter_keeps_direct_links():
    assert browser_url(URL, environ={}) == URL


def test_behind_jupyterhub_loopback_links_go_through_the_proxy():
    env = {"JUPYTERHUB_SERVICE_PREFIX": "/user/ana/"}
    assert browser_url(URL, environ=env) == "/user/ana/proxy/8123/system/services/digits-api/exposed/api?x=1"
    remote = "https://oscar.example.org/system/services/s/exposed/"
    assert browser_url(remote, environ=env) == remote  # a remote cluster is reachable as it is


def test_an_explicit_base_wins_and_off_turns_it_off():
    env = {"JUPYTERHUB_SERVICE_PREFIX": "/user/ana/", "OSCAR_JUPYTER_PROXY_BASE": "https://hub.example/lab"}
    assert proxy_base(env) == "https://hub.example/lab/"
    assert browser_url(URL, environ=env).startswith("https://hub.example/lab/proxy/8123/system/")
    assert browser_url(URL, environ=dict(env, OSCAR_JUPYTER_PROXY_BASE="off")) == URL
