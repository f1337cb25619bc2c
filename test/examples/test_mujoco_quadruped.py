"""The MuJoCo quadruped example: it stands, exports and evaluates, and the naive numpy variant is caught."""

from __future__ import annotations

import math
import pathlib
from collections.abc import Callable

import numpy as np
import pytest
import torch

pytest.importorskip("mujoco")

import mujoco  # noqa: E402

from exploy.examples.mujoco_quadruped import (  # noqa: E402
    JOINT_NAMES,
    MujocoQuadrupedEnv,
    make_lstm_example,
    make_mlp_example,
    quadruped_mjcf,
    stance,
)
from exploy.exporter.core.evaluator import run_evaluation  # noqa: E402
from exploy.exporter.core.exporter import export_environment_as_onnx  # noqa: E402
from exploy.exporter.core.session_wrapper import SessionWrapper  # noqa: E402
from exploy.format import read_metadata  # noqa: E402

FACTORIES = [make_mlp_example, make_lstm_example]


def _export_and_evaluate(env, actor, folder: pathlib.Path, steps: int):
    export_environment_as_onnx(env=env, actor=actor, path=folder, filename="policy.onnx")
    session = SessionWrapper(onnx_folder=folder, onnx_file_name="policy.onnx", actor=actor, optimize=True)
    with torch.inference_mode():
        return run_evaluation(env, env.context_manager(), session, steps)


def test_model_has_12_named_motor_joints_an_imu_site_and_a_floor() -> None:
    model = mujoco.MjModel.from_xml_string(quadruped_mjcf())
    assert model.opt.timestep == pytest.approx(0.005)
    assert [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, i) for i in range(model.nu)] == list(JOINT_NAMES)
    assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "imu") >= 0
    assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor") >= 0
    assert model.nkey == 1 and np.allclose(model.key_qpos[0, 7:], stance())


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_hand_set_policy_keeps_the_robot_standing_for_10_s(factory: Callable) -> None:
    torch.set_num_threads(1)
    env, actor = factory()
    obs = env.reset()
    heights, tilts = [], []
    with torch.no_grad():
        for _ in range(int(10.0 / (env.sim_dt * env.decimation))):
            obs, done = env.step(actor(obs))
            assert not done
            w, x, y, z = env.robot.base_quat()
            heights.append(env.robot.base_pos()[2])
            tilts.append(math.degrees(math.acos(min(1.0, 1.0 - 2.0 * (x * x + y * y)))))  # base z vs world z
    assert min(heights) > 0.22, "the base sagged towards the floor"
    assert max(tilts) < 10.0
    assert np.std(heights[-50:]) < 1e-3  # settled, not oscillating


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_export_and_evaluate_pass_with_the_mirrored_state(factory: Callable, tmp_path: pathlib.Path) -> None:
    torch.set_num_threads(1)
    env, actor = factory()
    report = _export_and_evaluate(env, actor, tmp_path, 40)
    assert report.ok, report.summary()
    assert report.per_substep
    meta = read_metadata(tmp_path / "policy.onnx")
    assert meta.update_rate == pytest.approx(200.0)


def test_file_carries_what_upstreams_controller_reads(tmp_path: pathlib.Path) -> None:
    from exploy.cli.main import EXIT_OK, main
    from exploy.exporter.core.exporter import export_environment_as_onnx

    env, actor = make_mlp_example()
    export_environment_as_onnx(env=env, actor=actor, path=tmp_path, filename="policy.onnx")
    assert main(["inspect", "--check-upstream", str(tmp_path / "policy.onnx")]) == EXIT_OK
    targets = read_metadata(tmp_path / "policy.onnx").group("output.joint_targets.pd").metadata
    assert targets["stiffness"] == [30.0] * 12 and len(targets["position_limits"]) == 12


class NaiveNumpyEnv(MujocoQuadrupedEnv):
    """Reads the joint positions with torch.from_numpy inside compute_observations (the trap)."""

    def compute_observations(self) -> torch.Tensor:
        q = torch.from_numpy(self.robot.joint_pos()).float().unsqueeze(0)
        obs = super().compute_observations()
        return torch.cat([obs[:, :9], q - self.default_joint_pos, obs[:, 21:]], dim=-1)


def test_naive_from_numpy_state_is_caught_as_baked_in_constant(tmp_path: pathlib.Path) -> None:
    torch.set_num_threads(1)
    _, actor = make_mlp_example()
    env = NaiveNumpyEnv()
    report = _export_and_evaluate(env, actor, tmp_path, 10)
    assert not report.ok
    first = report.mismatches[0]
    assert first.name == "obs" and first.entries[0] == "joint_pos_rel_FL_hip"
    assert "baked in as a constant" in report.summary()
