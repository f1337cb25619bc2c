"""Policy: memory and step counter inside, inputs checked, bad files refused."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from tutorial_code import Actor
from tutorial_variants import make_registered

from exploy.exporter.core.exporter import export_environment_as_onnx
from exploy.format import PolicyFormatError
from exploy.runtime.errors import PolicyRuntimeError
from exploy.runtime.policy import Policy


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("policy")
    torch.manual_seed(3)
    exp_env = make_registered()
    actor = Actor(num_obs=exp_env.env.num_obs, num_act=exp_env.env.num_act).eval()
    path = export_environment_as_onnx(env=exp_env, actor=actor, path=folder)
    return path, actor


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "foo": rng.normal(size=(1, 4)).astype(np.float32),
        "bar_baz_group.bar": rng.normal(size=(1, 2)).astype(np.float32),
        "bar_baz_group.baz": rng.normal(size=(1, 2)).astype(np.float32),
    }


def _torch_step(actor, inputs, prev_actions):
    obs = np.concatenate(
        [inputs["foo"] + 1, inputs["bar_baz_group.bar"] + 2 * inputs["bar_baz_group.baz"],
         inputs["bar_baz_group.baz"], prev_actions], axis=-1)
    with torch.no_grad():
        return actor(torch.from_numpy(obs.astype(np.float32))).numpy()


def test_memory_carries_over_and_default_runs_once_per_decimation(policy_file):
    path, actor = policy_file
    policy = Policy(path)
    prev = np.zeros((1, 2), dtype=np.float32)
    defaults = 0
    for tick in range(12):
        inputs = _inputs(tick)
        result = policy.step(inputs)
        assert result.step_count == tick
        if tick % 4 == 0:
            defaults += 1
            expected = _torch_step(actor, inputs, prev)
            np.testing.assert_allclose(result.actions, expected, rtol=1e-5, atol=1e-6)
            prev = expected
        else:
            assert result.actions is None and result.obs is None
        np.testing.assert_allclose(result.outputs["out"], 3 * prev + 2, rtol=1e-5, atol=1e-6)
    assert defaults == 3
    assert set(policy.memory) == {"actions", "processed_action"}


def test_reset_restores_initial_state(policy_file):
    path, _ = policy_file
    policy = Policy(path)
    first = policy.step(_inputs(1)).outputs["out"]
    for tick in range(5):
        policy.step(_inputs(tick + 10))
    policy.reset()
    assert policy.step_count == 0
    assert all((v == 0).all() for v in policy.memory.values())
    np.testing.assert_array_equal(policy.step(_inputs(1)).outputs["out"], first)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("foo"), r"missing \['foo'\]"),
        (lambda d: d.update(bogus=np.zeros(1)), r"unknown \['bogus'\]"),
        (lambda d: d.update(foo=np.zeros((1, 5))), "has 5 values"),
        (lambda d: d.update(foo=np.array([[1.0, np.nan, 0, 0]])), "NaN or Inf"),
        (lambda d: d.update(foo=np.array([[1.0, np.inf, 0, 0]])), "NaN or Inf"),
    ],
)
def test_bad_inputs_rejected_state_kept(policy_file, change, message):
    path, _ = policy_file
    policy = Policy(path)
    policy.step(_inputs())
    memory = policy.memory
    bad = _inputs()
    change(bad)
    with pytest.raises(PolicyRuntimeError, match=message):
        policy.step(bad)
    assert policy.step_count == 1
    for name, value in policy.memory.items():
        np.testing.assert_array_equal(value, memory[name])


def test_flat_input_is_reshaped(policy_file):
    path, _ = policy_file
    flat = {k: v.reshape(-1) for k, v in _inputs().items()}
    np.testing.assert_array_equal(Policy(path).step(flat).outputs["out"], Policy(path).step(_inputs()).outputs["out"])


def test_corrupt_file_refused(tmp_path, policy_file):
    path, _ = policy_file
    data = path.read_bytes()
    bad = tmp_path / "policy.onnx"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(PolicyFormatError, match="cannot load"):
        Policy(bad)


def test_missing_file_refused(tmp_path):
    with pytest.raises(PolicyFormatError, match="not found"):
        Policy(tmp_path / "nope.onnx")


def test_foreign_onnx_file_refused(tmp_path):
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 20)])
    model.ir_version = 10
    onnx.save(model, str(tmp_path / "foreign.onnx"))
    with pytest.raises(PolicyFormatError, match="Not an exploy policy file.*exploy_version"):
        Policy(tmp_path / "foreign.onnx")
