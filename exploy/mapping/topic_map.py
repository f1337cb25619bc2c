"""Which ROS topics a policy node subscribes to and publishes, computed from the policy metadata.

Every input and output component of a policy is bound to one field of one topic's message
(:class:`FieldBinding`); components sharing a topic share one message (:class:`TopicSpec`), e.g.
joint positions and velocities both come from one ``sensor_msgs/msg/JointState``. Memory
components never get a topic, and inputs named ``ctx.*`` (the tick counter) are fed by the
runtime itself (:attr:`TopicMap.runtime_inputs`).

The default rules live in :mod:`exploy.mapping.rules`; a mapping file overrides them
(:mod:`exploy.mapping.config`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from exploy.format import ComponentKind, ComponentSpec, PolicyMetadata
from exploy.mapping.config import GROUP_OVERRIDE_KEYS, ComponentOverride, MappingConfig
from exploy.mapping.errors import MappingError
from exploy.mapping.fields import (
    ADAPTERS,
    FLOAT32_MULTI_ARRAY,
    FLOAT64_MULTI_ARRAY,
    JOINT_ORDER_ADAPTERS,
    JOINT_STATE,
    JOINT_TRAJECTORY,
    TWIST,
)
from exploy.mapping.rules import (
    RUNTIME_INPUT_PREFIX,
    Direction,
    default_binding,
    fallback_topic,
    group_chain,
    height_scan_grid,
    item_field,
    metadata_names,
)

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


@dataclass(frozen=True)
class TopicMap:
    """Every topic of a policy node.

    Attributes:
        inputs: Topics to subscribe to, one per message; together they feed every input
            component except :attr:`runtime_inputs`.
        outputs: Topics to publish.
        runtime_inputs: Inputs the runtime feeds itself (``ctx.*``), with no topic.
        disabled_outputs: Outputs the mapping file switched off (``enabled: false``).
    """

    inputs: tuple[TopicSpec, ...]
    outputs: tuple[TopicSpec, ...]
    runtime_inputs: tuple[str, ...] = ()
    disabled_outputs: tuple[str, ...] = ()

    @property
    def topics(self) -> tuple[TopicSpec, ...]:
        """Inputs then outputs."""
        return self.inputs + self.outputs

    def topic(self, name: str) -> TopicSpec:
        """The topic called ``name`` (KeyError when unknown)."""
        for spec in self.topics:
            if spec.topic == name:
                return spec
        raise KeyError(f"No topic '{name}'. Topics: {[s.topic for s in self.topics]}")

    def topic_of(self, component: str) -> TopicSpec:
        """The topic carrying ``component`` (KeyError when it has none)."""
        for spec in self.topics:
            if component in spec.components:
                return spec
        raise KeyError(f"Component '{component}' has no topic")

    def binding(self, component: str) -> FieldBinding:
        """The binding of ``component`` (KeyError when it has no topic)."""
        return self.topic_of(component).binding(component)

    def describe(self) -> str:
        """Human-readable table of the topics and their bindings (for logs and the CLI)."""
        lines = []
        for spec in self.topics:
            lines.append(f"{spec.direction:<6} {spec.topic}  [{spec.msg_type}]")
            for bnd in spec.bindings:
                extra = f", {len(bnd.names)} joints" if bnd.names is not None else ""
                if bnd.joint_order is not None:
                    extra += f", message order {list(bnd.joint_order)[:6]}{'...' if len(bnd.joint_order) > 6 else ''}"
                if bnd.grid is not None:
                    extra += f", grid {bnd.grid[0]}x{bnd.grid[1]} (rows y, cols x, x fastest)"
                if bnd.frame_id:
                    extra += f", frame {bnd.frame_id}"
                lines.append(f"         {bnd.field:<20} <- {bnd.component} {list(bnd.shape)}{extra}")
        for name in self.runtime_inputs:
            lines.append(f"input  (runtime) {name}")
        for name in self.disabled_outputs:
            lines.append(f"output (disabled) {name}")
        return "\n".join(lines)


def _merged_override(comp: ComponentSpec, meta: PolicyMetadata, config: MappingConfig) -> ComponentOverride:
    """Group overrides (outermost first, then inner) with the component's own override on top."""
    merged: dict[str, Any] = {}
    for grp in reversed(group_chain(comp, meta)):
        if grp in config.overrides:
            ovr = config.overrides[grp]
            merged.update({k: getattr(ovr, k) for k in GROUP_OVERRIDE_KEYS if getattr(ovr, k) is not None})
    own = config.overrides.get(comp.name, ComponentOverride())
    merged.update({k: v for k, v in own.__dict__.items() if v is not None})
    return ComponentOverride(**merged)


def _own_or_group_adapter(comp: ComponentSpec, config: MappingConfig) -> bool:
    """True when the component's own mapping entry sets the adapter (not one of its groups)."""
    own = config.overrides.get(comp.name)
    return own is not None and own.adapter is not None


