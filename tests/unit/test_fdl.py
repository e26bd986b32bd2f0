"""FDL files: published shapes, positions of problems, scripts, lint, write-back, diff."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from oscar_jupyter import fdl, spec
from oscar_jupyter.errors import InvalidDefinition
from oscar_jupyter.fdl import FDL, lint_script, load, script_is_path

DATA = Path(__file__).resolve().parent.parent / "data" / "fdl"
VALID = ["grayify/grayify.yaml", "exposed/plants.yaml", "v4/volume.yaml", "v4/kserve.yaml",
         "multi/workflow.yaml", "bashisms/fdl.yaml"]


def problems_of(text, **kw):
    with pytest.raises(InvalidDefinition) as info:
        FDL.parse(textwrap.dedent(text), **kw)
    return info.value.problems


def one(text, **kw):
    found = problems_of(text, **kw)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def svc(body: str, cluster: str = "oscar-cluster") -> str:
    """An FDL around a service body given at 6-space indentation."""
    return "functions:\n  oscar:\n  - " + cluster + ":\n" + textwrap.indent(textwrap.dedent(body), " " * 6)


# --------------------------------------------------------------------------- published shapes

def test_windows_file_with_trailing_tabs_and_no_final_newline():
    raw = (DATA / "grayify/grayify.yaml").read_bytes()
    assert b"\r\n" in raw and b"CRITICAL\t" in raw and not raw.endswith(b"\n")
    assert fdl.HAVE_LIBYAML
    with pytest.raises(yaml.YAMLError):  # what the pure-Python loader does with it
        yaml.load(raw.decode(), Loader=yaml.SafeLoader)
    f = FDL.from_file(DATA / "grayify/grayify.yaml")
    s = f["grayify"]
    assert s.cluster_id == "oscar-cluster" and s.data["cluster_id"] == "oscar-cluster"
    assert s.data["log_level"] == "CRITICAL"
    assert s.data["input"][0]["path"] == "grayify/input"
    assert s.data["environment"]["variables"] == {"QUALITY": "85", "KEEP_EXIF": "false"}
    assert s.data["environment"]["secrets"] == {"WEBHOOK_TOKEN": "not-a-real-token-1234"}
    assert s.script.startswith("#!/bin/sh\nFILE_NAME=") and "\r" not in s.script
    assert s.script_path == DATA / "grayify" / "script.sh"
    assert any("Variables renamed to environment.variables" in n for n in f.notices)
    assert "not-a-real-token-1234" not in repr(s) + repr(f)


def test_pure_python_loader_fallback_reads_the_same(monkeypatch):
    expected = FDL.from_file(DATA / "grayify/grayify.yaml").services
    from oscar_jupyter.fdl import document

    monkeypatch.setattr(document, "LOADER", yaml.SafeLoader)
    monkeypatch.setattr(document, "HAVE_LIBYAML", False)
    assert FDL.from_file(DATA / "grayify/grayify.yaml").services == expected
    p = one(svc("name: a\nimage: b\nscript: echo\nmemroy: 1\n"), strict=True)
    assert (p.line, p.column) == (7, 7)


def test_exposed_v3_shape_scalar_port_float_cpu_bool_and_list_env():
    f = FDL.from_file(DATA / "exposed/plants.yaml")
    s = f[0]
    assert s.data["expose"]["api_port"] == 5000  # kept as given
    assert s.data["cpu"] == "2.0"
    assert s.data["log_level"] == "CRITICAL"
    env = s.data["environment"]["variables"]
    assert env == {"DEBUG": "yes", "WORKERS": "2", "MODELS": '["resnet","vgg"]'}
    text = "\n".join(f.notices)
    assert "DEBUG: yes kept as the string 'yes'" in text
    assert spec.validate(spec.normalise(s.data, target_version="4.1.2")[0]) == []


def test_v3_replicas_null_credentials_and_unknown_cluster_memory():
    path = DATA / "replicas/fish-eu.yaml"
    with pytest.raises(InvalidDefinition) as info:
        FDL.from_file(path, strict=True)
    (p,) = info.value.problems
    assert (p.path, p.line, p.column) == (("clusters", "oscar-us", "memory"), 26, 5)
    assert str(p).startswith("line 26, column 5: clusters.oscar-us.memory: unknown field")
    f = FDL.from_file(path)  # oscar-cli ignores the key: a warning by default
    assert str(f.warnings[0]).startswith("line 26, column 5: clusters.oscar-us.memory: unknown "
                                         "field, ignored by oscar-cli and OSCAR")
    s = f["fish-detector"]
    assert s.cluster_id == "oscar-eu"
    assert s.data["replicas"][0]["cluster_id"] == "oscar-us"
    assert s.data["input"][0]["storage_provider"] == "minio.default"
    assert s.data["clusters"]["oscar-us"] == {"ssl_verify": True, "memory": "256Mi"}
    assert s.data["storage_providers"]["minio"]["oscar-us"] == {"verify": True}
    assert [w.line for w in f.warnings] == [26]
    assert len(FDL.from_file(path, unknown="ignore").warnings) == 0


def test_v4_only_fields():
    vol = FDL.from_file(DATA / "v4/volume.yaml")[0]
    assert vol.data["volume"] == {"size": "1Gi", "mount_path": "/data"}
    assert vol.data["expose"]["api_port"] == [8888]
    ks = FDL.from_file(DATA / "v4/kserve.yaml")[0]
    assert ks.data["kserve"]["cpu"] == "1"
    assert ks.data["vo"] == "vo.example.eu"
    assert ks.data["federation"]["members"][0]["cluster_id"] == "oscar-other"


def test_multi_service_same_cluster_key_storage_providers_and_relative_scripts():
    f = FDL.from_file(DATA / "multi/workflow.yaml")
    assert len(f) == 3
    assert [(s.cluster_id, s.name) for s in f] == [
        ("oscar-cluster", "stage-one"), ("oscar-cluster", "stage-two"), ("edge-cluster", "stage-one")]
    assert f[0].script_path == DATA / "multi" / "scripts" / "one.sh"
    assert f[2].script_path is None and "edge copy" in f[2].script
    assert f.get("stage-one", "edge-cluster") is f[2]
    assert f["stage-one"] is f[0]
    for s in f:  # top-level sections are merged into every service, as oscar-cli does
        assert s.data["storage_providers"]["s3"]["aws"]["region"] == "us-east-1"
        assert s.data["clusters"]["edge-cluster"]["ssl_verify"] is False
    assert f.storage_providers["webdav"]["dcache"]["login"] == "user"
    assert set(f.clusters) == {"edge-cluster"}
    with pytest.raises(KeyError, match="stage-one, stage-two, stage-one"):
        f["nope"]
    assert "stage-two" in f and list(iter(f)) == f.services


def test_expose_port_typo_points_at_the_key():
    p = one((DATA / "broken/expose-port.yaml").read_text(), source="expose-port.yaml",
            base_dir=DATA / "broken", strict=True)
    assert p.suggestion == "api_port"
    assert (p.line, p.column) == (9, 9)
    assert p.path == ("functions", "oscar", 0, "oscar-cluster", "expose", "port")


def test_missing_script_file_names_the_path_and_line():
    with pytest.raises(InvalidDefinition) as info:
        FDL.from_file(DATA / "broken/missing-script.yaml")
    (p,) = info.value.problems
    assert (p.line, p.column) == (6, 15)
    assert "'does-not-exist.sh' not found" in p.message
    assert str(DATA / "broken" / "does-not-exist.sh") in p.message
    assert "missing-script.yaml" in str(info.value)


def test_bash_script_file_gets_lint_warnings_with_script_lines():
    f = FDL.from_file(DATA / "bashisms/fdl.yaml")
    messages = [w.message for w in f.warnings]
    assert any(m.startswith("script.sh line 2: `set -o pipefail`") for m in messages)
    assert any(m.startswith("script.sh line 3: `[[ ... ]]`") for m in messages)
    assert any("#!/bin/bash" in m and "does not help" in m for m in messages)
    assert {w.line for w in f.warnings} == {6}  # the FDL line of `script: script.sh`
    assert f[0].warnings == f.warnings


# --------------------------------------------------------------------------- round trip

@pytest.mark.parametrize("name", VALID)
def test_round_trip_through_files(name, tmp_path):
    first = FDL.from_file(DATA / name)
    fdl_path, scripts = first.write(tmp_path, secrets=True)
    again = FDL.from_file(fdl_path)
    assert again.services == first.services
    assert [s.script for s in again] == [s.script for s in first]
    assert all(p.parent == tmp_path and p.is_file() for p in scripts)
    inline = FDL.parse(first.to_yaml(inline_scripts=True, secrets=True))
    assert inline.services == first.services


def test_written_fdl_is_what_oscar_cli_reads(tmp_path):
    f = FDL.from_file(DATA / "multi/workflow.yaml")
    fdl_path, scripts = f.write(tmp_path)
    doc = yaml.safe_load(fdl_path.read_text())
    items = doc["functions"]["oscar"]
    assert [list(i) for i in items] == [["oscar-cluster"], ["oscar-cluster"], ["edge-cluster"]]
    bodies = [list(i.values())[0] for i in items]
    assert [b["script"] for b in bodies] == ["one.sh", "two.sh", "stage-one.sh"]
    for b in bodies:
        assert "cluster_id" not in b and "storage_providers" not in b and "token" not in b
        assert (tmp_path / b["script"]).is_file()
    assert doc["storage_providers"]["s3"]["aws"]["access_key"] == "AKIAEXAMPLEKEY"
    text = fdl_path.read_text()
    for secret in ("example-secret-key-9999", "dcache-password-1111", "edge-password-2222"):
        assert secret not in text
    assert text.startswith("# Secret values were not written")
    assert "#   storage_providers.s3.aws.secret_key" in text
    assert f[0].data["storage_providers"]["s3"]["aws"]["secret_key"] == "example-secret-key-9999"
    # kept when asked
    f.write(tmp_path / "with", secrets=True)
    assert "example-secret-key-9999" in (tmp_path / "with" / "fdl.yaml").read_text()
    assert (tmp_path / "with" / "fdl.yaml").stat().st_mode & 0o777 == 0o600


def test_written_fdl_is_read_by_oscar_python(tmp_path):
    """oscar-python's own FDL reader (no server involved) gets the same service."""
    client_module = pytest.importorskip("oscar_python.client")
    client = client_module.Client({"cluster_id": "oscar-cluster", "endpoint": "http://127.0.0.1:9",
                                   "user": "oscar", "password": "unused", "ssl": "False"})
    f = FDL.from_file(DATA / "grayify/grayify.yaml")
    fdl_path, _ = f.write(tmp_path, secrets=True)
    read = client._check_fdl_definition(str(fdl_path))
    # written as `Variables` for oscar-cli; the Manager matches either spelling
    assert read["environment"]["Variables"] == f[0].data["environment"]["variables"]
    assert spec.normalise(read)[0] == {k: v for k, v in f[0].data.items() if k != "cluster_id"}


