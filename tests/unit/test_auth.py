"""auth and connect(): credential kinds, settings sources, secrets never shown."""
from __future__ import annotations

import base64
import json
import logging
import sys
import time

import pytest

import oscar_jupyter as oj
from oscar_jupyter import auth, errors
from oscar_jupyter.cluster import Cluster

PASSWORD = "s3cr3t-Pa55word"
TOKEN = "eyJ.fake-access-token-value"


def make_jwt(exp: float) -> str:
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256'})}.{part({'exp': exp, 'sub': 'u'})}.c2lnbmF0dXJl"


pytestmark = pytest.mark.usefixtures("isolated_connections")


@pytest.mark.parametrize("value,expected", [
    ("False", False), ("false", False), ("0", False), ("no", False), ("off", False), (False, False),
    ("True", True), ("1", True), ("yes", True), (True, True), (None, True), (0, False)])
def test_ssl_verify_is_a_real_boolean(value, expected):
    assert auth.parse_bool(value) is expected


def test_ssl_verify_garbage_is_an_error():
    with pytest.raises(errors.ConfigError, match="ssl_verify='maybe'"):
        auth.parse_bool("maybe")


def test_jwt_expiry_read_without_verifying():
    assert auth.jwt_expiry(make_jwt(1234567890)) == 1234567890
    assert auth.jwt_expiry("not-a-jwt") is None
    assert auth.jwt_expiry("a.!!!.c") is None


def test_basic_header_and_repr_hide_the_password():
    creds = auth.BasicAuth("oscar", PASSWORD)

    class Req:
        headers: dict = {}
    req = Req()
    req.headers = {}
    creds(req)
    assert base64.b64decode(req.headers["Authorization"].split()[1]).decode() == f"oscar:{PASSWORD}"
    assert PASSWORD not in repr(creds) and PASSWORD not in str(creds)
    cluster = Cluster("https://oscar.example.org", creds)
    assert PASSWORD not in repr(cluster)
    assert cluster.redact(f"echo {PASSWORD} end") == "echo *** end"


def test_bearer_header_and_repr():
    creds = auth.BearerAuth(make_jwt(time.time() + 3600))

    class Req:
        headers: dict = {}
    req = Req()
    req.headers = {}
    creds(req)
    assert req.headers["Authorization"].startswith("Bearer eyJ")
    assert "expires in" in repr(creds) and "eyJ" not in repr(creds)


def test_settings_repr_hides_secrets():
    s = auth.ClusterSettings("https://x", user="u", password=PASSWORD, token=TOKEN, refresh_token="rt-secret")
    text = repr(s)
    assert PASSWORD not in text and TOKEN not in text and "rt-secret" not in text


def write_config(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


CONFIG = f"""
oscar:
  prod:
    endpoint: https://prod.example.org
    auth_user: alice
    auth_password: {PASSWORD}
    ssl_verify: false
  egi:
    endpoint: https://ai4eosc.example.org
    oidc_account_name: egi
    ssl_verify: true
  rt:
    endpoint: https://rt.example.org
    oidc_refresh_token: my-refresh-token
default: prod
"""


def test_oscar_cli_config_default_and_by_id(tmp_path):
    path = write_config(tmp_path, CONFIG)
    entries, default = auth.read_oscar_cli_config(path)
    assert default == "prod" and set(entries) == {"prod", "egi", "rt"}
    assert entries["prod"].ssl_verify is False
    c = oj.connect(config_path=path, check=False)
    assert c.endpoint == "https://prod.example.org" and c.user == "alice" and c.ssl_verify is False
    assert c.session.verify is False and c.id == "prod"
    c2 = oj.connect(cluster_id="rt", config_path=path, check=False)
    assert isinstance(c2.auth, auth.RefreshTokenAuth)
    assert c2.auth.token_endpoint == auth.EGI_TOKEN_ENDPOINT and c2.auth.client_id == "token-portal"
    assert oj.current() is c2 and {"prod", "rt"} <= set(oj.clusters())
    oj.use("prod")
    assert oj.current() is c


def test_oscar_cli_config_found_in_home_and_errors(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".oscar-cli").mkdir(parents=True)
    (home / ".oscar-cli" / "config.yaml").write_text(CONFIG)
    assert oj.connect(check=False).endpoint == "https://prod.example.org"
    with pytest.raises(errors.ConfigError, match="No cluster 'nope'"):
        oj.connect(cluster_id="nope", check=False)
    bad = write_config(tmp_path, "oscar: [1, 2\n")
    with pytest.raises(errors.ConfigError, match="line"):
        oj.connect(config_path=bad, check=False)
    with pytest.raises(errors.ConfigError, match="No oscar-cli config"):
        oj.connect(config_path=tmp_path / "missing.yaml", check=False)
    with pytest.raises(errors.ConfigError, match="No open cluster"):
        oj.use("never-opened")


def test_environment_variables(monkeypatch):
    monkeypatch.setenv("OSCAR_ENDPOINT", "https://env.example.org/")
    monkeypatch.setenv("OSCAR_USER", "bob")
    monkeypatch.setenv("OSCAR_PASSWORD", PASSWORD)
    monkeypatch.setenv("OSCAR_SSL_VERIFY", "False")
    c = oj.connect(check=False)
    assert c.endpoint == "https://env.example.org" and c.user == "bob" and c.ssl_verify is False
    monkeypatch.setenv("OSCAR_TOKEN", TOKEN)
    c = oj.connect(check=False)
    assert isinstance(c.auth, auth.BearerAuth) and c.auth.bearer_token() == TOKEN


def test_credentials_without_endpoint_is_an_error():
    with pytest.raises(errors.ConfigError, match="no endpoint"):
        oj.connect(user="x", password="y", check=False)


def test_endpoint_with_userinfo_is_refused():
    with pytest.raises(errors.ConfigError, match="not in the endpoint"):
        Cluster(f"https://u:{PASSWORD}@x.example.org")


def test_oidc_agent_absent_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "liboidcagent", None)  # as if not installed
    with pytest.raises(errors.ConfigError, match="liboidcagent"):
        oj.connect("https://x.example.org", oidc_account="egi", check=False)


