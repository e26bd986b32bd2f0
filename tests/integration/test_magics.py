"""`%oscar` and `%%oscar_fdl` in an in-process IPython shell against a real oscar-local."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from PIL import Image

from oscar_jupyter import display, errors
from oscar_jupyter.notebook import magics
from oscar_jupyter.notebook.testing import CellOutput, TestingShell

ANSI = re.compile(r"\x1b\[[0-9;]*m")

ECHO_SCRIPT = 'cat "$INPUT_FILE_PATH"\n'
COPY_SCRIPT = 'echo "copying $(basename "$INPUT_FILE_PATH")"\ncp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/out.png"\n'
FAIL_SCRIPT = 'echo "bad thing happened" >&2\nexit 3\n'


def plain(text: str) -> str:
    return ANSI.sub("", text)


def fdl_cell(name: str, script: str, *, args: str = "", buckets: bool = False,
             cluster: str = "oscar-cluster") -> str:
    body = "\n".join("        " + ln for ln in script.rstrip("\n").splitlines())
    lines = [f"%%oscar_fdl {args}".rstrip(), "functions:", "  oscar:", f"  - {cluster}:",
             f"      name: {name}", "      image: alpine", "      memory: 128Mi", "      cpu: '0.5'",
             "      script: |", body]
    if buckets:
        lines += ["      input:", "      - storage_provider: minio.default", f"        path: {name}/in",
                  "      output:", "      - storage_provider: minio.default", f"        path: {name}/out"]
    return "\n".join(lines) + "\n"


def png_bytes(color: Any = (200, 30, 30), size: Any = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def one_error_line(out: CellOutput) -> str:
    """The single line an expected error prints (and nothing like a traceback)."""
    text = plain(out.stdout + out.stderr).strip()
    assert "Traceback" not in text and "----" not in text, text
    assert len(text.splitlines()) == 1, text
    return text


@pytest.fixture(scope="module")
def shell(local_cluster: Any) -> Iterator[TestingShell]:
    sh = TestingShell.preconfigured()
    sh.user_ns.update(ep=local_cluster.endpoint, user=local_cluster.user, pw=local_cluster.password)
    out = sh.check("%oscar connect {ep} --user {user} --password $pw")
    assert out.error is None, out.stdout + out.stderr
    yield sh
    magics_obj = [c for c in sh.configurables if isinstance(c, magics.OscarMagics)]
    for m in magics_obj:
        m.show_traceback = False


@pytest.fixture(scope="module")
def services(shell: TestingShell, local_cluster: Any) -> Iterator[dict]:
    """Three services deployed through %%oscar_fdl --deploy: echo, copy (with buckets), fail."""
    import uuid
    tag = uuid.uuid4().hex[:6]
    names = {"echo": f"mg-echo-{tag}", "copy": f"mg-copy-{tag}", "fail": f"mg-fail-{tag}"}
    for key, script in (("echo", ECHO_SCRIPT), ("copy", COPY_SCRIPT), ("fail", FAIL_SCRIPT)):
        out = shell.check(fdl_cell(names[key], script, args=f"--deploy --name fdl_{key}",
                                   buckets=key == "copy"))
        assert out.error is None, plain(out.stdout + out.stderr)
        assert f"Deployed {names[key]}" in out.stdout
    yield names
    auth = (local_cluster.user, local_cluster.password)
    for name in names.values():
        requests.delete(f"{local_cluster.endpoint}/system/services/{name}", auth=auth, timeout=60)


@pytest.fixture
def admin_get(local_cluster: Any):
    def get(path: str) -> requests.Response:
        return requests.get(local_cluster.endpoint + path,
                            auth=(local_cluster.user, local_cluster.password), timeout=30)
    return get


# -- usage, help, configuration -----------------------------------------------------------

def test_extension_registers_configurable(shell: TestingShell):
    assert any(isinstance(c, magics.OscarMagics) for c in shell.configurables)
    out = shell.check("%config OscarMagics.preview_size = 200")
    assert out.error is None and display.options.preview_size == 200
    shell.check("%config OscarMagics.preview_size = 512")
    assert display.options.preview_size == 512
    out = shell.check("%config OscarMagics.map_concurrency = 3")
    assert out.error is None
    m = next(c for c in shell.configurables if isinstance(c, magics.OscarMagics))
    shell.check("%config OscarMagics.preview_size = 4")  # %config logs the refusal
    assert m.preview_size == 512 and display.options.preview_size == 512
    shell.check("%config OscarMagics.map_concurrency = 0")
    assert m.map_concurrency == 3
    shell.check("%config OscarMagics.map_concurrency = 4")


def test_load_ext_through_the_package(shell: TestingShell):
    out = shell.check("%load_ext oscar_jupyter")
    assert out.error is None
    assert sum(isinstance(c, magics.OscarMagics) for c in shell.configurables) == 1
    assert "oscar" in shell.magics_manager.magics["line"]
    assert "oscar_fdl" in shell.magics_manager.magics["cell"]


def test_unknown_subcommand_suggests_closest(shell: TestingShell):
    out = shell.check("%oscar servics")
    assert isinstance(out.error, Exception) and "UsageError" in type(out.error).__name__
    line = one_error_line(out)
    assert "unknown sub-command `servics`" in line and "Did you mean `services`?" in line


@pytest.mark.parametrize("source, expected", [
    ("%oscar help", "connect"), ("%oscar --help", "COMMAND"), ("%oscar", "usage: %oscar"),
    ("%oscar help run", "usage: %oscar run"), ("%oscar run --help", "--encoding"),
    ("%%oscar_fdl --help\nx: 1\n", "--strict"),
])
def test_help(shell: TestingShell, source: str, expected: str):
    out = shell.check(source)
    assert out.error is None and expected in out.stdout


def test_help_unknown_topic_and_bad_arguments(shell: TestingShell):
    out = shell.check("%oscar help rnu")
    assert "Did you mean `run`?" in one_error_line(out)
    out = shell.check("%oscar run")
    assert "required: service" in one_error_line(out)
    out = shell.check("%oscar map svc items -c many")
    assert "invalid int value" in one_error_line(out)
    out = shell.check("%oscar run svc 'unclosed")
    assert "No closing quotation" in one_error_line(out)
    out = shell.check("%oscar info -o 1x")
    assert "-o needs a variable name" in one_error_line(out)


# -- connections ------------------------------------------------------------------------

def test_connect_prompts_for_password_without_echo(shell, local_cluster, monkeypatch):
    asked = []
    monkeypatch.setattr(magics, "ask_password", lambda q: asked.append(q) or local_cluster.password)
    out = shell.check("%oscar connect {ep} --user {user} -o conn")
    assert out.error is None, out.stdout
    assert asked and "Password for" in asked[0]
    assert local_cluster.password not in out.stdout + out.stderr + out.text + out.html
    assert "Connected to" in out.stdout and shell.user_ns["conn"].endpoint == local_cluster.endpoint


def test_connect_wrong_password_is_one_line(shell, local_cluster):
    out = shell.check("%oscar connect {ep} --user {user} --password not-the-password")
    assert isinstance(out.error, errors.AuthError)
    line = one_error_line(out)
    assert line.startswith("AuthError:") and "not-the-password" not in line


def test_connect_unreachable_and_empty_password(shell, monkeypatch):
    out = shell.check("%oscar connect http://127.0.0.1:9 --user oscar --password x")
    assert isinstance(out.error, errors.OscarError)
    assert one_error_line(out).startswith(type(out.error).__name__ + ":")
    monkeypatch.setattr(magics, "ask_password", lambda q: "")
    out = shell.check("%oscar connect {ep} --user {user}")
    assert isinstance(out.error, errors.AuthError) and "No password given" in one_error_line(out)

    def no_stdin(question):
        raise EOFError()
    monkeypatch.setattr(magics, "ask_password", no_stdin)
    out = shell.check("%oscar connect {ep} --user {user}")
    assert isinstance(out.error, errors.AuthError) and "Cannot prompt" in one_error_line(out)


def test_connect_local_attaches_and_rejects_credentials(shell, local_cluster, monkeypatch):
    out = shell.check("%oscar connect --local --user x")
    assert isinstance(out.error, errors.ConfigError) and "--local takes no" in one_error_line(out)
    monkeypatch.setenv("OSCAR_LOCAL_DATA_DIR", str(local_cluster.data_dir))
    out = shell.check("%oscar connect --local -o lc")
    assert out.error is None, plain(out.stdout)
    assert shell.user_ns["lc"].endpoint == local_cluster.endpoint
    # back to the connection the other tests use
    assert shell.check("%oscar connect {ep} --user {user} --password $pw").error is None


def test_connect_oscar_cli_config_token_and_no_verify(shell, local_cluster, tmp_path):
    import yaml
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"oscar": {"mylocal": {
        "endpoint": local_cluster.endpoint, "auth_user": local_cluster.user,
        "auth_password": local_cluster.password, "ssl_verify": False}}, "default": "mylocal"}))
    shell.user_ns["cfg"] = str(cfg)
    out = shell.check("%oscar connect --config $cfg --cluster-id mylocal -o cc")
    assert out.error is None, plain(out.stdout)
    assert shell.user_ns["cc"].id == "mylocal" and "Connected to mylocal" in out.stdout
    assert local_cluster.password not in out.stdout
    out = shell.check("%oscar connect --config $cfg --cluster-id nosuch")
    assert isinstance(out.error, errors.OscarError)
    assert one_error_line(out).startswith(type(out.error).__name__)
    out = shell.check("%oscar connect {ep} --token not-a-valid-jwt-token-value")
    assert isinstance(out.error, errors.AuthError)
    assert "not-a-valid-jwt-token-value" not in one_error_line(out)
    out = shell.check("%oscar connect {ep} --user {user} --password $pw --no-verify -o nv")
    assert out.error is None and shell.user_ns["nv"].ssl_verify is False


def test_fdl_cluster_key_naming_an_open_connection_goes_there(shell, local_cluster, tmp_path):
    import yaml
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"oscar": {"other": {
        "endpoint": local_cluster.endpoint, "auth_user": local_cluster.user,
        "auth_password": local_cluster.password}}}))
    shell.user_ns["cfg2"] = str(cfg)
    assert shell.check("%oscar connect --config $cfg2 --cluster-id other").error is None
    out = shell.check("%oscar connect {ep} --user {user} --password $pw -o main")
    assert out.error is None
    main_id = shell.user_ns["main"].id
    try:
        out = shell.check(fdl_cell("mg-routed", ECHO_SCRIPT, args="--deploy --no-wait --name routed",
                                   cluster="other"))
        assert out.error is None, plain(out.stdout)
        assert "Deployed mg-routed on other" in out.stdout
        out = shell.check(fdl_cell("mg-routed", ECHO_SCRIPT, args="--deploy --no-wait --name routed",
                                   cluster="oscar-cluster"))
        assert f"Deployed mg-routed on {main_id}" in out.stdout
    finally:
        requests.delete(f"{local_cluster.endpoint}/system/services/mg-routed",
                        auth=(local_cluster.user, local_cluster.password), timeout=60)


def test_clusters_use_info(shell, local_cluster):
    out = shell.check("%oscar clusters -o cl")
    assert out.error is None and "open connections" in out.text and "127.0.0.1" in out.html
    ids = [c.id for c in shell.user_ns["cl"]]
    out = shell.check("%oscar use nosuchcluster")
    assert isinstance(out.error, errors.NotFound) and "No open connection" in one_error_line(out)
    out = shell.check(f"%oscar use {ids[-1]}")
    assert out.error is None and "Current cluster" in out.stdout
    out = shell.check("%oscar info -o i")
    assert out.error is None and "version" in out.text and isinstance(shell.user_ns["i"], dict)
    assert local_cluster.password not in out.text + out.html


# -- FDL cells ---------------------------------------------------------------------------

def test_fdl_cell_kept_and_errors_point_at_cell_lines(shell):
    out = shell.check(fdl_cell("mg-keep", ECHO_SCRIPT, args="--name kept"))
    assert out.error is None and "Kept as `kept`" in out.stdout
    assert type(shell.user_ns["kept"]).__name__ == "FDL" and "mg-keep" in out.text
    # {var} in the cell magic's line is expanded like in line magics
    shell.user_ns["vname"] = "kept2"
    out = shell.check(fdl_cell("mg-keep", ECHO_SCRIPT, args="--name {vname}"))
    assert out.error is None and "kept2" in shell.user_ns
    bad = fdl_cell("mg-bad", ECHO_SCRIPT).replace("      image: alpine", "      imag: alpine")
    bad_line = bad.splitlines().index("      imag: alpine") + 1  # 1-based line in the cell
    out = shell.check(bad)
    assert isinstance(out.error, errors.InvalidDefinition)
    text = plain(out.stdout)
    assert "Traceback" not in text and text.startswith("InvalidDefinition:")
    assert f"line {bad_line}" in text, text


def test_fdl_cell_unknown_keys_warn_strict_refuses_and_bad_name(shell, admin_get):
    cell = fdl_cell("mg-unk", ECHO_SCRIPT, args="--name unk").replace(
        "      cpu: '0.5'", "      cpu: '0.5'\n      memroy: 1Gi")
    out = shell.check(cell)
    shown = out.text + out.html
    assert out.error is None and "line 9, column 7: functions.oscar[0].oscar-cluster.memroy: " \
        "unknown field, ignored by oscar-cli and OSCAR" in out.text
    assert "did you mean &#x27;memory&#x27;?" in out.html or "did you mean &#39;memory&#39;?" in shown
    out = shell.check(cell.replace("--name unk", "--name unk2 --strict"))
    text = plain(out.stdout)
    assert text.startswith("InvalidDefinition:") and "line 9, column 7" in text and "memroy" in text
    assert "unk2" not in shell.user_ns
    # --deploy with an unknown key: deployed, the warning shown once with the FDL
    out = shell.check(cell.replace("--name unk", "--name unk3 --deploy --no-wait").replace(
        "mg-unk", "mg-unk3"))
    assert out.error is None, out.stdout + out.stderr
    assert (out.text + out.stdout).count("memroy") == 1 and "DefinitionWarning" not in out.stderr
    assert admin_get("/system/services/mg-unk3").status_code == 200
    out = shell.check(cell.replace("--name unk", "--name unk4 --deploy --strict").replace(
        "mg-unk", "mg-unk4"))
    assert plain(out.stdout).startswith("InvalidDefinition:")
    assert admin_get("/system/services/mg-unk4").status_code == 404
    out = shell.check("%oscar rm mg-unk3 --yes")
    assert out.error is None
    out = shell.check(fdl_cell("mg-x", ECHO_SCRIPT, args="--name 9bad"))
    assert "--name needs a variable name" in one_error_line(out)


def test_fdl_deploy_maps_published_cluster_id_to_current(shell, services, admin_get):
    for name in services.values():
        assert admin_get(f"/system/services/{name}").status_code == 200
    assert shell.user_ns["fdl_echo"][0].cluster_id == "oscar-cluster"


# -- services ----------------------------------------------------------------------------

def test_services_and_deploy(shell, services, tmp_path, admin_get, local_cluster):
    out = shell.check("%oscar services -o svcs")
    assert out.error is None and services["echo"] in out.html
    assert "token" not in out.html.lower() or "***" in out.html
    # deploy from a file path and from a variable (update in place)
    path = tmp_path / "fdl.yaml"
    path.write_text(fdl_cell(services["echo"], ECHO_SCRIPT).split("\n", 1)[1].replace(
        "memory: 128Mi", "memory: 192Mi"))
    shell.user_ns["fdlpath"] = str(path)
    out = shell.check("%oscar deploy {fdlpath}")
    assert out.error is None and f"Deployed {services['echo']}" in out.stdout
    assert admin_get(f"/system/services/{services['echo']}").json()["memory"] == "192Mi"
    out = shell.check("%oscar deploy fdl_echo --no-wait -o applied")
    assert out.error is None and shell.user_ns["applied"][0].name == services["echo"]
    assert admin_get(f"/system/services/{services['echo']}").json()["memory"] == "128Mi"


def test_deploy_errors(shell, tmp_path):
    out = shell.check("%oscar deploy no_such_fdl")
    assert isinstance(out.error, errors.InvalidInput) and "no_such_fdl" in one_error_line(out)
    bad = tmp_path / "bad.yaml"
    bad.write_text("functions:\n  oscar:\n  - c:\n      name: Bad_Name!\n")
    shell.user_ns["badpath"] = str(bad)
    out = shell.check("%oscar deploy $badpath")
    assert isinstance(out.error, errors.InvalidDefinition)
    assert "Traceback" not in out.stdout and "line 4" in plain(out.stdout)


def test_rm_asks_and_deletes(shell, local_cluster, admin_get, monkeypatch):
    out = shell.check(fdl_cell("mg-rm-me", ECHO_SCRIPT, args="--deploy --name rmfdl"))
    assert out.error is None
    monkeypatch.setattr(magics, "ask_confirmation", lambda q: "n")
    out = shell.check("%oscar rm mg-rm-me")
    assert out.error is None and "Kept service" in out.stdout
    assert admin_get("/system/services/mg-rm-me").status_code == 200
    monkeypatch.setattr(magics, "ask_confirmation", lambda q: "yes")
    out = shell.check("%oscar rm mg-rm-me")
    assert out.error is None and "Deleted service mg-rm-me" in out.stdout
    assert admin_get("/system/services/mg-rm-me").status_code == 404
    out = shell.check("%oscar rm mg-rm-me --yes")
    assert isinstance(out.error, errors.NotFound) and one_error_line(out).startswith("NotFound:")


def test_rm_without_stdin_needs_yes(shell, services, admin_get, monkeypatch):
    def no_stdin(question):
        raise EOFError()
    monkeypatch.setattr(magics, "ask_confirmation", no_stdin)
    out = shell.check(f"%oscar rm {services['echo']}")
    assert isinstance(out.error, errors.OscarError) and "Add --yes" in one_error_line(out)
    assert admin_get(f"/system/services/{services['echo']}").status_code == 200


# -- invocations -------------------------------------------------------------------------

def test_run_variable_literal_and_path(shell, services, tmp_path):
    shell.user_ns["msg"] = "hello <b>world</b>"
    out = shell.check(f"%oscar run {services['echo']} msg -o r")
    assert out.error is None, plain(out.stdout)
    r = shell.user_ns["r"]
    assert r.kind == "text" and r.text.strip() == "hello <b>world</b>"
    assert "hello &lt;b&gt;world&lt;/b&gt;" in out.html
    out = shell.check(f"%oscar run {services['echo']} '{{\"a\": [1, 2]}}' -o j")
    assert out.error is None and shell.user_ns["j"].value == {"a": [1, 2]}
    assert "<details" in out.html
    f = tmp_path / "note.txt"
    f.write_text("from a file")
    shell.user_ns["fpath"] = str(f)
    out = shell.check(f"%oscar run {services['echo']} $fpath -o t")
    assert out.error is None and shell.user_ns["t"].text.strip() == "from a file"
    out = shell.check(f"%oscar run {services['echo']} words --text -o w")
    assert shell.user_ns["w"].text.strip() == "words"
    out = shell.check(f"%oscar run {services['echo']} -o empty")
    assert out.error is None and shell.user_ns["empty"].raw.strip() == b""


def test_run_image_shows_input_beside_output(shell, services):
    shell.user_ns["img"] = Image.open(io.BytesIO(png_bytes(size=(1600, 1200))))
    out = shell.check(f"%oscar run {services['copy']} img -o ir")
    assert out.error is None, plain(out.stdout)
    assert shell.user_ns["ir"].kind == "image" and shell.user_ns["ir"].image.size == (1600, 1200)
    assert out.html.count("<img ") == 2 and "input" in out.html
    assert sum(len(b["text/html"]) for b in out.bundles) < 300_000


def test_run_errors_are_one_line(shell, services, monkeypatch):
    out = shell.check(f"%oscar run {services['echo']} cat.jgp")
    assert isinstance(out.error, errors.InvalidInput) and "cat.jgp" in one_error_line(out)
    out = shell.check("%oscar run mg-no-such-service x --text")
    assert isinstance(out.error, errors.NotFound)
    assert one_error_line(out).startswith("NotFound:")
    typo = services["echo"][:-1]
    out = shell.check(f"%oscar run {typo} x --text")
    assert f"Did you mean `{services['echo']}`?" in one_error_line(out)
    out = shell.check(f"%oscar run {services['fail']} x --text")
    assert isinstance(out.error, errors.ServiceFailed)
    assert one_error_line(out).startswith("ServiceFailed:")
    assert "bad thing happened" in out.error.log
    assert "status 3: bad thing happened." in one_error_line(out)  # the cause, on the one line
    # the full traceback on request
    out = shell.check("%oscar run mg-no-such-service x --text --traceback")
    assert isinstance(out.error, errors.NotFound) and "Traceback" in plain(out.stdout)
    shell.check("%config OscarMagics.show_traceback = True")
    try:
        out = shell.check("%oscar run mg-no-such-service x --text")
        assert "Traceback" in plain(out.stdout)
    finally:
        shell.check("%config OscarMagics.show_traceback = False")


def test_run_timeout_option(shell, services, local_cluster):
    out = shell.check(fdl_cell("mg-slow", "sleep 5\necho late\n", args="--deploy --name slowfdl"))
    assert out.error is None
    try:
        out = shell.check("%oscar run mg-slow x --text --timeout 1")
        assert isinstance(out.error, errors.Timeout), repr(out.error)
        assert one_error_line(out).startswith("Timeout:")
    finally:
        requests.delete(f"{local_cluster.endpoint}/system/services/mg-slow",
                        auth=(local_cluster.user, local_cluster.password), timeout=60)


def test_map_list_and_glob(shell, services, tmp_path):
    shell.user_ns["words"] = ["one", "two", "three"]
    out = shell.check(f"%oscar map {services['echo']} words -c 2 -o b")
    assert out.error is None, plain(out.stdout)
    b = shell.user_ns["b"]
    assert [i.result.text.strip() for i in b] == ["one", "two", "three"]
    assert "3 items: 3 ✓, 0 ✗" in out.html
    for n in range(2):
        (tmp_path / f"f{n}.txt").write_text(f"file {n}")
    shell.user_ns["pattern"] = str(tmp_path / "*.txt")
    out = shell.check(f"%oscar map {services['fail']} {{pattern}} -o bf")
    assert out.error is None and "2 items: 0 ✓, 2 ✗" in out.html
    assert "bad thing happened" in out.html  # the failure's log excerpt
    out = shell.check(f"%oscar map {services['echo']} nothing_here")
    assert isinstance(out.error, errors.InvalidInput) and "nothing_here" in one_error_line(out)


def test_job_jobs_logs(shell, services, tmp_path):
    p = tmp_path / "red.png"
    p.write_bytes(png_bytes())
    shell.user_ns["pngpath"] = str(p)
    out = shell.check(f"%oscar job {services['copy']} $pngpath --wait --timeout 60 -o jr")
    assert out.error is None, plain(out.stdout)
    jr = shell.user_ns["jr"]
    assert len(jr) == 1 and jr[0].status == "ok", repr(jr[0].error)
    assert "1 item: 1 ✓" in out.html
    p2 = tmp_path / "blue.png"
    p2.write_bytes(png_bytes((20, 20, 200)))
    shell.user_ns["pngpath2"] = str(p2)
    out = shell.check(f"%oscar job {services['copy']} $pngpath2 -o run")
    assert out.error is None and "one job each" in out.stdout
    shell.user_ns["run"].wait(timeout=60)
    out = shell.check(f"%oscar jobs {services['copy']} -o jl")
    assert out.error is None and len(shell.user_ns["jl"]) >= 2 and "Succeeded" in out.html
    out = shell.check(f"%oscar logs {services['copy']}")
    assert out.error is None and "── log of " in out.stdout
    times = {j.name: j.creation_time for j in shell.user_ns["jl"]}
    if len(set(times.values())) == len(times):  # distinct creation times: the latest is blue's
        assert "copying blue.png" in out.stdout
    else:
        assert "copying blue.png" in out.stdout or "copying red.png" in out.stdout
    job = shell.user_ns["jl"][0].name
    out = shell.check(f"%oscar logs {services['copy']} {job} -o lg")
    assert out.error is None and "copying" in shell.user_ns["lg"]
    # a dict variable is {name: data}, as submit() reads it
    shell.user_ns["named"] = {"green.png": png_bytes((0, 200, 0))}
    out = shell.check(f"%oscar job {services['copy']} named --wait --timeout 60 -o jd")
    assert out.error is None, plain(out.stdout + out.stderr)
    assert [i.name for i in shell.user_ns["jd"]] == ["green.png"] and shell.user_ns["jd"].ok
    out = shell.check(f"%oscar logs {services['echo']}")
    assert isinstance(out.error, errors.NotFound) and "no jobs" in one_error_line(out)
    out = shell.check(f"%oscar job {services['echo']} $pngpath")
    assert isinstance(out.error, errors.InvalidInput) and "no MinIO input" in one_error_line(out)


# -- storage -----------------------------------------------------------------------------

def test_put_ls_get(shell, services, tmp_path):
    src = tmp_path / "data.bin"
    src.write_bytes(b"\x00\x01payload")
    shell.user_ns["src"] = str(src)
    bucket = services["copy"]
    out = shell.check(f"%oscar put $src {bucket}/extra/data.bin")
    assert out.error is None and f"{bucket}/extra/data.bin" in out.stdout
    out = shell.check(f"%oscar ls {bucket}/extra/ -o listing")
    assert out.error is None and "data.bin" in out.html
    out = shell.check("%oscar ls")
    assert out.error is None and bucket in out.html
    dest = tmp_path / "back.bin"
    shell.user_ns["dest"] = str(dest)
    out = shell.check(f"%oscar get {bucket}/extra/data.bin $dest")
    assert out.error is None and dest.read_bytes() == b"\x00\x01payload"
    out = shell.check(f"%oscar get {bucket}/extra/missing.bin $dest")
    assert isinstance(out.error, errors.OscarError) and len(one_error_line(out)) > 10
    out = shell.check(f"%oscar put {tmp_path}/nope.bin {bucket}/x")
    assert isinstance(out.error, errors.InvalidInput) and "nope.bin" in one_error_line(out)


# -- panels ------------------------------------------------------------------------------

def test_panel_opens_widget_and_unknown_panel_suggests(shell, services):
    import ipywidgets as widgets
    out = shell.check("%oscar panel services -o p")
    assert out.error is None, plain(out.stdout)
    assert isinstance(shell.user_ns["p"], widgets.VBox)
    assert any("application/vnd.jupyter.widget-view+json" in b for b in out.bundles)
    out = shell.check("%oscar panel servces")
    assert "Did you mean `services`?" in one_error_line(out)


def test_panel_options_reach_the_panel(shell, services, tmp_path):
    out = shell.check(f"%oscar panel invoke --service {services['copy']} -t 7 -c 2 -o p")
    assert out.error is None, plain(out.stdout + out.stderr)
    p = shell.user_ns["p"]
    assert p.service.value == services["copy"] and p.timeout == 7 and p.concurrency == 2
    assert p.namespace is shell.user_ns  # variables of the notebook can be invoked
    out = shell.check(f"%oscar panel jobs -s {services['copy']} --interval 0.5 --expected 3 -o p")
    assert out.error is None, plain(out.stdout + out.stderr)
    p = shell.user_ns["p"]
    assert p.service.value == services["copy"] and p.interval == 0.5 and p.expected == 3
    p.close()
    out = shell.check(f"%oscar panel storage --path {services['copy']}/in -o p")
    assert out.error is None and shell.user_ns["p"].path.strip("/") == f"{services['copy']}/in"
    out = shell.check("%oscar panel deploy --fdl fdl_echo --ready-timeout 30 -o p")
    assert out.error is None, plain(out.stdout + out.stderr)
    assert shell.user_ns["p"].ready_timeout == 30 and services["echo"] in shell.user_ns["p"].fdl_text.value


def test_panel_options_that_do_not_apply_say_so_in_one_line(shell, services):
    out = shell.check("%oscar panel storage --service x")
    assert "--service is not an option of the storage panel" in one_error_line(out)
    out = shell.check("%oscar panel services --path b")
    assert "It takes no options" in one_error_line(out)
    out = shell.check("%oscar panel invoke --service mg-ech")
    assert "No service 'mg-ech'" in one_error_line(out)
    out = shell.check(f"%oscar panel invoke --service {services['echo']} -c 0")
    assert "--concurrency must be at least 1" in one_error_line(out)
    out = shell.check("%oscar panel jobs --run nothing_here")
    assert "is not a variable holding an AsyncRun" in one_error_line(out)
    out = shell.check("%oscar panel deploy --fdl missing_variable")
    assert "missing_variable" in one_error_line(out)


def test_a_bad_timeout_is_one_line(shell, services):
    out = shell.check(f"%oscar run {services['echo']} hello --text -t -5")
    assert "timeout must be a positive number" in one_error_line(out)
    shell.user_ns["some_inputs"] = [b"x"]
    out = shell.check(f"%oscar job {services['copy']} some_inputs --wait -t 0")
    assert "timeout must be a positive number" in one_error_line(out)


def test_a_mistyped_option_does_not_print_the_secret_after_it(shell):
    out = shell.check("%oscar connect http://127.0.0.1:9 --user u --pasword hunter2-secret")
    text = plain(out.stdout + out.stderr + str(out.error))
    assert "--pasword" in text and "hunter2-secret" not in text
    out = shell.check("%oscar services --token=abc-secret-token extra")
    text = plain(out.stdout + out.stderr + str(out.error))
    assert "--token" in text and "abc-secret-token" not in text and "1 other word" in text


# -- a real kernel -----------------------------------------------------------------------

def test_in_a_real_kernel_errors_are_one_line_and_results_rich(local_cluster, tmp_path):
    """The same magics in ipykernel: one-line error outputs, rich results, no secrets."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    connect = (f"%oscar connect {local_cluster.endpoint} --user {local_cluster.user} "
               f"--password {local_cluster.password}")
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (
        "%load_ext oscar_jupyter", "%oscar servics", "%oscar connect http://127.0.0.1:9 --user a "
        "--password b", connect, "%oscar run nosuchservice x --text", "%oscar services")]
    client = nbclient.NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3")
    client.execute(cwd=str(tmp_path))
    outs = [cell.outputs for cell in nb.cells]
    assert outs[0] == []
    assert outs[1][0]["name"] == "stderr" and "Did you mean `services`?" in outs[1][0]["text"]
    assert [o["output_type"] for o in outs[2]] == ["error"] and len(outs[2][0]["traceback"]) == 1
    err = [o for o in outs[4] if o["output_type"] == "error"]
    assert len(err) == 1 and err[0]["ename"] == "NotFound" and len(err[0]["traceback"]) == 1
    assert plain(err[0]["traceback"][0]).startswith("NotFound: No service 'nosuchservice'")
    assert any("text/html" in o.get("data", {}) for o in outs[5])
    shown = json.dumps(outs[1:])
    assert local_cluster.password not in shown


