"""oscar-cli, the OSCAR project's own client, driven as a user drives it against oscar-local.

The binary comes from tests/oracle/oscar_cli/build.sh (run by scripts/test: ``go install
github.com/grycap/oscar-cli@v1.12.2``, or a build of that tag from a clone where the module
proxy does not serve it); ``$OSCAR_CLI`` names another, else it is looked for in
``$ORACLE_BIN_DIR``, on PATH and in ``$(go env GOPATH)/bin``. Without one these tests are
skipped, saying why. Every command gets ``--config`` in a temporary folder:
oscar-cli takes its default config path from the passwd entry's home, not ``$HOME``.

Besides the commands, oscar-cli's FDL reading is the oracle for the published-FDL corpus:
``apply`` reads the FDL (``service.ReadFDL``) before it looks at any cluster, so with an empty
config it either refuses the FDL or stops at the unknown cluster id.

oscar-cli v1.12.2 builds against the Manager's v3.3 types, and Manager v4.1.2 refuses what
its ``apply`` sends (see the v4.1 tests below), so the commands run against oscar-local as
Manager v3.7.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, List, Optional

import pytest
import requests

import oscar_jupyter as oj
from oscar_jupyter import fdl

CORPUS = Path(__file__).resolve().parent.parent / "data" / "fdl" / "published"
FDLS = [e["file"] for e in json.loads((CORPUS / "sources.json").read_text())
        if e["kind"] in ("fdl", "docs-block")]
VERDICTS = json.loads((CORPUS / "verdicts.json").read_text())


def _find_oscar_cli() -> Optional[str]:
    given = os.environ.get("OSCAR_CLI")
    if given:
        return given if os.access(given, os.X_OK) else None
    built = Path(os.environ.get("ORACLE_BIN_DIR") or "~/.cache/oscar-jupyter/oracle").expanduser()
    if os.access(built / "oscar-cli", os.X_OK):
        return str(built / "oscar-cli")
    found = shutil.which("oscar-cli")
    if found:
        return found
    go = shutil.which("go")
    if go:
        try:
            gopath = subprocess.run([go, "env", "GOPATH"], capture_output=True, text=True,
                                    timeout=60).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return None
        candidate = Path(gopath.split(os.pathsep)[0] or "~/go").expanduser() / "bin" / "oscar-cli"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


OSCAR_CLI = _find_oscar_cli()
pytestmark = pytest.mark.skipif(
    OSCAR_CLI is None,
    reason="no oscar-cli binary: scripts/test builds it with tests/oracle/oscar_cli/build.sh "
           "(needs Go, and the module proxy or a grycap/oscar-cli clone), or set $OSCAR_CLI")

SCRIPT = 'echo "got $(cat "$INPUT_FILE_PATH")"\ncp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/copy-$(basename "$INPUT_FILE_PATH")"\n'


class CLI:
    """oscar-cli with its own config file and home."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = folder / "config.yaml"
        self.home = folder / "home"
        self.home.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, stdin: str = "", check: bool = True, cwd: Optional[Path] = None,
            config: Optional[Path] = None) -> subprocess.CompletedProcess:
        env = dict(os.environ, HOME=str(self.home), NO_COLOR="1")
        done = subprocess.run([OSCAR_CLI, *args, "--config", str(config or self.config)],
                              input=stdin, capture_output=True, text=True, timeout=180,
                              env=env, cwd=str(cwd or self.folder))
        if check:
            assert done.returncode == 0, f"oscar-cli {' '.join(args)}: {done.stdout}{done.stderr}"
        return done


@pytest.fixture(scope="module")
def cli(local_cluster_v3, tmp_path_factory) -> CLI:
    tool = CLI(tmp_path_factory.mktemp("oscar-cli"))
    done = tool.run("cluster", "add", "local", local_cluster_v3.endpoint, local_cluster_v3.user,
                    "--password-stdin", stdin=local_cluster_v3.password + "\n")
    assert "successfully stored" in done.stdout and str(tool.config) in done.stdout
    assert local_cluster_v3.password in tool.config.read_text()  # oscar-cli keeps it there
    assert oct(tool.config.stat().st_mode & 0o777) == "0o600"
    return tool


@pytest.fixture(scope="module")
def client(local_cluster_v3):
    c = oj.connect(local_cluster_v3.endpoint, user=local_cluster_v3.user, password=local_cluster_v3.password,
                   id="ocli-" + uuid.uuid4().hex[:4])
    yield c
    oj.disconnect(c)


