"""The step bundle: one lockstep tick's inputs and sim time in one message (no rclpy).

A driver in lockstep (the MuJoCo simulator node, ``exploy replay --live``) would otherwise send
each input on its own topic and then a ``~/step`` message: one DDS delivery and one executor
callback per message. A step bundle carries the tick's serialized input messages (CDR, as
``rclpy.serialization.serialize_message`` or a rosbag2 file stores them) and the sim time in one
``std_msgs/UInt8MultiArray``; the node decodes each carried message exactly as if it had come on
its topic, then moves its clock. Layout (little-endian)::

    b"XSTB"  u8 version (1)  u64 sim_time_ns  u16 count
    count x ( u16 topic_length  topic (UTF-8)  u32 payload_length  payload )

``topic`` is the input topic as the node's topic map names it (``~/input/...``) or its resolved
absolute name. :func:`pack_step` writes one, :func:`unpack_step` reads and checks one.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from exploy.mapping.errors import AdapterError

__all__ = ["MAX_STEP_INPUTS", "MAX_TOPIC_BYTES", "StepBundle", "StepBundleError", "pack_step", "unpack_step"]

MAGIC = b"XSTB"
VERSION = 1
MAX_STEP_INPUTS = 256
"""Most input messages one bundle may carry."""
MAX_TOPIC_BYTES = 1024
"""Longest topic name in a bundle (bytes)."""

_HEAD = struct.Struct("<4sBQH")
_TOPIC_LEN = struct.Struct("<H")
_PAYLOAD_LEN = struct.Struct("<I")


class StepBundleError(AdapterError):
    """A step bundle that cannot be read (truncated, wrong magic or version, too many inputs)."""


@dataclass(frozen=True)
class StepBundle:
    """One tick of a lockstep driver: the sim time to move to and the input messages before it.

    Attributes:
        sim_time_ns: Sim time (ns) the node's clock moves to once the inputs are taken.
        inputs: ``(topic, payload)`` pairs, in the order the node takes them.
    """

    sim_time_ns: int
    inputs: tuple[tuple[str, bytes], ...]


def pack_step(sim_time_ns: int, inputs: Sequence[tuple[str, bytes]]) -> bytes:
    """The bytes of a step bundle (see the module docstring).

    Raises:
        StepBundleError: for a negative or too large time, too many inputs, or a topic or
            payload too long for the layout.
    """
    if not 0 <= sim_time_ns < 2**64:
        raise StepBundleError(f"sim time {sim_time_ns} ns does not fit an unsigned 64-bit integer")
    if len(inputs) > MAX_STEP_INPUTS:
        raise StepBundleError(f"a step bundle carries at most {MAX_STEP_INPUTS} inputs, got {len(inputs)}")
    parts = [_HEAD.pack(MAGIC, VERSION, sim_time_ns, len(inputs))]
    for topic, payload in inputs:
        name = topic.encode("utf-8")
        if len(name) > MAX_TOPIC_BYTES:
            raise StepBundleError(f"topic name of {len(name)} bytes is longer than {MAX_TOPIC_BYTES}")
        if len(payload) >= 2**32:
            raise StepBundleError(f"the message for {topic[:80]} is {len(payload)} bytes; at most 4 GiB fit")
        parts += [_TOPIC_LEN.pack(len(name)), name, _PAYLOAD_LEN.pack(len(payload)), bytes(payload)]
    return b"".join(parts)


def unpack_step(data: bytes | bytearray | memoryview) -> StepBundle:
    """Read a step bundle, checking every length against the bytes there are.

    Raises:
        StepBundleError: one line saying what is wrong (never reads past the end, never
            allocates more than the message holds).
    """
    view = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
    size = len(view)
    if size < _HEAD.size:
        raise StepBundleError(f"a step bundle has at least {_HEAD.size} bytes, got {size}")
    magic, version, now, count = _HEAD.unpack_from(view, 0)
    if magic != MAGIC:
        raise StepBundleError(f"not a step bundle (starts with {bytes(magic)!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise StepBundleError(f"step bundle version {version} is not {VERSION}: driver and node differ in version")
    if count > MAX_STEP_INPUTS:
        raise StepBundleError(f"a step bundle carries at most {MAX_STEP_INPUTS} inputs, this one says {count}")
    pos = _HEAD.size
    inputs = []
    for index in range(count):
        if pos + _TOPIC_LEN.size > size:
            raise StepBundleError(f"step bundle truncated in input {index + 1} of {count} (topic length)")
        (name_len,) = _TOPIC_LEN.unpack_from(view, pos)
        pos += _TOPIC_LEN.size
        if name_len > MAX_TOPIC_BYTES or pos + name_len + _PAYLOAD_LEN.size > size:
            raise StepBundleError(f"step bundle truncated or bad in input {index + 1} of {count} (topic name)")
        try:
            topic = bytes(view[pos : pos + name_len]).decode("utf-8")
        except UnicodeDecodeError as err:
            raise StepBundleError(f"input {index + 1} of the step bundle has a topic name that is not UTF-8") from err
        pos += name_len
        (payload_len,) = _PAYLOAD_LEN.unpack_from(view, pos)
        pos += _PAYLOAD_LEN.size
        if pos + payload_len > size:
            raise StepBundleError(
                f"step bundle truncated in input {index + 1} of {count} ({topic[:80]}): "
                f"{payload_len} bytes announced, {size - pos} left"
            )
        inputs.append((topic, bytes(view[pos : pos + payload_len])))
        pos += payload_len
    if pos != size:
        raise StepBundleError(f"step bundle has {size - pos} bytes after its {count} inputs")
    return StepBundle(sim_time_ns=now, inputs=tuple(inputs))
