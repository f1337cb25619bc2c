"""Read one bound tensor from a message, per adapter and field (numpy only, no rclpy).

:func:`field_decoder` returns a function ``msg -> array`` for one :class:`FieldBinding`. It reads
messages by attribute, so rclpy messages and rosbags dataclass messages both work. Every value is
checked before it is cast: NaN, Inf and values the tensor's dtype cannot hold (1e39 in a float32
tensor) are rejected with an :class:`AdapterError` naming the component, without numpy warnings.
Quaternions are ROS x, y, z, w in messages and w, x, y, z in the policy.
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from exploy.mapping.errors import AdapterError
from exploy.mapping.fields import (
    BOOL,
    FLOAT32,
    FLOAT32_MULTI_ARRAY,
    FLOAT64_MULTI_ARRAY,
    IMU,
    JOINT_STATE,
    JOINT_TRAJECTORY,
    ODOMETRY,
    POSE_STAMPED,
    TWIST,
    TWIST_STAMPED,
)
from exploy.mapping.topic_map import FieldBinding

QUAT_NORM_TOLERANCE = 0.05
"""A decoded orientation whose norm differs from 1 by more than this is rejected."""

MAX_LISTED = 6
"""At most this many values or names are quoted in an error message."""

MAX_NAME_CHARS = 40
"""Longer joint names are cut to this many characters in error messages."""

INDEX_CACHE_ENTRIES = 64
"""Joint-index cache: most name lists remembered (a robot sends one or two)."""

INDEX_CACHE_MAX_CHARS = 64 * 1024
"""Joint-index cache: name lists longer than this (total characters) are not cached."""


def quote_names(names: Sequence[str]) -> str:
    """A bounded rendering of a name list for error messages."""
    shown = [n if len(n) <= MAX_NAME_CHARS else n[:MAX_NAME_CHARS] + "..." for n in list(names[:MAX_LISTED])]
    more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
    return f"{shown}{more}"


class _IndexCache:
    """A small LRU of joint-name lists -> index arrays, bounded by entries and by list size.

    Keyed on the name list itself; a list longer than :data:`INDEX_CACHE_MAX_CHARS` characters is
    computed every time instead of being remembered, so a stream of messages with huge unique
    names cannot grow the process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: collections.OrderedDict[tuple[tuple[str, ...], tuple[str, ...]], np.ndarray] = (
            collections.OrderedDict()
        )

    def get(self, wanted: tuple[str, ...], available: tuple[str, ...]) -> np.ndarray:
        key = (wanted, available)
        cacheable = sum(map(len, available)) <= INDEX_CACHE_MAX_CHARS
        if cacheable:
            with self._lock:
                hit = self._data.get(key)
                if hit is not None:
                    self._data.move_to_end(key)
                    return hit
        out = _compute_indices(wanted, available)
        if cacheable:
            with self._lock:
                self._data[key] = out
                while len(self._data) > INDEX_CACHE_ENTRIES:
                    self._data.popitem(last=False)
        return out

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def _compute_indices(wanted: tuple[str, ...], available: tuple[str, ...]) -> np.ndarray:
    index: dict[str, int] = {}
    dups = set()
    for i, name in enumerate(available):
        if name in index:
            dups.add(name)
        index[name] = i
    missing = [n for n in wanted if n not in index]
    if missing:
        raise AdapterError(f"message lacks joint(s) {quote_names(missing)} (it has {quote_names(available)})")
    ambiguous = sorted(dups.intersection(wanted))
    if ambiguous:
        raise AdapterError(f"message names joint(s) {quote_names(ambiguous)} more than once")
    out = np.fromiter((index[n] for n in wanted), dtype=np.intp, count=len(wanted))
    out.flags.writeable = False
    return out


JOINT_INDEX_CACHE = _IndexCache()
"""The process-wide joint-index cache (bounded)."""


def joint_indices(wanted: tuple[str, ...], available: tuple[str, ...]) -> np.ndarray:
    """Index into ``available`` of each name in ``wanted``; cached (bounded) per pair of lists.

    Raises:
        AdapterError: when a wanted joint is missing or appears more than once in ``available``.
    """
    return JOINT_INDEX_CACHE.get(tuple(wanted), tuple(available))


_LIMITS: dict[np.dtype, float | None] = {}


