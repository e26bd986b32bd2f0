"""Every published FDL (tests/data/fdl/published): what the real tools accept loads and deploys
on oscar-local (Manager v3.7 and v4.1 shapes) with at most warnings; what they refuse is refused
here at the line that is wrong.

The verdicts below were taken from oscar-cli's own loading code (``service.ReadFDL``: goccy/go-yaml
decoding into the Manager's ``types.Service``, unknown keys ignored, every ``script`` read as a
file next to the FDL) and by running oscar-cli (tests/integration/test_oscar_cli.py checks them
again whenever an oscar-cli binary is available), and from the Manager's create handler for what
oscar-cli reads but the Manager refuses.
"""
from __future__ import annotations

import json
import shutil
import string
import uuid
import warnings
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import oscar_jupyter as oj
from oscar_jupyter import errors, fdl

CORPUS = Path(__file__).resolve().parent.parent / "data" / "fdl" / "published"
SOURCES = json.loads((CORPUS / "sources.json").read_text())
FDLS = [e["file"] for e in SOURCES if e["kind"] in ("fdl", "docs-block")]

#: what the real tools do with each FDL: file -> (line of the error, words of its message, who
#: refuses it and why); and the ones only oscar-cli refuses (its types are oscar v3.3.0's, where
#: expose.api_port is one number), which the Manager v4.1 and this project accept
VERDICTS = json.loads((CORPUS / "verdicts.json").read_text())
REFUSED: Dict[str, Tuple[int, str, str]] = {
    name: (v["line"], v["words"], v["why"]) for name, v in VERDICTS["refused"].items()}
OSCAR_CLI_ALSO_REFUSES: Dict[str, str] = VERDICTS["oscar_cli_refuses_manager_accepts"]

#: the only warnings an accepted published FDL may give (unknown keys, bash in a /bin/sh script)
ALLOWED_WARNINGS = ("unknown field, ignored by oscar-cli and OSCAR", "is bash-only",
                    "is not supported by dash", "line does not help")

ACCEPTED = [f for f in FDLS if f not in REFUSED]


def test_the_corpus_is_what_its_readme_and_sources_say():
    by_repo: Dict[str, int] = {}
    for entry in SOURCES:
        assert (CORPUS / entry["file"]).is_file(), entry["file"]
        assert entry["commit"] and entry["licence"]
        if entry["kind"] != "script":
            by_repo[entry["repo"]] = by_repo.get(entry["repo"], 0) + 1
    assert by_repo == {"grycap/oscar": 52, "grycap/oscar-hub": 12, "grycap/oscar-tests": 6,
                       "ai4os/ai4-papi": 1}
    assert set(REFUSED) <= set(FDLS) and set(OSCAR_CLI_ALSO_REFUSES) <= set(ACCEPTED)
    readme = (CORPUS / "README.md").read_text()
    for repo in by_repo:
        assert repo in readme


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_refused_published_fdl_gets_a_line_precise_error(name):
    line, words, _why = REFUSED[name]
    with pytest.raises(errors.InvalidDefinition) as info:
        fdl.load(CORPUS / name)
    found = [p for p in info.value.problems if words in str(p)]
    assert found, [str(p) for p in info.value.problems]
    assert found[0].line == line, str(found[0])
    assert str(found[0]).startswith(f"line {line}, column ")


@pytest.mark.parametrize("name", ACCEPTED)
def test_an_accepted_published_fdl_loads_with_at_most_warnings(name):
    loaded = fdl.load(CORPUS / name)
    assert len(loaded) >= 1
    for warning in loaded.warnings:
        assert warning.line is not None, str(warning)
        assert any(words in str(warning) for words in ALLOWED_WARNINGS), str(warning)
    for service in loaded:
        assert service.script.strip(), service.name  # the script file was read in


def test_unknown_keys_in_published_fdls_are_warnings_and_strict_refuses_them():
    name = "oscar/examples/fish-detector-replicas/fish-eu.yaml"
    (warning,) = fdl.load(CORPUS / name).warnings
    assert (warning.line, warning.path) == (26, ("clusters", "oscar-us", "memory"))
    with pytest.raises(errors.InvalidDefinition) as info:
        fdl.load(CORPUS / name, strict=True)
    assert str(info.value.problems[0]).startswith("line 26, column 5: clusters.oscar-us.memory: "
                                                  "unknown field (")


