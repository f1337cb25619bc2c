"""Filling the simulator node's state messages from a :class:`exploy.sim.mujoco_robot.MujocoRobot`.

Each ``fill_*`` function writes into a message allocated once by the node and returns it; the
JointState and Imu, published every tick, are written straight to their serialized bytes
(:mod:`exploy.mapping.cdr_writers`: no message object per tick). :func:`state_outputs` builds the
node's table of state topics from them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import mujoco
import numpy as np
from sensor_msgs.msg import Imu, JointState

from exploy.mapping.cdr_writers import ImuWriter, JointStateWriter
from exploy.sim.mujoco_robot import MujocoRobot
from exploy.sim.readings import bind_reading
from exploy.sim.wiring import IMU, JOINT_STATE, ODOMETRY, TWIST, TWIST_STAMPED, SimTopics, StateTopic

NS_PER_S = 1_000_000_000


class StateOutput:
    """One state topic of the simulator: its publisher, the message it reuses, and how to fill it.

    Args:
        pub: The publisher.
        msg: The message (or its writer), allocated once.
        fill: ``fill(msg, sec, nsec)`` writes the robot's current state into ``msg`` and returns
            what to publish (the message, or its serialized bytes); None: a constant message.
        period_ns: Publish at most once per this much sim time (0: every tick).
    """

    def __init__(self, pub: Any, msg: Any, fill: Callable[[Any, int, int], Any] | None, *, period_ns: int = 0) -> None:
        self.pub, self.msg, self.fill, self.period_ns = pub, msg, fill, period_ns
        self._due_ns: int | None = None  # next sim time it is published; None: now

    def due(self, now: int, sec: int, nsec: int) -> Any:
        """What to publish (the filled message or its bytes) if it is due at sim time ``now`` (ns), else None."""
        if self.period_ns and self._due_ns is not None and now < self._due_ns:
            return None
        self._due_ns = now + self.period_ns
        return self.msg if self.fill is None else self.fill(self.msg, sec, nsec)


def fill_joint_state(writer: JointStateWriter, robot: MujocoRobot, sec: int, nsec: int) -> bytes:
    """Positions, velocities and applied efforts of the driven joints (the writer's names), serialized."""
    return writer.write(sec * NS_PER_S + nsec, position=robot.joint_pos(), velocity=robot.joint_vel(),
                        effort=robot.joint_effort())


def fill_imu(writer: ImuWriter, values: dict[str, Callable[[], np.ndarray]], sec: int, nsec: int) -> bytes:
    """The Imu fields the policy reads (``orientation`` w, x, y, z; ``angular_velocity``;
    ``linear_acceleration``), each from its bound reading (:mod:`exploy.sim.readings`), serialized."""
    for field, read in values.items():
        if field == "orientation":
            w, x, y, z = read()
            writer.orientation[:] = (x, y, z, w)
        else:
            getattr(writer, field)[:] = read()
    return writer.write(sec * NS_PER_S + nsec)


def fill_twist_stamped(msg: Any, values: dict[str, Callable[[], np.ndarray]], sec: int, nsec: int) -> Any:
    """The TwistStamped fields the policy reads (``linear``, ``angular``), each from its reading."""
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nsec
    for field, read in values.items():
        vec = getattr(msg.twist, field)
        vec.x, vec.y, vec.z = read().tolist()
    return msg


def fill_odometry(msg, robot: MujocoRobot, sec: int, nsec: int):
    """``nav_msgs/Odometry`` of the floating base: pose in the world, twist in the base frame."""
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nsec
    msg.header.frame_id, msg.child_frame_id = "world", robot.base_body or ""
    pose = msg.pose.pose
    pose.position.x, pose.position.y, pose.position.z = robot.base_pos().tolist()
    w, x, y, z = robot.base_quat().tolist()
    pose.orientation.w, pose.orientation.x, pose.orientation.y, pose.orientation.z = w, x, y, z
    lin_b = np.zeros(3)
    mujoco.mju_rotVecQuat(lin_b, robot.base_lin_vel(), np.array([w, -x, -y, -z]))
    twist = msg.twist.twist
    twist.linear.x, twist.linear.y, twist.linear.z = lin_b.tolist()
    twist.angular.x, twist.angular.y, twist.angular.z = robot.base_ang_vel().tolist()
    return msg


def _fill_with(fill: Callable[..., Any], values: dict, msg: Any, sec: int, nsec: int) -> Any:
    return fill(msg, values, sec, nsec)


def _bound(robot: MujocoRobot, state: StateTopic) -> dict[str, Callable[[], np.ndarray]]:
    return {field: bind_reading(robot, reading) for field, reading in state.readings}


def state_outputs(node: Any, robot: MujocoRobot, topics: SimTopics, qos: Any, *, twist: Any,
                  twist_period_ns: int) -> list[StateOutput]:
    """One :class:`StateOutput` per state topic of ``topics``, in publishing order (publishers
    created on ``node``; ``twist``: the constant velocity command, published every ``twist_period_ns``).

    Raises:
        SimError: for a reading the model cannot give (a body, site or sensor it does not have).
    """
    from geometry_msgs.msg import Twist, TwistStamped

    states = []
    for state in topics.states:
        kind = state.msg_type
        if kind == JOINT_STATE:
            states.append(StateOutput(node.create_publisher(JointState, state.topic, qos),
                                      JointStateWriter(list(robot.joint_names)),
                                      lambda m, sec, nsec: fill_joint_state(m, robot, sec, nsec)))
        elif kind == IMU:
            values = _bound(robot, state)
            states.append(StateOutput(node.create_publisher(Imu, state.topic, qos),
                                      ImuWriter(frame_id=robot.imu_site or ""), partial(_fill_with, fill_imu, values)))
        elif kind == TWIST_STAMPED:
            values = _bound(robot, state)
            states.append(StateOutput(node.create_publisher(TwistStamped, state.topic, qos), TwistStamped(),
                                      partial(_fill_with, fill_twist_stamped, values)))
        elif kind == ODOMETRY:
            from nav_msgs.msg import Odometry

            states.append(StateOutput(node.create_publisher(Odometry, state.topic, qos), Odometry(),
                                      lambda m, sec, nsec: fill_odometry(m, robot, sec, nsec)))
        elif kind == TWIST:  # constant: at twist_period_s, not every tick
            states.append(StateOutput(node.create_publisher(Twist, state.topic, qos), twist, None,
                                      period_ns=twist_period_ns))
    return states