def _resolve(
    comp: ComponentSpec, meta: PolicyMetadata, config: MappingConfig
) -> tuple[Direction, str, str, FieldBinding] | None:
    """(direction, topic, adapter, binding) of one component; None for a disabled output."""
    direction: Direction = "input" if comp.kind is ComponentKind.INPUT else "output"
    prefix = config.input_prefix if direction == "input" else config.output_prefix
    where = f"{config.where}, components.{comp.name}"
    default_adapter, default_field, default_topic = default_binding(comp, direction, prefix, meta)
    ovr = _merged_override(comp, meta, config)
    if ovr.enabled is False:
        if direction == "input":
            raise MappingError(
                f"{where}: 'enabled: false' is only allowed for outputs; the policy reads input "
                f"'{comp.name}' every tick. Remove the key."
            )
        return None
    if ovr.adapter is not None and ovr.adapter != default_adapter:
        adapter = ovr.adapter
        # An adapter set on the component alone moves it off the default topic (whose message type
        # its siblings keep); one set on a group moves every member, so they keep sharing it.
        own_adapter = _own_or_group_adapter(comp, config)
        topic = ovr.topic or (fallback_topic(comp, prefix) if own_adapter else default_topic)
        fld = ovr.field or item_field(adapter, comp.name.rsplit(".", 1)[-1])
        if fld is None:
            raise MappingError(
                f"{where}: cannot tell which field of adapter '{adapter}' component '{comp.name}' "
                f"binds to; add 'field: <one of {list(ADAPTERS[adapter].fields)}>'."
            )
    else:
        adapter, topic, fld = default_adapter, ovr.topic or default_topic, ovr.field or default_field
    info = ADAPTERS[adapter]
    if fld not in info.fields:
        raise MappingError(
            f"{where}: field '{fld}' does not exist for adapter '{adapter}' ({info.msg_type}); "
            f"use one of {list(info.fields)} or set 'adapter'."
        )
    own = config.overrides.get(comp.name)
    if own is not None and own.names is not None and adapter not in NAMED_ADAPTERS:
        raise MappingError(
            f"{where}: 'names' only applies to adapters {list(NAMED_ADAPTERS)}, not '{adapter}'. Remove it."
        )
    names = None
    if adapter in NAMED_ADAPTERS:
        names = ovr.names or metadata_names(comp, meta)
        if names is None and adapter != FLOAT64_MULTI_ARRAY:
            raise MappingError(
                f"Component '{comp.name}' is bound to {info.msg_type.rsplit('/', 1)[-1]} field '{fld}' but has no joint names. "
                f"Export it with metadata 'joint_names' (or 'names') on the component or its group "
                f"{group_chain(comp, meta) or '(none)'}, or in the {config.where} give it "
                f"'names: [...]' or 'adapter: {FLOAT32_MULTI_ARRAY}'."
            )
    joint_order = _joint_order(comp, adapter, names, ovr, where)
    expected = info.expected_size(fld, names)
    if expected is not None and comp.size != expected:
        what = f"{len(names)} joint names" if names is not None else f"{info.msg_type} field '{fld}'"
        raise MappingError(
            f"Component '{comp.name}' has shape {list(comp.shape)} ({comp.size} values) but {what} "
            f"need{'s' if names is None else ''} {expected}. Fix the component's metadata or map it "
            f"to another adapter/field in the {config.where}."
        )
    grid = height_scan_grid(comp, meta) if adapter == FLOAT32_MULTI_ARRAY else None
    frame = (comp.metadata or {}).get("target_frame")
    binding = FieldBinding(
        comp.name, fld, names, tuple(comp.shape), comp.dtype,
        joint_order=joint_order, grid=grid, frame_id=frame if isinstance(frame, str) and frame else None,
    )
    return direction, topic, adapter, binding


def _joint_order(
    comp: ComponentSpec, adapter: str, names: tuple[str, ...] | None, ovr: ComponentOverride, where: str
) -> tuple[str, ...] | None:
    """The checked ``joint_order`` of a binding (None: the policy's order)."""
    order = ovr.joint_order
    if order is None:
        return None
    if adapter not in JOINT_ORDER_ADAPTERS:
        raise MappingError(
            f"{where}: 'joint_order' only applies to adapters {list(JOINT_ORDER_ADAPTERS)}, not '{adapter}'. "
            "Remove it or set the adapter."
        )
    if names is None:
        raise MappingError(
            f"{where}: 'joint_order' needs the policy's joint names to match against, and '{comp.name}' has none. "
            "Export metadata 'names' / 'joint_names', or give 'names: [...]' in policy order."
        )
    unknown = [n for n in order if n not in names]
    if unknown:
        raise MappingError(
            f"{where}.joint_order: joint(s) {unknown[:10]} are not joints of '{comp.name}' "
            f"(it has {list(names)[:20]}{'...' if len(names) > 20 else ''})."
        )
    return None if order == names else order