def test_environment_secrets_blanked_unless_asked():
    f = FDL.from_file(DATA / "grayify/grayify.yaml")
    text = f.to_yaml()
    assert "not-a-real-token-1234" not in text and "grayify: environment.secrets.WEBHOOK_TOKEN" in text
    assert "not-a-real-token-1234" in f.to_yaml(secrets=True)
    assert "script: script.sh" in text


def test_from_dict_round_trip():
    f = FDL.parse((DATA / "multi/workflow.yaml").read_text(), base_dir=DATA / "multi")
    again = FDL.from_dict(f.to_dict(secrets=True))
    assert again.services == f.services


# --------------------------------------------------------------------------- variables spellings

@pytest.mark.parametrize("key", ["variables", "Variables", "VARIABLES"])
def test_both_variables_spellings(key):
    f = FDL.parse(svc(f"""\
        name: env
        image: alpine
        script: echo $A
        environment:
          {key}:
            A: "1"
        """))
    assert f[0].data["environment"] == {"variables": {"A": "1"}}
    # 'Variables' is what oscar-cli reads (case-sensitively); the Manager reads every spelling
    assert bool([n for n in f.notices if "oscar-cli reads only 'Variables'" in n]) is \
        (key != "Variables")
    assert bool([n for n in f.notices if "renamed" in n]) is (key != "variables")


