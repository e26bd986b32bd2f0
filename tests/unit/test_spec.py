"""The service model: schema, normalisation, validation, defaults, secrets."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from oscar_jupyter import spec
from oscar_jupyter.errors import InvalidDefinition
from oscar_jupyter.spec import Problem, ServiceSpec, normalise, validate, with_defaults

REFERENCE = Path("/work/shared/reference")


def base(**extra):
    data = {"name": "grayify", "image": "ghcr.io/grycap/imagemagick", "script": "echo hi\n",
            "input": [{"storage_provider": "minio.default", "path": "grayify/in"}],
            "output": [{"storage_provider": "minio.default", "path": "grayify/out"}]}
    data.update(extra)
    return data


def by_field(problems):
    return {p.field: p for p in problems}


# --------------------------------------------------------------------------- schema

def test_schema_is_the_union_of_both_manager_versions():
    schema = spec.service_schema()
    props = schema["definitions"]["types.Service"]["properties"]
    assert props["replicas"]["x-oscar-only"] == "v3.7.1"
    for field in ("kserve", "volume", "federation"):
        assert props[field]["x-oscar-only"] == "v4.1.2"
    api_port = schema["definitions"]["types.Expose"]["properties"]["api_port"]
    assert {"type": "integer"} in api_port["anyOf"]
    assert schema["definitions"]["types.Service"]["required"] == ["image", "name", "script"]
    # every reference resolves
    text = json.dumps(schema)
    for ref in set(__import__("re").findall(r'#/definitions/([\w.]+)', text)):
        assert ref in schema["definitions"]


@pytest.mark.skipif(not (REFERENCE / "oscar-swagger-v4.1.2.yaml").exists(), reason="specs absent")
def test_regenerate_reproduces_the_packaged_schema(tmp_path):
    out = tmp_path / "service.json"
    rc = spec.main(["--regenerate", str(REFERENCE / "oscar-swagger-v3.7.1.yaml"),
                    str(REFERENCE / "oscar-swagger-v4.1.2.yaml"), "--output", str(out)])
    assert rc == 0
    assert json.loads(out.read_text()) == json.loads(spec.SCHEMA_PATH.read_text())


def test_schema_at_and_known_fields():
    assert spec.schema_at(("expose", "api_port")) is not None
    assert spec.schema_at(("input", 0, "path")) == {"type": "string"}
    assert spec.schema_at(("storage_providers", "s3", "aws", "secret_key"))["type"] == "string"
    assert "memory" in spec.known_fields()
    assert "api_port" in spec.known_fields(("expose",))
    assert spec.schema_at(("nope",)) is None


# --------------------------------------------------------------------------- Problem

def test_problem_str_has_position_field_value_and_suggestion():
    p = Problem(("input", 0, "path"), "must be 'bucket/folder'", value="x", line=7, column=5)
    assert str(p) == "line 7, column 5: input[0].path: must be 'bucket/folder' (got 'x')"
    p = Problem(("memroy",), "unknown field", suggestion="memory")
    assert str(p) == "memroy: unknown field; did you mean 'memory'?"
    assert spec.format_path(("environment", "variables", "MY.VAR")) == 'environment.variables["MY.VAR"]'
    assert spec.format_path(()) == "(service)"


# --------------------------------------------------------------------------- normalise

def test_normalise_variables_capital_v_renamed_with_notice():
    data, notices = normalise(base(environment={"Variables": {"A": "1"}, "secrets": {"S": "x"}}))
    assert data["environment"] == {"variables": {"A": "1"}, "secrets": {"S": "x"}}
    assert any("Variables renamed to environment.variables" in n for n in notices)


def test_normalise_both_spellings_merge_lowercase_wins():
    data, notices = normalise(base(environment={"Variables": {"A": "old", "B": "b"},
                                                "variables": {"A": "new"}}))
    assert data["environment"]["variables"] == {"A": "new", "B": "b"}
    assert any("merged" in n for n in notices)


def test_normalise_two_spellings_of_a_field_the_later_wins_as_in_go():
    data, notices = normalise(base(name="first", NAME="second"))
    assert data["name"] == "second"
    data, _ = normalise({"NAME": "first", "image": "x", "script": "y", "name": "second"})
    assert data["name"] == "second" and "NAME" not in data


def test_normalise_fdl_scalars_to_strings_and_says_so():
    data, notices = normalise(base(cpu=1.0, memory=512, environment={"variables": {
        "FLAG": True, "N": 3, "E": None}}), source="fdl")
    assert data["cpu"] == "1.0"
    assert data["memory"] == "512"
    assert data["environment"]["variables"] == {"FLAG": "true", "N": "3", "E": ""}
    text = "\n".join(notices)
    for needle in ("cpu: float 1.0", "FLAG: bool True", "E: empty (null)"):
        assert needle in text
    # the original is untouched (deep copy)
    assert normalise.__doc__ and base(cpu=1.0)["cpu"] == 1.0


def test_normalise_provider_log_level_vo_paths():
    data, notices = normalise(base(
        input=[{"storage_provider": "minio", "path": "/b/in/", "suffix": ".jpg"}],
        output=[{"storage_provider": "MinIO.default", "path": "b/out"}],
        log_level="debug", vo=["vo.ai4eosc.eu"]), source="fdl")
    assert data["input"][0] == {"storage_provider": "minio.default", "path": "b/in", "suffix": ".jpg"}
    assert data["output"][0]["storage_provider"] == "minio.default"
    assert data["log_level"] == "DEBUG"
    assert data["vo"] == ["vo.ai4eosc.eu"]
    assert len(notices) == 4
    # oscar-cli's YAML decoder refuses a string for a list and a list for text: so does validate
    problems = by_field(validate(data))
    assert problems["input[0].suffix"].severity == problems["vo"].severity == "error"
    variables = normalise(base(environment={"variables": {"L": ["a"], "M": {"k": 1}}}), source="fdl")[0]
    assert set(by_field(validate(variables))) == {"environment.variables.L", "environment.variables.M"}


def test_normalise_api_is_strict_on_types_like_the_managers_json_decoding():
    """A JSON number, boolean or list where the Manager wants text is a 400 there: an error here."""
    body = base(script=5, cpu=1, environment={"variables": {"FLAG": True, "L": ["a"]}},
                vo=["vo.ai4eosc.eu"],
                input=[{"storage_provider": "minio", "path": "b/in", "suffix": ".jpg"}])
    data, notices = normalise(body)  # source="api" is the default
    assert data["script"] == 5 and data["cpu"] == 1 and data["vo"] == ["vo.ai4eosc.eu"]
    assert data["input"][0]["suffix"] == ".jpg"
    assert data["input"][0]["storage_provider"] == "minio.default"  # the Manager does that
    assert notices == ["input[0].storage_provider 'minio' means 'minio.default'"]
    problems = by_field(validate(data))
    for field in ("script", "cpu", "vo", "environment.variables.FLAG",
                  "environment.variables.L", "input[0].suffix"):
        assert problems[field].severity == "error", field
    assert "must be a string (got 5)" in str(problems["script"])
    # key case and nulls are what the Manager's decoding is lenient about
    data, notices = normalise(base(Memory="1Gi", environment={"Variables": {"A": None}}))
    assert data["memory"] == "1Gi" and data["environment"] == {"variables": {"A": ""}}
    assert validate(data) == []
    with pytest.raises(ValueError):
        normalise(base(), source="yaml")


def test_whole_floats_for_whole_number_fields():
    """oscar-cli reads `max_scale: 2.0` as 2; the Manager's JSON decoding refuses 2.0 for an int."""
    body = base(synchronous={"min_scale": 1, "max_scale": 2.0},
                expose={"api_port": 8080.0, "cpu_threshold": 2.5})
    data, _ = normalise(body)
    problems = by_field(validate(data))
    assert set(problems) == {"synchronous.max_scale", "expose.api_port", "expose.cpu_threshold"}
    assert "must be an integer (got 2.0)" in str(problems["synchronous.max_scale"])
    data, notices = normalise(body, source="fdl")
    assert data["synchronous"]["max_scale"] == 2 and isinstance(data["synchronous"]["max_scale"], int)
    assert data["expose"]["api_port"] == 8080
    assert any("max_scale: 2.0 written as the integer 2" in n for n in notices)
    assert [p.field for p in validate(data)] == ["expose.cpu_threshold"]  # 2.5 is not cut to 2


