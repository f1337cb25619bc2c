"""Write ROS 2 messages of a fixed layout straight to CDR bytes (numpy and struct only, no rclpy).

A message whose names, frame id and array lengths stay the same from one publication to the
next (a robot's JointState, an Imu) has the same byte layout every time: a writer lays it out
once and afterwards only overwrites the stamp and the numbers in place. ``Publisher.publish``
takes the bytes as they are (a serialized message), so no rclpy message object is filled and
converted per publication. :func:`serialize_fields` writes one message of any layout from the
nested field dict of :class:`exploy.mapping.TopicEncoder` (the live replay's inputs). The format
is the one :mod:`exploy.mapping.cdr` reads: plain CDR, little endian, alignment counted from the
end of the 4-byte encapsulation header.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from exploy.mapping.cdr import ORIGIN
from exploy.mapping.fields import FLOAT32_MULTI_ARRAY, FLOAT64_MULTI_ARRAY, IMU, JOINT_STATE, TWIST, TWIST_STAMPED

_ENCAPSULATION = b"\x00\x01\x00\x00"  # plain CDR, little endian
_U32 = struct.Struct("<I")
_STAMP = struct.Struct("<iI")
NS_PER_S = 1_000_000_000


class _Layout:
    """A growing little-endian CDR buffer that remembers where each numeric block starts."""

    def __init__(self) -> None:
        self.buf = bytearray(_ENCAPSULATION)

    def align(self, size: int) -> None:
        self.buf += bytes(-(len(self.buf) - ORIGIN) % size)

    def u32(self, value: int) -> None:
        self.align(4)
        self.buf += _U32.pack(value)

    def string(self, text: str) -> None:
        raw = text.encode("utf-8")
        self.u32(len(raw) + 1)
        self.buf += raw + b"\x00"

    def header(self, frame_id: str) -> int:
        """Stamp (zero) and frame id; returns the stamp's offset."""
        self.align(4)
        at = len(self.buf)
        self.buf += _STAMP.pack(0, 0)
        self.string(frame_id)
        return at

    def doubles(self, count: int, *, sequence: bool) -> int:
        """``count`` zero float64 values (a sequence gets its length first); returns their offset."""
        if sequence:
            self.u32(count)
            if count == 0:  # an empty sequence is not aligned
                return len(self.buf)
        self.align(8)
        at = len(self.buf)
        self.buf += bytes(8 * count)
        return at


class _Writer:
    """The shared part: a laid-out buffer, its stamp offset, and float64 views into it."""

    def __init__(self, layout: _Layout, stamp_at: int) -> None:
        self._buf = layout.buf
        self._stamp_at = stamp_at

    def _view(self, offset: int, count: int) -> np.ndarray:
        return np.frombuffer(self._buf, dtype="<f8", count=count, offset=offset)

    def _finish(self, stamp_ns: int) -> bytes:
        sec, nanosec = divmod(stamp_ns, NS_PER_S)
        _STAMP.pack_into(self._buf, self._stamp_at, sec, nanosec)
        return bytes(self._buf)


class JointStateWriter(_Writer):
    """``sensor_msgs/JointState`` bytes for fixed joint ``names``.

    Args:
        names: The joints, in message order.
        fields: The value fields carried, one value per joint each (the others are sent empty,
            ROS's "not provided").
        frame_id: The header's frame id.
    """

    FIELDS = ("position", "velocity", "effort")

    def __init__(self, names: Sequence[str], *, fields: Sequence[str] = FIELDS, frame_id: str = "") -> None:
        unknown = set(fields) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"JointState has no field(s) {sorted(unknown)}")
        layout = _Layout()
        stamp_at = layout.header(frame_id)
        layout.u32(len(names))
        for name in names:
            layout.string(name)
        self.size = len(names)
        offsets = {f: layout.doubles(self.size if f in fields else 0, sequence=True) for f in self.FIELDS}
        super().__init__(layout, stamp_at)
        self._views = {f: self._view(offsets[f], self.size) for f in self.FIELDS if f in fields}

    def write(self, stamp_ns: int, **values: np.ndarray) -> bytes:
        """The message stamped ``stamp_ns`` (ns) with the given fields' values (one per joint;
        a field not given keeps its previous values).

        Raises:
            KeyError: for a field this writer does not carry.
            ValueError: for a wrong number of values.
        """
        views = self._views
        for field, value in values.items():
            views[field][:] = np.asarray(value).reshape(-1)
        return self._finish(stamp_ns)


class ImuWriter(_Writer):
    """``sensor_msgs/Imu`` bytes; :attr:`values` holds its 37 numbers in message order and is
    written in place: ``orientation`` (x, y, z, w), ``angular_velocity``, ``linear_acceleration``
    and their covariances are views into it (all zero at first).

    Args:
        frame_id: The header's frame id.
    """

    def __init__(self, *, frame_id: str = "") -> None:
        layout = _Layout()
        stamp_at = layout.header(frame_id)
        at = layout.doubles(37, sequence=False)
        super().__init__(layout, stamp_at)
        self.values = self._view(at, 37)
        v = self.values
        self.orientation, self.orientation_covariance = v[0:4], v[4:13]
        self.angular_velocity, self.angular_velocity_covariance = v[13:16], v[16:25]
        self.linear_acceleration, self.linear_acceleration_covariance = v[25:28], v[28:37]

    def write(self, stamp_ns: int) -> bytes:
        """The message stamped ``stamp_ns`` (ns) with the current :attr:`values`."""
        return self._finish(stamp_ns)


