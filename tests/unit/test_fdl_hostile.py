"""Hostile FDLs: script paths reaching out of the FDL's folder or into secrets; runaway nesting."""
from __future__ import annotations

import os
import textwrap

import pytest

from oscar_jupyter import fdl
from oscar_jupyter.errors import InvalidDefinition
from oscar_jupyter.fdl import FDL


def text_with_script(script: str) -> str:
    return textwrap.dedent(f"""\
        functions:
          oscar:
          - oscar-cluster:
              name: grab
              image: alpine
              script: {script}
        """)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home directory with the credentials a user has, and an FDL folder beside it."""
    home = tmp_path / "home"
    (home / ".oscar-cli").mkdir(parents=True)
    (home / ".oscar-cli" / "config.yaml").write_text("oscar:\n  c:\n    auth_password: hunter2-pass\n")
    (home / ".ssh").mkdir()
    (home / ".ssh" / "config").write_text("Host x\n")
    (home / "work" / "fdl").mkdir(parents=True)
    (home / "work" / "shared.sh").write_text("echo shared\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("OSCAR_CLI_CONFIG", raising=False)
    return home


def refusal(text: str, base) -> str:
    with pytest.raises(InvalidDefinition) as info:
        FDL.parse(text, base_dir=base)
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (6, 15)
    assert "hunter2" not in str(info.value)
    return str(problem)


@pytest.mark.parametrize("script", ["../../.oscar-cli/config.yaml", "{home}/.oscar-cli/config.yaml",
                                    "../../.ssh/config"])
def test_a_script_path_into_credentials_is_refused_naming_the_file(home, script):
    message = refusal(text_with_script(script.format(home=home)), home / "work" / "fdl")
    assert "is not read: it is in ~/." in message and "which holds credentials" in message
    assert str(home) in message  # the resolved file is named


def test_a_symlink_next_to_the_fdl_does_not_smuggle_a_secret_in(home):
    folder = home / "work" / "fdl"
    (folder / "run.sh").symlink_to(home / ".oscar-cli" / "config.yaml")
    assert "~/.oscar-cli" in refusal(text_with_script("run.sh"), folder)


def test_the_file_oscar_cli_config_names_and_system_places_are_refused(home, monkeypatch, tmp_path):
    elsewhere = tmp_path / "my-clusters.yaml"
    elsewhere.write_text("oscar: {}\n")
    monkeypatch.setenv("OSCAR_CLI_CONFIG", str(elsewhere))
    assert "$OSCAR_CLI_CONFIG" in refusal(text_with_script(str(elsewhere)), home)
    assert "under /proc" in refusal(text_with_script("/proc/self/environ"), home)
    assert "under /dev" in refusal(text_with_script("/dev/zero"), home)


def test_a_private_key_and_an_oscar_local_data_dir_are_refused(home, tmp_path):
    key = tmp_path / "deploy.sh"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n")
    assert "holds a private key" in refusal(text_with_script(str(key)), home)
    data = tmp_path / "data"
    data.mkdir()
    (data / "endpoint.json").write_text("{}")
    (data / "state.sqlite3").write_bytes(b"SQLite format 3\x00")
    assert "oscar-local data dir" in refusal(text_with_script(str(data / "endpoint.json")), home)


def test_a_script_outside_the_fdl_folder_is_read_with_a_warning_naming_it(home):
    folder = home / "work" / "fdl"
    for script in ("../shared.sh", str(home / "work" / "shared.sh")):
        loaded = FDL.parse(text_with_script(script), base_dir=folder)
        assert loaded[0].script == "echo shared\n"
        (warning,) = loaded.warnings
        assert (warning.line, warning.severity) == (6, "warning")
        assert f"script file {script!r} is outside the FDL's folder" in str(warning)
        assert str(home / "work" / "shared.sh") in str(warning)
    (folder / "inside.sh").write_text("echo in\n")
    assert FDL.parse(text_with_script("inside.sh"), base_dir=folder).warnings == []


def test_the_same_rules_hold_for_an_fdl_file(home):
    path = home / "work" / "fdl" / "fdl.yaml"
    path.write_text(text_with_script("../../.oscar-cli/config.yaml"))
    with pytest.raises(InvalidDefinition) as info:
        fdl.load(path)
    assert "~/.oscar-cli" in str(info.value) and "hunter2" not in str(info.value)


@pytest.mark.parametrize("depth", [65, 600, 5000])
@pytest.mark.parametrize("shape", ["flow-mapping", "flow-list", "block"])
def test_runaway_nesting_is_an_invalid_definition_with_a_line(depth, shape):
    head = "functions:\n  oscar:\n  - c:\n      name: a\n      image: b\n      script: echo\n"
    if shape == "flow-mapping":
        text = head + "      x: " + "{a: " * depth + "1" + "}" * depth + "\n"
    elif shape == "flow-list":
        text = head + "      x: " + "[" * depth + "]" * depth + "\n"
    else:
        text = head + "      x:\n" + "".join("  " * i + "        - a:\n" for i in range(depth))
    with pytest.raises(InvalidDefinition) as info:
        FDL.parse(text)
    (problem,) = info.value.problems
    assert problem.line is not None and problem.line >= 7
    assert "nested more than 64 mappings/lists deep" in str(problem)


def test_runaway_nesting_in_a_dict_is_an_invalid_definition():
    data = {"name": "a", "image": "b", "script": "echo", "x": {}}
    inner = data["x"]
    for _ in range(3000):
        inner["a"] = {}
        inner = inner["a"]
    with pytest.raises(InvalidDefinition, match="nested more than 64"):
        fdl.load(data)


def test_ordinary_depth_is_fine():
    text = "functions:\n  oscar:\n  - c:\n      name: a\n      image: b\n      script: echo\n" \
           "      environment:\n        variables:\n          A: '1'\n"
    assert FDL.parse(text)[0].data["environment"]["variables"] == {"A": "1"}
    assert os.environ.get("HOME")


def test_a_missing_field_beside_its_misspelling_points_at_the_misspelt_key():
    text = "functions:\n  oscar:\n  - c:\n      name: a\n      script: echo\n      imag: alpine\n"
    with pytest.raises(InvalidDefinition) as info:
        FDL.parse(text)
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (6, 7)
    assert "the unknown field 'imag' (line 6) is most likely it misspelt" in str(problem)


def test_a_one_item_list_for_text_suggests_the_text():
    text = "functions:\n  oscar:\n  - c:\n      name: a\n      image: b\n      script: echo\n" \
           "      vo: [vo.example.eu]\n"
    with pytest.raises(InvalidDefinition) as info:
        FDL.parse(text)
    (problem,) = info.value.problems
    assert (problem.line, problem.suggestion) == (7, "vo.example.eu")


def test_a_secret_written_as_a_list_stays_out_of_the_error():
    text = "functions:\n  oscar:\n  - c:\n      name: a\n      image: b\n      script: echo\n" \
           "      environment:\n        secrets:\n          TOKEN: [s3cr3t-value]\n" \
           "clusters:\n  c:\n    auth_password: [hunter2-pass]\n"
    with pytest.raises(InvalidDefinition) as info:
        FDL.parse(text)
    assert len(info.value.problems) == 2
    assert "s3cr3t" not in str(info.value) and "hunter2" not in str(info.value)