def _limit(dtype: np.dtype) -> float | None:
    """Largest magnitude ``dtype`` holds (None: not a number type); cached per dtype."""
    if dtype not in _LIMITS:
        if dtype.kind == "f":
            _LIMITS[dtype] = float(np.finfo(dtype).max)
        elif dtype.kind in "iu":
            _LIMITS[dtype] = float(np.iinfo(dtype).max)
        else:
            _LIMITS[dtype] = None
    return _LIMITS[dtype]


def finish(values: np.ndarray, bnd: FieldBinding, dtype: np.dtype, what: str) -> np.ndarray:
    """``values`` (float64) checked, cast to ``dtype`` and shaped like ``bnd``.

    Raises:
        AdapterError: on NaN, Inf or a value ``dtype`` cannot hold (checked before the cast).
    """
    limit = _limit(dtype)
    if values.size and limit is not None and float(np.abs(values).max()) <= limit:  # NaN compares False
        return values.astype(dtype).reshape(bnd.shape)
    ok = np.abs(values) <= limit if limit is not None else np.isfinite(values)  # False for NaN, Inf
    if not ok.all():
        bad = np.flatnonzero(~ok)
        shown = ", ".join(f"[{i}]={values.flat[i]:.6g}" for i in bad[:MAX_LISTED])
        span = f" or a value beyond {dtype.name} range (±{limit:.3g})" if limit is not None else ""
        raise AdapterError(
            f"'{bnd.component}': {what} contains NaN or Inf{span}: {shown}"
            f"{' ...' if bad.size > MAX_LISTED else ''} ({bad.size} of {values.size} values)"
        )
    return values.astype(dtype).reshape(bnd.shape)


def _xyz(vec: Any) -> np.ndarray:
    return np.array((vec.x, vec.y, vec.z), dtype=np.float64)


def _wxyz(bnd: FieldBinding, q: Any, what: str) -> np.ndarray:
    """A ROS quaternion (x, y, z, w) as policy w, x, y, z; rejected unless of unit norm."""
    w, x, y, z = float(q.w), float(q.x), float(q.y), float(q.z)
    norm = math.sqrt(w * w + x * x + y * y + z * z)  # Python floats: overflow gives inf, never a warning
    if not abs(norm - 1.0) <= QUAT_NORM_TOLERANCE:  # also catches NaN and Inf
        raise AdapterError(f"'{bnd.component}': {what} is not a unit quaternion (norm {norm:.4g})")
    return np.array((w, x, y, z), dtype=np.float64)


def _array(values: Any, bnd: FieldBinding, msg_name: str, expected: int) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size != expected:
        raise AdapterError(
            f"'{bnd.component}': {msg_name} has {arr.size} values, expected {expected} (shape {list(bnd.shape)})"
        )
    return arr


def _check_grid(bnd: FieldBinding, layout: Any) -> None:
    """A Float32MultiArray with a 2-D layout must match the height-scan grid (rows, cols)."""
    dims = list(getattr(layout, "dim", None) or ())
    if bnd.grid is None or len(dims) != 2:
        return
    got = (int(dims[0].size), int(dims[1].size))
    if got != bnd.grid:
        raise AdapterError(
            f"'{bnd.component}': height grid is {got[0]}x{got[1]}, expected {bnd.grid[0]}x{bnd.grid[1]} "
            "(rows along y, cols along x, x fastest)"
        )


def _stamped(adapter: str) -> Callable[[Any], Any]:
    """The Twist inside a message of ``adapter``."""
    return (lambda m: m.twist) if adapter == TWIST_STAMPED else (lambda m: m)


