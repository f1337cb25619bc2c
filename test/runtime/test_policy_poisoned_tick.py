"""Policy never commits a poisoned tick, and clips inputs to their metadata ranges (issue 10)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from exploy.examples.legged_robot import make_mlp_example
from exploy.exporter.core.exporter import export_environment_as_onnx
from exploy.format import PolicyFormatError
from exploy.runtime.policy import Policy
from exploy.runtime.session import SessionWrapper

CMD = "cmd.se2_velocity.base_velocity"
EFFORT = "output.joint_targets.pd.effort"


@pytest.fixture(scope="module")
def legged_file(tmp_path_factory):
    env, actor = make_mlp_example(seed=3)
    return export_environment_as_onnx(env=env, actor=actor, path=tmp_path_factory.mktemp("legged"))


def _inputs(rng, cmd=(0.5, -0.2, 0.3)):
    quat = np.array([0.95, 0.05, -0.1, 0.2])
    return {
        "obj.robot.joints.pos": rng.normal(scale=0.3, size=(1, 12)).astype(np.float32),
        "obj.robot.joints.vel": rng.normal(size=(1, 12)).astype(np.float32),
        "obj.robot.base.w_Q_b": (quat / np.linalg.norm(quat)).astype(np.float32).reshape(1, 4),
        "obj.robot.base.ang_vel_b_rt_w_in_b": rng.normal(size=(1, 3)).astype(np.float32),
        CMD: np.array([cmd], dtype=np.float32),
    }


class _Bare:
    """An independent loop: bare onnxruntime, memory fed back by hand."""

    def __init__(self, path):
        self.session = SessionWrapper(path.parent, path.name, optimize=False)
        self.memories = self.session.policy_metadata.memories
        self.memory = {
            m.input_name: np.asarray(m.metadata["initial_value"], np.float32).reshape(m.shape)
            if m.metadata and "initial_value" in m.metadata else np.zeros(m.shape, np.float32)
            for m in self.memories
        }

    def run(self, inputs, k):
        out = self.session.run({**inputs, **self.memory, "ctx.step_count": np.array(k, dtype=np.int32)})
        self.memory = {m.input_name: out[m.output_name] for m in self.memories}
        return out


def test_a_3e38_command_once_then_400_valid_steps_recovers(legged_file):
    rng = np.random.default_rng(0)
    valid = [_inputs(rng) for _ in range(400)]
    poisoned = _inputs(rng, cmd=(3e38, 0.0, 0.0))
    assert np.isfinite(poisoned[CMD]).all()  # finite in float32: the decoders accept it

    # Today's failure, reproduced with a bare loop that commits every tick: 0 finite outputs after.
    bare = _Bare(legged_file)
    assert not np.isfinite(bare.run(poisoned, 0)[EFFORT]).all()
    assert not any(np.isfinite(bare.run(x, k + 1)[EFFORT]).all() for k, x in enumerate(valid[:20]))

    policy = Policy(legged_file)
    result = policy.step(poisoned)
    assert result.rejected is not None and "NaN or Inf" in result.rejected
    assert policy.step_count == 0 and policy.rejected_ticks == 1
    outs = [policy.step(x) for x in valid]
    assert all(r.rejected is None for r in outs)
    assert sum(np.isfinite(r.outputs[EFFORT]).all() for r in outs) == 400
    # ... and exactly what a run that never saw the poisoned tick computes.
    clean = _Bare(legged_file)
    for k, (x, r) in enumerate(zip(valid, outs)):
        np.testing.assert_allclose(r.outputs[EFFORT], clean.run(x, k)[EFFORT], rtol=1e-5, atol=1e-5)
    assert policy.step_count == 400


def test_run_ticks_rejects_the_same_tick_as_step(legged_file):
    rng = np.random.default_rng(1)
    ticks = [_inputs(rng) for _ in range(30)]
    ticks[8] = _inputs(rng, cmd=(3e38, 0.0, 0.0))  # a Default tick (decimation 4)
    batch = {name: np.stack([t[name] for t in ticks]) for name in ticks[0]}
    stepped = Policy(legged_file)
    expected = [stepped.step(t).outputs[EFFORT] for t in ticks]
    batched = Policy(legged_file)
    got = batched.run_ticks(batch)[EFFORT]
    assert batched.rejected_ticks == stepped.rejected_ticks == 1
    assert batched.step_count == stepped.step_count == 29
    for k in range(30):
        np.testing.assert_array_equal(got[k], expected[k])
    assert batched.memory.keys() == stepped.memory.keys()
    for name, value in stepped.memory.items():
        np.testing.assert_array_equal(batched.memory[name], value)


def _with_metadata(src, dst, key, value):
    model = onnx.load(str(src))
    entries = {p.key: p for p in model.metadata_props}
    entries[key].value = json.dumps(value)
    onnx.save(model, str(dst))
    return dst


def test_se2_command_is_clipped_to_its_metadata_ranges(legged_file, tmp_path):
    ranges = {"ranges": {"lin_vel_x": [-1.0, 1.5], "lin_vel_y": [-0.5, 0.5], "ang_vel_z": [-2.0, 2.0]}}
    ranged = _with_metadata(legged_file, tmp_path / "ranged.onnx", CMD, ranges)
    policy = Policy(ranged)
    rng = np.random.default_rng(2)
    x = _inputs(rng, cmd=(3e38, -0.7, 0.3))
    result = policy.step(x)
    assert result.rejected is None and policy.clipped_values == 2
    by_hand = dict(x, **{CMD: np.array([[1.5, -0.5, 0.3]], dtype=np.float32)})
    np.testing.assert_allclose(result.outputs[EFFORT], _Bare(legged_file).run(by_hand, 0)[EFFORT], rtol=1e-6, atol=1e-6)
    batched = Policy(ranged)
    out = batched.run_ticks({k: v[None] for k, v in x.items()})
    np.testing.assert_array_equal(out[EFFORT][0], result.outputs[EFFORT])
    assert batched.clipped_values == 2


def test_malformed_ranges_refuse_the_file_with_the_reason(legged_file, tmp_path):
    bad = _with_metadata(
        legged_file,
        tmp_path / "bad.onnx",
        CMD,
        {"ranges": {"lin_vel_x": [2.0, 1.0], "lin_vel_y": [0, 1], "ang_vel_z": [0, 1]}},
    )
    with pytest.raises(PolicyFormatError, match=r"ranges.lin_vel_x must satisfy min <= max"):
        Policy(bad)


def test_run_ticks_stages_are_what_step_saw_across_a_rejected_tick(legged_file):
    rng = np.random.default_rng(2)
    ticks = [_inputs(rng) for _ in range(30)]
    ticks[8] = _inputs(rng, cmd=(3e38, 0.0, 0.0))  # rejected: the Default tick is run again at tick 9
    stepped = Policy(legged_file)
    expected: dict[int, dict] = {}
    for k, t in enumerate(ticks):
        entering = {f"memory.{name}": value.copy() for name, value in stepped.memory.items()}
        result = stepped.step(t)
        if result.policy_step:
            expected[k] = {"obs": result.obs, "actions": result.actions, **entering}
    assert 8 in expected and 9 in expected  # the repeated Default tick
    batched = Policy(legged_file)
    stages: dict = {}
    batched.run_ticks({name: np.stack([t[name] for t in ticks]) for name in ticks[0]}, stages=stages)
    assert set(stages) == set(expected[0])
    for k in range(30):
        for key, rows in stages.items():
            want = np.reshape(expected[k][key], -1) if k in expected else np.zeros(rows.shape[1])
            np.testing.assert_array_equal(rows[k], want, err_msg=f"{key} at tick {k}")
