"""Exposed services' pure parts: settings, the HPA rule, log stamps and tails, ingress auth."""
from __future__ import annotations

import asyncio
import base64

import pytest

from oscar_jupyter.local.exposed import access, settings
from oscar_jupyter.local.exposed.autoscaler import Autoscaler, ScalingTimings
from oscar_jupyter.local.exposed.logs import ReplicaLog, merged_tail, parse_bool, rfc3339_nano, tail_lines


def test_settings_read_both_port_shapes_and_the_probe_path():
    svc = {"name": "s", "cpu": "500m", "expose": {"api_port": [5000, 6000], "rewrite_target": True,
                                                  "health_path": "ping"}}
    got = settings.ExposeSettings.of(svc)
    assert got.port == 5000 and got.cpu == 0.5 and got.min_scale == 1 and got.max_scale == 10
    assert got.probe_path == "/system/services/s/exposed/ping"
    direct = settings.ExposeSettings.of({**svc, "expose": {**svc["expose"], "probe_mode": "direct"}})
    assert direct.probe_path == "/ping"
    assert settings.ExposeSettings.of({"name": "s", "expose": {"api_port": 80}}).port == 80
    assert not settings.is_exposed({"expose": {"api_port": [0]}})
    assert not settings.is_exposed({"expose": {"api_port": []}}) and not settings.is_exposed({})


def test_default_command_needs_a_script_and_auth_types_are_checked():
    message = settings.problem({"name": "s", "expose": {"api_port": [80], "default_command": True}})
    assert message and "default_command" in message and "script" in message
    assert settings.problem({"name": "s", "script": "x", "expose": {"api_port": [80], "default_command": True}}) is None
    routed = {"name": "s", "script": "x", "expose": {"api_port": [80], "auth_type": "magic"}}
    assert settings.problem(routed) is None  # the Manager's own check, when it makes the route:
    assert settings.create_refusal(routed) == ("error creating route for exposed service 's': "
                                               'unsupported expose auth_type "magic"')
    fixed_port = {"name": "s", "script": "x", "expose": {"api_port": [80], "nodePort": [30000], "auth_type": "magic"}}
    assert settings.create_refusal(fixed_port) is None  # no route there, so the Manager checks nothing
    assert "auth_type" in settings.problem(fixed_port)  # but oscar-local routes it: its own 400
    assert settings.create_refusal({"name": "s", "expose": {"api_port": [80], "nodePort": [1, 2]}}) == \
        "The length of nodePort (2) must be equal to that of api_port (1)"


def test_hpa_rule_scales_up_at_once_and_down_after_the_window():
    hpa = Autoscaler(1, 10, 50, 1.0, ScalingTimings(period=1, downscale_window=10))
    assert hpa.recommend(1, [0.52], now=0) == 1            # within the 10 % tolerance
    assert hpa.recommend(1, [2.0], now=1) == 4             # ceil(1 * 200 / 50)
    assert hpa.recommend(4, [2.0] * 4, now=2) == 8         # at most doubling per step
    assert hpa.recommend(8, [0.0] * 8, now=3) == 8         # idle, but inside the window
    assert hpa.recommend(8, [0.0] * 8, now=20) == 1        # back to min_scale after it
    assert Autoscaler(2, 3, 80, 0.2).recommend(2, [5.0, 5.0]) == 3  # capped at max_scale


