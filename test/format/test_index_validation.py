"""A malformed exploy.components index is one clear PolicyFormatError line, never a TypeError."""

from __future__ import annotations

import json

import pytest
from edit_file import with_metadata

from exploy.format import PolicyFormatError, read_metadata

GOOD_ENTRY = {"name": "obj.robot.joints.pos", "kind": "input", "shape": [1, 12], "dtype": "float32", "group": None}

BAD_INDEXES = {
    "components_not_a_list": {"components": 5},
    "index_not_an_object": [1, 2, 3],
    "index_a_string": "components",
    "entry_not_an_object": {"components": [5]},
    "name_not_a_string": {"components": [{**GOOD_ENTRY, "name": 7}]},
    "kind_unknown": {"components": [{**GOOD_ENTRY, "kind": "sideways"}]},
    "shape_not_a_list": {"components": [{**GOOD_ENTRY, "shape": "1x12"}]},
    "shape_holds_strings": {"components": [{**GOOD_ENTRY, "shape": ["1", "12"]}]},
    "shape_negative": {"components": [{**GOOD_ENTRY, "shape": [1, -12]}]},
    "shape_bool": {"components": [{**GOOD_ENTRY, "shape": [True, 12]}]},
    "dtype_unknown": {"components": [{**GOOD_ENTRY, "dtype": "complex128"}]},
    "dtype_not_a_string": {"components": [{**GOOD_ENTRY, "dtype": 3}]},
    "group_not_a_string": {"components": [{**GOOD_ENTRY, "group": ["a"]}]},
    "group_unlisted": {"components": [{**GOOD_ENTRY, "group": "nowhere"}]},
    "groups_not_a_list": {"components": [GOOD_ENTRY], "groups": 3},
    "group_members_not_strings": {"components": [GOOD_ENTRY], "groups": [{"name": "g", "members": [1]}]},
    "duplicate_component": {"components": [GOOD_ENTRY, GOOD_ENTRY]},
}


@pytest.mark.parametrize("index", BAD_INDEXES.values(), ids=BAD_INDEXES.keys())
def test_malformed_index_is_one_clear_line(legged_export, tmp_path, index):
    _, path = legged_export
    bad = with_metadata(path, tmp_path / "bad.onnx", {"exploy.components": json.dumps(index)})
    with pytest.raises(PolicyFormatError) as info:
        read_metadata(bad)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400, message


def test_index_that_is_not_json_is_quoted_in_a_bounded_excerpt(legged_export, tmp_path):
    _, path = legged_export
    bad = with_metadata(path, tmp_path / "bad.onnx", {"exploy.components": "{" + "x" * 100_000})
    with pytest.raises(PolicyFormatError, match="not valid JSON") as info:
        read_metadata(bad)
    assert len(str(info.value)) < 400


def test_deeply_nested_index_is_a_format_error_not_a_recursion_error(legged_export, tmp_path):
    _, path = legged_export
    bad = with_metadata(path, tmp_path / "deep.onnx", {"exploy.components": "[" * 200_000 + "]" * 200_000})
    with pytest.raises(PolicyFormatError, match="nested too deeply"):
        read_metadata(bad)


@pytest.mark.parametrize("key", ["obj.robot.joints", "joint_pos_target", "exploy.observation_names"])
def test_component_group_and_name_metadata_of_the_wrong_json_type_is_refused(legged_export, tmp_path, key):
    _, path = legged_export
    bad = with_metadata(path, tmp_path / "bad.onnx", {key: "5"})
    with pytest.raises(PolicyFormatError, match="must be a JSON"):
        read_metadata(bad)


@pytest.mark.parametrize("value", ['{"v": 1}', "[1]", "null", "not json"])
def test_exploy_version_must_be_a_json_string(legged_export, tmp_path, value):
    _, path = legged_export
    with pytest.raises(PolicyFormatError, match="exploy_version"):
        read_metadata(with_metadata(path, tmp_path / "v.onnx", {"exploy_version": value}))


@pytest.mark.parametrize("value", ["0", "-4", "four", "4.5", "1000000"])
def test_bad_decimation_is_refused(legged_export, tmp_path, value):
    _, path = legged_export
    with pytest.raises(PolicyFormatError, match="[Dd]ecimation"):
        read_metadata(with_metadata(path, tmp_path / "d.onnx", {"decimation": value}))
