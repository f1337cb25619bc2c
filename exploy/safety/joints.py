"""Which tensors of a policy file are joint targets and joint measurements, by joint name.

Outputs with joint names (the component's or its group's ``names`` / ``joint_names`` metadata, or
the names a mapping file gives their JointState binding) are joint targets; their role follows
from the JointState field they are bound to, else from the last part of their name:
``pos``/``position`` (position target), ``vel``/``velocity`` (velocity target),
``effort``/``torque`` (effort). Inputs with joint names and the role ``position`` / ``velocity``
(not ``cmd.*``) are measurements. Outputs and measurements are matched by joint name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from exploy.format.metadata import ComponentSpec, PolicyMetadata
from exploy.mapping.fields import JOINT_STATE
from exploy.mapping.rules import group_chain, metadata_names
from exploy.mapping.topic_map import TopicMap
from exploy.safety.limits import EFFORT_LIMITS_KEY, POSITION_LIMITS_KEY, JointLimits, limits_from_metadata

Role = Literal["position", "velocity", "effort"]
_SUFFIX_ROLES: dict[str, Role] = {
    "pos": "position", "position": "position", "joint_pos": "position",
    "vel": "velocity", "velocity": "velocity", "joint_vel": "velocity",
    "effort": "effort", "torque": "effort", "joint_effort": "effort",
}
_FIELD_ROLES: dict[str, Role] = {"position": "position", "velocity": "velocity", "effort": "effort"}


@dataclass(frozen=True)
class JointTensor:
    """One tensor holding one value per joint.

    Attributes:
        component: Component name.
        role: ``position``, ``velocity`` or ``effort``.
        joints: Joint names in tensor order.
        shape: Tensor shape.
        dtype: numpy dtype name.
        index: For each joint of the tensor, its index in :attr:`JointLayout.joints`, or -1.
    """

    component: str
    role: Role
    joints: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: str
    index: np.ndarray


@dataclass(frozen=True)
class JointLayout:
    """The joint targets and measurements of one policy file.

    Attributes:
        joints: Every joint with a target, in order of first appearance (policy order). Per-joint
            gains are given in this order.
        targets: Output tensors that are joint targets.
        measurements: Input tensors measuring joint positions or velocities.
        other_outputs: Output components that are not joint targets (passed through unchanged
            while running and during the soft start, never published in fallback or e-stop).
        limits: Limits by joint name (metadata, then the limits file).
        unused_limits: Joints of the limits file that no output commands (worth a warning: a
            typo leaves a joint unlimited).
    """

    joints: tuple[str, ...]
    targets: tuple[JointTensor, ...]
    measurements: tuple[JointTensor, ...]
    other_outputs: tuple[str, ...]
    limits: JointLimits
    unused_limits: tuple[str, ...] = ()

    def unmeasured(self, role: Role) -> list[str]:
        """Joints with a target but no measurement of ``role``."""
        seen = np.zeros(len(self.joints), dtype=bool)
        for tensor in self.measurements:
            if tensor.role == role:
                seen[tensor.index[tensor.index >= 0]] = True
        return [name for name, ok in zip(self.joints, seen) if not ok]

    def measure(self, values: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Measured positions and velocities over :attr:`joints` (float64, NaN where unmeasured)."""
        q = np.full(len(self.joints), np.nan)
        qd = np.full(len(self.joints), np.nan)
        for tensor in self.measurements:
            value = values.get(tensor.component)
            if value is None:
                continue
            flat = np.asarray(value, dtype=np.float64).reshape(-1)
            keep = tensor.index >= 0
            (q if tensor.role == "position" else qd)[tensor.index[keep]] = flat[keep]
        return q, qd


def _names(comp: ComponentSpec, meta: PolicyMetadata, topic_map: TopicMap | None) -> tuple[str, ...] | None:
    if topic_map is not None:
        try:
            names = topic_map.binding(comp.name).names
        except KeyError:
            names = None
        if names is not None:
            return tuple(names)
    return metadata_names(comp, meta)


def _role(comp: ComponentSpec, topic_map: TopicMap | None) -> Role | None:
    if topic_map is not None:
        try:
            spec = topic_map.topic_of(comp.name)
        except KeyError:
            spec = None
        if spec is not None and spec.adapter == JOINT_STATE:
            return _FIELD_ROLES.get(spec.binding(comp.name).field)
    return _SUFFIX_ROLES.get(comp.name.rsplit(".", 1)[-1])


def _metadata_chain(comp: ComponentSpec, meta: PolicyMetadata) -> list[tuple[str, dict[str, Any] | None]]:
    chain: list[tuple[str, dict[str, Any] | None]] = [(comp.name, comp.metadata)]
    for name in group_chain(comp, meta):
        try:
            chain.append((name, meta.group(name).metadata))
        except KeyError:
            pass
    return chain


def _metadata_limits(comp: ComponentSpec, joints: tuple[str, ...], meta: PolicyMetadata) -> JointLimits:
    found = JointLimits()
    for key in (POSITION_LIMITS_KEY, EFFORT_LIMITS_KEY):
        for owner, metadata in _metadata_chain(comp, meta):
            if metadata and metadata.get(key) is not None:
                found = found.merged(limits_from_metadata(joints, {key: metadata[key]}, owner=owner))
                break
    return found


def joint_layout(
    meta: PolicyMetadata, *, topic_map: TopicMap | None = None, limits: JointLimits | None = None
) -> JointLayout:
    """The joint targets and measurements of the file described by ``meta``.

    Args:
        meta: The file's metadata.
        topic_map: The node's topic map (joint names and JointState fields a mapping file gives).
        limits: Limits by joint name replacing the metadata's (a ``limits_file``).

    Raises:
        SafetyError: for malformed limit metadata.
    """
    joints: list[str] = []
    targets: list[tuple[ComponentSpec, Role, tuple[str, ...]]] = []
    others: list[str] = []
    found = JointLimits()
    disabled = set(topic_map.disabled_outputs) if topic_map is not None else set()
    for comp in meta.outputs:
        names = _names(comp, meta, topic_map)
        role = _role(comp, topic_map) if names is not None else None
        if names is None or role is None or len(names) != comp.size or comp.name in disabled:
            others.append(comp.name)
            continue
        targets.append((comp, role, names))
        joints += [n for n in names if n not in joints]
        found = found.merged(_metadata_limits(comp, names, meta))
    unused: list[str] = []
    if limits is not None:
        unused = sorted(n for n in {*limits.position, *limits.effort} if n not in joints)
        found = found.merged(limits)
    where = {name: i for i, name in enumerate(joints)}

    def tensor(comp: ComponentSpec, role: Role, names: tuple[str, ...]) -> JointTensor:
        index = np.array([where.get(n, -1) for n in names], dtype=np.intp)
        return JointTensor(comp.name, role, names, tuple(comp.shape), comp.dtype, index)

    measurements = []
    for comp in meta.inputs:
        if comp.name.startswith("cmd."):
            continue
        names = _names(comp, meta, topic_map)
        role = _role(comp, topic_map) if names is not None else None
        if names is not None and role in ("position", "velocity") and len(names) == comp.size:
            measurements.append(tensor(comp, role, names))
    return JointLayout(
        joints=tuple(joints),
        targets=tuple(tensor(*t) for t in targets),
        measurements=tuple(measurements),
        other_outputs=tuple(others),
        limits=found,
        unused_limits=tuple(unused),
    )
