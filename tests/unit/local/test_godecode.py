"""Go's encoding/json errors for bodies that do not fit the Manager's types (the texts were read
off the Manager's own handlers; tests/integration/test_manager_oracle.py compares many more)."""
from __future__ import annotations

import pytest

from oscar_jupyter.local import godecode, gotypes

V41, V37 = gotypes.TYPES["4.1"], gotypes.TYPES["3.7"]


@pytest.mark.parametrize("body, types, text", [
    ([1], V41, "json: cannot unmarshal array into Go value of type types.Service"),
    ({"NAME": 5}, V41, "json: cannot unmarshal number into Go struct field Service.name of type string"),
    ({"expose": {"min_scale": 1.5}}, V41,
     "json: cannot unmarshal number 1.5 into Go struct field Expose.expose.min_scale of type int32"),
    ({"expose": {"max_scale": 1 << 31}}, V41,
     "json: cannot unmarshal number 2147483648 into Go struct field Expose.expose.max_scale of type int32"),
    ({"expose": {"api_port": 8080}}, V41,
     "json: cannot unmarshal number into Go struct field Expose.expose.api_port of type []int"),
    ({"expose": {"api_port": [8080]}}, V37,
     "json: cannot unmarshal array into Go struct field Expose.expose.api_port of type int"),
    ({"environment": {"variables": {"A": 1}}}, V41,
     "json: cannot unmarshal number into Go struct field .environment.variables of type string"),
    ({"input": [{"path": 5}]}, V41,
     "json: cannot unmarshal number into Go struct field StorageIOConfig.input.path of type string"),
    ({"replicas": [{"priority": -1}]}, V37,
     "json: cannot unmarshal number -1 into Go struct field Replica.replicas.priority of type uint"),
    ({"kserve": []}, V41, "json: cannot unmarshal array into Go struct field Service.kserve of type types.Alias"),
    ({"kserve": {"storage_uri": " "}}, V41, "Kserve StorageUri is required"),
    ({"name": 5, "image": True}, V41, "json: cannot unmarshal number into Go struct field Service.name of type string"),
])
def test_the_first_mismatch_in_gos_words(body, types, text):
    assert godecode.type_error(body, types) == text


def test_what_fits_is_no_error_and_null_is_skipped():
    body = {"name": "x", "expose": {"api_port": [80], "min_scale": None}, "labels": None,
            "kserve": None, "replicas": "ignored: v4.1 has no such field"}
    assert godecode.type_error(body, V41) is None


def test_number_literals_are_kept_for_the_error():
    body = godecode.DECODER.decode('{"expose": {"min_scale": 1e3}}')
    assert godecode.type_error(body, V41).startswith("json: cannot unmarshal number 1e3 ")
    assert body["expose"]["min_scale"] == 1000.0


def test_known_fields_drop_what_the_release_lacks_at_every_depth():
    body = {"name": "x", "Federation": {"group_id": "g"}, "expose": {"auth_type": "basic", "api_port": 80},
            "input": [{"path": "a/b", "options": "x"}], "environment": {"Variables": {"K": "v"}}}
    assert godecode.known_fields(body, V37) == {"name": "x", "expose": {"api_port": 80},
                                                "input": [{"path": "a/b"}],
                                                "environment": {"variables": {"K": "v"}}}
    assert godecode.known_fields(body, V41)["federation"] == {"group_id": "g"}


def test_a_field_named_twice_is_decoded_into_what_the_first_left():
    body = godecode.DECODER.decode(
        '{"environment": {"variables": {"A": "1"}}, "Environment": {"variables": {"B": "2"}},'
        ' "memory": "1Gi", "memory": null, "labels": {"a": "1"}, "LABELS": null,'
        ' "input": [{"storage_provider": "minio", "path": "a/in"}, {"path": "c/in"}], "input": [{"path": "b/in"}],'
        ' "kserve": {"type": "t"}, "KServe": null, "expose": {"min_scale": 2}, "expose": null}')
    assert godecode.known_fields(body, V41) == {
        "environment": {"variables": {"A": "1", "B": "2"}},  # a struct, then a map: merged
        "memory": "1Gi",  # null leaves a string as it was
        "labels": None, "kserve": None,  # and makes a map or a pointer nil
        "input": [{"storage_provider": "minio", "path": "b/in"}],  # element by element, then cut
        "expose": {"min_scale": 2},  # a struct (not a pointer): null leaves it
    }
