"""Convert between ROS messages and policy tensors, one topic at a time (numpy only, no rclpy).

- :class:`TopicDecoder` reads a message by attribute, so it takes rclpy messages and rosbags
  dataclass messages alike, and returns one validated array per component.
- :class:`TopicEncoder` turns policy tensors into a plain nested dict holding every field of the
  message; :func:`build_message` turns that dict into a message of any implementation
  (:func:`build_rosbags_message` for rosbags, ``exploy_ros.adapters`` for rclpy).

Conventions: Imu orientation is x, y, z, w in ROS and w, x, y, z in the policy; decoders and
encoders reorder. JointState values are picked and ordered by joint name; a published JointState
carries empty arrays for fields no output is bound to (the ROS way of saying "not provided"), and
a published Imu marks unbound parts with covariance element 0 set to -1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from exploy.mapping.errors import AdapterError
from exploy.mapping.fields import FLOAT32_MULTI_ARRAY, IMU, JOINT_STATE, TWIST
from exploy.mapping.topic_map import FieldBinding, TopicSpec

Stamp = tuple[int, int]
"""A ``builtin_interfaces/msg/Time`` as (sec, nanosec)."""

QUAT_NORM_TOLERANCE = 0.05
"""A decoded Imu orientation whose norm differs from 1 by more than this is rejected."""

NESTED_TYPES: Mapping[str, Mapping[str, str]] = {
    "std_msgs/msg/Header": {"stamp": "builtin_interfaces/msg/Time"},
    "sensor_msgs/msg/JointState": {"header": "std_msgs/msg/Header"},
    "sensor_msgs/msg/Imu": {
        "header": "std_msgs/msg/Header",
        "orientation": "geometry_msgs/msg/Quaternion",
        "angular_velocity": "geometry_msgs/msg/Vector3",
        "linear_acceleration": "geometry_msgs/msg/Vector3",
    },
    "geometry_msgs/msg/Twist": {"linear": "geometry_msgs/msg/Vector3", "angular": "geometry_msgs/msg/Vector3"},
    "std_msgs/msg/Float32MultiArray": {"layout": "std_msgs/msg/MultiArrayLayout"},
    "std_msgs/msg/MultiArrayLayout": {"dim": "std_msgs/msg/MultiArrayDimension[]"},
}
"""Message type -> field -> type of its sub-messages (``[]``: a list of them)."""

_EMPTY = np.zeros(0, dtype=np.float64)
_EMPTY.flags.writeable = False


@functools.lru_cache(maxsize=256)
def joint_indices(wanted: tuple[str, ...], available: tuple[str, ...]) -> np.ndarray:
    """Index into ``available`` of each name in ``wanted``; computed once per pair, then cached.

    Raises:
        AdapterError: when a wanted joint is missing or appears more than once in ``available``.
    """
    index: dict[str, int] = {}
    dups = set()
    for i, name in enumerate(available):
        if name in index:
            dups.add(name)
        index[name] = i
    missing = [n for n in wanted if n not in index]
    if missing:
        raise AdapterError(f"JointState lacks joint(s) {missing} (it has {list(available)})")
    ambiguous = sorted(dups.intersection(wanted))
    if ambiguous:
        raise AdapterError(f"JointState names joint(s) {ambiguous} more than once")
    out = np.fromiter((index[n] for n in wanted), dtype=np.intp, count=len(wanted))
    out.flags.writeable = False
    return out


def _finish(values: np.ndarray, bnd: FieldBinding, dtype: np.dtype, what: str) -> np.ndarray:
    out = values.astype(dtype).reshape(bnd.shape)
    if not np.isfinite(out).all():
        raise AdapterError(f"'{bnd.component}': {what} contains NaN or Inf: {values.tolist()}")
    return out


def _xyz(vec: Any) -> np.ndarray:
    return np.array((vec.x, vec.y, vec.z), dtype=np.float64)


def _field_decoder(adapter: str, bnd: FieldBinding) -> Callable[[Any], np.ndarray]:
    """A function reading ``bnd``'s tensor from a message (validated, shaped, typed)."""
    dtype = np.dtype(bnd.dtype)
    fld = bnd.field
    if adapter == FLOAT32_MULTI_ARRAY:

        def decode(msg: Any) -> np.ndarray:
            values = np.asarray(msg.data, dtype=np.float64)
            if values.size != bnd.size:
                raise AdapterError(
                    f"'{bnd.component}': Float32MultiArray has {values.size} values, expected {bnd.size} "
                    f"(shape {list(bnd.shape)})"
                )
            return _finish(values, bnd, dtype, "data")

    elif adapter == JOINT_STATE:
        wanted = bnd.names or ()

        def decode(msg: Any) -> np.ndarray:
            names = msg.name
            values = np.asarray(getattr(msg, fld), dtype=np.float64)
            if len(values) != len(names):
                raise AdapterError(
                    f"'{bnd.component}': JointState has {len(names)} names but {len(values)} {fld} values"
                )
            try:
                idx = joint_indices(wanted, tuple(names))
            except AdapterError as err:
                raise AdapterError(f"'{bnd.component}': {err}") from err
            return _finish(values[idx], bnd, dtype, fld)

    elif adapter == IMU and fld == "orientation":

        def decode(msg: Any) -> np.ndarray:
            if msg.orientation_covariance[0] == -1.0:
                raise AdapterError(f"'{bnd.component}': Imu carries no orientation (orientation_covariance[0] == -1)")
            q = msg.orientation
            values = np.array((q.w, q.x, q.y, q.z), dtype=np.float64)
            norm = float(np.sqrt(values @ values))
            if not abs(norm - 1.0) <= QUAT_NORM_TOLERANCE:  # also catches NaN
                raise AdapterError(f"'{bnd.component}': Imu orientation is not a unit quaternion (norm {norm:.4g})")
            return _finish(values, bnd, dtype, "orientation")

    elif adapter == IMU:
        cov = f"{fld}_covariance"

        def decode(msg: Any) -> np.ndarray:
            if getattr(msg, cov)[0] == -1.0:
                raise AdapterError(f"'{bnd.component}': Imu carries no {fld} ({cov}[0] == -1)")
            return _finish(_xyz(getattr(msg, fld)), bnd, dtype, fld)

    elif adapter == TWIST and fld == "se2":

        def decode(msg: Any) -> np.ndarray:
            values = np.array((msg.linear.x, msg.linear.y, msg.angular.z), dtype=np.float64)
            return _finish(values, bnd, dtype, "twist")

    elif adapter == TWIST:

        def decode(msg: Any) -> np.ndarray:
            return _finish(_xyz(getattr(msg, fld)), bnd, dtype, fld)

    else:
        raise ValueError(f"No decoder for adapter '{adapter}', field '{fld}'")
    return decode


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
        self._decoders = tuple((b.component, _field_decoder(spec.adapter, b)) for b in spec.bindings)

    def __call__(self, msg: Any) -> dict[str, np.ndarray]:
        """Component name -> tensor (component shape and dtype) read from ``msg``.

        Works on rclpy messages and rosbags dataclass messages of the topic's type.

        Raises:
            AdapterError: on a wrong number of values, a missing joint, NaN/Inf, an Imu without
                the bound data or with a non-unit orientation. The message names the component.
        """
        return {name: decode(msg) for name, decode in self._decoders}


