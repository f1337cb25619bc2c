"""Export the legged-robot examples and check the file against the torch environment."""

from __future__ import annotations

import json
import pathlib
import warnings
from collections.abc import Callable

import numpy as np
import pytest
import torch

pytest.importorskip("exploy.exporter.core.exporter")

import onnxruntime as ort  # noqa: E402

from exploy.examples.legged_robot import JOINT_NAMES, make_lstm_example, make_mlp_example  # noqa: E402
from exploy.exporter.core.errors import SimRateWarning  # noqa: E402
from exploy.exporter.core.evaluator import evaluate  # noqa: E402
from exploy.exporter.core.exporter import export_environment_as_onnx  # noqa: E402
from exploy.exporter.core.session_wrapper import SessionWrapper  # noqa: E402
from exploy.format import read_metadata  # noqa: E402

FACTORIES = [make_mlp_example, make_lstm_example]
STATE_INPUTS = [
    "obj.robot.joints.pos",
    "obj.robot.joints.vel",
    "obj.robot.base.w_Q_b",
    "obj.robot.base.ang_vel_b_rt_w_in_b",
    "cmd.se2_velocity.base_velocity",
]
MEMORIES = ["last_actions", "joint_pos_target", "joint_pos_history"]


def _export(factory: Callable, folder: pathlib.Path):
    env, actor = factory()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SimRateWarning)
        path = export_environment_as_onnx(env=env, actor=actor, path=folder, filename="policy.onnx")
    return env, actor, pathlib.Path(path)


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_export_matches_environment_over_120_steps_across_resets(
    factory: Callable, tmp_path: pathlib.Path
) -> None:
    env, actor, _ = _export(factory, tmp_path)
    session = SessionWrapper(onnx_folder=tmp_path, onnx_file_name="policy.onnx", actor=actor, optimize=True)
    with torch.inference_mode():
        ok, obs = evaluate(
            env=env,
            context_manager=env.context_manager(),
            session_wrapper=session,
            num_steps=120,
            verbose=False,
            pause_on_failure=False,
        )
    assert ok
    assert obs.shape == (1, 81)
    assert env.episode_step == 120 % 50  # crossed two episode resets


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_file_exposes_typed_adapter_names_and_metadata(factory: Callable, tmp_path: pathlib.Path) -> None:
    _, _, path = _export(factory, tmp_path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = {o.name for o in session.get_outputs()}
    for name in STATE_INPUTS:
        assert name in inputs, name
    assert inputs["obj.robot.base.w_Q_b"] == [1, 4]
    assert inputs["cmd.se2_velocity.base_velocity"] == [1, 3]
    assert "ctx.step_count" in inputs
    for name in MEMORIES:
        assert f"memory.{name}.in" in inputs and f"memory.{name}.out" in outputs
    assert {"actions", "obs"} | {f"output.joint_targets.pd.{item}" for item in ("effort", "pos", "vel")} <= outputs

    meta = read_metadata(path)
    assert meta.decimation == 4
    assert meta.update_rate == pytest.approx(200.0)
    assert meta.policy_rate == pytest.approx(50.0)
    assert meta.group("obj.robot.joints").metadata == {"joint_names": list(JOINT_NAMES)}
    targets = meta.group("output.joint_targets.pd").metadata
    assert targets["names"] == list(JOINT_NAMES)
    assert len(targets["position_limits"]) == len(targets["effort_limits"]) == 12  # read by the node's safety layer
    assert targets["stiffness"] == [25.0] * 12 and targets["damping"] == [0.6] * 12  # the PD law's kp, kd
    assert json.loads(meta.env_metadata["base_names"]) == {"robot": "base"}
    assert meta.env_metadata["robot"] == "exploy_quadruped"
    assert len(meta.observation_names) == 81
    assert meta.component("obj.robot.joints.pos").shape == (1, 12)


def test_lstm_file_carries_hidden_state_as_memory(tmp_path: pathlib.Path) -> None:
    _, _, path = _export(make_lstm_example, tmp_path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = {i.name: i.shape for i in session.get_inputs()}
    assert inputs["memory.actor_hidden_state_0.in"] == [1, 1, 32]
    assert inputs["memory.actor_hidden_state_1.in"] == [1, 1, 32]


def test_process_actions_tick_reads_target_memory_and_current_joint_state(tmp_path: pathlib.Path) -> None:
    """On a non-policy tick the file runs the PD law on the fed target and joints, nothing baked in."""
    env, _, path = _export(make_mlp_example, tmp_path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    default = env.sim.default_joint_pos.numpy()
    feed = {i.name: np.zeros([d for d in i.shape], dtype=np.float32) for i in session.get_inputs()
            if i.name != "ctx.step_count"}
    feed["obj.robot.base.w_Q_b"][0, 0] = 1.0
    q = (default + rng.uniform(-0.2, 0.2, (1, 12))).astype(np.float32)
    qd = rng.uniform(-2.0, 2.0, (1, 12)).astype(np.float32)
    target = (default + rng.uniform(-0.5, 0.5, (1, 12))).astype(np.float32)
    feed.update({"obj.robot.joints.pos": q, "obj.robot.joints.vel": qd, "memory.joint_pos_target.in": target})
    feed["ctx.step_count"] = np.array(1, dtype=np.int32)  # 1 % decimation != 0: ProcessActions

    out = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))

    lower = np.array([[-0.8, -1.0, -2.7] * 4], dtype=np.float32)
    upper = np.array([[0.8, 3.5, -0.9] * 4], dtype=np.float32)
    limit = np.array([[23.7, 23.7, 35.5] * 4], dtype=np.float32)
    clamped = np.clip(target, lower, upper)
    expected = np.clip(25.0 * (clamped - q) - 0.6 * qd, -limit, limit)
    np.testing.assert_allclose(out["output.joint_targets.pd.effort"], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["output.joint_targets.pd.pos"], clamped, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(out["output.joint_targets.pd.vel"], np.zeros((1, 12), dtype=np.float32))
    np.testing.assert_array_equal(out["memory.joint_pos_target.out"], target)


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_runtime_starts_from_the_environments_reset_memory(factory: Callable, tmp_path: pathlib.Path) -> None:
    """Memory that does not start at zero ships its reset value, so the robot starts where the sim does."""
    from exploy.runtime.policy import Policy

    env, _, path = _export(factory, tmp_path)
    env.reset()
    policy = Policy(path)
    memory = policy.memory
    for name in MEMORIES:
        expected = env.context_manager().get_outputs(to_numpy=True)[f"memory.{name}.out"]
        np.testing.assert_allclose(memory[name], expected, rtol=0, atol=1e-7, err_msg=name)
    assert np.abs(memory["joint_pos_target"]).max() > 0.1  # not the zeros default