def papi_service(name: str) -> str:
    """The AI4OS (ai4-papi) template filled in as ai4-papi's make_service_definition does."""
    template = string.Template((CORPUS / "ai4-papi/etc/oscar/service.yaml").read_text())
    return template.safe_substitute({
        "CLUSTER_ID": "oscar-cluster", "NAME": name, "IMAGE": "deephdc/deep-oc-image-classification-tf",
        "CPU": 2, "MEMORY": 4000, "ALLOWED_USERS": ["someone@egi.eu"], "VO": "vo.ai4eosc.eu",
        "ENV_VARS": {"Variables": {"PAPI_TITLE": "demo", "PAPI_DESCRIPTION": "",
                                   "PAPI_CREATED": "2026-01-01 00:00:00"}},
    })


def test_the_ai4os_template_as_ai4_papi_fills_it_loads_cleanly_even_strictly():
    loaded = fdl.load(papi_service("papi-demo"), strict=True)
    (service,) = loaded
    assert service.data["memory"] == "4000Mi" and service.data["cpu"] == "2"
    assert service.data["alpine"] is False and service.data["log_level"] == "CRITICAL"
    assert service.data["allowed_users"] == ["someone@egi.eu"]
    assert loaded.warnings == []


def test_the_unfilled_ai4os_template_is_refused_at_its_placeholders():
    with pytest.raises(errors.InvalidDefinition) as info:
        fdl.load(CORPUS / "ai4-papi/etc/oscar/service.yaml")
    lines = {p.path[-1]: p.line for p in info.value.problems}
    assert lines["name"] == 7 and lines["cpu"] == 9 and lines["memory"] == 10


@pytest.fixture(scope="module")
def cluster(api_cluster):
    c = oj.connect(api_cluster.endpoint, user=api_cluster.user,
                   password=api_cluster.password, id="corpus-" + uuid.uuid4().hex[:4])
    yield c
    oj.disconnect(c)


def _deploy_and_remove(cluster, loaded) -> List[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        applied = cluster.apply(loaded, wait=False)
    try:
        said = [str(w.message) for w in caught if issubclass(w.category, errors.DefinitionWarning)]
        assert sorted(said) == sorted(str(w) for w in applied.warnings)
        assert [str(w) for w in applied.warnings] == [str(w) for w in loaded.warnings]
        for svc in applied:
            deployed = cluster.get_service_spec(svc.name)
            assert deployed["name"] == svc.name and deployed["script"].strip()
        return [s.name for s in applied]
    finally:
        for svc in applied:
            cluster.delete(svc.name, check_buckets=False)


@pytest.mark.parametrize("name", ACCEPTED)
def test_an_accepted_published_fdl_deploys_on_oscar_local(cluster, name):
    loaded = fdl.load(CORPUS / name)
    assert _deploy_and_remove(cluster, loaded) == loaded.names


def test_the_ai4os_template_deploys_on_oscar_local(cluster):
    name = "papi-" + uuid.uuid4().hex[:6]
    assert _deploy_and_remove(cluster, fdl.load(papi_service(name))) == [name]


def test_strict_apply_of_a_published_fdl_with_an_unknown_key_leaves_the_cluster_untouched(cluster):
    loaded = fdl.load(CORPUS / "oscar/examples/fish-detector-replicas/fish-eu.yaml")
    with pytest.raises(errors.InvalidDefinition) as info:
        cluster.apply(loaded, wait=False, strict=True)
    assert "clusters.oscar-us.memory" in str(info.value)
    assert not cluster.exists("fish-detector")


def test_the_fdl_documentation_example_with_its_scripts_supplied_deploys_with_warnings(cluster, tmp_path):
    """docs/fdl.md ships no scripts (so oscar-cli refuses it as published); with them, its
    `expose.port` typo is a warning naming `api_port`, and the services deploy."""
    shutil.copy(CORPUS / "oscar/docs/fdl.block1.yaml", tmp_path / "fdl.yaml")
    for script in ("plants.sh", "grayify.sh", "script.sh"):
        (tmp_path / script).write_text("echo done\n")
    loaded = fdl.load(tmp_path / "fdl.yaml")
    typo = [w for w in loaded.warnings if w.path[-1] == "port"]
    assert [(w.line, w.suggestion) for w in typo] == [(30, "api_port")]
    assert str(typo[0]).startswith("line 30, column 9: functions.oscar[1].oscar-test.expose.port: "
                                   "unknown field, ignored by oscar-cli and OSCAR")
    assert _deploy_and_remove(cluster, loaded) == ["plants", "grayify", "inference"]