def test_secrets_are_noted_as_something_oscar_cli_does_not_send():
    f = FDL.parse(svc("name: env\nimage: alpine\nscript: echo\nenvironment:\n  Variables:\n"
                      "    A: '1'\n  secrets:\n    TOKEN: s3cr3t-value\n"))
    (notice,) = [n for n in f.notices if "secrets" in n]
    assert "oscar-cli (v1.12) does not send secrets" in notice and "s3cr3t" not in "".join(f.notices)


def test_both_spellings_at_once_merge():
    f = FDL.parse(svc("""\
        name: env
        image: alpine
        script: echo $A
        environment:
          Variables: {A: old, B: b}
          variables: {A: new}
        """))
    assert f[0].data["environment"]["variables"] == {"A": "new", "B": "b"}


# --------------------------------------------------------------------------- error classes

def test_yaml_syntax_error_has_line_and_column():
    with pytest.raises(InvalidDefinition) as info:
        FDL.parse("functions:\n  oscar:\n  - c:\n      name: [a\n      image: x\n", source="cell")
    (p,) = info.value.problems
    assert (p.line, p.column) == (5, 12)
    assert "YAML syntax error" in p.message and "line 4" in p.message
    assert str(info.value).startswith("cell is not valid YAML")


def test_tab_indentation_is_explained():
    with pytest.raises(InvalidDefinition) as info:
        FDL.parse("functions:\n  oscar:\n  - c:\n\tname: a\n")
    (p,) = info.value.problems
    assert p.line == 4 and "cannot indent with tabs" in p.message