@pytest.fixture(scope="module")
def service(cli, client, tmp_path_factory) -> str:
    """A service applied by oscar-cli from an FDL with a script file (input/output buckets)."""
    name = "ocli-" + uuid.uuid4().hex[:6]
    folder = tmp_path_factory.mktemp("fdl")
    (folder / "script.sh").write_text(SCRIPT)
    (folder / "fdl.yaml").write_text(f"""functions:
  oscar:
  - local:
      name: {name}
      image: ghcr.io/grycap/alpine
      memory: 128Mi
      cpu: '0.5'
      log_level: CRITICAL
      script: script.sh
      input:
      - storage_provider: minio.default
        path: {name}/in
      output:
      - storage_provider: minio.default
        path: {name}/out
""")
    done = cli.run("apply", str(folder / "fdl.yaml"))
    assert 'Applying file "fdl.yaml"' in done.stdout
    yield name
    if client.exists(name):
        client.delete(name, check_buckets=False)


def test_cluster_info_and_list(cli, local_cluster_v3):
    info = cli.run("cluster", "info").stdout
    assert "version: 3.7.1" in info and "architecture:" in info
    listed = cli.run("cluster", "list").stdout
    assert f"local ({local_cluster_v3.endpoint}) (Default)" in listed


def test_apply_with_a_script_file_then_list_and_get(cli, client, service):
    deployed = client.get_service_spec(service)
    assert deployed["script"] == SCRIPT and deployed["cluster_id"] == "local"
    rows = [line.split() for line in cli.run("service", "ls").stdout.splitlines()]
    assert rows[0] == ["NAME", "IMAGE", "CPU", "MEMORY"]
    assert [service, "ghcr.io/grycap/alpine", "0.5", "128Mi"] in rows
    got = cli.run("service", "get", service).stdout
    assert f"name: {service}" in got and "cp \"$INPUT_FILE_PATH\"" in got
    assert f"path: {service}/in" in got


def test_apply_again_edits_the_service(cli, client, service, tmp_path):
    (tmp_path / "script.sh").write_text(SCRIPT)
    text = client.get_service_spec(service)
    fdl_text = f"""functions:
  oscar:
  - local:
      name: {service}
      image: ghcr.io/grycap/alpine
      memory: 192Mi
      cpu: '0.5'
      log_level: CRITICAL
      script: script.sh
      input:
      - storage_provider: minio.default
        path: {service}/in
      output:
      - storage_provider: minio.default
        path: {service}/out
"""
    (tmp_path / "fdl.yaml").write_text(fdl_text)
    cli.run("apply", str(tmp_path / "fdl.yaml"))
    after = client.get_service_spec(service)
    assert after["memory"] == "192Mi" and after["script"] == text["script"]
    # (Manager v3.7.1 gives the service a new token on an admin update: oscar-cli reads it anew)
    assert cli.run("service", "run", service, "--text-input", "still").stdout.strip() == "still"


def test_run_sync_with_text_and_with_an_input_file_and_output_file(cli, service, tmp_path):
    # the script leaves one file in $TMP_OUTPUT_DIR: that file is the response, as on OSCAR
    done = cli.run("service", "run", service, "--text-input", "hola")
    assert done.stdout.strip() == "hola"
    (tmp_path / "in.txt").write_bytes(b"from a file\x00\xff binary")
    cli.run("service", "run", service, "--file-input", str(tmp_path / "in.txt"),
            "--output", str(tmp_path / "out.bin"))
    assert (tmp_path / "out.bin").read_bytes() == b"from a file\x00\xff binary"


def _wait_for_jobs(cli, service, count: int, timeout: float = 90) -> List[List[str]]:
    deadline = time.monotonic() + timeout
    while True:
        lines = cli.run("service", "logs", "list", service).stdout.splitlines()
        rows = [line.split() for line in lines[1:] if line.strip()]
        done = [r for r in rows if len(r) > 1 and r[1] in ("Succeeded", "Failed")]
        if len(done) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(1)


