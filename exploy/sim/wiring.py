"""Which topics a simulator publishes and reads to drive a policy node, and decoding its commands.

:func:`sim_topics` reads them from the policy's topic map (``exploy inspect policy.onnx`` shows
the same map): the ``sensor_msgs/JointState`` input (joint states by name), the
``sensor_msgs/Imu`` input, an optional ``nav_msgs/Odometry`` input, an optional
``geometry_msgs/Twist`` velocity command, and the ``sensor_msgs/JointState`` output (efforts or
position targets by name). :class:`JointCommandDecoder` turns such a command into arrays in the
simulator's joint order. No rclpy: the ROS shell is :mod:`exploy_ros.mujoco_sim_node`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from exploy.bag.layout import resolve_topic
from exploy.mapping.topic_map import TopicMap
from exploy.sim.errors import SimError

__all__ = ["CommandMode", "JointCommand", "JointCommandDecoder", "SimTopics", "sim_topics"]

JOINT_STATE = "sensor_msgs/msg/JointState"
IMU = "sensor_msgs/msg/Imu"
ODOMETRY = "nav_msgs/msg/Odometry"
TWIST = "geometry_msgs/msg/Twist"

CommandMode = Literal["auto", "effort", "position"]


@dataclass(frozen=True)
class SimTopics:
    """Absolute topic names between a simulator and one policy node.

    Attributes:
        joint_state: Joint states the simulator publishes (JointState), or None.
        imu: IMU the simulator publishes (Imu), or None.
        odom: Base odometry the simulator publishes (Odometry), or None.
        twist: Velocity command the simulator publishes for the policy (Twist), or None.
        command: Joint commands the simulator applies (JointState, from the policy node).
        node: Fully qualified name of the policy node (``<node>/step``, ``<node>/tick``).
    """

    joint_state: str | None
    imu: str | None
    odom: str | None
    twist: str | None
    command: str
    node: str

    @property
    def published(self) -> list[str]:
        """Input topics the simulator publishes once per tick, in publishing order."""
        return [t for t in (self.joint_state, self.imu, self.odom, self.twist) if t]


def sim_topics(topic_map: TopicMap, node: str) -> SimTopics:
    """The simulator's topics for a policy node named ``node`` running ``topic_map``.

    Raises:
        SimError: when the policy needs an input a simulator cannot publish (another message
            type, or two topics of one type), or has no JointState output.
    """
    node = "/" + node.strip("/")
    found: dict[str, str] = {}
    for spec in topic_map.inputs:
        if spec.msg_type not in (JOINT_STATE, IMU, ODOMETRY, TWIST):
            raise SimError(
                f"the policy reads {spec.topic} ({spec.msg_type}, {', '.join(spec.components)}), which the MuJoCo "
                "simulator does not publish; map it to JointState, Imu, Odometry or Twist with a mapping file, or "
                "publish it yourself"
            )
        if spec.msg_type in found:
            raise SimError(f"the policy reads two {spec.msg_type} topics ({found[spec.msg_type]}, {spec.topic}); "
                           "the simulator publishes one of each type")
        found[spec.msg_type] = resolve_topic(spec.topic, node)
    commands = [spec for spec in topic_map.outputs if spec.msg_type == JOINT_STATE]
    if not commands:
        raise SimError("the policy has no sensor_msgs/JointState output (joint efforts or position targets) "
                       "for the simulator to apply")
    return SimTopics(
        joint_state=found.get(JOINT_STATE), imu=found.get(IMU), odom=found.get(ODOMETRY), twist=found.get(TWIST),
        command=resolve_topic(commands[0].topic, node), node=node,
    )


@dataclass(frozen=True)
class JointCommand:
    """A decoded joint command in simulator joint order (None: field not commanded).

    With ``effort`` set the efforts are applied and ``pos`` (if the message had positions) is only
    the reference that command tracking is measured against.
    """

    effort: np.ndarray | None
    pos: np.ndarray | None
    vel: np.ndarray | None


class JointCommandDecoder:
    """Turns JointState-like commands (names + arrays) into simulator-ordered arrays.

    Args:
        joint_names: The simulator's joints, in its order; each must appear in every command.
        mode: ``effort``: use the efforts; ``position``: use positions (and velocities when
            given) as PD targets; ``auto``: efforts when present, else positions.
    """

    def __init__(self, joint_names: Sequence[str], *, mode: CommandMode = "auto") -> None:
        if mode not in ("auto", "effort", "position"):
            raise SimError(f"command mode '{mode}' is not one of auto, effort, position")
        self.joint_names = list(joint_names)
        self.mode = mode

    def _order(self, names: Sequence[str]) -> np.ndarray:
        """Index into the command of each simulated joint (the mapping's bounded joint-index cache)."""
        from exploy.mapping.decoders import joint_indices
        from exploy.mapping.errors import AdapterError

        try:
            return joint_indices(tuple(self.joint_names), tuple(names))
        except AdapterError as err:
            given = set(names)
            missing = [n for n in self.joint_names if n not in given]
            if missing:
                shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
                raise SimError(
                    f"the command names no value for joint(s) {shown}; command every simulated joint by name"
                ) from err
            raise SimError(f"{err}; command every simulated joint by name, once") from err

    def decode(self, names: Sequence[str], *, position: Sequence[float], velocity: Sequence[float],
               effort: Sequence[float]) -> JointCommand:
        """Pick this simulator's joints out of one command message's fields.

        Raises:
            SimError: for missing joints, fields whose length differs from the names, missing
                fields for the mode, or non-finite values.
        """
        order = self._order(names)
        n = len(names)

        def field(values: Sequence[float], label: str) -> np.ndarray | None:
            if len(values) == 0:
                return None
            if len(values) != n:
                raise SimError(f"the command's {label} has {len(values)} values for {n} names")
            arr = np.asarray(values, dtype=np.float64)[order]
            if not np.isfinite(arr).all():
                raise SimError(f"the command's {label} contains NaN or inf; keeping the previous command")
            return arr

        eff, pos = field(effort, "effort"), field(position, "position")
        use_effort = self.mode == "effort" or (self.mode == "auto" and eff is not None)
        if use_effort:
            if eff is None:
                raise SimError("effort mode, but the command carries no efforts")
            return JointCommand(effort=eff, pos=pos, vel=None)  # pos: reference for tracking only
        if pos is None:
            raise SimError("the command carries neither efforts nor positions")
        return JointCommand(effort=None, pos=pos, vel=field(velocity, "velocity"))
