"""Read ROS 2 messages straight from their serialized CDR bytes (numpy and struct only, no rclpy).

A subscription created with ``raw=True`` hands its callback the message as the middleware
serialized it. :func:`cdr_reader` returns, for the adapters a policy reads most (``joint_state``,
``imu``, ``twist``, ``twist_stamped``, ``odometry``), a parser that turns those bytes into a
light read-only *view* with the message's attribute names, which the decoders of
:mod:`exploy.mapping.decoders` read exactly like the message itself. It skips building the Python
message object field by field (rclpy's conversion), the dearest part of taking a small message.

The format is plain CDR (XCDR1), as ROS 2's middlewares write it: a 4-byte encapsulation header
(``00 01``: little endian, ``00 00``: big endian), then the fields in order, each aligned to its
size counted from the end of that header; a string is a ``uint32`` length (its NUL included),
its bytes and a NUL; a sequence is a ``uint32`` count, then its elements (aligned only when there
is one). Bytes after the message are ignored.

Every length is checked against the buffer before it is used: a malformed message raises
:class:`CdrError` (an :class:`~exploy.mapping.errors.AdapterError`, so the node rejects and counts
it like any bad message), never reads past its bytes and never allocates more than its own size.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from exploy.mapping.cdr_views import (
    EMPTY,
    Header,
    Imu,
    JointState,
    MultiArray,
    MultiArrayDimension,
    MultiArrayLayout,
    Odometry,
    Pose,
    Time,
    Twist,
    TwistStamped,
    WithCovariance,
)
from exploy.mapping.errors import AdapterError
from exploy.mapping.fields import (
    FLOAT32_MULTI_ARRAY,
    FLOAT64_MULTI_ARRAY,
    IMU,
    JOINT_STATE,
    ODOMETRY,
    TWIST,
    TWIST_STAMPED,
)

ORIGIN = 4
"""Alignment is counted from the end of the encapsulation header."""

MAX_NAMES_CACHED_BYTES = 64 * 1024
"""A JointState's name list is remembered (and reused while its bytes repeat) only up to this size."""


class CdrError(AdapterError):
    """Serialized bytes that are not a well-formed message of the expected type."""


