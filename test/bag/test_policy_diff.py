"""diff_policies on two hand-built ONNX files."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from exploy.bag.policy_diff import diff_policies


def _model(weight: np.ndarray, *, meta: dict[str, str], out_dim: int = 2) -> bytes:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, out_dim])],
        [numpy_helper.from_array(weight.astype(np.float32), "w")],
    )
    model = helper.make_model(graph)
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model.SerializeToString()


def test_diff_names_metadata_interface_and_weight_changes():
    w = np.arange(6, dtype=np.float32).reshape(3, 2)
    old = _model(w, meta={"decimation": "4", "date_exported": "a", "env": "x"})
    changed = w.copy()
    changed[1, 1] += 0.5
    new = _model(changed, meta={"decimation": "2", "date_exported": "b", "robot": "y"})
    lines = diff_policies(old, new)
    assert "metadata 'decimation' changed: 4 -> 2" in lines
    assert "metadata 'env' removed (was x)" in lines and "metadata 'robot' added: y" in lines
    assert not any("date_exported" in line for line in lines)
    assert (
        "initializer 'w' float32[3, 2]: 1/6 values changed, max abs change 0.5 (0.1 of its largest magnitude)" in lines
    )
    assert diff_policies(old, old) == []


def test_diff_names_a_changed_interface():
    w = np.ones((3, 2), dtype=np.float32)
    lines = diff_policies(_model(w, meta={}), _model(np.ones((3, 4), dtype=np.float32), meta={}, out_dim=4))
    assert "graph output y changed: float32[1, 2] -> float32[1, 4]" in lines
    assert "initializer 'w' changed float32[3, 2] -> float32[3, 4]" in lines
    onnx.checker.check_model(onnx.load_from_string(_model(w, meta={})))