def _header(stamp: Stamp, frame_id: str) -> dict[str, Any]:
    return {"stamp": {"sec": int(stamp[0]), "nanosec": int(stamp[1])}, "frame_id": frame_id}


def _vec(values: Sequence[float] | np.ndarray) -> dict[str, float]:
    return {"x": float(values[0]), "y": float(values[1]), "z": float(values[2])}


def _covariance(bound: bool) -> np.ndarray:
    cov = np.zeros(9, dtype=np.float64)
    if not bound:
        cov[0] = -1.0
    return cov


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
        self._names = list(spec.names or ())
        self._layouts = {b.component: _layout(b) for b in spec.bindings}

    def _values(self, values: Mapping[str, Any], check_finite: bool) -> dict[str, np.ndarray]:
        out = {}
        for bnd in self.spec.bindings:
            if bnd.component not in values:
                raise AdapterError(f"No value given for output '{bnd.component}' of topic '{self.spec.topic}'")
            arr = np.array(values[bnd.component], dtype=np.float64).reshape(-1)
            if arr.size != bnd.size:
                raise AdapterError(f"'{bnd.component}': got {arr.size} values, expected {bnd.size} (shape {list(bnd.shape)})")
            if check_finite and not np.isfinite(arr).all():
                raise AdapterError(f"'{bnd.component}': output contains NaN or Inf: {arr.tolist()}")
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
            frame_id: Header frame id, for types with a header.
            check_finite: Reject NaN/Inf (keep it on for anything driving motors).

        Raises:
            AdapterError: when a component is missing, has the wrong size, or is not finite.
        """
        by_field = self._values(values, check_finite)
        adapter = self.spec.adapter
        if adapter == JOINT_STATE:
            fields: dict[str, Any] = {"header": _header(stamp, frame_id), "name": list(self._names)}
            for fld in ("position", "velocity", "effort"):
                fields[fld] = by_field.get(fld, _EMPTY)
            return fields
        if adapter == FLOAT32_MULTI_ARRAY:
            bnd = self.spec.bindings[0]
            return {"layout": self._layouts[bnd.component], "data": by_field["data"].astype(np.float32)}
        if adapter == IMU:
            quat = by_field.get("orientation")
            fields = {"header": _header(stamp, frame_id)}
            fields["orientation"] = (
                {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0}
                if quat is None
                else {"x": float(quat[1]), "y": float(quat[2]), "z": float(quat[3]), "w": float(quat[0])}
            )
            fields["orientation_covariance"] = _covariance(quat is not None)
            for fld in ("angular_velocity", "linear_acceleration"):
                vec = by_field.get(fld)
                fields[fld] = _vec((0.0, 0.0, 0.0) if vec is None else vec)
                fields[f"{fld}_covariance"] = _covariance(vec is not None)
            return fields
        if adapter == TWIST:
            linear = by_field.get("linear", np.zeros(3))
            angular = by_field.get("angular", np.zeros(3))
            if "se2" in by_field:
                se2 = by_field["se2"]
                linear, angular = (se2[0], se2[1], 0.0), (0.0, 0.0, se2[2])
            return {"linear": _vec(linear), "angular": _vec(angular)}
        raise ValueError(f"No encoder for adapter '{adapter}'")


def _layout(bnd: FieldBinding) -> dict[str, Any]:
    """``MultiArrayLayout`` fields describing ``bnd``'s tensor shape (row-major strides)."""
    dims = []
    stride = bnd.size
    for i, size in enumerate(bnd.shape):
        dims.append({"label": bnd.component if i == 0 else f"dim{i}", "size": int(size), "stride": int(stride)})
        stride = stride // size if size else 0
    return {"dim": dims, "data_offset": 0}


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
