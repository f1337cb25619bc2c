"""The simulator node's gains: the policy file's stiffness/damping for motor joints when none are
given, never on top of a MuJoCo position actuator's own gains (no ROS needed)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("mujoco")

from exploy.sim.errors import SimError  # noqa: E402
from exploy.sim.mujoco_robot import MujocoRobot  # noqa: E402
from exploy_ros.mujoco_sim_parameters import apply_gains, servo_command_mode  # noqa: E402

MJCF = """
<mujoco>
  <worldbody>
    <body name="b"><freejoint/><geom type="sphere" size="0.1"/>
      <body name="l1"><joint name="servo" type="hinge"/><geom type="sphere" size="0.05"/></body>
      <body name="l2"><joint name="motor" type="hinge"/><geom type="sphere" size="0.05"/></body>
    </body>
  </worldbody>
  <actuator>
    <position joint="servo" kp="20" kv="0.5"/>
    <motor joint="motor"/>
  </actuator>
</mujoco>
"""


def _node(kp, kd):
    return SimpleNamespace(robot=MujocoRobot.from_xml(MJCF), kp=np.asarray(kp, float), kd=np.asarray(kd, float))


def test_file_gains_drive_motor_joints_and_servo_joints_keep_the_models() -> None:
    node = _node([0.0, 0.0], [0.0, 0.0])
    notes = apply_gains(node, (np.array([20.0, 30.0]), np.array([0.5, 0.8])))
    assert node.kp.tolist() == [0.0, 30.0] and node.kd.tolist() == [0.0, 0.8] and notes == []


def test_given_gains_win_and_gains_on_servos_or_disagreeing_with_the_model_are_reported() -> None:
    node = _node([5.0, 7.0], [0.1, 0.2])
    notes = apply_gains(node, (np.array([40.0, 30.0]), np.array([0.5, 0.8])))
    assert node.kp.tolist() == [0.0, 7.0] and node.kd.tolist() == [0.0, 0.2]
    assert any("are ignored" in n for n in notes) and any("differ" in n and "servo" in n for n in notes)


def test_position_actuators_take_position_commands_and_refuse_effort_mode() -> None:
    robot = MujocoRobot.from_xml(MJCF)
    assert servo_command_mode("auto", robot) == "position" and servo_command_mode("position", robot) == "position"
    with pytest.raises(SimError, match="joint 'servo' has a MuJoCo position actuator"):
        servo_command_mode("effort", robot)
    motors = MujocoRobot.from_xml(MJCF, joint_names=["motor"])
    assert servo_command_mode("auto", motors) == "auto"


def test_the_policy_period_comes_from_the_file_unless_given() -> None:
    from exploy_ros.mujoco_sim_parameters import DEFAULT_POLICY_PERIOD_S, policy_period

    file = (SimpleNamespace(decimation=2), None)  # 2 ticks per policy step
    assert policy_period(0.0, 100.0, file) == pytest.approx(0.02)  # 2 / 100 Hz, by hand
    assert policy_period(0.0, 400.0, file) == pytest.approx(0.005)
    assert policy_period(0.1, 400.0, file) == 0.1  # given: wins
    assert policy_period(0.0, 400.0, None) == DEFAULT_POLICY_PERIOD_S == 0.02
    for bad in (-0.01, float("nan"), float("inf")):
        with pytest.raises(SimError, match="policy_period_s"):
            policy_period(bad, 100.0, file)