def test_duplicate_keys_name_both_lines():
    p = one("name: a\nimage: x\nscript: echo\nname: b\n")
    assert (p.line, p.column) == (4, 1)
    assert "duplicate key 'name': first at line 1, again at line 4" in p.message


def test_every_problem_is_reported_with_its_position():
    found = problems_of(svc("""\
        name: Bad_Name
        image: x
        memroy: 1Gi
        cpu: lots
        enable_gpu: maybe
        input:
        - storage_provider: minio.nope
          path: x
        synchronous:
          min_scale: 5
          max_scale: 2
        """), strict=True)
    where = {p.path[-1] if not isinstance(p.path[-1], int) else p.path[-2]: (p.line, p.column)
             for p in found}
    assert where == {
        "script": (4, 7),             # missing: the mapping that lacks it
        "name": (4, 13),
        "memroy": (6, 7),             # unknown: the key
        "cpu": (7, 12),
        "enable_gpu": (8, 19),
        "storage_provider": (10, 27),
        "path": (11, 15),
        "min_scale": (13, 20),
    }
    assert [p.line for p in found] == sorted(p.line for p in found)
    by = {p.path[-1]: p for p in found}
    assert by["memroy"].suggestion == "memory"
    assert by["name"].suggestion == "bad-name"
    assert by["enable_gpu"].value == "maybe"


def test_misindented_service_fields():
    p = one("functions:\n  oscar:\n  - oscar-cluster:\n    name: a\n    image: b\n    script: echo\n")
    assert p.line == 3 and "indented under it" in p.message


def test_structure_errors():
    assert "got a list" in one("- a\n- b\n").message
    p = one("functions:\n  oscar: []\n")
    assert p.path == ("functions", "oscar") and p.line == 2
    p = one("functions:\n  oscar:\n  - c: 3\n")
    assert p.path == ("functions", "oscar", 0, "c") and "must be a service mapping" in p.message
    with pytest.raises(InvalidDefinition, match="is empty"):
        FDL.parse("  \n")


def test_top_level_unknown_keys():
    found = problems_of(svc("name: a\nimage: b\nscript: echo\n") + "memory: 1Gi\nstorage_provider: {}\n",
                        strict=True)
    assert [(p.line, p.column) for p in found] == [(7, 1), (8, 1)]
    assert "service fields go under functions.oscar" in found[0].message
    assert found[1].suggestion == "storage_providers"


def test_same_service_twice_under_one_cluster():
    p = one(svc("name: a\nimage: b\nscript: echo\n") + "  - oscar-cluster:\n      name: a\n"
            "      image: b\n      script: echo\n")
    assert p.line == 8 and "defined twice" in p.message


def test_line_offset_shifts_positions():
    p = one(svc("name: a\nimage: b\nscript: echo\nmemroy: 1\n"), line_offset=1, strict=True)
    assert p.line == 8


def test_top_level_provider_problem_reported_once_at_its_place():
    text = (svc("name: a\nimage: b\nscript: echo\n") + svc("name: c\nimage: b\nscript: echo\n")[20:]
            + "storage_providers:\n  s3:\n    aws:\n      regoin: x\n")
    p = one(text, strict=True)
    assert p.path == ("storage_providers", "s3", "aws", "regoin")
    assert (p.line, p.suggestion) == (14, "region")


@pytest.mark.parametrize("extra,where", [
    ("storage_providers:\n  s3: x\n", ("storage_providers", "s3")),
    ("clusters:\n  c: 3\n", ("clusters", "c")),
    ("storage_providers:\n  s3:\n    a: 5\n", ("storage_providers", "s3", "a")),
])
def test_malformed_top_level_sections(extra, where):
    p = one(svc("name: a\nimage: b\nscript: echo\n") + extra)
    assert p.path == where and p.line in (8, 9) and "must be a mapping" in p.message


