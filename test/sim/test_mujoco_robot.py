"""MujocoRobot: names kept as indices, IMU from a site, PD targets and efforts at every physics step."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")

import mujoco  # noqa: E402

from exploy.examples.mujoco_quadruped import JOINT_NAMES, quadruped_mjcf, stance  # noqa: E402
from exploy.sim.errors import SimError  # noqa: E402
from exploy.sim.mujoco_robot import MujocoRobot  # noqa: E402


@pytest.fixture
def robot() -> MujocoRobot:
    return MujocoRobot.from_xml(quadruped_mjcf())


def test_joints_default_to_the_motor_joints_and_start_at_the_keyframe(robot: MujocoRobot) -> None:
    assert robot.joint_names == list(JOINT_NAMES)
    assert robot.base_body == "base" and robot.imu_site == "imu"
    assert np.allclose(robot.joint_pos(), stance())
    assert robot.joint_lower[1] == pytest.approx(-1.0) and robot.joint_upper[2] == pytest.approx(-0.9)


def test_imu_of_a_site_at_the_base_centre_equals_the_free_joint_state(robot: MujocoRobot) -> None:
    robot.data.qvel[3:6] = [0.3, -0.2, 0.5]  # free joint: angular velocity in the body frame
    robot.data.qpos[3:7] = np.array([0.9, 0.1, -0.2, 0.3]) / np.linalg.norm([0.9, 0.1, -0.2, 0.3])
    mujoco.mj_forward(robot.model, robot.data)
    assert np.allclose(robot.imu_quat(), robot.data.qpos[3:7], atol=1e-12)
    assert np.allclose(robot.imu_ang_vel(), [0.3, -0.2, 0.5], atol=1e-12)
    assert np.allclose(robot.base_ang_vel(), [0.3, -0.2, 0.5])


def test_position_targets_run_a_pd_law_and_efforts_pass_unchanged(robot: MujocoRobot) -> None:
    robot.data.qvel[6:18] = np.linspace(-1.0, 1.0, 12)
    target = np.array(stance()) + 0.1
    robot.set_command(pos=target, kp=20.0, kd=np.full(12, 0.5), effort=np.ones(12))
    q, qd = robot.data.qpos[7:19].copy(), robot.data.qvel[6:18].copy()
    assert np.allclose(robot.control(), 1.0 + 20.0 * (target - q) + 0.5 * (0.0 - qd))
    effort = np.arange(12, dtype=np.float64) - 6.0
    robot.set_command(effort=effort)
    assert robot.control().tolist() == effort.tolist()
    robot.step()
    assert robot.data.ctrl.tolist() == effort.tolist()  # actuators are in joint order here


def test_bad_commands_and_names_are_refused(robot: MujocoRobot) -> None:
    with pytest.raises(SimError, match="NaN"):
        robot.set_command(effort=np.full(12, np.nan))
    with pytest.raises(SimError, match="kp and kd"):
        robot.set_command(pos=np.zeros(12))
    with pytest.raises(SimError, match="3 values for 12"):
        robot.set_command(effort=np.zeros(3))
    with pytest.raises(SimError, match="no joint named 'knee'"):
        MujocoRobot.from_xml(quadruped_mjcf(), joint_names=["knee"])
    with pytest.raises(SimError, match="does not exist"):
        MujocoRobot.from_file("/nonexistent/robot.xml")
    with pytest.raises(SimError, match="does not compile"):
        MujocoRobot.from_xml("<mujoco><worldbody><body></mujoco>")
