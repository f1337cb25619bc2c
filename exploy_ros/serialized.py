"""Serialized messages from raw subscriptions: read by :mod:`exploy.mapping.cdr` when they are
plain CDR of everyday size, handed to rclpy's C deserializer otherwise.

The CDR reader is quicker for the small messages a robot sends every tick; rclpy's deserializer
is quicker for huge ones (a JointState of 200,000 joints: 31 ms against 139 ms) and reads every
encapsulation its middleware writes (XCDR2 included), which the reader does not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import exploy_ros.ros_required  # noqa: F401  (first: without rclpy, one line instead of a traceback)

from rclpy.serialization import deserialize_message

RAW_PARSE_MAX_BYTES = 64 * 1024
"""Serialized messages larger than this go to rclpy's deserializer."""

PLAIN_CDR = (b"\x00\x01", b"\x00\x00")
"""Encapsulations the CDR reader reads (plain CDR, little and big endian)."""


def message_when_needed(data: Any, cls: type) -> Any:
    """``data`` as it is (a message object, or bytes for the CDR reader), or rclpy's ``cls``
    message for bytes above :data:`RAW_PARSE_MAX_BYTES` or in an encapsulation other than
    :data:`PLAIN_CDR`. Bytes rclpy cannot read are returned as they are: the CDR reader then
    rejects them in one line."""
    if isinstance(data, bytes) and (len(data) > RAW_PARSE_MAX_BYTES or data[:2] not in PLAIN_CDR):
        try:
            return deserialize_message(data, cls)
        except Exception:  # any failure: left to the CDR reader's one-line rejection
            return data
    return data


def read_serialized(data: bytes, parse: Callable[[bytes], Any], cls: type) -> Any:
    """The message ``data`` holds: ``parse(data)`` (a :mod:`exploy.mapping.cdr` view), or rclpy's
    ``cls`` message where :func:`message_when_needed` says so.

    Raises:
        exploy.mapping.cdr.CdrError: for bytes neither can read.
    """
    msg = message_when_needed(data, cls)
    return parse(msg) if isinstance(msg, bytes) else msg