class _Order:
    """The struct formats of one byte order."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.u32 = struct.Struct(prefix + "I")
        self.stamp = struct.Struct(prefix + "iI")
        self.f8 = np.dtype(prefix + "f8")
        self.f4 = np.dtype(prefix + "f4")
        self.doubles = {n: struct.Struct(f"{prefix}{n}d") for n in (6, 7, 37)}


_ORDERS = {b"\x00\x01": _Order("<"), b"\x00\x00": _Order(">")}


# -- primitives ----------------------------------------------------------------------------------


def _order(data: bytes, what: str) -> _Order:
    if len(data) < ORIGIN:
        raise CdrError(f"{what}: {len(data)} bytes is too short for a serialized message")
    order = _ORDERS.get(bytes(data[:2]))
    if order is None:
        raise CdrError(f"{what}: encapsulation {bytes(data[:2]).hex()} is not plain CDR (00 00 or 00 01)")
    return order


def _align(pos: int, size: int) -> int:
    return pos + (-(pos - ORIGIN) % size)


def _u32(data: bytes, pos: int, o: _Order, what: str) -> tuple[int, int]:
    pos = _align(pos, 4)
    if pos + 4 > len(data):
        raise CdrError(f"{what}: message ends at byte {len(data)}, inside a length field")
    return o.u32.unpack_from(data, pos)[0], pos + 4


def _string(data: bytes, pos: int, o: _Order, what: str) -> tuple[str, int]:
    size, pos = _u32(data, pos, o, what)
    if size == 0:  # some writers send an empty string as length 0
        return "", pos
    end = pos + size
    if end > len(data):
        raise CdrError(f"{what}: a string of {size} bytes runs past the end of the message ({len(data)} bytes)")
    if data[end - 1] != 0:
        raise CdrError(f"{what}: a string is not NUL-terminated")
    try:
        return bytes(data[pos : end - 1]).decode("utf-8"), end
    except UnicodeDecodeError as err:
        raise CdrError(f"{what}: a string is not UTF-8 ({err.reason} at byte {err.start})") from None


def _header(data: bytes, pos: int, o: _Order, what: str) -> tuple[Header, int]:
    pos = _align(pos, 4)
    if pos + 8 > len(data):
        raise CdrError(f"{what}: message ends inside its header stamp ({len(data)} bytes)")
    sec, nanosec = o.stamp.unpack_from(data, pos)
    frame_id, pos = _string(data, pos + 8, o, what)
    return Header(Time(sec, nanosec), frame_id), pos


def _doubles(data: bytes, pos: int, o: _Order, what: str) -> tuple[np.ndarray, int]:
    """A ``float64[]`` sequence as a read-only array over ``data`` (converted when big endian)."""
    count, pos = _u32(data, pos, o, what)
    if count == 0:
        return EMPTY, pos
    pos = _align(pos, 8)
    if count > (len(data) - pos) // 8:
        raise CdrError(f"{what}: a sequence of {count} numbers runs past the end of the message ({len(data)} bytes)")
    return _float64s(data, pos, o, count), pos + 8 * count


def _float64s(data: bytes, pos: int, o: _Order, count: int) -> np.ndarray:
    """``count`` float64 values at ``pos`` (bounds checked by the caller): a read-only view over
    ``data``, or a native-order copy when the message is big endian."""
    arr = np.frombuffer(data, dtype=o.f8, count=count, offset=pos)
    return arr if o.f8.byteorder != ">" else arr.astype(np.float64)


def _fixed(data: bytes, pos: int, o: _Order, n: int, what: str) -> tuple[tuple[float, ...], int]:
    """``n`` consecutive float64 fields (a struct of doubles and fixed arrays of them)."""
    pos = _align(pos, 8)
    if pos + 8 * n > len(data):
        raise CdrError(f"{what}: message ends at byte {len(data)}, before its {n} numbers do")
    return o.doubles[n].unpack_from(data, pos), pos + 8 * n


# -- readers -------------------------------------------------------------------------------------


class JointStateReader:
    """Parses ``sensor_msgs/JointState`` bytes; a name list whose bytes repeat is reused, not re-read."""

    def __init__(self) -> None:
        self._names_at: tuple[bytes, int, tuple[str, ...]] | None = None  # (name bytes, their start, names)

    def __call__(self, data: bytes) -> JointState:
        what = "JointState"
        o = _order(data, what)
        header, pos = _header(data, ORIGIN, o, what)
        names, pos = self._names(data, pos, o, what)
        position, pos = _doubles(data, pos, o, what)
        velocity, pos = _doubles(data, pos, o, what)
        effort, pos = _doubles(data, pos, o, what)
        return JointState(header, names, position, velocity, effort)

    def _names(self, data: bytes, pos: int, o: _Order, what: str) -> tuple[tuple[str, ...], int]:
        cached = self._names_at
        if cached is not None and cached[1] == pos and data[pos : pos + len(cached[0])] == cached[0]:
            return cached[2], pos + len(cached[0])
        start = pos
        count, pos = _u32(data, pos, o, what)
        if count > (len(data) - pos) // 4:  # every string takes at least its 4-byte length
            raise CdrError(f"{what}: {count} names cannot fit in a message of {len(data)} bytes")
        names = []
        for _ in range(count):
            name, pos = _string(data, pos, o, what)
            names.append(name)
        out = tuple(names)
        if pos - start <= MAX_NAMES_CACHED_BYTES:
            self._names_at = (bytes(data[start:pos]), start, out)
        return out, pos


def read_imu(data: bytes) -> Imu:
    """Parses ``sensor_msgs/Imu`` bytes."""
    o = _order(data, "Imu")
    header, pos = _header(data, ORIGIN, o, "Imu")
    values, _ = _fixed(data, pos, o, 37, "Imu")
    return Imu(header, values)


def read_twist(data: bytes) -> Twist:
    """Parses ``geometry_msgs/Twist`` bytes."""
    o = _order(data, "Twist")
    return Twist(_fixed(data, ORIGIN, o, 6, "Twist")[0])


def read_twist_stamped(data: bytes) -> TwistStamped:
    """Parses ``geometry_msgs/TwistStamped`` bytes."""
    o = _order(data, "TwistStamped")
    header, pos = _header(data, ORIGIN, o, "TwistStamped")
    return TwistStamped(header, Twist(_fixed(data, pos, o, 6, "TwistStamped")[0]))


def read_odometry(data: bytes) -> Odometry:
    """Parses ``nav_msgs/Odometry`` bytes."""
    what = "Odometry"
    o = _order(data, what)
    header, pos = _header(data, ORIGIN, o, what)
    child, pos = _string(data, pos, o, what)
    pose, pos = _fixed(data, pos, o, 7, what)
    if pos + 36 * 8 > len(data):
        raise CdrError(f"{what}: message ends at byte {len(data)}, inside its pose covariance")
    pose_cov = _float64s(data, pos, o, 36)
    twist, pos = _fixed(data, pos + 36 * 8, o, 6, what)
    if pos + 36 * 8 > len(data):
        raise CdrError(f"{what}: message ends at byte {len(data)}, inside its twist covariance")
    twist_cov = _float64s(data, pos, o, 36)
    return Odometry(header, child, WithCovariance(pose=Pose(pose), covariance=pose_cov),
                    WithCovariance(twist=Twist(twist), covariance=twist_cov))


def read_uint64_array(data: bytes, *, max_values: int | None = None) -> tuple[int, ...]:
    """The ``data`` of ``std_msgs/UInt64MultiArray`` bytes (its layout is checked for size, then
    skipped); more than ``max_values`` values are refused before any is read."""
    what = "UInt64MultiArray"
    o = _order(data, what)
    _, pos = _layout(data, o, what)
    count, pos = _u32(data, pos, o, what)
    if count == 0:
        return ()
    pos = _align(pos, 8)
    if count > (len(data) - pos) // 8:
        raise CdrError(f"{what}: {count} values run past the end of the message ({len(data)} bytes)")
    if max_values is not None and count > max_values:
        raise CdrError(f"{what}: {count} values, at most {max_values} are read")
    return struct.unpack_from(f"{o.prefix}{count}Q", data, pos)


def _layout(data: bytes, o: _Order, what: str) -> tuple[MultiArrayLayout, int]:
    count, pos = _u32(data, ORIGIN, o, what)
    if count > (len(data) - pos) // 12:  # a dimension takes at least 12 bytes (label length, size, stride)
        raise CdrError(f"{what}: {count} layout dimensions cannot fit in a message of {len(data)} bytes")
    dims = []
    for _ in range(count):
        label, pos = _string(data, pos, o, what)
        size, pos = _u32(data, pos, o, what)
        stride, pos = _u32(data, pos, o, what)
        dims.append(MultiArrayDimension(label, size, stride))
    offset, pos = _u32(data, pos, o, what)
    return MultiArrayLayout(tuple(dims), offset), pos


def _multi_array(data: bytes, what: str, double: bool) -> MultiArray:
    o = _order(data, what)
    layout, pos = _layout(data, o, what)
    count, pos = _u32(data, pos, o, what)
    if count == 0:
        return MultiArray(layout, EMPTY)
    size = 8 if double else 4
    pos = _align(pos, size)
    if count > (len(data) - pos) // size:
        raise CdrError(f"{what}: {count} values run past the end of the message ({len(data)} bytes)")
    dtype = o.f8 if double else o.f4
    values = np.frombuffer(data, dtype=dtype, count=count, offset=pos)
    return MultiArray(layout, values if dtype.byteorder != ">" else values.astype(dtype.newbyteorder("=")))


def read_float32_array(data: bytes) -> MultiArray:
    """Parses ``std_msgs/Float32MultiArray`` bytes."""
    return _multi_array(data, "Float32MultiArray", double=False)


def read_float64_array(data: bytes) -> MultiArray:
    """Parses ``std_msgs/Float64MultiArray`` bytes."""
    return _multi_array(data, "Float64MultiArray", double=True)


_READERS: dict[str, Callable[[], Callable[[bytes], Any]]] = {
    JOINT_STATE: JointStateReader,
    IMU: lambda: read_imu,
    TWIST: lambda: read_twist,
    TWIST_STAMPED: lambda: read_twist_stamped,
    ODOMETRY: lambda: read_odometry,
    FLOAT32_MULTI_ARRAY: lambda: read_float32_array,
    FLOAT64_MULTI_ARRAY: lambda: read_float64_array,
}
"""Adapter -> factory of its reader (a JointState reader keeps per-topic state)."""


def cdr_reader(adapter: str) -> Callable[[bytes], Any] | None:
    """A parser ``bytes -> view`` for messages of ``adapter`` (one per topic), or None when the
    adapter's messages are taken as rclpy objects instead."""
    factory = _READERS.get(adapter)
    return None if factory is None else factory()


__all__ = ["CdrError", "JointStateReader", "cdr_reader", "read_float32_array", "read_float64_array", "read_imu",
           "read_odometry", "read_twist", "read_twist_stamped", "read_uint64_array"]