class UInt64ArrayWriter:
    """``std_msgs/UInt64MultiArray`` bytes of ``count`` values and an empty layout.

    Args:
        count: The number of values every message carries.
    """

    def __init__(self, count: int) -> None:
        layout = _Layout()
        layout.u32(0)  # layout.dim: none
        layout.u32(0)  # layout.data_offset
        layout.u32(count)
        layout.align(8)
        self._at = len(layout.buf)
        self._buf = layout.buf + bytes(8 * count)
        self._values = struct.Struct(f"<{count}Q")

    def write(self, *values: int) -> bytes:
        """The message carrying ``values`` (each in 0..2**64-1).

        Raises:
            struct.error: for a wrong number of values or one out of range.
        """
        self._values.pack_into(self._buf, self._at, *values)
        return bytes(self._buf)


def _doubles(layout: _Layout, values: Any, count: int | None = None) -> None:
    """float64 values: a sequence (``count`` None) or a fixed array of ``count``."""
    arr = np.asarray(values, dtype="<f8").reshape(-1)
    if count is not None and arr.size != count:
        raise ValueError(f"expected {count} numbers, got {arr.size}")
    at = layout.doubles(arr.size, sequence=count is None)
    layout.buf[at : at + 8 * arr.size] = arr.tobytes()


def _xyz(layout: _Layout, vec: Mapping[str, float]) -> None:
    _doubles(layout, (vec["x"], vec["y"], vec["z"]), 3)


def _header(layout: _Layout, header: Mapping[str, Any]) -> None:
    at = layout.header(header["frame_id"])
    _STAMP.pack_into(layout.buf, at, header["stamp"]["sec"], header["stamp"]["nanosec"])


def _joint_state(layout: _Layout, f: Mapping[str, Any]) -> None:
    _header(layout, f["header"])
    layout.u32(len(f["name"]))
    for name in f["name"]:
        layout.string(name)
    for field in JointStateWriter.FIELDS:
        _doubles(layout, f[field])


def _imu(layout: _Layout, f: Mapping[str, Any]) -> None:
    _header(layout, f["header"])
    q = f["orientation"]
    _doubles(layout, (q["x"], q["y"], q["z"], q["w"]), 4)
    _doubles(layout, f["orientation_covariance"], 9)
    _xyz(layout, f["angular_velocity"])
    _doubles(layout, f["angular_velocity_covariance"], 9)
    _xyz(layout, f["linear_acceleration"])
    _doubles(layout, f["linear_acceleration_covariance"], 9)


def _twist(layout: _Layout, f: Mapping[str, Any]) -> None:
    _xyz(layout, f["linear"])
    _xyz(layout, f["angular"])


def _twist_stamped(layout: _Layout, f: Mapping[str, Any]) -> None:
    _header(layout, f["header"])
    _twist(layout, f["twist"])


def _multi_array(layout: _Layout, f: Mapping[str, Any], dtype: str) -> None:
    layout.u32(len(f["layout"]["dim"]))
    for dim in f["layout"]["dim"]:
        layout.string(dim["label"])
        layout.u32(dim["size"])
        layout.u32(dim["stride"])
    layout.u32(f["layout"]["data_offset"])
    arr = np.asarray(f["data"], dtype=dtype).reshape(-1)
    layout.u32(arr.size)
    if arr.size:
        layout.align(arr.itemsize)
        layout.buf += arr.tobytes()


_SERIALIZERS: dict[str, Callable[[_Layout, Mapping[str, Any]], None]] = {
    JOINT_STATE: _joint_state,
    IMU: _imu,
    TWIST: _twist,
    TWIST_STAMPED: _twist_stamped,
    FLOAT32_MULTI_ARRAY: lambda layout, f: _multi_array(layout, f, "<f4"),
    FLOAT64_MULTI_ARRAY: lambda layout, f: _multi_array(layout, f, "<f8"),
}


def serialize_fields(adapter: str, fields: Mapping[str, Any]) -> bytes | None:
    """The serialized message of ``adapter`` holding ``fields`` (the nested dict of every field,
    as :class:`exploy.mapping.TopicEncoder` returns it), or None for an adapter written as a
    message object instead.

    Raises:
        KeyError, ValueError: for fields that do not make such a message.
    """
    serialize = _SERIALIZERS.get(adapter)
    if serialize is None:
        return None
    layout = _Layout()
    serialize(layout, fields)
    return bytes(layout.buf)


__all__ = ["ImuWriter", "JointStateWriter", "UInt64ArrayWriter", "serialize_fields"]
