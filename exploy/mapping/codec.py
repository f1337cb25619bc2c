"""Convert between ROS messages and policy tensors, one topic at a time (numpy only, no rclpy).

- :class:`TopicDecoder` reads a message by attribute, so it takes rclpy messages and rosbags
  dataclass messages alike, and returns one validated array per component.
- :class:`TopicEncoder` turns policy tensors into a plain nested dict holding every field of the
  message; :func:`build_message` turns that dict into a message of any implementation
  (:func:`build_rosbags_message` for rosbags, ``exploy_ros.adapters`` for rclpy).

The per-adapter logic lives in :mod:`exploy.mapping.decoders` and :mod:`exploy.mapping.encoders`.
Conventions: quaternions are x, y, z, w in ROS and w, x, y, z in the policy; decoders and encoders
reorder. JointState / JointTrajectory values are picked and ordered by joint name; a published
JointState carries empty arrays for fields no output is bound to (the ROS way of saying "not
provided"), and a published Imu marks unbound parts with covariance element 0 set to -1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from exploy.mapping.decoders import QUAT_NORM_TOLERANCE, field_decoder, joint_indices
from exploy.mapping.encoders import Stamp, encode_fields
from exploy.mapping.errors import AdapterError
from exploy.mapping.fields import FLOAT32, FLOAT32_MULTI_ARRAY
from exploy.mapping.topic_map import TopicSpec

_HEADER = {"header": "std_msgs/msg/Header"}
NESTED_TYPES: Mapping[str, Mapping[str, str]] = {
    "std_msgs/msg/Header": {"stamp": "builtin_interfaces/msg/Time"},
    "sensor_msgs/msg/JointState": _HEADER,
    "sensor_msgs/msg/Imu": {
        **_HEADER,
        "orientation": "geometry_msgs/msg/Quaternion",
        "angular_velocity": "geometry_msgs/msg/Vector3",
        "linear_acceleration": "geometry_msgs/msg/Vector3",
    },
    "geometry_msgs/msg/Twist": {"linear": "geometry_msgs/msg/Vector3", "angular": "geometry_msgs/msg/Vector3"},
    "geometry_msgs/msg/TwistStamped": {**_HEADER, "twist": "geometry_msgs/msg/Twist"},
    "geometry_msgs/msg/Pose": {"position": "geometry_msgs/msg/Point", "orientation": "geometry_msgs/msg/Quaternion"},
    "geometry_msgs/msg/PoseStamped": {**_HEADER, "pose": "geometry_msgs/msg/Pose"},
    "geometry_msgs/msg/PoseWithCovariance": {"pose": "geometry_msgs/msg/Pose"},
    "geometry_msgs/msg/TwistWithCovariance": {"twist": "geometry_msgs/msg/Twist"},
    "nav_msgs/msg/Odometry": {
        **_HEADER,
        "pose": "geometry_msgs/msg/PoseWithCovariance",
        "twist": "geometry_msgs/msg/TwistWithCovariance",
    },
    "std_msgs/msg/Float32MultiArray": {"layout": "std_msgs/msg/MultiArrayLayout"},
    "std_msgs/msg/Float64MultiArray": {"layout": "std_msgs/msg/MultiArrayLayout"},
    "std_msgs/msg/MultiArrayLayout": {"dim": "std_msgs/msg/MultiArrayDimension[]"},
    "trajectory_msgs/msg/JointTrajectory": {**_HEADER, "points": "trajectory_msgs/msg/JointTrajectoryPoint[]"},
    "trajectory_msgs/msg/JointTrajectoryPoint": {"time_from_start": "builtin_interfaces/msg/Duration"},
}
"""Message type -> field -> type of its sub-messages (``[]``: a list of them)."""

_FLOAT32_MAX = float(np.finfo(np.float32).max)


class TopicDecoder:
    """Reads every component a topic carries from one of its messages.

    Build one per input topic at start-up (joint reordering is precomputed and cached) and call it
    on each message. It is all-or-nothing: if any component of the message is invalid, it raises
    and returns nothing, so the caller keeps the last good values.
    """

    def __init__(self, spec: TopicSpec) -> None:
        """Args:
        spec: The topic (its adapter and bindings) from :func:`exploy.mapping.build_topic_map`.
        """
        self.spec = spec
        self._decoders = tuple((b.component, field_decoder(spec.adapter, b)) for b in spec.bindings)

    def __call__(self, msg: Any) -> dict[str, np.ndarray]:
        """Component name -> tensor (component shape and dtype) read from ``msg``.

        Works on rclpy messages and rosbags dataclass messages of the topic's type.

        Raises:
            AdapterError: on a wrong number of values, a missing joint, NaN/Inf or a value the
                tensor's dtype cannot hold, a non-unit quaternion, an Imu without the bound data.
                The message names the component.
        """
        return {name: decode(msg) for name, decode in self._decoders}


class TopicEncoder:
    """Turns the tensors of one output topic into the fields of its message (a nested dict).

    The dict holds every field of the message (header included where the type has one), with
    numeric arrays as numpy arrays of the message's element type, so both rclpy and rosbags
    messages can be built from it with :func:`build_message`.
    """

    def __init__(self, spec: TopicSpec) -> None:
        """Args:
        spec: The topic (its adapter and bindings) from :func:`exploy.mapping.build_topic_map`.
        """
        self.spec = spec
        self._float32 = spec.adapter in (FLOAT32, FLOAT32_MULTI_ARRAY)

    def _values(self, values: Mapping[str, Any], check_finite: bool) -> dict[str, np.ndarray]:
        out = {}
        for bnd in self.spec.bindings:
            if bnd.component not in values:
                raise AdapterError(f"No value given for output '{bnd.component}' of topic '{self.spec.topic}'")
            arr = np.array(values[bnd.component], dtype=np.float64).reshape(-1)
            if arr.size != bnd.size:
                raise AdapterError(
                    f"'{bnd.component}': got {arr.size} values, expected {bnd.size} (shape {list(bnd.shape)})"
                )
            if check_finite:
                ok = np.abs(arr) <= _FLOAT32_MAX if self._float32 else np.isfinite(arr)
                if not ok.all():
                    bad = np.flatnonzero(~ok)
                    shown = ", ".join(f"[{i}]={arr[i]:.6g}" for i in bad[:6])
                    raise AdapterError(
                        f"'{bnd.component}': output contains NaN or Inf: {shown} ({bad.size} of {arr.size})"
                    )
            out[bnd.field] = arr
        return out

    def __call__(
        self,
        values: Mapping[str, Any],
        *,
        stamp: Stamp = (0, 0),
        frame_id: str = "",
        check_finite: bool = True,
    ) -> dict[str, Any]:
        """The message fields for ``values``.

        Args:
            values: Component name -> tensor (any shape with the component's element count).
            stamp: Header stamp (sec, nanosec), for types with a header.
            frame_id: Header frame id, for types with a header (a binding's ``frame_id`` wins).
            check_finite: Reject NaN/Inf (keep it on for anything driving motors).

        Raises:
            AdapterError: when a component is missing, has the wrong size, or is not finite.
        """
        return encode_fields(self.spec, self._values(values, check_finite), stamp=stamp, frame_id=frame_id)


def build_message(msg_type: str, fields: Mapping[str, Any], make: Callable[[str, dict[str, Any]], Any]) -> Any:
    """Build a message, sub-messages first, from the nested dict of its fields.

    Args:
        msg_type: ROS type of the message, e.g. ``"sensor_msgs/msg/JointState"``.
        fields: Field values; sub-messages as dicts (see :data:`NESTED_TYPES`).
        make: ``make(msg_type, kwargs)`` constructs one message of any implementation.
    """
    nested = NESTED_TYPES.get(msg_type, {})
    kwargs: dict[str, Any] = {}
    for key, value in fields.items():
        sub = nested.get(key)
        if sub is None:
            kwargs[key] = value
        elif sub.endswith("[]"):
            kwargs[key] = [build_message(sub[:-2], item, make) for item in value]
        else:
            kwargs[key] = build_message(sub, value, make)
    return make(msg_type, kwargs)


def build_rosbags_message(typestore: Any, msg_type: str, fields: Mapping[str, Any]) -> Any:
    """Build a rosbags message (e.g. for ``typestore.serialize_cdr``) from encoder fields.

    Args:
        typestore: A rosbags typestore, e.g. ``get_typestore(Stores.ROS2_KILTED)``.
        msg_type: ROS type of the message.
        fields: Every field of the message, as :class:`TopicEncoder` returns them.
    """
    types = typestore.types
    return build_message(msg_type, fields, lambda name, kwargs: types[name](**kwargs))


__all__ = [
    "NESTED_TYPES",
    "QUAT_NORM_TOLERANCE",
    "Stamp",
    "TopicDecoder",
    "TopicEncoder",
    "build_message",
    "build_rosbags_message",
    "joint_indices",
]