def test_oidc_agent_without_a_running_agent(monkeypatch):
    monkeypatch.delenv("OIDC_SOCK", raising=False)
    creds = auth.OidcAgentAuth("egi")
    with pytest.raises(errors.AuthError, match="oidc-agent could not give a token"):
        creds.bearer_token()


def test_no_secret_in_logs(caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    path = write_config(tmp_path, CONFIG)
    oj.connect(config_path=path, check=False)
    oj.connect("https://x.example.org", token=TOKEN, check=False)
    assert PASSWORD not in caplog.text and TOKEN not in caplog.text


def test_retry_policy_is_pluggable():
    from urllib3.util.retry import Retry
    policy = Retry(total=1, status_forcelist=(500,), allowed_methods=None)
    c = Cluster("https://x.example.org", retry=policy, run_retry=0)
    assert c.session.get_adapter("https://x.example.org/system/info").max_retries is policy
    assert c.session.get_adapter("https://x.example.org/run/s").max_retries.total == 0


def test_oidc_account_alone_finds_its_endpoint(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".oscar-cli").mkdir(parents=True)
    (home / ".oscar-cli" / "config.yaml").write_text(CONFIG)
    c = oj.connect(oidc_account="egi", check=False)
    assert c.endpoint == "https://ai4eosc.example.org" and isinstance(c.auth, auth.OidcAgentAuth)
    monkeypatch.setenv("OSCAR_ENDPOINT", "https://env.example.org")
    c = oj.connect(oidc_account="other", check=False, ssl_verify="False")
    assert c.endpoint == "https://env.example.org" and c.auth.account == "other" and c.ssl_verify is False
    assert "other" in repr(c)


def test_cluster_id_from_the_environment(tmp_path, monkeypatch):
    path = write_config(tmp_path, CONFIG)
    monkeypatch.setenv("OSCAR_CLI_CONFIG", str(path))
    monkeypatch.setenv("OSCAR_CLUSTER", "egi")
    c = oj.connect(check=False)  # OSCAR_CLUSTER without OSCAR_ENDPOINT: that oscar-cli cluster
    assert c.endpoint == "https://ai4eosc.example.org" and c.id == "egi"


def test_timeouts_are_configurable():
    c = oj.connect("https://x.example.org", token=TOKEN, timeout=(2, 20), run_timeout=45, check=False)
    assert c.timeout == (2.0, 20.0) and c.run_timeout == (2.0, 45.0)
    assert oj.connect("https://x.example.org", token=TOKEN, timeout=7, check=False).timeout == (5.0, 7.0)


def test_local_data_dir_is_per_user(tmp_path, monkeypatch):
    from oscar_jupyter.connections import local_data_dir
    assert local_data_dir() == tmp_path / "home" / ".oscar-local"
    monkeypatch.setenv("OSCAR_LOCAL_DATA_DIR", str(tmp_path / "x"))
    assert local_data_dir() == tmp_path / "x"
