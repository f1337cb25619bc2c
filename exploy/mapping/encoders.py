"""Write policy tensors into the fields of a message, per adapter (numpy only, no rclpy).

:func:`encode_fields` returns every field of the message as a nested dict (sub-messages as dicts,
numeric arrays as numpy arrays of the message's element type), from which
:func:`exploy.mapping.build_message` builds an rclpy or rosbags message.

Conventions: quaternions are written x, y, z, w (policy w, x, y, z); parts of a message no output
is bound to are neutral (zero vectors, identity orientation; an Imu marks them with covariance
element 0 = -1, a JointState leaves their arrays empty). A JointTrajectory has one point with
``time_from_start`` 0 and a zero header stamp: ``joint_trajectory_controller`` reads that as
"go there now".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

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
from exploy.mapping.topic_map import FieldBinding, TopicSpec

Stamp = tuple[int, int]
"""A ``builtin_interfaces/msg/Time`` as (sec, nanosec)."""

_EMPTY = np.zeros(0, dtype=np.float64)
_EMPTY.flags.writeable = False
_IDENTITY = {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0}


def header(stamp: Stamp, frame_id: str) -> dict[str, Any]:
    """``std_msgs/Header`` fields."""
    return {"stamp": {"sec": int(stamp[0]), "nanosec": int(stamp[1])}, "frame_id": frame_id}


def vec(values: Sequence[float] | np.ndarray | None) -> dict[str, float]:
    """``Vector3`` / ``Point`` fields (zeros for None)."""
    if values is None:
        return {"x": 0.0, "y": 0.0, "z": 0.0}
    return {"x": float(values[0]), "y": float(values[1]), "z": float(values[2])}


def quat(wxyz: Sequence[float] | np.ndarray | None) -> dict[str, float]:
    """``Quaternion`` fields from policy order w, x, y, z (identity for None)."""
    if wxyz is None:
        return dict(_IDENTITY)
    return {"x": float(wxyz[1]), "y": float(wxyz[2]), "z": float(wxyz[3]), "w": float(wxyz[0])}


def _covariance(bound: bool) -> np.ndarray:
    cov = np.zeros(9, dtype=np.float64)
    if not bound:
        cov[0] = -1.0
    return cov


def layout(bnd: FieldBinding, size: int | None = None) -> dict[str, Any]:
    """``MultiArrayLayout`` fields: rows x cols for a height grid, one dimension per joint list,
    else the tensor shape (row-major strides)."""
    if bnd.grid is not None:
        rows, cols = bnd.grid
        dims = [{"label": "y", "size": rows, "stride": rows * cols}, {"label": "x", "size": cols, "stride": cols}]
        return {"dim": dims, "data_offset": 0}
    if size is not None:
        return {"dim": [{"label": "joints", "size": size, "stride": size}], "data_offset": 0}
    dims = []
    stride = bnd.size
    for i, n in enumerate(bnd.shape):
        dims.append({"label": bnd.component if i == 0 else f"dim{i}", "size": int(n), "stride": int(stride)})
        stride = stride // n if n else 0
    return {"dim": dims, "data_offset": 0}


def _twist(by_field: Mapping[str, np.ndarray]) -> dict[str, Any]:
    linear: Any = by_field.get("linear")
    angular: Any = by_field.get("angular")
    if "se2" in by_field:
        se2 = by_field["se2"]
        linear, angular = (se2[0], se2[1], 0.0), (0.0, 0.0, se2[2])
    return {"linear": vec(linear), "angular": vec(angular)}


def message_order(bnd: FieldBinding) -> np.ndarray | None:
    """Index into the policy tensor of each joint of the message (None: the policy's order)."""
    if bnd.joint_order is None or bnd.names is None:
        return None
    out = np.array([bnd.names.index(n) for n in bnd.joint_order], dtype=np.intp)
    out.flags.writeable = False
    return out


def encode_fields(
    spec: TopicSpec, by_field: Mapping[str, np.ndarray], *, stamp: Stamp, frame_id: str
) -> dict[str, Any]:
    """Every field of ``spec``'s message holding ``by_field`` (field -> flat float64 values).

    Raises:
        ValueError: for an adapter without an encoder (a programming error).
    """
    adapter = spec.adapter
    first = spec.bindings[0]
    frame = first.frame_id or frame_id
    if adapter == JOINT_STATE:
        fields: dict[str, Any] = {"header": header(stamp, frame_id), "name": list(spec.names or ())}
        for fld in ("position", "velocity", "effort"):
            fields[fld] = by_field.get(fld, _EMPTY)
        return fields
    if adapter == FLOAT32_MULTI_ARRAY:
        return {"layout": layout(first), "data": by_field["data"].astype(np.float32)}
    if adapter == FLOAT64_MULTI_ARRAY:
        index = message_order(first)
        data = by_field["data"] if index is None else by_field["data"][index]
        size = len(first.message_names) if first.message_names is not None else None
        return {"layout": layout(first, size), "data": np.ascontiguousarray(data, dtype=np.float64)}
    if adapter == JOINT_TRAJECTORY:
        index = message_order(first)
        point: dict[str, Any] = {"accelerations": _EMPTY, "time_from_start": {"sec": 0, "nanosec": 0}}
        for fld in ("positions", "velocities", "effort"):
            values = by_field.get(fld)
            point[fld] = _EMPTY if values is None else (values if index is None else values[index])
        return {"header": header((0, 0), frame_id), "joint_names": list(spec.names or ()), "points": [point]}
    if adapter == IMU:
        orientation = by_field.get("orientation")
        fields = {
            "header": header(stamp, frame_id),
            "orientation": quat(orientation),
            "orientation_covariance": _covariance(orientation is not None),
        }
        for fld in ("angular_velocity", "linear_acceleration"):
            fields[fld] = vec(by_field.get(fld))
            fields[f"{fld}_covariance"] = _covariance(fld in by_field)
        return fields
    if adapter == TWIST:
        return _twist(by_field)
    if adapter == TWIST_STAMPED:
        return {"header": header(stamp, frame), "twist": _twist(by_field)}
    if adapter in (POSE_STAMPED, ODOMETRY):
        position, orientation = by_field.get("position"), by_field.get("orientation")
        if "pose" in by_field:
            position, orientation = by_field["pose"][:3], by_field["pose"][3:]
        pose = {"position": vec(position), "orientation": quat(orientation)}
        if adapter == POSE_STAMPED:
            return {"header": header(stamp, frame), "pose": pose}
        twist = {"linear": vec(by_field.get("linear_velocity")), "angular": vec(by_field.get("angular_velocity"))}
        return {
            "header": header(stamp, frame),
            "child_frame_id": "",
            "pose": {"pose": pose, "covariance": np.zeros(36, dtype=np.float64)},
            "twist": {"twist": twist, "covariance": np.zeros(36, dtype=np.float64)},
        }
    if adapter == BOOL:
        return {"data": bool(by_field["data"][0] != 0)}
    if adapter == FLOAT32:
        return {"data": float(by_field["data"][0])}
    raise ValueError(f"No encoder for adapter '{adapter}'")


__all__ = ["Stamp", "encode_fields", "header", "layout", "message_order", "quat", "vec"]
