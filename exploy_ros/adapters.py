"""ROS message adapters of the policy node: rclpy messages to and from policy tensors.

The field logic lives in :mod:`exploy.mapping.codec` (no rclpy); this module adds the rclpy
message classes. Nothing here needs ``rclpy.init()``.

Typical use in a node::

    topic_map = build_topic_map(meta, config)
    for spec in topic_map.inputs:
        decode = TopicDecoder(spec)              # once, at start-up
        sub = node.create_subscription(message_class(spec.msg_type), spec.topic, cb, qos)
        ...                                      # in cb: values = decode(msg); AdapterError -> reject
    for spec in topic_map.outputs:
        encode = RosMessageEncoder(spec)
        pub = node.create_publisher(encode.msg_class, spec.topic, qos)
        ...                                      # per tick: pub.publish(encode(outputs, stamp=...))
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from typing import Any

from exploy.mapping.codec import Stamp, TopicDecoder, TopicEncoder, build_message, build_rosbags_message
from exploy.mapping.errors import AdapterError
from exploy.mapping.topic_map import TopicSpec


@functools.cache
def message_class(msg_type: str) -> type:
    """The rclpy message class of a ROS type string, e.g. ``"sensor_msgs/msg/JointState"``.

    Raises:
        ValueError: when the type string is malformed or its package is not installed.
    """
    parts = msg_type.split("/")
    if len(parts) != 3 or parts[1] != "msg":
        raise ValueError(f"Not a ROS message type: {msg_type!r} (expected '<package>/msg/<Name>')")
    try:
        return getattr(importlib.import_module(f"{parts[0]}.msg"), parts[2])
    except (ImportError, AttributeError) as err:
        raise ValueError(f"Message type {msg_type} is not available: {err}. Source its ROS workspace.") from err


def _make(msg_type: str, kwargs: dict[str, Any]) -> Any:
    return message_class(msg_type)(**kwargs)


def build_ros_message(msg_type: str, fields: Mapping[str, Any]) -> Any:
    """Build an rclpy message from the nested dict of its fields (:class:`TopicEncoder` output)."""
    return build_message(msg_type, fields, _make)


class RosMessageEncoder:
    """Encodes the tensors of one output topic into an rclpy message ready to publish."""

    def __init__(self, spec: TopicSpec) -> None:
        """Args:
        spec: An output topic of :func:`exploy.mapping.build_topic_map`.
        """
        self.spec = spec
        self.msg_class = message_class(spec.msg_type)
        self.fields = TopicEncoder(spec)

    def __call__(
        self,
        values: Mapping[str, Any],
        *,
        stamp: Stamp = (0, 0),
        frame_id: str = "",
        check_finite: bool = True,
    ) -> Any:
        """The message for ``values`` (component name -> tensor).

        Raises:
            AdapterError: when a component is missing, has the wrong size, or is not finite.
        """
        fields = self.fields(values, stamp=stamp, frame_id=frame_id, check_finite=check_finite)
        return build_message(self.spec.msg_type, fields, _make)


__all__ = [
    "AdapterError",
    "RosMessageEncoder",
    "Stamp",
    "TopicDecoder",
    "TopicEncoder",
    "build_ros_message",
    "build_rosbags_message",
    "message_class",
]
