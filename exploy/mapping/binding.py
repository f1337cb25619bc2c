"""What a topic carries: :class:`FieldBinding` (one component on one field) and :class:`TopicSpec`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from exploy.mapping.fields import FLOAT64_MULTI_ARRAY, JOINT_STATE, JOINT_TRAJECTORY
from exploy.mapping.rules import Direction

NAMED_ADAPTERS = (JOINT_STATE, JOINT_TRAJECTORY, FLOAT64_MULTI_ARRAY)
"""Adapters whose bindings carry joint names (required, except for ``float64_multi_array``)."""


@dataclass(frozen=True)
class FieldBinding:
    """One component bound to one field of a topic's message.

    Attributes:
        component: Full component name (the graph input/output name).
        field: Adapter field (see :mod:`exploy.mapping.fields`), e.g. ``"position"``.
        names: Joint names, in the policy's order, for joint bindings (``joint_state``,
            ``joint_trajectory``, ``float64_multi_array``); else None.
        shape: Tensor shape, batch dimension included (what onnxruntime takes or gives).
        dtype: numpy dtype name of the tensor.
        joint_order: Joint order of the message when it differs from ``names``
            (``float64_multi_array`` / ``joint_trajectory``; each one of ``names``).
        grid: (rows, cols) of a height scan carried as Float32MultiArray, else None.
        frame_id: Frame of the value from the file (``target_frame``), for stamped messages.
    """

    component: str
    field: str
    names: tuple[str, ...] | None
    shape: tuple[int, ...]
    dtype: str = "float32"
    joint_order: tuple[str, ...] | None = None
    grid: tuple[int, int] | None = None
    frame_id: str | None = None

    @property
    def size(self) -> int:
        """Number of elements in the tensor."""
        return math.prod(self.shape)

    @property
    def message_names(self) -> tuple[str, ...] | None:
        """Joint names in the message's order (``joint_order``, else ``names``)."""
        return self.joint_order or self.names


@dataclass(frozen=True)
class TopicSpec:
    """One topic the node subscribes to (input) or publishes (output).

    Attributes:
        topic: Topic name as given (``~/`` names are relative to the node).
        direction: ``"input"`` (subscribe) or ``"output"`` (publish).
        msg_type: ROS message type, e.g. ``"sensor_msgs/msg/JointState"``.
        adapter: Adapter name converting the message, e.g. ``"joint_state"``.
        bindings: The components carried by the message, in policy order; no field twice.
    """

    topic: str
    direction: Direction
    msg_type: str
    adapter: str
    bindings: tuple[FieldBinding, ...]

    @property
    def components(self) -> tuple[str, ...]:
        """Names of the components carried by this topic."""
        return tuple(b.component for b in self.bindings)

    @property
    def names(self) -> tuple[str, ...] | None:
        """Joint names in message order of a published joint message (shared by its bindings), else None."""
        return self.bindings[0].message_names if self.adapter in NAMED_ADAPTERS else None

    def binding(self, component: str) -> FieldBinding:
        """The binding of ``component`` (KeyError when the topic does not carry it)."""
        for bnd in self.bindings:
            if bnd.component == component:
                return bnd
        raise KeyError(f"Topic '{self.topic}' carries no component '{component}' (it carries {list(self.components)})")


__all__ = ["NAMED_ADAPTERS", "FieldBinding", "TopicSpec"]
