"""The read-only message *views* :mod:`exploy.mapping.cdr` parses serialized messages into.

Each holds exactly the attributes of its ROS message that the decoders of
:mod:`exploy.mapping.decoders` read (names as in the message), so a decoder cannot tell a view
from the message. Numeric sequences are read-only numpy arrays over the message's bytes.
"""

from __future__ import annotations

import numpy as np

EMPTY = np.zeros(0, dtype=np.float64)
EMPTY.flags.writeable = False
"""The value of an empty float64 sequence."""


class Time:
    """``builtin_interfaces/Time``."""

    __slots__ = ("sec", "nanosec")

    def __init__(self, sec: int, nanosec: int) -> None:
        self.sec, self.nanosec = sec, nanosec


class Header:
    """``std_msgs/Header``."""

    __slots__ = ("stamp", "frame_id")

    def __init__(self, stamp: Time, frame_id: str) -> None:
        self.stamp, self.frame_id = stamp, frame_id


class Vector3:
    """``geometry_msgs/Vector3`` (also used for ``Point``)."""

    __slots__ = ("x", "y", "z")

    def __init__(self, x: float, y: float, z: float) -> None:
        self.x, self.y, self.z = x, y, z


class Quaternion:
    """``geometry_msgs/Quaternion`` (ROS order x, y, z, w)."""

    __slots__ = ("x", "y", "z", "w")

    def __init__(self, x: float, y: float, z: float, w: float) -> None:
        self.x, self.y, self.z, self.w = x, y, z, w


class JointState:
    """``sensor_msgs/JointState``: ``name`` a tuple, the value fields read-only float64 arrays."""

    __slots__ = ("header", "name", "position", "velocity", "effort")

    def __init__(self, header: Header, name: tuple[str, ...], position: np.ndarray, velocity: np.ndarray,
                 effort: np.ndarray) -> None:
        self.header, self.name = header, name
        self.position, self.velocity, self.effort = position, velocity, effort


class Imu:
    """``sensor_msgs/Imu``; covariances are tuples of nine floats."""

    __slots__ = ("header", "orientation", "orientation_covariance", "angular_velocity",
                 "angular_velocity_covariance", "linear_acceleration", "linear_acceleration_covariance")

    def __init__(self, header: Header, v: tuple[float, ...]) -> None:
        self.header = header
        self.orientation = Quaternion(v[0], v[1], v[2], v[3])
        self.orientation_covariance = v[4:13]
        self.angular_velocity = Vector3(v[13], v[14], v[15])
        self.angular_velocity_covariance = v[16:25]
        self.linear_acceleration = Vector3(v[25], v[26], v[27])
        self.linear_acceleration_covariance = v[28:37]


class Twist:
    """``geometry_msgs/Twist``."""

    __slots__ = ("linear", "angular")

    def __init__(self, v: tuple[float, ...]) -> None:
        self.linear, self.angular = Vector3(v[0], v[1], v[2]), Vector3(v[3], v[4], v[5])


class TwistStamped:
    """``geometry_msgs/TwistStamped``."""

    __slots__ = ("header", "twist")

    def __init__(self, header: Header, twist: Twist) -> None:
        self.header, self.twist = header, twist


class Pose:
    """``geometry_msgs/Pose``."""

    __slots__ = ("position", "orientation")

    def __init__(self, v: tuple[float, ...]) -> None:
        self.position, self.orientation = Vector3(v[0], v[1], v[2]), Quaternion(v[3], v[4], v[5], v[6])


class WithCovariance:
    """``PoseWithCovariance`` (``pose``) or ``TwistWithCovariance`` (``twist``); 36 covariance values."""

    __slots__ = ("pose", "twist", "covariance")

    def __init__(self, *, pose: Pose | None = None, twist: Twist | None = None,
                 covariance: np.ndarray = EMPTY) -> None:
        self.pose, self.twist, self.covariance = pose, twist, covariance


class Odometry:
    """``nav_msgs/Odometry``."""

    __slots__ = ("header", "child_frame_id", "pose", "twist")

    def __init__(self, header: Header, child_frame_id: str, pose: WithCovariance, twist: WithCovariance) -> None:
        self.header, self.child_frame_id, self.pose, self.twist = header, child_frame_id, pose, twist


class MultiArrayDimension:
    """``std_msgs/MultiArrayDimension``."""

    __slots__ = ("label", "size", "stride")

    def __init__(self, label: str, size: int, stride: int) -> None:
        self.label, self.size, self.stride = label, size, stride


class MultiArrayLayout:
    """``std_msgs/MultiArrayLayout``."""

    __slots__ = ("dim", "data_offset")

    def __init__(self, dim: tuple[MultiArrayDimension, ...], data_offset: int) -> None:
        self.dim, self.data_offset = dim, data_offset


class MultiArray:
    """``std_msgs/Float32MultiArray`` or ``Float64MultiArray``: ``data`` a read-only array."""

    __slots__ = ("layout", "data")

    def __init__(self, layout: MultiArrayLayout, data: np.ndarray) -> None:
        self.layout, self.data = layout, data