def test_normalise_fdl_and_api_agree_on_well_typed_definitions():
    body = base(cpu="1.0", environment={"Variables": {"A": "1"}}, log_level="debug")
    assert normalise(body, source="fdl") == normalise(body, source="api")


def test_normalise_unknown_log_level_becomes_info():
    data, notices = normalise(base(log_level="verbose"))
    assert data["log_level"] == "INFO"
    assert "'verbose'" in notices[0]


def test_normalise_api_port_shape_kept_unless_target_given():
    data, notices = normalise(base(expose={"api_port": 8080}))
    assert data["expose"]["api_port"] == 8080 and not notices
    data, _ = normalise(base(expose={"api_port": [8080]}))
    assert data["expose"]["api_port"] == [8080]
    data, notices = normalise(base(expose={"api_port": 8080, "nodePort": 0}), target_version="v4.1.2")
    assert data["expose"] == {"api_port": [8080], "nodePort": []}
    data, notices = normalise(base(expose={"api_port": [8080]}), target_version="3.7.1")
    assert data["expose"]["api_port"] == 8080 and "wants a number" in notices[0]


def test_normalise_case_insensitive_field_names_and_null_credentials():
    data, notices = normalise(base(Memory="1Gi", clusters={"c1": {"endpoint": "https://x",
                                                                    "auth_user": None,
                                                                    "auth_password": None}}))
    assert data["memory"] == "1Gi" and "Memory" not in data
    assert data["clusters"]["c1"] == {"endpoint": "https://x"}
    assert len(notices) == 2
    assert "clusters.c1: empty (null) auth_user, auth_password dropped" in notices[1]


