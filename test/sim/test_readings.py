"""Readings of a composed (prefixed) MuJoCo model: named sensors, sites, bodies, and position
actuators whose gains act once. Values are checked against MuJoCo's own sensors and hand-computed
actuator forces."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")

import mujoco  # noqa: E402

from exploy.sim.errors import SimError  # noqa: E402
from exploy.sim.mujoco_robot import MujocoRobot  # noqa: E402
from exploy.sim.readings import Reading, bind_reading  # noqa: E402

KP, KV = 12.0, 0.7

# Names prefixed as an MjSpec-composed scene has them; the IMU site is offset and rotated on the trunk.
MJCF = f"""
<mujoco>
  <option timestep="0.002" gravity="0 0 0"/>
  <worldbody>
    <body name="robot/trunk" pos="0 0 1">
      <freejoint name="robot/root"/>
      <geom type="box" size="0.2 0.1 0.05" mass="5"/>
      <site name="robot/imu" pos="0.05 -0.03 0.02" euler="0.3 -0.2 0.5"/>
      <body name="robot/leg" pos="0.2 0 0">
        <joint name="robot/hip" type="hinge" axis="0 1 0" range="-1 1"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.02" mass="0.5"/>
      </body>
      <body name="other/leg" pos="-0.2 0 0">
        <joint name="other/wheel" type="hinge" axis="0 1 0"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.02" mass="0.5"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <position name="robot/hip" joint="robot/hip" kp="{KP}" kv="{KV}"/>
    <motor name="other/wheel" joint="other/wheel"/>
  </actuator>
  <sensor>
    <gyro name="robot/imu_ang_vel" site="robot/imu"/>
    <velocimeter name="robot/imu_lin_vel" site="robot/imu"/>
  </sensor>
</mujoco>
"""


@pytest.fixture
def robot() -> MujocoRobot:
    robot = MujocoRobot.from_xml(MJCF, joint_names=["hip", "wheel"], forward_after_step=True)
    robot.data.qvel[:6] = [0.4, -0.3, 0.2, 0.7, -0.5, 0.9]
    robot.data.qvel[6:] = [0.3, -0.6]
    robot.set_command(pos=np.array([0.4, 0.0]), kp=0.0, kd=0.0)
    robot.step(3)
    return robot


def test_names_resolve_without_their_prefix_and_an_ambiguous_name_is_refused(robot: MujocoRobot) -> None:
    assert robot.joint_names == ["hip", "wheel"] and robot.imu_site == "imu"
    assert robot.servo.tolist() == [True, False]
    with pytest.raises(SimError, match="no joint named 'knee'"):
        MujocoRobot.from_xml(MJCF, joint_names=["knee"])
    with pytest.raises(SimError, match="matches several elements"):
        bind_reading(robot, Reading("body_quat", "leg"))


def test_sensor_readings_are_mujocos_own_values_for_the_current_state(robot: MujocoRobot) -> None:
    gyro = bind_reading(robot, Reading("sensor", "robot/imu_ang_vel"))
    # The site's own computation (a model without the sensor) gives what MuJoCo's sensor measures.
    site = bind_reading(robot, Reading("sensor", "robot/no_such_sensor", fallback=Reading("site_ang_vel", "imu")))
    vel = bind_reading(robot, Reading("sensor", "imu_lin_vel"))
    site_vel = bind_reading(robot, Reading("site_lin_vel", "robot/imu"))
    check = mujoco.MjData(robot.model)  # an independent evaluation of the same state
    check.qpos[:], check.qvel[:] = robot.data.qpos, robot.data.qvel
    mujoco.mj_forward(robot.model, check)
    np.testing.assert_allclose(gyro(), check.sensordata[0:3], atol=1e-12)
    np.testing.assert_allclose(vel(), check.sensordata[3:6], atol=1e-12)
    np.testing.assert_allclose(site(), check.sensordata[0:3], atol=1e-12)
    np.testing.assert_allclose(site_vel(), check.sensordata[3:6], atol=1e-12)
    assert np.abs(gyro()).max() > 0.1
    with pytest.raises(SimError, match="no sensor named 'gone'"):
        bind_reading(robot, Reading("sensor", "gone"))


def test_trunk_orientation_is_the_free_joint_quaternion(robot: MujocoRobot) -> None:
    quat = bind_reading(robot, Reading("body_quat", "trunk"))
    q = robot.data.qpos[3:7]
    assert min(np.abs(quat() - q).max(), np.abs(quat() + q).max()) < 1e-9
    ang = bind_reading(robot, Reading("body_ang_vel", "trunk"))
    np.testing.assert_allclose(ang(), robot.data.qvel[3:6], atol=1e-9)  # free joint: body-frame angular velocity


def test_position_actuators_take_the_target_and_apply_their_gains_once(robot: MujocoRobot) -> None:
    robot.set_command(pos=np.array([0.4, 0.1]), kp=np.array([50.0, 20.0]), kd=np.array([3.0, 1.0]))
    q, qd = robot.joint_pos(), robot.joint_vel()
    ctrl = robot.control()
    assert ctrl[0] == 0.4  # the servo's target, not kp * error: the model's own kp/kv act
    assert ctrl[1] == pytest.approx(20.0 * (0.1 - q[1]) - 1.0 * qd[1])  # the motor: the PD law
    robot.step()  # then mj_forward (forward_after_step): forces of the new state under the held command
    q, qd = robot.joint_pos(), robot.joint_vel()
    assert robot.data.actuator_force[0] == pytest.approx(KP * (0.4 - q[0]) - KV * qd[0], rel=1e-9)
    with pytest.raises(SimError, match="position actuator"):
        robot.set_command(effort=np.zeros(2))