def test_secret_values_stay_out_of_errors():
    found = problems_of(svc("""\
        name: a
        image: b
        script: echo
        environment:
          secrets:
            PW: {x: s3cr3t-value}
        """) + "clusters:\n  c:\n    auth_password: {x: hunter2-pass}\n")
    text = "\n".join(str(p) for p in found)
    assert "s3cr3t-value" not in text and "hunter2-pass" not in text
    assert len(found) == 2  # a mapping is no text, under secrets or as a password (oscar-cli refuses both)


def test_secret_values_stay_out_of_notices():
    f = FDL.parse(svc("""\
        name: a
        image: b
        script: echo
        environment:
          secrets:
            PIN: 987654321
        """) + "clusters:\n  c:\n    auth_password: 123456789\n")
    text = "\n".join(f.notices)
    for secret in ("987654321", "123456789"):
        assert secret not in text
    assert f[0].data["environment"]["secrets"]["PIN"] == "987654321"
    assert f[0].data["clusters"]["c"]["auth_password"] == "123456789"


# --------------------------------------------------------------------------- unknown-field opt-out

def test_unknown_field_modes():
    text = svc("name: a\nimage: b\nscript: echo\nmemroy: 1Gi\nexpose:\n  port: 80\n  api_port: 80\n")
    assert len(problems_of(text, strict=True)) == 2
    assert len(problems_of(text, unknown="error")) == 2
    assert [str(w) for w in FDL.parse(text).warnings] == \
        [str(w) for w in FDL.parse(text, unknown="warn").warnings]  # warnings are the default
    warned = FDL.parse(text, unknown="warn")
    assert [(w.path[-1], w.severity) for w in warned.warnings] == [("memroy", "warning"),
                                                                    ("port", "warning")]
    assert warned[0].data["memroy"] == "1Gi"  # kept; the Manager ignores it
    assert FDL.parse(text, unknown="ignore").warnings == []
    with pytest.raises(ValueError):
        FDL.parse(text, unknown="maybe")


# --------------------------------------------------------------------------- scripts

@pytest.mark.parametrize("value,is_path", [
    ("script.sh", True), ("scripts/run.py", True), ("./run", True), ("../x/y.sh", True),
    ("echo hello", False), ("date", False), ("#!/bin/sh\necho\n", False),
    ("python3 /opt/app.py", False), ("ls $HOME/x.sh", False), ("", False)])
def test_script_path_rule(value, is_path, tmp_path):
    assert script_is_path(value, tmp_path) is is_path


def test_existing_file_without_extension_is_a_path(tmp_path):
    (tmp_path / "run").write_text("echo from file\n")
    assert script_is_path("run", tmp_path)
    (tmp_path / "fdl.yaml").write_text(svc("name: a\nimage: b\nscript: run\n"))
    assert FDL.from_file(tmp_path / "fdl.yaml")[0].script == "echo from file\n"


def test_one_line_inline_script_and_forced_modes(tmp_path):
    f = FDL.parse(svc("name: a\nimage: b\nscript: echo hello\n"))
    assert f[0].script == "echo hello" and f[0].script_path is None
    f = FDL.parse(svc("name: a\nimage: b\nscript: run.sh\n"), scripts="content")
    assert f[0].script == "run.sh"
    p = one(svc("name: a\nimage: b\nscript: echo hello\n"), scripts="path", base_dir=tmp_path)
    assert "'echo hello' not found" in p.message


def test_script_that_is_not_utf8(tmp_path):
    (tmp_path / "bin.sh").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "fdl.yaml").write_text(svc("name: a\nimage: b\nscript: bin.sh\n"))
    with pytest.raises(InvalidDefinition, match="not UTF-8"):
        FDL.from_file(tmp_path / "fdl.yaml")


def test_script_crlf_from_file_is_normalised(tmp_path):
    (tmp_path / "s.sh").write_bytes(b"echo a\r\necho b\r\n")
    (tmp_path / "fdl.yaml").write_text(svc("name: a\nimage: b\nscript: s.sh\n"))
    f = FDL.from_file(tmp_path / "fdl.yaml")
    assert f[0].script == "echo a\necho b\n"


# --------------------------------------------------------------------------- lint