def field_decoder(adapter: str, bnd: FieldBinding) -> Callable[[Any], np.ndarray]:
    """A function reading ``bnd``'s tensor from a message of ``adapter`` (validated, shaped, typed).

    Raises:
        ValueError: when ``adapter`` has no field ``bnd.field`` (a programming error; topic maps
            only hold valid pairs).
    """
    dtype = np.dtype(bnd.dtype)
    fld = bnd.field
    if adapter == FLOAT32_MULTI_ARRAY:

        def decode_array(msg: Any) -> np.ndarray:
            _check_grid(bnd, msg.layout)
            return finish(_array(msg.data, bnd, "Float32MultiArray", bnd.size), bnd, dtype, "data")

        return decode_array
    if adapter in (JOINT_STATE, JOINT_TRAJECTORY):
        return _joint_decoder(adapter, bnd, dtype)
    if adapter == FLOAT64_MULTI_ARRAY:
        order = bnd.message_names
        index = None if order is None else np.array([order.index(n) for n in bnd.names or ()], dtype=np.intp)
        count = bnd.size if order is None else len(order)

        def decode_float64(msg: Any) -> np.ndarray:
            values = _array(msg.data, bnd, "Float64MultiArray", count)
            return finish(values if index is None else values[index], bnd, dtype, "data")

        return decode_float64
    if adapter == IMU and fld == "orientation":

        def decode_imu_orientation(msg: Any) -> np.ndarray:
            if msg.orientation_covariance[0] == -1.0:
                raise AdapterError(f"'{bnd.component}': Imu carries no orientation (orientation_covariance[0] == -1)")
            return finish(_wxyz(bnd, msg.orientation, "Imu orientation"), bnd, dtype, "orientation")

        return decode_imu_orientation
    if adapter == IMU and fld in ("angular_velocity", "linear_acceleration"):
        cov = f"{fld}_covariance"

        def decode_imu_vector(msg: Any) -> np.ndarray:
            if getattr(msg, cov)[0] == -1.0:
                raise AdapterError(f"'{bnd.component}': Imu carries no {fld} ({cov}[0] == -1)")
            return finish(_xyz(getattr(msg, fld)), bnd, dtype, fld)

        return decode_imu_vector
    if adapter in (TWIST, TWIST_STAMPED) and fld in ("se2", "linear", "angular"):
        twist = _stamped(adapter)
        if fld == "se2":
            return lambda msg: finish(
                np.array((twist(msg).linear.x, twist(msg).linear.y, twist(msg).angular.z), dtype=np.float64),
                bnd, dtype, "twist",
            )
        return lambda msg: finish(_xyz(getattr(twist(msg), fld)), bnd, dtype, fld)
    if adapter in (ODOMETRY, POSE_STAMPED):
        pose = (lambda m: m.pose.pose) if adapter == ODOMETRY else (lambda m: m.pose)
        if fld == "position":
            return lambda msg: finish(_xyz(pose(msg).position), bnd, dtype, "position")
        if fld == "orientation":
            return lambda msg: finish(_wxyz(bnd, pose(msg).orientation, "orientation"), bnd, dtype, "orientation")
        if fld == "pose":
            return lambda msg: finish(
                np.concatenate((_xyz(pose(msg).position), _wxyz(bnd, pose(msg).orientation, "pose orientation"))),
                bnd, dtype, "pose",
            )
        if adapter == ODOMETRY and fld in ("linear_velocity", "angular_velocity"):
            part = fld.split("_")[0]
            return lambda msg: finish(_xyz(getattr(msg.twist.twist, part)), bnd, dtype, fld)
    if adapter == BOOL:
        return lambda msg: np.full(bnd.shape, bool(msg.data), dtype=dtype)
    if adapter == FLOAT32:
        return lambda msg: finish(np.array([msg.data], dtype=np.float64), bnd, dtype, "data")
    raise ValueError(f"No decoder for adapter '{adapter}', field '{fld}'")


def _joint_decoder(adapter: str, bnd: FieldBinding, dtype: np.dtype) -> Callable[[Any], np.ndarray]:
    """Values of ``bnd``'s joints, picked by name, from a JointState or a JointTrajectory's first point."""
    wanted = bnd.names or ()
    fld = bnd.field
    kind = "JointState" if adapter == JOINT_STATE else "JointTrajectory"

    def decode(msg: Any) -> np.ndarray:
        if adapter == JOINT_STATE:
            names, source = msg.name, msg
        else:
            if len(msg.points) < 1:
                raise AdapterError(f"'{bnd.component}': JointTrajectory has no point")
            names, source = msg.joint_names, msg.points[0]
        values = np.asarray(getattr(source, fld), dtype=np.float64)
        if len(values) != len(names):
            raise AdapterError(f"'{bnd.component}': {kind} has {len(names)} names but {len(values)} {fld} values")
        try:
            idx = joint_indices(wanted, tuple(names))
        except AdapterError as err:
            raise AdapterError(f"'{bnd.component}': {kind} {str(err).removeprefix('message ')}") from err
        return finish(values[idx], bnd, dtype, fld)

    return decode


__all__ = ["QUAT_NORM_TOLERANCE", "field_decoder", "finish", "joint_indices", "quote_names"]
