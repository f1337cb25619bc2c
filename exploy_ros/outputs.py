"""The policy node's output side: messages built once, refilled in place every tick.

:class:`exploy_ros.adapters.RosMessageEncoder` builds a fresh message per call (a dozen object
allocations for a JointState); at 1 kHz that is most of the tick budget. :class:`OutputWriter`
builds one message per topic at configure time with the adapter (so joint names, layouts and
covariance markers come from the one place that defines them) and afterwards only overwrites the
numeric arrays and the header stamp. The fast path covers JointState, Float32MultiArray, and the
ros2_control messages Float64MultiArray and JointTrajectory (reordered to the mapping file's
``joint_order``); the other adapters (Twist, Imu, Odometry, ...) fall back to the adapter's
encoder. A JointState goes one step further: its serialized bytes are laid out once
(:class:`exploy.mapping.cdr_writers.JointStateWriter`) and published as they are, so no message
object is filled or converted per tick.
"""

from __future__ import annotations

import array
from collections.abc import Mapping
from typing import Any

import numpy as np

from exploy.mapping.cdr_writers import JointStateWriter
from exploy.mapping.encoders import message_order
from exploy.mapping.errors import AdapterError
from exploy.mapping.fields import FLOAT32_MULTI_ARRAY, FLOAT64_MULTI_ARRAY, JOINT_STATE, JOINT_TRAJECTORY
from exploy.mapping.topic_map import TopicSpec
from exploy_ros.adapters import RosMessageEncoder

_FAST = (FLOAT32_MULTI_ARRAY, FLOAT64_MULTI_ARRAY, JOINT_STATE, JOINT_TRAJECTORY)


class OutputWriter:
    """Fills the message of one output topic from the policy's output tensors.

    Args:
        spec: An output topic of the topic map.
        frame_id: Header frame id for message types with a header.
    """

    def __init__(self, spec: TopicSpec, *, frame_id: str = "") -> None:
        self.spec = spec
        self.frame_id = frame_id
        self._encoder = RosMessageEncoder(spec)
        zeros = {b.component: np.zeros(b.shape, dtype=np.float64) for b in spec.bindings}
        self.msg = self._encoder(zeros, frame_id=frame_id)
        self._fast = spec.adapter in _FAST
        self._typecode = "f" if spec.adapter == FLOAT32_MULTI_ARRAY else "d"
        self._npdtype = np.float32 if self._typecode == "f" else np.float64
        self._fields = tuple((b.component, b.field, message_order(b)) for b in spec.bindings)
        # A JointTrajectory's arrays live in its one point; its stamp stays 0 ("start now").
        self._target = self.msg.points[0] if spec.adapter == JOINT_TRAJECTORY else self.msg
        self._has_header = hasattr(self.msg, "header") and spec.adapter != JOINT_TRAJECTORY
        self._bytes: JointStateWriter | None = None
        if spec.adapter == JOINT_STATE:  # the layout the encoder chose: its names, frame id, filled fields
            msg = self.msg
            fields = [f for f in JointStateWriter.FIELDS if len(getattr(msg, f))]
            self._bytes = JointStateWriter(list(msg.name), fields=fields, frame_id=msg.header.frame_id)

    def fill(self, outputs: Mapping[str, np.ndarray], stamp_ns: int) -> Any:
        """The topic's message holding ``outputs`` (by component name), stamped ``stamp_ns``: for
        a JointState its serialized bytes (``Publisher.publish`` takes them as they are), else a
        message object, reused by the next call: publish it before then.

        Raises:
            AdapterError: when an output holds NaN or Inf (nothing is written then).
        """
        if not self._fast:
            sec, nsec = divmod(stamp_ns, 1_000_000_000)
            self.msg = self._encoder(outputs, stamp=(sec, nsec), frame_id=self.frame_id)
            return self.msg
        for component, _, _ in self._fields:
            if not np.isfinite(outputs[component]).all():
                raise AdapterError(f"Output '{component}' holds NaN or Inf: {outputs[component].reshape(-1)[:8]}")
        if self._bytes is not None:
            return self._bytes.write(stamp_ns, **{
                fld: outputs[component] if order is None else np.asarray(outputs[component]).reshape(-1)[order]
                for component, fld, order in self._fields
            })
        msg = self.msg
        for component, fld, order in self._fields:
            values = outputs[component] if order is None else np.asarray(outputs[component]).reshape(-1)[order]
            buf = np.ascontiguousarray(values, dtype=self._npdtype).tobytes()
            setattr(self._target, fld, array.array(self._typecode, buf))
        if self._has_header:
            stamp = msg.header.stamp
            stamp.sec, stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        return msg


class ArrayWriter:
    """A ``Float32MultiArray`` for an unmapped tensor (``actions``, ``obs``), layout included.

    Args:
        label: Label of the first layout dimension.
        shape: Tensor shape.
    """

    def __init__(self, label: str, shape: tuple[int, ...]) -> None:
        from std_msgs.msg import Float32MultiArray, MultiArrayDimension

        self.msg = Float32MultiArray()
        stride = int(np.prod(shape)) if shape else 1
        dims = []
        for i, size in enumerate(shape):
            dims.append(MultiArrayDimension(label=label if i == 0 else f"dim{i}", size=int(size), stride=stride))
            stride = stride // size if size else 0
        self.msg.layout.dim = dims

    def fill(self, value: np.ndarray) -> Any:
        """The message holding ``value`` (reused by the next call)."""
        self.msg.data = array.array("f", np.ascontiguousarray(value, dtype=np.float32).tobytes())
        return self.msg