def test_a_misspelt_variable_is_an_error_not_text(shell, services):
    from PIL import Image
    shell.user_ns["picture"] = Image.new("RGB", (4, 4))
    out = shell.check(f"%oscar run {services['echo']} pictrue")
    line = one_error_line(out)
    assert isinstance(out.error, errors.InvalidInput) and "pictrue" in line and "picture" in line, line
    # quoted, the same word is text and is sent as it is
    out = shell.check(f"%oscar run {services['echo']} 'pictrue' -o sent")
    assert out.error is None and shell.user_ns["sent"].text.strip() == "pictrue"


# -- how words become inputs (no cluster needed) ------------------------------------------

def test_input_words(tmp_path, monkeypatch):
    from oscar_jupyter.notebook import inputs
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "imgs").mkdir()
    for n in ("2.png", "1.png", ".hidden"):
        (tmp_path / "imgs" / n).write_bytes(b"x")

    class Holder:
        image = "the image"

    ns = {"v": [1, 2], "h": Holder(), "s": "text"}
    assert inputs.one("v", ns) == [1, 2]
    assert inputs.one("h.image", ns) == "the image"
    assert inputs.one("a.txt", ns) == Path("a.txt")
    assert inputs.one('{"k": 1}', ns) == {"k": 1} and inputs.one("3.5", ns) == 3.5
    assert inputs.one("hello there", ns) == "hello there" and inputs.one("v", ns, text=True) == "v"
    assert inputs.one("hello", ns, text=True) == "hello"
    with pytest.raises(errors.InvalidInput, match="Did you mean s\\?"):
        inputs.one("ss", ns)  # a name-like word that names nothing is a typo, not text
    assert inputs.quoted_words("""svc 'pictrue' "two words" bare""") == {"pictrue", "two words"}
    for bad in ("missing.jpg", "dir/file", "imgs"):
        with pytest.raises(errors.InvalidInput):
            inputs.one(bad, ns)
    assert [p.name for p in inputs.many(["imgs"], ns)] == ["1.png", "2.png"]
    assert [p.name for p in inputs.many(["imgs/*.png", "a.txt"], ns)] == ["1.png", "2.png", "a.txt"]
    assert inputs.many(["v", "s"], ns) == [1, 2, "text"]
    with pytest.raises(errors.InvalidInput):
        inputs.many(["nomatch*.gif"], ns)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_tab_completion(shell, services):
    assert shell.complete("se", "%oscar se")[1] == ["services"]
    _, found = shell.complete("", "%oscar run mg-e")
    assert services["echo"] in found and services["copy"] not in found
    assert shell.complete("ser", "%oscar panel ser")[1] == ["services"]
    assert shell.complete("--", "%oscar panel storage --")[1] == ["--path"]
    assert set(shell.complete("--", "%oscar panel invoke --")[1]) == {"--service", "--timeout",
                                                                      "--concurrency"}
    _, found = shell.complete("mg-c", "%oscar panel jobs --service mg-c")
    assert found == [services["copy"]]
    shell.user_ns["zz_input_var"] = 1
    assert "zz_input_var" in shell.complete("zz_", f"%oscar run {services['echo']} zz_")[1]


def test_deploy_says_unknown_key_warnings_and_strict_refuses(shell, tmp_path, admin_get):
    path = tmp_path / "typo.yaml"
    path.write_text(fdl_cell("mg-dep-unk", ECHO_SCRIPT).split("\n", 1)[1].replace(
        "      cpu: '0.5'", "      cpu: '0.5'\n      log_levle: DEBUG"))
    shell.user_ns["typo_path"] = str(path)
    out = shell.check("%oscar deploy {typo_path} --strict")
    assert plain(out.stdout).startswith("InvalidDefinition:") and "log_levle" in out.stdout
    assert admin_get("/system/services/mg-dep-unk").status_code == 404
    out = shell.check("%oscar deploy {typo_path} --no-wait")
    assert out.error is None, out.stdout + out.stderr
    said = plain(out.stdout)
    assert "warning: line 8, column 7: functions.oscar[0].oscar-cluster.log_levle: unknown field, " \
           "ignored by oscar-cli and OSCAR" in said and "did you mean 'log_level'?" in said
    assert said.count("log_levle") == 1 and "DefinitionWarning" not in out.stderr
    assert admin_get("/system/services/mg-dep-unk").status_code == 200
    assert shell.check("%oscar rm mg-dep-unk --yes").error is None
