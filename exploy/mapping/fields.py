"""The message adapters the mapping layer knows: ROS type, fields, and field sizes.

An *adapter* converts between one ROS message type and one or more policy tensors, each bound to
a *field* of that message:

- ``float32_multi_array`` (``std_msgs/msg/Float32MultiArray``): ``data``, any size (the
  flattened tensor).
- ``joint_state`` (``sensor_msgs/msg/JointState``): ``position``, ``velocity``, ``effort``, one
  value per joint name.
- ``imu`` (``sensor_msgs/msg/Imu``): ``orientation`` (4 values, policy order w, x, y, z),
  ``angular_velocity`` (3), ``linear_acceleration`` (3).
- ``twist`` (``geometry_msgs/msg/Twist``): ``se2`` (3 values: linear.x, linear.y, angular.z),
  ``linear`` (3), ``angular`` (3).
- ``twist_stamped`` (``geometry_msgs/msg/TwistStamped``): the fields of ``twist``.
- ``odometry`` (``nav_msgs/msg/Odometry``): ``position`` (3, ``pose.pose.position``),
  ``orientation`` (4, w, x, y, z), ``linear_velocity`` (3, ``twist.twist.linear``, child frame),
  ``angular_velocity`` (3, ``twist.twist.angular``).
- ``pose_stamped`` (``geometry_msgs/msg/PoseStamped``): ``position`` (3), ``orientation`` (4,
  w, x, y, z), ``pose`` (7: x, y, z, then the quaternion w, x, y, z).
- ``bool`` (``std_msgs/msg/Bool``): ``data`` (1 value, a bool tensor).
- ``float32`` (``std_msgs/msg/Float32``): ``data`` (1 value).
- ``float64_multi_array`` (``std_msgs/msg/Float64MultiArray``): ``data``, one value per joint of
  the message's joint order (ros2_control ``forward_command_controller``), or the flat tensor.
- ``joint_trajectory`` (``trajectory_msgs/msg/JointTrajectory``, one point): ``positions``,
  ``velocities``, ``effort``, one value per joint (``joint_trajectory_controller``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

FLOAT32_MULTI_ARRAY = "float32_multi_array"
JOINT_STATE = "joint_state"
IMU = "imu"
TWIST = "twist"
TWIST_STAMPED = "twist_stamped"
ODOMETRY = "odometry"
POSE_STAMPED = "pose_stamped"
BOOL = "bool"
FLOAT32 = "float32"
FLOAT64_MULTI_ARRAY = "float64_multi_array"
JOINT_TRAJECTORY = "joint_trajectory"

JOINT_ORDER_ADAPTERS = (FLOAT64_MULTI_ARRAY, JOINT_TRAJECTORY)
"""Adapters whose message joint order may be chosen in the mapping file (``joint_order``)."""

NAMED = -1
"""Field size marker: one value per joint name."""

ANY = 0
"""Field size marker: any size (the flattened tensor)."""


@dataclass(frozen=True)
class AdapterInfo:
    """What one adapter converts.

    Attributes:
        name: Adapter name used in mapping files.
        msg_type: ROS message type, e.g. ``"sensor_msgs/msg/JointState"``.
        fields: Field name -> size (:data:`NAMED`, :data:`ANY`, or a fixed element count).
    """

    name: str
    msg_type: str
    fields: Mapping[str, int]

    def expected_size(self, field: str, names: tuple[str, ...] | None) -> int | None:
        """Element count a tensor bound to ``field`` must have, or None when any size fits."""
        size = self.fields[field]
        if size == NAMED:
            return None if names is None else len(names)
        return None if size == ANY else size


ADAPTERS: Mapping[str, AdapterInfo] = MappingProxyType(
    {
        FLOAT32_MULTI_ARRAY: AdapterInfo(
            FLOAT32_MULTI_ARRAY, "std_msgs/msg/Float32MultiArray", MappingProxyType({"data": ANY})
        ),
        JOINT_STATE: AdapterInfo(
            JOINT_STATE,
            "sensor_msgs/msg/JointState",
            MappingProxyType({"position": NAMED, "velocity": NAMED, "effort": NAMED}),
        ),
        IMU: AdapterInfo(
            IMU,
            "sensor_msgs/msg/Imu",
            MappingProxyType({"orientation": 4, "angular_velocity": 3, "linear_acceleration": 3}),
        ),
        TWIST: AdapterInfo(
            TWIST,
            "geometry_msgs/msg/Twist",
            MappingProxyType({"se2": 3, "linear": 3, "angular": 3}),
        ),
        TWIST_STAMPED: AdapterInfo(
            TWIST_STAMPED,
            "geometry_msgs/msg/TwistStamped",
            MappingProxyType({"se2": 3, "linear": 3, "angular": 3}),
        ),
        ODOMETRY: AdapterInfo(
            ODOMETRY,
            "nav_msgs/msg/Odometry",
            MappingProxyType({"position": 3, "orientation": 4, "linear_velocity": 3, "angular_velocity": 3}),
        ),
        POSE_STAMPED: AdapterInfo(
            POSE_STAMPED,
            "geometry_msgs/msg/PoseStamped",
            MappingProxyType({"position": 3, "orientation": 4, "pose": 7}),
        ),
        BOOL: AdapterInfo(BOOL, "std_msgs/msg/Bool", MappingProxyType({"data": 1})),
        FLOAT32: AdapterInfo(FLOAT32, "std_msgs/msg/Float32", MappingProxyType({"data": 1})),
        FLOAT64_MULTI_ARRAY: AdapterInfo(
            FLOAT64_MULTI_ARRAY, "std_msgs/msg/Float64MultiArray", MappingProxyType({"data": NAMED})
        ),
        JOINT_TRAJECTORY: AdapterInfo(
            JOINT_TRAJECTORY,
            "trajectory_msgs/msg/JointTrajectory",
            MappingProxyType({"positions": NAMED, "velocities": NAMED, "effort": NAMED}),
        ),
    }
)
"""Every adapter, by name."""


def adapter_info(name: str) -> AdapterInfo:
    """The adapter called ``name``.

    Raises:
        KeyError: naming the known adapters when ``name`` is unknown.
    """
    try:
        return ADAPTERS[name]
    except KeyError:
        raise KeyError(f"Unknown adapter '{name}'. Known adapters: {', '.join(ADAPTERS)}") from None