@pytest.mark.parametrize("line,needle", [
    ("if [[ -f x ]]; then echo; fi", "[["),
    ("set -o pipefail", "pipefail"),
    ("set -euo pipefail", "pipefail"),
    ("files=(a b c)", "arrays"),
    ('for f in "${files[@]}"; do echo "$f"; done', "array expansion"),
    ("function main { echo; }", "function f"),
    ("source ./env.sh", "`source`"),
    ('if [ "$a" == "b" ]; then echo; fi', "`==`"),
    ("cmd &> /dev/null", "`&>`"),
    ('grep x <<< "$v"', "here-strings"),
    ("echo $'a\\tb'", "`$'...'`"),
    ("for i in {1..3}; do echo $i; done", "brace expansion"),
    ("declare -A map", "`declare`"),
    ("echo -e 'a\\nb'", "`echo`"),
    ("echo ${name:0:3}", "substring"),
    ("echo ${name: -2}", "substring"),
    ("echo ${name//a/b}", "pattern substitution"),
    ("(( n++ ))", "arithmetic"),
])
def test_lint_finds_bashisms(line, needle):
    found = lint_script("#!/bin/sh\necho start\n" + line + "\n")
    assert found, line
    assert needle in found[0].message
    assert found[0].line == 3 and found[0].severity == "warning"
    assert found[0].message.startswith("script line 3: ")


def test_lint_posix_script_is_clean():
    script = textwrap.dedent("""\
        #!/bin/sh
        set -e
        # [[ this comment ]] and source and &> are ignored
        FILE_NAME=`basename "$INPUT_FILE_PATH"`
        if [ "$A" = "b" ] && [ -n "$B" ]; then echo 'literal [[ and <<< in quotes'; fi
        f() { echo "$1"; }
        . ./env.sh
        cmd >/dev/null 2>&1
        echo "$((1 + 2))" "${VAR:-default}" "${#VAR}" "${WIDTH:-640}" "${N:=3}"
        python3 - <<EOF
        a = [x for x in range(3) if x == 1]
        [[ this is python ]]
        EOF
        echo done
        """)
    assert lint_script(script) == []


def test_bash_shebang_warning_only_with_bashisms():
    assert lint_script("#!/bin/bash\necho hi\n") == []
    found = lint_script("#!/usr/bin/env bash\n[[ -n x ]] && echo\n")
    assert found[-1].line == 1 and "does not help" in found[-1].message


def test_inline_script_lint_lines_are_fdl_lines():
    f = FDL.parse(svc("""\
        name: a
        image: ubuntu
        script: |
          #!/bin/sh
          echo ok
          [[ -f x ]] && echo
        """), line_offset=2)
    (w,) = f.warnings
    assert (w.line, w.column) == (11, 9)
    assert w.message.startswith("script line 3")


# --------------------------------------------------------------------------- load, bare, misc

def test_load_accepts_text_dict_path_and_fdl(tmp_path):
    path = DATA / "grayify/grayify.yaml"
    by_str = load(str(path))
    by_path = load(path)
    assert by_str.services == by_path.services
    assert load(by_path) is by_path
    bare = load("name: hello\nimage: alpine\nscript: echo hello\n")
    assert bare[0].cluster_id is None and bare[0].name == "hello"
    assert load({"name": "hello", "image": "alpine", "script": "echo hello"})[0] == bare[0]
    assert load(bare[0])[0] is bare[0]
    with pytest.raises(InvalidDefinition, match="does not exist"):
        load(str(tmp_path / "absent.yaml"))
    with pytest.raises(TypeError):
        load(42)  # type: ignore[arg-type]


def test_yaml_merge_keys_and_recursive_aliases():
    f = FDL.parse(textwrap.dedent("""\
        common: &c {image: alpine, script: echo}
        functions:
          oscar:
          - oscar-cluster:
              <<: *c
              name: one
        """), unknown="warn")
    assert f[0].data["image"] == "alpine"
    assert f.warnings[0].path == ("common",)
    with pytest.raises(InvalidDefinition, match="recursive"):
        FDL.parse("name: &a [*a]\nimage: b\nscript: c\n")


