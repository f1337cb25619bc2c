"""The index is checked against the graph at load: a disagreement is an error then, not every tick."""

from __future__ import annotations

import json

import pytest
from edit_file import with_metadata

from exploy.format import PolicyFormatError, read_metadata
from exploy.runtime.policy import Policy


def _edited_index(path, tmp_path, edit):
    index = json.loads(read_metadata(path).raw["exploy.components"])
    edit(index)
    return with_metadata(path, tmp_path / "edited.onnx", {"exploy.components": json.dumps(index)})


def _entry(index, name):
    return next(e for e in index["components"] if e["name"] == name)


def test_memory_whose_index_shape_differs_from_the_graph_fails_at_load(legged_export, tmp_path):
    _, path = legged_export
    bad = _edited_index(path, tmp_path, lambda ix: _entry(ix, "joint_pos_history").update(shape=[1, 13]))
    with pytest.raises(PolicyFormatError) as info:
        Policy(bad)
    message = str(info.value)
    assert "joint_pos_history" in message and "(1, 13)" in message and "(1, 36)" in message


def test_input_whose_index_dtype_differs_from_the_graph_fails_at_load(legged_export, tmp_path):
    _, path = legged_export
    bad = _edited_index(path, tmp_path, lambda ix: _entry(ix, "obj.robot.joints.vel").update(dtype="float64"))
    with pytest.raises(PolicyFormatError, match=r"obj\.robot\.joints\.vel.*float64.*float32"):
        read_metadata(bad)


def test_index_listing_a_component_the_graph_lacks_fails_at_load(legged_export, tmp_path):
    _, path = legged_export
    extra = {"name": "cmd.float.ghost", "kind": "input", "shape": [1, 1], "dtype": "float32", "group": None}
    bad = _edited_index(path, tmp_path, lambda ix: ix["components"].append(extra))
    with pytest.raises(PolicyFormatError, match=r"in the index only \['cmd\.float\.ghost'\]"):
        read_metadata(bad)


def test_graph_input_missing_from_the_index_fails_at_load(legged_export, tmp_path):
    _, path = legged_export
    drop = lambda ix: ix["components"].remove(_entry(ix, "cmd.se2_velocity.base_velocity"))  # noqa: E731
    bad = _edited_index(path, tmp_path, drop)
    with pytest.raises(PolicyFormatError, match=r"in the graph only \['cmd\.se2_velocity\.base_velocity'\]"):
        read_metadata(bad)