def test_put_file_starts_a_job_then_files_logs_get_file_and_delete_file(cli, service, tmp_path):
    (tmp_path / "photo.txt").write_text("an input file")
    cli.run("service", "put-file", service, "minio.default", str(tmp_path / "photo.txt"),
            f"{service}/in/photo.txt")
    listed = cli.run("service", "list-files", service, "minio.default", f"{service}/in").stdout
    assert "photo.txt" in listed
    rows = _wait_for_jobs(cli, service, 1)
    assert rows and rows[0][1] == "Succeeded", rows
    assert rows[0][0].startswith(service + "-")
    log = cli.run("service", "logs", "get", service, rows[0][0]).stdout
    assert "got an input file" in log
    out = cli.run("service", "list-files", service, "minio.default", f"{service}/out").stdout
    assert "copy-photo.txt" in out
    cli.run("service", "get-file", service, "minio.default", f"{service}/out/copy-photo.txt",
            str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "an input file"
    cli.run("service", "delete-file", service, "minio.default", f"{service}/in/photo.txt")
    assert "photo.txt" not in cli.run("service", "list-files", service, "minio.default",
                                      f"{service}/in").stdout


def test_job_then_logs_get_latest_with_timestamps_and_remove(cli, service):
    before = len(_wait_for_jobs(cli, service, 0, timeout=0))
    time.sleep(1.1)  # creation times have whole seconds: --latest needs a later one
    cli.run("service", "job", service, "--text-input", "async hello")
    rows = _wait_for_jobs(cli, service, before + 1)
    assert len(rows) == before + 1 and all(r[1] == "Succeeded" for r in rows), rows
    latest = cli.run("service", "logs", "get", service, "--latest").stdout
    assert "got async hello" in latest
    stamped = cli.run("service", "logs", "get", service, "--latest", "--show-timestamps").stdout
    line = [ln for ln in stamped.splitlines() if "got async hello" in ln][0]
    assert line[:4].isdigit() and "T" in line.split()[0]  # RFC 3339 time first
    removed = cli.run("service", "logs", "remove", service, "--succeeded").stdout
    assert "removed successfully" in removed
    assert "This service has no logs" in cli.run("service", "logs", "list", service).stdout


def test_our_fdl_writer_output_is_applied_by_oscar_cli(cli, client, tmp_path):
    name = "ocli-w-" + uuid.uuid4().hex[:5]
    source = fdl.load(f"""functions:
  oscar:
  - oscar-cluster:
      name: {name}
      image: ghcr.io/grycap/alpine
      memory: 128Mi
      cpu: 1.0
      log_level: CRITICAL
      script: |
        echo "writer $(cat "$INPUT_FILE_PATH")"
      environment:
        Variables:
          WORKERS: 2
          DEBUG: yes
""")
    path, scripts = source.write(tmp_path / "out")
    assert [p.name for p in scripts] == [f"{name}.sh"]
    cli.run("apply", str(path), "--cluster", "local")
    try:
        deployed = client.get_service_spec(name)
        assert deployed["script"] == source[0].script
        assert deployed["cpu"] == "1.0"
        assert deployed["environment"]["variables"] == {"WORKERS": "2", "DEBUG": "yes"}
        assert cli.run("service", "run", name, "--text-input", "ok").stdout.strip() == "writer ok"
        for key, value in source[0].data.items():  # everything the FDL says is deployed as said
            if key not in ("environment", "cluster_id"):
                assert deployed[key] == value, key
        assert deployed["cluster_id"] == "local"  # the target cluster, as `--cluster` said
        # oscar-cli adds the target cluster (endpoint and credentials) to what it sends
        assert deployed["clusters"]["local"]["endpoint"] == client.endpoint
        cli.run("delete", str(path), "--default")  # delete has no --cluster: the default cluster
        assert not client.exists(name)
    finally:
        if client.exists(name):
            client.delete(name, check_buckets=False)


def test_service_delete(cli, client, tmp_path):
    name = "ocli-d-" + uuid.uuid4().hex[:5]
    client.apply({"name": name, "image": "alpine", "script": "echo hi"}, wait=False)
    cli.run("service", "delete", name)
    assert not client.exists(name)
    missing = cli.run("service", "get", name, check=False)
    assert missing.returncode != 0 and "not found" in (missing.stdout + missing.stderr).lower()


def _oscar_cli_reads(cli: CLI, name: str, empty_config: Path) -> str:
    """'refused: ...' when oscar-cli's ReadFDL refuses the file, else 'read'."""
    done = cli.run("apply", str(CORPUS / name), check=False, config=empty_config, cwd=CORPUS)
    said = (done.stdout + done.stderr).strip()
    if "the FDL file is not valid" in said or "cannot load the script" in said:
        return "refused: " + said.splitlines()[-1]
    assert "doesn't exist" in said or "Applying file" in said, said
    return "read"


def test_oscar_cli_reads_the_corpus_as_the_corpus_test_expects(cli, tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("oscar: {}\n")
    expected_refused = {f for f, v in VERDICTS["refused"].items() if v["why"].startswith("oscar-cli")}
    expected_refused |= set(VERDICTS["oscar_cli_refuses_manager_accepts"])
    verdicts = {name: _oscar_cli_reads(cli, name, empty) for name in FDLS}
    refused = {name for name, verdict in verdicts.items() if verdict != "read"}
    assert refused == expected_refused, {n: verdicts[n] for n in refused ^ expected_refused}
    assert len(verdicts) == 70


def test_on_manager_v4_1_apply_is_refused_as_the_manager_refuses_it(local_cluster_v4, tmp_path):
    """oscar-cli's types (oscar v3.3.0) always send expose.nodePort: 0; Manager v4.1.2 decodes a
    list there ([]int32), so its create handler answers 400 before anything is created."""
    tool = CLI(tmp_path)
    tool.run("cluster", "add", "v4", local_cluster_v4.endpoint, local_cluster_v4.user,
             "--password-stdin", stdin=local_cluster_v4.password + "\n")
    assert "version: 4.1.2" in tool.run("cluster", "info").stdout
    name = "ocli-v4-" + uuid.uuid4().hex[:5]
    (tmp_path / "script.sh").write_text("echo hi\n")
    (tmp_path / "fdl.yaml").write_text(f"functions:\n  oscar:\n  - v4:\n      name: {name}\n"
                                       "      image: alpine\n      script: script.sh\n")
    done = tool.run("apply", str(tmp_path / "fdl.yaml"), check=False)
    assert done.returncode != 0
    assert "The service specification is not valid" in done.stdout + done.stderr
    assert "nodePort" in done.stdout + done.stderr
    admin = requests.get(f"{local_cluster_v4.endpoint}/system/services/{name}",
                         auth=(local_cluster_v4.user, local_cluster_v4.password), timeout=30)
    assert admin.status_code == 404


def test_on_manager_v4_1_services_made_elsewhere_are_read_run_and_listed(local_cluster_v4, tmp_path):
    """Service get/run/job work on v4.1; an exposed service's `api_port` list (Manager v4.1.2's
    []int) is more than oscar-cli's types (one number) can read, so `service ls` then fails, as
    it does against a real Manager v4.1.2."""
    tool = CLI(tmp_path)
    tool.run("cluster", "add", "v4", local_cluster_v4.endpoint, local_cluster_v4.user,
             "--password-stdin", stdin=local_cluster_v4.password + "\n")
    c = oj.connect(local_cluster_v4.endpoint, user=local_cluster_v4.user,
                   password=local_cluster_v4.password, id="ocli-v4-" + uuid.uuid4().hex[:4])
    plain, exposed = "ocli-p-" + uuid.uuid4().hex[:5], "ocli-e-" + uuid.uuid4().hex[:5]
    try:
        c.apply({"name": plain, "image": "alpine", "log_level": "CRITICAL",
                 "script": 'echo "v4 $(cat "$INPUT_FILE_PATH")"'}, wait=False)
        assert f"name: {plain}" in tool.run("service", "get", plain).stdout
        assert plain in tool.run("service", "ls").stdout
        assert tool.run("service", "run", plain, "--text-input", "ok").stdout.strip() == "v4 ok"
        tool.run("service", "job", plain, "--text-input", "later")
        c.apply({"name": exposed, "image": "nginx", "script": "nginx -g 'daemon off;'",
                 "expose": {"api_port": [80]}}, wait=False)
        listed = tool.run("service", "ls", check=False)
        assert listed.returncode != 0
        assert "cannot unmarshal array into Go struct field .expose.api_port of type int" in \
            listed.stdout + listed.stderr
    finally:
        for name in (plain, exposed):
            if c.exists(name):
                c.delete(name, check_buckets=False)
        oj.disconnect(c)


def test_oscar_cli_applies_every_published_fdl_it_reads_to_oscar_local(cli, client):
    """Create and then edit (a second apply), as a user retrying does; oscar-local takes both."""
    refused = set(VERDICTS["refused"]) | set(VERDICTS["oscar_cli_refuses_manager_accepts"])
    applied: List[str] = []
    try:
        for name in (f for f in FDLS if f not in refused):
            for _ in range(2):
                cli.run("apply", str(CORPUS / name), "--cluster", "local", cwd=CORPUS)
            applied.extend(fdl.load(CORPUS / name).names)
            for service in fdl.load(CORPUS / name):
                deployed = client.get_service_spec(service.name)
                assert deployed["script"] == service.script and deployed["cluster_id"] == "local"
    finally:
        for service in set(applied):
            if client.exists(service):
                client.delete(service, check_buckets=False)
    assert len(set(applied)) >= 40


def test_cluster_add_default_and_remove_keep_to_the_given_config(local_cluster_v3, tmp_path):
    tool = CLI(tmp_path)
    for ident in ("one", "two"):
        tool.run("cluster", "add", ident, local_cluster_v3.endpoint, local_cluster_v3.user,
                 "--password-stdin", stdin=local_cluster_v3.password + "\n")
    assert "one (" in tool.run("cluster", "list").stdout
    tool.run("cluster", "default", "--set", "two")
    assert f"two ({local_cluster_v3.endpoint}) (Default)" in tool.run("cluster", "list").stdout
    tool.run("cluster", "remove", "one")
    listed = tool.run("cluster", "list").stdout
    assert "one (" not in listed and "two (" in listed
    assert not (tool.home / ".oscar-cli").exists()  # nothing written outside --config
    # the toolkit reads the same file: its default cluster is oscar-cli's
    c = oj.connect(cluster_id="two", config_path=str(tool.config))
    try:
        assert c.endpoint.rstrip("/") == local_cluster_v3.endpoint.rstrip("/") and c.health()
    finally:
        oj.disconnect(c)
