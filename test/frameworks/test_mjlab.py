"""The mjlab adapter on the shipped Unitree Go1 flat velocity task: export, evaluation at every
substep across a reset, hand-computed observations and targets, the policy node with the default
topic map, and record -> replay. One environment for the whole session (``go1`` in conftest.py;
building it compiles warp kernels, cached under build/warp_cache)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

mjlab = pytest.importorskip("mjlab", reason="the mjlab extra is not installed")

import torch  # noqa: E402
from conftest import GO1_EPISODE_S as EPISODE_S  # noqa: E402
from conftest import GO1_TASK as TASK  # noqa: E402

from exploy.bag.recorder import record  # noqa: E402
from exploy.bag.replay import replay_offline  # noqa: E402
from exploy.exporter.core.evaluator import run_evaluation  # noqa: E402
from exploy.format import read_metadata  # noqa: E402
from exploy.frameworks.mjlab import MjlabExportableEnvironment, MjlabExportError, make_task_export  # noqa: E402
from exploy.runtime.session import SessionWrapper  # noqa: E402


def _robot(made):
    return made.env.env.scene["robot"]


def test_go1_exports_upstream_names_rates_and_actuator_gains(go1):
    made, path = go1
    meta = read_metadata(path)
    names = {c.name: c.kind.value for c in meta.components}
    assert names == {
        "cmd.se2_velocity.twist": "input",
        "obj.robot.joints.pos": "input",
        "obj.robot.joints.vel": "input",
        "obj.robot.trunk.w_Q_b": "input",
        "sensor.imu.robot_imu.ang_vel_b_rt_w_in_b": "input",
        "sensor.imu.robot_imu.lin_vel_b_rt_w_in_b": "input",
        "actions": "memory",
        "joint_pos.raw_actions": "memory",
        "joint_pos.processed_actions": "memory",
        "output.joint_targets.joint_pos.pos": "output",
        "output.joint_targets.joint_pos.vel": "output",
        "output.joint_targets.joint_pos.effort": "output",
    }
    assert (meta.update_rate, meta.decimation) == (200.0, 4)
    assert not made.trained and any("encoder_bias" in n for n in made.notes)
    joint_names = list(_robot(made).joint_names)
    assert meta.group("obj.robot.joints").metadata["joint_names"] == joint_names
    targets = meta.group("output.joint_targets.joint_pos").metadata
    assert targets["names"] == joint_names
    # The Go1 constants: hip/thigh actuators and knee (calf) actuators have their own gains.
    from mjlab.asset_zoo.robots.unitree_go1.go1_constants import GO1_HIP_ACTUATOR_CFG, GO1_KNEE_ACTUATOR_CFG

    for name, kp, kd in zip(joint_names, targets["stiffness"], targets["damping"]):
        cfg = GO1_KNEE_ACTUATOR_CFG if re.search("calf", name) else GO1_HIP_ACTUATOR_CFG
        assert (kp, kd) == pytest.approx((cfg.stiffness, cfg.damping)), name
    ranges = meta.component("cmd.se2_velocity.twist").metadata["ranges"]
    cmd_cfg = made.env.env.command_manager.get_term("twist").cfg.ranges
    assert ranges == {"lin_vel_x": list(cmd_cfg.lin_vel_x), "lin_vel_y": list(cmd_cfg.lin_vel_y),
                      "ang_vel_z": list(cmd_cfg.ang_vel_z)}
    assert json.loads(meta.env_metadata["base_names"]) == {"robot": "trunk"}


def test_evaluate_passes_at_every_substep_across_a_reset(go1):
    made, path = go1
    session = SessionWrapper(path.parent, path.name, actor=made.actor, optimize=False)
    env = made.env.env
    with torch.inference_mode():
        report = run_evaluation(made.env, made.env.context_manager(), session, 80)
    assert report.ok, report.summary()
    assert report.per_substep and report.steps == 80
    # every step: obs + actions, then 4 substeps x (3 outputs + 3 memories)
    assert report.comparisons == 80 * (2 + 4 * 6)
    episode_steps = round(EPISODE_S / env.step_dt)
    assert int(env.episode_length_buf[0]) < 80 and int(env.episode_length_buf[0]) <= episode_steps


def _quat_rotate_inverse(q_wxyz: np.ndarray, v: np.ndarray) -> np.ndarray:
    w, x, y, z = q_wxyz
    rot = np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])
    return rot.T @ v


def test_file_computes_the_observations_and_targets_by_hand(go1):
    made, path = go1
    robot = _robot(made)
    term = made.env.env.action_manager.get_term("joint_pos")
    default = robot.data.default_joint_pos[0].numpy().astype(np.float64)
    scale = np.broadcast_to(np.asarray(term._scale, dtype=np.float64).reshape(-1), (12,))
    rng = np.random.default_rng(3)
    quat = rng.normal(size=4)
    quat /= np.linalg.norm(quat)
    x = {
        "obj.robot.joints.pos": rng.normal(size=12),
        "obj.robot.joints.vel": rng.normal(size=12),
        "obj.robot.trunk.w_Q_b": quat,
        "sensor.imu.robot_imu.ang_vel_b_rt_w_in_b": rng.normal(size=3),
        "sensor.imu.robot_imu.lin_vel_b_rt_w_in_b": rng.normal(size=3),
        "cmd.se2_velocity.twist": np.array([0.5, -0.2, 0.3]),
    }
    last = rng.normal(size=12)
    feed = {k: v.astype(np.float32).reshape(1, -1) for k, v in x.items()}
    for mem in ("actions", "joint_pos.raw_actions", "joint_pos.processed_actions"):
        feed[f"memory.{mem}.in"] = (last if mem == "actions" else np.zeros(12)).astype(np.float32).reshape(1, -1)
    feed["ctx.step_count"] = np.array(0, dtype=np.int32)
    out = SessionWrapper(path.parent, path.name, optimize=False).run(feed)
    expected_obs = np.concatenate([
        x["sensor.imu.robot_imu.lin_vel_b_rt_w_in_b"], x["sensor.imu.robot_imu.ang_vel_b_rt_w_in_b"],
        _quat_rotate_inverse(quat, np.array([0.0, 0.0, -1.0])), x["obj.robot.joints.pos"] - default,
        x["obj.robot.joints.vel"], last, x["cmd.se2_velocity.twist"],
    ])
    np.testing.assert_allclose(out["obs"].reshape(-1), expected_obs, atol=1e-5)
    actions = out["actions"].reshape(-1).astype(np.float64)
    np.testing.assert_allclose(
        out["output.joint_targets.joint_pos.pos"].reshape(-1), default + scale * actions, atol=1e-5
    )
    np.testing.assert_allclose(out["memory.actions.out"].reshape(-1), actions, atol=1e-6)
    # a ProcessActions tick holds the targets from the processed-actions memory, whatever the inputs
    held = {**feed, "memory.joint_pos.processed_actions.in": out["memory.joint_pos.processed_actions.out"],
            "obj.robot.joints.pos": np.zeros((1, 12), np.float32), "ctx.step_count": np.array(1, dtype=np.int32)}
    again = SessionWrapper(path.parent, path.name, optimize=False).run(held)
    np.testing.assert_allclose(
        again["output.joint_targets.joint_pos.pos"], out["output.joint_targets.joint_pos.pos"], atol=1e-6
    )


def test_record_then_replay_matches(go1, tmp_path):
    made, path = go1
    record(made.env, made.actor, path, tmp_path / "bag", num_steps=60)
    replay = replay_offline(tmp_path / "bag", path)
    assert replay.ok, replay.first_divergence
    assert replay.num_ticks == 60 * 4 and replay.sampling == "substep"


def test_refuses_observation_delay_with_the_term_name(go1):
    made, _ = go1
    env = made.env.env
    term_cfg = env.observation_manager._group_obs_term_cfgs["actor"][0]
    old = term_cfg.delay_max_lag
    term_cfg.delay_max_lag = 2
    try:
        with pytest.raises(MjlabExportError, match="observation term 'base_lin_vel' has a delay"):
            MjlabExportableEnvironment(env)
    finally:
        term_cfg.delay_max_lag = old


def test_unknown_task_lists_registered_tasks():
    with pytest.raises(MjlabExportError, match=f"unknown mjlab task 'Nope'.*{TASK}"):
        make_task_export("Nope")