def test_log_lines_are_stamped_when_read_and_merged_in_time_order():
    a, b = ReplicaLog("a"), ReplicaLog("b")
    a.feed(b"one\ntw")
    b.feed(b"three\n")
    a.feed(b"o\n")
    a.feed(b"tail without newline")
    a.close()
    lines = merged_tail([a, b], 10)
    assert [line.text for line in lines] == ["one", "three", "two", "tail without newline"]
    assert lines[0].ns <= lines[1].ns <= lines[2].ns
    assert [line.text for line in merged_tail([a, b], 2)] == ["two", "tail without newline"]
    assert rfc3339_nano(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert str(lines[0]).split(" ", 1)[1] == "one"


@pytest.mark.parametrize("raw,want", [(None, 200), ("5", 5), ("0", 200), ("-3", 200), ("x", 200), ("5000", 1000)])
def test_tail_lines_as_the_manager_reads_them(raw, want):
    assert tail_lines(raw) == want


def test_timestamps_flag_is_go_parse_bool():
    assert parse_bool("true") and parse_bool("1") and parse_bool("T")
    assert not parse_bool("yes") and not parse_bool(None)


SVC = {"name": "my-svc", "token": "a" * 64, "owner": "cluster_admin"}


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _forward(headers: dict, query: dict | None = None, svc: dict | None = SVC):
    return asyncio.run(access.forward_auth(svc, "my-svc", headers, query or {}, admin=("oscar", "pw"),
                                           visible=lambda s, u: True))


def test_forward_auth_follows_the_manager_chain():
    ok = _forward({"Authorization": "Bearer " + "a" * 64})
    assert ok.status == 200 and ok.headers["Set-Cookie"].startswith("oscar_service_my_svc_auth=" + "a" * 64)
    assert "Path=/system/services/my-svc/exposed" in ok.headers["Set-Cookie"]
    assert _forward({"Authorization": "Bearer " + "b" * 64}).status == 401
    assert _forward({}, {"token": "a" * 64}).status == 200
    assert _forward({"Cookie": "x=1; oscar_service_my_svc_auth=" + "a" * 64}).status == 200
    assert _forward({"X-Forwarded-Uri": "/system/services/my-svc/exposed/?token=" + "a" * 64}).status == 200
    assert _forward({"Authorization": _basic("oscar", "pw")}).status == 200
    refused = _forward({"Authorization": _basic("oscar", "nope")}, {"token": "a" * 64})
    assert refused.status == 401  # Basic wins over a token elsewhere, as in the Manager
    assert _forward({}).status == 401 and "WWW-Authenticate" in _forward({}).headers
    assert _forward({}, {"token": "a" * 64}, svc=None).status == 404


def test_basic_ingress_auth_is_service_name_and_token():
    s = settings.ExposeSettings.of({**SVC, "expose": {"api_port": [80], "set_auth": True}})

    def check(header):
        return asyncio.run(access.exposed_access(SVC, s, {"Authorization": header} if header else {}, {},
                                                 admin=("oscar", "pw"), visible=lambda *_: True))

    assert check(_basic("my-svc", "a" * 64)).allowed
    for bad in (None, _basic("my-svc", "b" * 64), _basic("other", "a" * 64), _basic("oscar", "pw"), "Basic %%%"):
        got = check(bad)
        assert got.status == 401 and got.headers["WWW-Authenticate"] == 'Basic realm="Authentication Required"'


def test_a_sandboxed_replica_is_one_sandbox_with_its_network_namespace_and_cgroup_first(tmp_path):
    import subprocess

    from oscar_jupyter.local.exposed.launch import Isolation, wrap
    from oscar_jupyter.local.limits import Cgroups
    from oscar_jupyter.local.sandbox import Sandbox
    from oscar_jupyter.local.slot import Containment

    try:
        box = Sandbox.probe(want="bwrap")
    except RuntimeError as exc:
        pytest.skip(str(exc))
    cgroups = Cgroups.probe()
    isolation = Isolation("bwrap", containment=Containment(box, cgroups))
    group = isolation.group({"name": "s", "memory": "64Mi"})
    assert group is not None and group.limits.memory == 64 * 1024 * 1024
    work = tmp_path / "work"
    work.mkdir()
    box.own(str(tmp_path))
    try:
        cmd = wrap(["/bin/sh", "-c", "cat /proc/net/dev | grep -c ':' ; ls /proc | grep -c '^[0-9]'"],
                   {"PATH": "/usr/bin:/bin"}, str(work), isolation=isolation, port=8080,
                   socket_path=str(tmp_path / "s"), root=str(tmp_path), group=group)
        # one sandbox: the group's shell, then bwrap with its own network, then the relay inside it
        assert cmd.argv.count("bwrap") == 1 and "--unshare-net" in cmd.argv
        assert cmd.argv.index("oscar-limits") < cmd.argv.index("bwrap") < cmd.argv.index("oscar-replica")
        done = subprocess.run(cmd.argv, env=cmd.env, cwd=cmd.cwd, capture_output=True, text=True, timeout=30)
        interfaces, processes = done.stdout.split()
        assert interfaces == "1"  # loopback only
        assert int(processes) < 10  # its own PID namespace
    finally:
        group.close()
        cgroups.close()