def test_normalise_script_crlf():
    data, notices = normalise(base(script="echo a\r\necho b\r\n"))
    assert data["script"] == "echo a\necho b\n"
    assert "CRLF" in notices[0]


def test_normalise_rejects_non_mapping():
    with pytest.raises(TypeError):
        normalise(["not", "a", "service"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- validate

def test_valid_service_has_no_problems():
    assert validate(base()) == []
    assert validate(with_defaults(base())) == []


def test_required_fields_each_reported():
    problems = validate({"memory": "1Gi"})
    assert sorted(p.field for p in problems) == ["image", "name", "script"]
    assert all(p.message == "required field is missing" for p in problems)


def test_unknown_field_suggestions_and_modes():
    data = base(memroy="1Gi", expose={"port": 8080, "api_port": 80},
                clusters={"c": {"endpoint": "https://e", "memory": "1Gi"}})
    problems = by_field(validate(data))
    assert problems["memroy"].suggestion == "memory"
    assert problems["memroy"].severity == "error"
    assert problems["expose.port"].suggestion == "api_port"
    assert "clusters.c.memory" in problems
    warned = validate(data, unknown="warn")
    assert {p.severity for p in warned} == {"warning"}
    assert len(warned) == 3
    assert validate(data, unknown="ignore") == []
    with pytest.raises(ValueError):
        validate(data, unknown="sometimes")


def test_version_specific_fields_are_known():
    data = base(replicas=[{"type": "endpoint", "url": "https://x/job"}],
                kserve={"storage_uri": "s3://m", "cpu": "1"},
                volume={"size": "1Gi", "mount_path": "/data"},
                federation={"topology": "star", "members": []})
    assert validate(data) == []


def test_type_errors_name_field_value_and_expectation():
    problems = by_field(validate(base(enable_gpu="yes", expose={"api_port": "80"},
                                      input=[{"storage_provider": "minio.default", "path": 3}])))
    assert str(problems["enable_gpu"]) == "enable_gpu: must be true or false (got 'yes')"
    assert "must be an integer or a list of integers (got '80')" in str(problems["expose.api_port"])
    assert "must be a string (got 3)" in str(problems["input[0].path"])


@pytest.mark.parametrize("name,ok", [
    ("grayify", True), ("a", True), ("a" * 39, True), ("a" * 40, False), ("Grayify", False),
    ("gray_ify", False), ("-gray", False), ("gray-", False), ("9lives", True), ("", False)])
def test_name_is_a_dns_label_of_at_most_39(name, ok):
    problems = [p for p in validate(base(name=name)) if p.field == "name"]
    assert (problems == []) is ok
    if not ok:
        assert problems[0].value == name


def test_name_suggestion():
    (p,) = validate(base(name="My_Service"))
    assert p.suggestion == "my-service"


@pytest.mark.parametrize("field,value,ok,suggestion", [
    ("memory", "256Mi", True, None), ("memory", "1Gi", True, None), ("memory", "512M", True, None),
    ("memory", "1e9", True, None), ("memory", "256MB", False, "256Mi"), ("memory", "lots", False, None),
    ("memory", "1.5Gi", True, None), ("cpu", "0.5", True, None), ("cpu", "500m", True, None),
    ("cpu", "2 cores", False, "2"), ("cpu", "", True, None), ("cpu", "1.", True, None),
    ("memory", "1Gi\n", False, "1Gi"), ("memory", " 1Gi", False, "1Gi"), ("cpu", "1e", False, None),
    ("memory", "1.5.5", False, None), ("cpu", "-0", True, None)])
def test_quantities(field, value, ok, suggestion):
    """What resource.ParseQuantity reads, the Manager takes; spaces are not read."""
    problems = [p for p in validate(base(**{field: value})) if p.field == field]
    assert (problems == []) is ok, problems
    if not ok:
        assert problems[0].suggestion == suggestion
        assert "Kubernetes quantity" in problems[0].message


def test_a_negative_quantity_is_refused_as_kubernetes_refuses_it():
    (problem,) = [p for p in validate(base(cpu="-1")) if p.field == "cpu"]
    assert problem.message == "must not be negative" and problem.suggestion is None


def test_memory_with_milli_suffix_is_a_warning():
    (p,) = validate(base(memory="256m"))
    assert p.severity == "warning" and p.suggestion == "256Mi"


def test_scales():
    fields = by_field(validate(base(synchronous={"min_scale": 3, "max_scale": 2})))
    assert "must not exceed max_scale (2)" in fields["synchronous.min_scale"].message
    assert validate(base(synchronous={"min_scale": 3, "max_scale": 0})) == []  # 0 = unbounded
    fields = by_field(validate(base(expose={"api_port": 80, "min_scale": 5, "max_scale": 2})))
    assert "expose.min_scale" in fields
    fields = by_field(validate(base(synchronous={"min_scale": -1})))
    assert fields["synchronous.min_scale"].message == "must be 0 or more"


def test_integers_must_fit_the_managers_go_types():
    """The Manager decodes into int32 (expose, kserve) or 64-bit int fields: beyond, its 400."""
    fields = by_field(validate(base(expose={"api_port": 80, "max_scale": 1 << 31},
                                    synchronous={"min_scale": 1 << 63})))
    assert "int32 (from -2147483648 to 2147483647)" in fields["expose.max_scale"].message
    assert "int64" in fields["synchronous.min_scale"].message
    problems = validate(base(expose={"api_port": [80], "nodePort": [1 << 31]}))
    assert any("int32" in p.message for p in problems if p.path == ("expose", "nodePort", 0))
    limits = base(expose={"api_port": 80, "min_scale": 1, "max_scale": (1 << 31) - 1},
                  synchronous={"min_scale": 0, "max_scale": (1 << 63) - 1})
    assert validate(limits) == []


def test_expose_port_range_and_missing_port_warning():
    fields = by_field(validate(base(expose={"api_port": 70000})))
    assert "between 1 and 65535" in fields["expose.api_port"].message
    fields = by_field(validate(base(expose={"api_port": [80, -1]})))
    assert "expose.api_port[1]" in fields
    (p,) = validate(base(expose={"min_scale": 1}))
    assert p.severity == "warning" and "not be exposed" in p.message


def test_visibility():
    fields = by_field(validate(base(visibility="pubilc")))
    assert fields["visibility"].suggestion == "public"
    (p,) = validate(base(visibility="restricted"))
    assert p.severity == "warning" and p.field == "allowed_users"
    assert validate(base(visibility="restricted", allowed_users=["u@egi.eu"])) == []


def test_storage_provider_references():
    data = base(input=[{"storage_provider": "minio.default", "path": "b1/in"}],
                output=[{"storage_provider": "s3.aws", "path": "bucket/out"},
                        {"storage_provider": "s3.other", "path": "bucket/out"},
                        {"storage_provider": "ftp.x", "path": "bucket/out"},
                        {"storage_provider": "minio.remote", "path": "bucket/out"}],
                storage_providers={"s3": {"aws": {"access_key": "a", "secret_key": "s",
                                                  "region": "us-east-1"}},
                                   "minio": {"remote": {"endpoint": "https://m"}}})
    fields = by_field(validate(data))
    assert set(fields) == {"input[0].path", "output[1].storage_provider",
                           "output[2].storage_provider"}
    assert "is not defined in storage_providers" in fields["output[1].storage_provider"].message
    assert fields["output[1].storage_provider"].suggestion == "s3.aws"
    assert "unknown storage provider type 'ftp'" in fields["output[2].storage_provider"].message
    assert "b1/in" in str(fields["input[0].path"])  # bucket name too short


def test_input_provider_types_and_missing_folder():
    data = base(input=[{"storage_provider": "s3.aws", "path": "bucket"}],
                storage_providers={"s3": {"aws": {}}})
    fields = by_field(validate(data))
    assert "cannot be an input" in fields["input[0].storage_provider"].message
    assert str(fields["input[0].path"]).startswith(
        "input[0].path: must be 'bucket/folder' (OSCAR needs a folder inside the bucket) (got 'bucket')")
    assert fields["input[0].path"].suggestion == "grayify/bucket"
    # normalise writes the bucket out as Manager v4.1+ does
    data, notices = normalise(base(input=[{"storage_provider": "minio", "path": "in"}],
                                   output=[{"storage_provider": "minio.default", "path": "/out/"}]))
    assert [data["input"][0]["path"], data["output"][0]["path"]] == ["grayify/in", "grayify/out"]
    assert "'in' has no bucket: it means 'grayify/in'" in "\n".join(notices)
    assert validate(data) == []
    origin = base(output=[{"storage_provider": "minio.default", "path": "out"}],
                  annotations={spec.ORIGIN_SERVICE_ANNOTATION: "first",
                               spec.ORIGIN_CLUSTER_ANNOTATION: "c1"})
    assert normalise(origin)[0]["output"][0]["path"] == "first/out"
    (warning,) = validate(base(output=[{"storage_provider": "webdav.d", "path": "results"}],
                               storage_providers={"webdav": {"d": {"hostname": "h"}}}))
    assert warning.severity == "warning" and "v3 needs" in warning.message
    fields = by_field(validate(base(input=[{"path": "bucket/in"}])))
    assert fields["input[0].storage_provider"].message.startswith("required field is missing")


def test_environment_names():
    fields = by_field(validate(base(environment={"variables": {"9BAD": "x", "OK_1": "y"}})))
    assert list(fields) == ['environment.variables["9BAD"]']


def test_replica_cluster_references():
    data = base(replicas=[{"type": "oscar", "cluster_id": "oscar-clustr", "service_name": "x"}],
                clusters={"oscar-cluster": {"endpoint": "https://x"}})
    (p,) = validate(data)
    assert p.field == "replicas[0].cluster_id" and p.suggestion == "oscar-cluster"
    assert p.severity == "warning"  # the Manager accepts it; delegation fails later


def test_secret_values_never_in_problems():
    data = base(environment={"secrets": {"PW": 123456789}},
                clusters={"c": {"endpoint": "https://x", "auth_password": 987654321}})
    text = "\n".join(str(p) for p in validate(data))
    assert "123456789" not in text and "987654321" not in text
    assert "value hidden" in text


# --------------------------------------------------------------------------- defaults, secrets

def test_with_defaults_fills_what_the_manager_fills():
    full = with_defaults(base(expose={"api_port": 80}))
    assert full["memory"] == "256Mi" and full["cpu"] == "0.2" and full["log_level"] == "INFO"
    assert full["visibility"] == "private"
    assert full["synchronous"] == {"min_scale": 0, "max_scale": 0}
    assert full["expose"]["min_scale"] == 1 and full["expose"]["max_scale"] == 10
    kept = with_defaults(base(memory="1Gi", synchronous={"max_scale": 4}))
    assert kept["memory"] == "1Gi" and kept["synchronous"] == {"max_scale": 4, "min_scale": 0}


def test_redact_service_blanks_every_secret():
    data = base(token="t" * 64,
                environment={"variables": {"PUBLIC": "v"}, "secrets": {"PW": "hunter22"}},
                clusters={"c": {"endpoint": "https://x", "auth_user": "u", "auth_password": "pw-1234"}},
                storage_providers={"s3": {"aws": {"access_key": "AK", "secret_key": "SK-secret"}},
                                   "webdav": {"d": {"login": "l", "password": "dav-pass"}}})
    red = spec.redact_service(data)
    text = json.dumps(red)
    for secret in ("hunter22", "pw-1234", "SK-secret", "dav-pass", "t" * 64):
        assert secret not in text
    assert red["environment"]["variables"]["PUBLIC"] == "v"
    assert red["clusters"]["c"]["auth_user"] == "u"
    assert data["environment"]["secrets"]["PW"] == "hunter22"  # original untouched


def test_comparable_ignores_server_set_fields():
    local = base(environment={"Variables": {"A": "1"}, "secrets": {"S": "real"}})
    deployed = with_defaults(normalise(local)[0])
    deployed.update(token="x" * 64, owner="cluster_admin",
                    storage_providers={"minio": {"default": {"endpoint": "http://m",
                                                             "access_key": "hidden",
                                                             "secret_key": "hidden"}}})
    deployed["environment"]["secrets"] = {"S": ""}
    assert spec.comparable(local) == spec.comparable(deployed)
    deployed["memory"] = "1Gi"
    assert spec.comparable(local) != spec.comparable(deployed)


# --------------------------------------------------------------------------- ServiceSpec

def test_service_spec_from_dict():
    s = ServiceSpec.from_dict(base(cpu=1, environment={"Variables": {"A": "1"},
                                                       "secrets": {"TOKEN": "abcd-secret"}}),
                              cluster_id="oscar-cluster", source="fdl")
    assert s.name == "grayify" and s.cluster_id == "oscar-cluster"
    assert s.data["cpu"] == "1" and len(s.notices) == 2
    assert "abcd-secret" not in repr(s) and "grayify" in repr(s)
    assert s.to_dict() == s.data and s.to_dict() is not s.data
    assert s.redacted()["environment"]["secrets"]["TOKEN"] == "***"


def test_service_spec_from_api_json_refuses_a_number_for_text():
    with pytest.raises(InvalidDefinition) as info:
        ServiceSpec.from_dict(base(script=5))
    assert [p.field for p in info.value.problems] == ["script"]


def test_service_spec_raises_with_every_problem():
    with pytest.raises(InvalidDefinition) as info:
        ServiceSpec.from_dict({"name": "Bad_Name", "memroy": "1Gi", "image": "x"})
    err = info.value
    assert {p.field for p in err.problems} == {"name", "memroy", "script"}
    assert "did you mean 'memory'" in str(err)


def test_service_spec_keeps_warnings():
    s = ServiceSpec.from_dict(base(memroy="1Gi"), unknown="warn")
    assert [w.field for w in s.warnings] == ["memroy"]


def test_go_zero_value_body_from_oscar_cli_is_valid():
    """oscar-cli and oscar-python send the whole Go struct: nulls, '' and 0 mean unset."""
    body = {"name": "cowsay", "cluster_id": "oscar-cluster", "memory": "", "cpu": "",
            "total_memory": "", "total_cpu": "", "enable_gpu": False, "enable_sgx": False,
            "image_prefetch": False, "synchronous": {"min_scale": 0, "max_scale": 0},
            "delegation": "", "rescheduler_threshold": 0, "log_level": "",
            "image": "ghcr.io/grycap/cowsay", "alpine": False, "token": "", "file_stage_in": False,
            "input": None, "output": None, "script": "echo hi",
            "expose": {"min_scale": 0, "max_scale": 0, "api_port": 0, "cpu_threshold": 0,
                       "rewrite_target": False, "nodePort": 0, "default_command": False,
                       "set_auth": False},
            "environment": {"variables": None, "secrets": None}, "annotations": None, "vo": "",
            "labels": None, "owner": "", "interlink_node_name": "", "visibility": "",
            "allowed_users": None, "isolation_level": "", "bucket_list": None,
            "mount": {"storage_provider": "", "path": ""}}
    data, notices = normalise(body)
    assert validate(data) == []
    assert "input" not in data and notices[0].startswith("empty (null) input, output")
    assert spec.comparable(body) == spec.comparable({"name": "cowsay", "image": "ghcr.io/grycap/cowsay",
                                                     "script": "echo hi"})


def test_service_spec_to_dict_for_a_manager_version():
    s = ServiceSpec.from_dict(base(expose={"api_port": 8080}))
    assert s.to_dict(target_version="v4.1.2")["expose"]["api_port"] == [8080]
    assert s.to_dict(target_version="3.7.1")["expose"]["api_port"] == 8080
    assert s.data["expose"]["api_port"] == 8080


@pytest.mark.parametrize("data", [
    {"input": "bucket/in"}, {"input": [None, 3, "x", {"path": None}]}, {"environment": ["A=1"]},
    {"environment": {"variables": ["A"]}}, {"expose": "yes"}, {"expose": {"api_port": [None, "x"]}},
    {"storage_providers": {"s3": "x", "minio": {"default": None}}}, {"synchronous": []},
    {"clusters": {"c": "x"}}, {"name": 5, "image": [], "script": {}}, {"replicas": [{"type": 3}]},
    {"federation": {"members": "x"}}, {"log_level": 7, "vo": [1, 2]}, {"mount": "x"},
])
def test_hostile_shapes_give_problems_not_exceptions(data):
    normalised, _ = normalise(data)
    problems = validate(normalised)
    assert problems and all(isinstance(str(p), str) for p in problems)
    spec.with_defaults(normalised)
    spec.redact_service(normalised)
    spec.comparable(data)


# --------------------------------------------------------------------------- supplement

def test_supplement_field_propagate_token_is_known_with_its_origin():
    prop = spec.schema_at(("propagate_token",))
    assert prop["type"] == "boolean" and prop["x-oscar-supplement"] is True
    assert "service.go" in prop["x-oscar-source"]
    data, _ = normalise(base(propagate_token=True))
    problems = validate(data)
    assert [(p.field, p.severity) for p in problems] == [("propagate_token", "warning")]
    assert "released Managers ignore it" in problems[0].message
    wrong = validate(normalise(base(propagate_token="yes"))[0])
    assert ("propagate_token", "error") in [(p.field, p.severity) for p in wrong]


@pytest.mark.skipif(not (REFERENCE / "oscar-swagger-v4.1.2.yaml").exists(), reason="specs absent")
def test_regenerate_merges_the_supplement_and_refuses_a_stale_one(tmp_path):
    specs = [REFERENCE / "oscar-swagger-v3.7.1.yaml", REFERENCE / "oscar-swagger-v4.1.2.yaml"]
    bare = spec.regenerate(specs, tmp_path / "bare.json", supplement=None)
    assert "propagate_token" not in bare["definitions"]["types.Service"]["properties"]
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({"definitions": {"types.Service": {"properties": {
        "memory": {"type": "string", "x-oscar-source": "x"}}}}}))
    with pytest.raises(SystemExit, match="already in the specs"):
        spec.regenerate(specs, tmp_path / "out.json", supplement=stale)
    unsourced = tmp_path / "unsourced.json"
    unsourced.write_text(json.dumps({"definitions": {"types.Service": {"properties": {
        "new_field": {"type": "string"}}}}}))
    with pytest.raises(SystemExit, match="x-oscar-source"):
        spec.regenerate(specs, tmp_path / "out.json", supplement=unsourced)


def test_comparable_reads_either_port_shape_as_the_same_service():
    base = {"name": "srv", "image": "img", "script": "echo"}
    scalar = dict(base, expose={"api_port": 8080, "min_scale": 1})
    listed = dict(base, expose={"api_port": [8080], "min_scale": 1})
    other = dict(base, expose={"api_port": [9090], "min_scale": 1})
    assert spec.comparable(scalar) == spec.comparable(listed)
    assert spec.comparable(scalar) != spec.comparable(other)
    assert spec.comparable(dict(base, expose={"api_port": 0})) == spec.comparable(
        dict(base, expose={"api_port": [0]}))
