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
                                                "environment": {"Variables": {"K": "v"}}}
    assert godecode.known_fields(body, V41)["Federation"] == {"group_id": "g"}