def test_billion_laughs_is_refused():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(InvalidDefinition, match="too large"):
        FDL.parse("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- diff

def deployed_copy(s):
    d = spec.with_defaults(s.to_dict())
    d.update(token="a" * 64, owner="cluster_admin", isolation_level="SERVICE",
             expose={"min_scale": 0, "max_scale": 0, "api_port": 0, "cpu_threshold": 0},
             mount={"storage_provider": "", "path": ""},
             labels={"oscar_service": s.name, "applicationId": s.name},
             storage_providers={"minio": {"default": {"endpoint": "http://minio:9000",
                                                      "access_key": "hidden",
                                                      "secret_key": "hidden"}}})
    d.pop("cluster_id", None)
    if d.get("environment", {}).get("secrets"):
        d["environment"]["secrets"] = {k: "" for k in d["environment"]["secrets"]}
    return d


def test_diff_ignores_server_set_fields_and_shows_changes():
    f = FDL.from_file(DATA / "grayify/grayify.yaml")
    deployed = deployed_copy(f[0])
    assert f.diff(deployed) == ""
    assert fdl.diff_service(f[0], deployed) == ""
    deployed["memory"] = "2Gi"
    deployed["environment"]["variables"]["QUALITY"] = "90"
    text = f.diff([deployed])
    assert "-memory: 2Gi\n+memory: 1Gi" in text
    assert "-    QUALITY: '90'\n+    QUALITY: '85'" in text
    assert "not-a-real-token-1234" not in text and "a" * 64 not in text
    assert f.diff([]) == "service 'grayify' is not deployed\n"


# --------------------------------------------------------------------------- lint: data is not code

def test_lint_skips_every_here_document_form():
    script = textwrap.dedent("""\
        #!/bin/sh
        python3 - <<EOF
        if ((a)) == ((1, 2)): print([[1]] == 2)
        EOF
        python3 - <<'EOF' > out.txt
        x = ((1, 2), (3, 4))
        EOF
        python3 <<"PY"
        y = ((1))
        PY
        cat <<\\END
         ((z))
        END
        cat <<-TABBED
        \t((t))
        \tTABBED
        cat <<A <<B
        ((a))
        A
        ((b))
        B
        echo after
        """)
    assert lint_script(script) == []
    # shell code after the here-document is linted again, on its own line number
    found = lint_script(script + "(( n++ ))\n")
    assert [p.line for p in found] == [len(script.splitlines()) + 1]


def test_lint_ignores_quoted_python_and_messages_but_not_shell_code():
    script = textwrap.dedent("""\
        #!/bin/sh
        python3 -c "import sys; sys.exit(0 if sys.argv[1] == 'a' else 1)" a
        python3 -c "
        x = ((1, 2),)
        print([[1]] == x)
        "
        echo "[[ not a test ]] and (( nor this ))"
        echo 'set -o pipefail is only text here'
        x="$(echo a)" && [ "$x" = a ]
        """)
    assert lint_script(script) == []
    # expansions inside double quotes are shell code, so are == and [[ outside quotes
    found = lint_script('#!/bin/sh\necho "${files[@]}"\n[ "$a" == "b" ] && echo\n'
                        'x="$(printf a | cat &> /dev/null)"\nif [[ -n "$x" ]]; then :; fi\n')
    assert [p.line for p in found] == [2, 3, 4, 5]
    assert "array expansion" in found[0].message and "`==`" in found[1].message
    assert "`&>`" in found[2].message
    assert found[3].column == 4  # columns point into the original line


def test_lint_published_style_script_is_clean():
    """The shape of the AI4OS/OSCAR published scripts: python heredoc, -c one-liners, quoted tests."""
    script = textwrap.dedent("""\
        #!/bin/bash
        IMAGE_NAME=`basename "$INPUT_FILE_PATH"`
        OUTPUT_IMAGE="$TMP_OUTPUT_DIR/$IMAGE_NAME"
        echo "SCRIPT: Invoked deepaas-cli command."
        deepaas-cli --deepaas_method_output="$OUTPUT_IMAGE" predict --files "$INPUT_FILE_PATH" --accept image/png
        python3 - "$OUTPUT_IMAGE" <<'EOF'
        import sys, json
        d = json.load(open(sys.argv[1]))
        if d.get("status") == "OK" and ((len(d["labels"]))) > 0:
            print([[l, p] for l, p in zip(d["labels"], d["probabilities"])])
        EOF
        python3 -c "import json,sys; print(json.dumps({'ok': sys.argv[1] == 'x'}))" x
        """)
    assert lint_script(script) == []


# --------------------------------------------------------------------------- FDL vs API types

def test_fdl_reads_scalars_for_text_fields_as_oscar_cli_does_api_does_not():
    f = FDL.parse(svc("name: a\nimage: b\nscript: 5\ncpu: 1\nlog_level: 10\n"))
    assert f[0].data["script"] == "5" and f[0].data["cpu"] == "1"
    assert "service 'a': script: int 5 written as the string '5'" in f.notices
    with pytest.raises(InvalidDefinition) as info:
        spec.ServiceSpec.from_dict({"name": "a", "image": "b", "script": 5, "cpu": 1})
    assert {p.field for p in info.value.problems} == {"script", "cpu"}


def test_fdl_with_propagate_token_is_accepted_with_a_warning():
    f = FDL.parse(svc("name: a\nimage: b\nscript: echo\npropagate_token: true\n"))
    assert f[0].data["propagate_token"] is True
    assert [(w.field, w.line) for w in f.warnings] == [
        ("functions.oscar[0].oscar-cluster.propagate_token", 7)]


def test_write_back_blanks_delegation_headers_unless_asked(tmp_path):
    f = FDL.parse(svc("""\
        name: a
        image: b
        script: echo
        replicas:
        - {type: endpoint, url: "https://x", headers: {Authorization: "Bearer hdr-secret-1"}}
        federation:
          members:
          - {type: endpoint, url: "https://y", headers: {X-Key: hdr-secret-2}}
        """))
    text = f.to_yaml()
    assert "hdr-secret-1" not in text and "hdr-secret-2" not in text
    assert "#   a: replicas[0].headers.Authorization" in text
    assert "#   a: federation.members[0].headers.X-Key" in text
    assert "hdr-secret-1" in f.to_yaml(secrets=True)
    assert "hdr-secret-2" not in json.dumps(f.to_dict())


@pytest.mark.parametrize("loader", ["libyaml", "python"])
def test_control_character_is_placed_on_its_line_and_column(monkeypatch, loader):
    if loader == "python":
        from oscar_jupyter.fdl import document

        monkeypatch.setattr(document, "LOADER", yaml.SafeLoader)
        monkeypatch.setattr(document, "HAVE_LIBYAML", False)
    # non-ASCII text before it: libyaml counts bytes, the line/column are in characters
    text = "functions:\n  oscar:\n  - c:\n      image: ééé\n      name: x\x08y\n"
    with pytest.raises(InvalidDefinition) as info:
        FDL.parse(text, source="ctl.yaml")
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (5, 14)
    assert "U+0008" in problem.message and "\\x08" in problem.message


def test_fdl_whole_float_scale_is_sent_as_an_integer():
    f = FDL.parse(svc("name: a\nimage: b\nscript: echo\nsynchronous:\n  max_scale: 2.0\n"))
    assert json.dumps(f[0].to_dict()["synchronous"]) == '{"max_scale": 2}'


def test_comments_only_document_is_placed_at_its_first_line():
    p = one("# nothing but a comment\n# and another\n")
    assert (p.line, p.column) == (1, 1) and "got nothing" in p.message
    with pytest.raises(InvalidDefinition) as info:
        FDL.parse("# in a cell\n", line_offset=3)
    assert info.value.problems[0].line == 4


@pytest.mark.parametrize("volume, where, rule", [
    ("{mount_path: data, size: 1Gi}", "mount_path", "must be an absolute path"),
    ("{mount_path: /data, size: 0}", "size", "must be a valid positive quantity"),
    ("{mount_path: /data}", "name", "is required when volume.size is not set"),
    ("{mount_path: /oscar/config/x, size: 1Gi}", "mount_path", "cannot overlap OSCAR reserved paths"),
    ("{mount_path: /data, name: shared, lifecycle_policy: retain}", "lifecycle_policy",
     "is only valid when volume.size is set"),
])
def test_a_volume_the_manager_refuses_is_flagged_at_its_line(volume, where, rule):
    """v4.1's ValidateVolumeConfig, before deploying: the field, its FDL line and the Manager's rule."""
    text = ("functions:\n  oscar:\n  - my-cluster:\n      name: cached\n      image: alpine\n"
            f"      script: echo\n      volume: {volume}\n")
    with pytest.raises(InvalidDefinition) as info:
        FDL.parse(text)
    (p,) = info.value.problems
    assert (p.path[-2:], p.line, p.message) == (("volume", where), 7, rule)


def test_a_volume_the_manager_takes_passes():
    text = ("functions:\n  oscar:\n  - my-cluster:\n      name: cached\n      image: alpine\n"
            "      script: echo\n      volume: {mount_path: /cache, size: 2Gi, lifecycle_policy: retain}\n")
    assert FDL.parse(text)["cached"].data["volume"]["mount_path"] == "/cache"