def _check_config_names(meta: PolicyMetadata, config: MappingConfig) -> None:
    comps = {c.name: c for c in meta.components}
    groups = {g.name for g in meta.groups}
    for key, ovr in config.overrides.items():
        comp = comps.get(key)
        if comp is not None and comp.kind is ComponentKind.MEMORY:
            raise MappingError(f"{config.where}: '{key}' is a memory component, kept inside the runtime; it has no topic. Remove it.")
        if comp is not None and comp.kind is ComponentKind.INPUT and key.startswith(RUNTIME_INPUT_PREFIX):
            raise MappingError(f"{config.where}: input '{key}' is fed by the runtime and has no topic. Remove it.")
        if comp is None and key in groups:
            bad = [k for k in ("field",) if getattr(ovr, k) is not None]
            if bad:
                raise MappingError(
                    f"{config.where}: '{key}' is a group; only {list(GROUP_OVERRIDE_KEYS)} may be set for a "
                    f"group, not {bad}. Set them on its members instead."
                )
        elif comp is None:
            mappable = [c.name for c in meta.components if c.kind is not ComponentKind.MEMORY]
            raise MappingError(
                f"{config.where}: '{key}' is neither a component nor a group of this policy. "
                f"Inputs/outputs: {mappable}; groups: {sorted(groups)}."
            )


def _assemble(entries: list[tuple[Direction, str, str, FieldBinding]]) -> list[TopicSpec]:
    by_topic: dict[str, list[tuple[Direction, str, FieldBinding]]] = {}
    for direction, topic, adapter, bnd in entries:
        by_topic.setdefault(topic, []).append((direction, adapter, bnd))
    specs = []
    for topic, items in by_topic.items():
        first_dir, first_adapter, first = items[0]
        seen: dict[str, str] = {}
        seen_slots: dict[tuple[str, tuple[str, ...] | None], str] = {}
        for direction, adapter, bnd in items:
            if direction != first_dir:
                raise MappingError(
                    f"Topic '{topic}' is both subscribed ({first_dir} '{first.component}') and published "
                    f"({direction} '{bnd.component}'). Give one of them another topic in the mapping file."
                )
            if adapter != first_adapter:
                raise MappingError(
                    f"Topic '{topic}' would carry two message types: '{first.component}' as "
                    f"{ADAPTERS[first_adapter].msg_type} and '{bnd.component}' as {ADAPTERS[adapter].msg_type}. "
                    "A topic has one type: map them to different topics."
                )
            # Subscribed JointStates may feed several components from one field, each picking its own
            # joints (e.g. two articulations on /joint_states); anything else must use distinct fields.
            slot = (bnd.field, bnd.names if direction == "input" and adapter == JOINT_STATE else None)
            if slot in seen_slots:
                raise MappingError(
                    f"Components '{seen_slots[slot]}' and '{bnd.component}' are both bound to field "
                    f"'{bnd.field}' of topic '{topic}'. Map one of them to another topic or field."
                )
            seen_slots[slot] = bnd.component
            seen.setdefault(bnd.field, bnd.component)
            same_joints = (bnd.names, bnd.joint_order) == (first.names, first.joint_order)
            if (first_dir == "output" or adapter == JOINT_TRAJECTORY) and adapter in NAMED_ADAPTERS and not same_joints:
                raise MappingError(
                    f"Components '{first.component}' and '{bnd.component}' share "
                    f"{ADAPTERS[adapter].msg_type.rsplit('/', 1)[-1]} "
                    f"topic '{topic}' but have different joint names or order; one message has one name list. "
                    "Map them to different topics."
                )
        if first_dir == "output" and first_adapter == TWIST and "se2" in seen and len(seen) > 1:
            raise MappingError(
                f"Twist topic '{topic}': field 'se2' of '{seen['se2']}' overlaps 'linear'/'angular' of "
                "another output. Map them to different topics."
            )
        specs.append(
            TopicSpec(topic, first_dir, ADAPTERS[first_adapter].msg_type, first_adapter, tuple(b for _, _, b in items))
        )
    return specs


def build_topic_map(meta: PolicyMetadata, config: MappingConfig | None = None) -> TopicMap:
    """Compute the topics of a policy node from the policy metadata and an optional mapping file.

    Args:
        meta: The policy's metadata (:func:`exploy.format.read_metadata`).
        config: Overrides from a mapping file (:func:`exploy.mapping.load_mapping_file`).

    Raises:
        MappingError: when the config names unknown or memory components, a JointState binding
            has no joint names, a tensor does not fit its field, or two components clash on one
            topic (two message types, same field, input and output).
    """
    config = config or MappingConfig()
    _check_config_names(meta, config)
    runtime: list[str] = []
    disabled: list[str] = []
    entries: list[tuple[Direction, str, str, FieldBinding]] = []
    for comp in meta.components:
        if comp.kind is ComponentKind.MEMORY:
            continue
        if comp.kind is ComponentKind.INPUT and comp.name.startswith(RUNTIME_INPUT_PREFIX):
            runtime.append(comp.name)
            continue
        resolved = _resolve(comp, meta, config)
        if resolved is None:
            disabled.append(comp.name)
        else:
            entries.append(resolved)
    specs = _assemble(entries)
    return TopicMap(
        inputs=tuple(s for s in specs if s.direction == "input"),
        outputs=tuple(s for s in specs if s.direction == "output"),
        runtime_inputs=tuple(runtime),
        disabled_outputs=tuple(disabled),
    )


__all__ = ["Direction", "FieldBinding", "TopicMap", "TopicSpec", "build_topic_map"]
