"""Files in upstream exploy's layout (no index, reordered, upstream metadata) read and run exactly."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from upstream_layout import BareLoop, isaaclab_metadata, legged_inputs, to_upstream_layout

from exploy.examples.legged_robot import make_mlp_example
from exploy.format import ComponentKind, PolicyFormatError, read_metadata
from exploy.runtime.policy import Policy

MEMORIES = ("last_actions", "joint_pos_target", "joint_pos_history")
TICKS = 13  # three policy steps and a bit, decimation 4


def _initial_memory() -> dict[str, np.ndarray]:
    """Memory at reset, straight from a fresh torch environment (not from the file)."""
    env, _ = make_mlp_example(seed=3)
    return {name: getattr(env, name).numpy().copy() for name in MEMORIES}


def _upstream(src: pathlib.Path, folder: pathlib.Path, **kwargs) -> pathlib.Path:
    kwargs.setdefault("env_metadata", isaaclab_metadata(decimation=4, sim_dt=0.005, base_names={"robot": "base"}))
    return to_upstream_layout(src, folder / "upstream.onnx", memories=MEMORIES, **kwargs)


def test_index_derived_from_the_graph_equals_our_index(legged_export, tmp_path):
    _, ours_path = legged_export
    ours = read_metadata(ours_path)
    theirs = read_metadata(_upstream(ours_path, tmp_path))
    assert "exploy.components" not in theirs.raw
    key = lambda c: (c.name, c.kind, c.shape, c.dtype)  # noqa: E731
    assert sorted(map(key, theirs.components)) == sorted(map(key, ours.components))
    assert theirs.decimation == 4 and theirs.update_rate == pytest.approx(200.0)
    assert theirs.component("obj.robot.joints.pos").group == "obj.robot.joints"
    assert theirs.group("obj.robot.joints").metadata == {
        "joint_names": ours.group("obj.robot.joints").metadata["joint_names"]
    }
    targets = theirs.group("output.joint_targets.pd")
    assert set(targets.members) == {f"output.joint_targets.pd.{i}" for i in ("pos", "vel", "effort")}
    assert targets.metadata == ours.group("output.joint_targets.pd").metadata
    # memory metadata under upstream's key memory.<m>.in is found, and not shown as env metadata
    assert theirs.component("joint_pos_target").metadata == ours.component("joint_pos_target").metadata
    assert theirs.component("joint_pos_target").kind is ComponentKind.MEMORY
    assert "memory.joint_pos_target.in" not in theirs.env_metadata
    assert json.loads(theirs.env_metadata["base_names"]) == {"robot": "base"}
    assert theirs.env_metadata["sim_dt"] == "0.005"


def test_decimation_comes_from_the_graph_when_the_file_has_no_metadata_for_it(legged_export, tmp_path):
    """Upstream's core tutorial writes no env metadata at all: decimation from the Mod on ctx.step_count."""
    _, ours_path = legged_export
    path = _upstream(ours_path, tmp_path, env_metadata={})
    meta = read_metadata(path)
    assert "decimation" not in meta.raw
    assert meta.decimation == 4


def test_metadata_decimation_that_disagrees_with_the_graph_is_an_error_naming_both(legged_export, tmp_path):
    _, ours_path = legged_export
    path = _upstream(ours_path, tmp_path, env_metadata={"decimation": "3"})
    with pytest.raises(PolicyFormatError, match=r"'decimation' is 3 but the graph switches paths every 4 ticks"):
        read_metadata(path)


@pytest.mark.parametrize(
    ("step_shape", "step_dtype"), [((), "int32"), ((1,), "int32"), ((1,), "int64"), ((), "int64")]
)
def test_policy_runs_an_upstream_file_tick_by_tick_like_a_bare_onnxruntime_loop(
    legged_export, tmp_path, step_shape, step_dtype
):
    _, ours_path = legged_export
    path = _upstream(ours_path, tmp_path, step_shape=step_shape, step_dtype=step_dtype)
    policy = Policy(path)
    bare = BareLoop(path, _initial_memory())
    rng = np.random.default_rng(7)
    for k in range(TICKS):
        x = legged_inputs(rng)
        got = policy.step(x)
        want = bare.run(x, k)
        assert got.policy_step == (k % 4 == 0)
        for spec in policy.outputs:
            np.testing.assert_allclose(
                got.outputs[spec.name], want[spec.name], rtol=1e-6, atol=1e-6, err_msg=f"{spec.name} tick {k}"
            )
        if got.policy_step:
            np.testing.assert_allclose(got.actions, want["actions"], rtol=1e-6, atol=1e-6)
    assert {s.name for s in policy.outputs} == {f"output.joint_targets.pd.{i}" for i in ("pos", "vel", "effort")}


def test_upstream_layout_and_our_layout_give_the_same_outputs(legged_export, tmp_path):
    _, ours_path = legged_export
    ours, theirs = Policy(ours_path), Policy(_upstream(ours_path, tmp_path, step_shape=(1,)))
    rng = np.random.default_rng(11)
    xs = [legged_inputs(rng) for _ in range(TICKS)]
    a = ours.run_ticks({n: np.concatenate([x[n] for x in xs]) for n in xs[0]})
    b = theirs.run_ticks({n: np.concatenate([x[n] for x in xs]) for n in xs[0]})
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_first_step_1_reproduces_upstreams_controller_counter(legged_export, tmp_path):
    """Upstream's C++ controller increments ctx.step_count before each run: ticks see 1, 2, 3, ...
    so its first Default tick is tick `decimation` (index 3 here)."""
    _, ours_path = legged_export
    path = _upstream(ours_path, tmp_path)
    policy = Policy(path, first_step=1)
    bare = BareLoop(path, _initial_memory())
    rng = np.random.default_rng(5)
    flags = []
    for k in range(9):
        x = legged_inputs(rng)
        got = policy.step(x)
        want = bare.run(x, k + 1)
        flags.append(got.policy_step)
        for spec in policy.outputs:
            np.testing.assert_allclose(got.outputs[spec.name], want[spec.name], rtol=1e-6, atol=1e-6)
    assert flags == [False, False, False, True, False, False, False, True, False]
    policy.reset()
    assert policy.step_count == 1


def test_lstm_file_with_upstreams_actor_hidden_state_memory_runs_like_a_bare_loop(tmp_path):
    from exploy.examples.legged_robot import make_lstm_example
    from exploy.exporter.core.exporter import export_environment_as_onnx

    env, actor = make_lstm_example(seed=4)
    initial = _initial_memory() | {f"actor_hidden_state_{i}": np.zeros((1, 1, 32), np.float32) for i in (0, 1)}
    ours = export_environment_as_onnx(env=env, actor=actor, path=tmp_path / "ours")
    path = _upstream(ours, tmp_path, step_shape=(1,))
    meta = read_metadata(path)
    assert {m.name for m in meta.memories} == set(MEMORIES) | {"actor_hidden_state_0", "actor_hidden_state_1"}
    policy, bare = Policy(path), BareLoop(path, initial)
    rng = np.random.default_rng(9)
    for k in range(TICKS):
        x = legged_inputs(rng)
        got, want = policy.step(x), bare.run(x, k)
        for spec in policy.outputs:
            np.testing.assert_array_equal(got.outputs[spec.name], want[spec.name], err_msg=f"{spec.name} tick {k}")
    np.testing.assert_array_equal(policy.memory["actor_hidden_state_0"], bare.memory["memory.actor_hidden_state_0.in"])
