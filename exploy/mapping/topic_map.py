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

from dataclasses import dataclass

from exploy.format import ComponentKind, PolicyMetadata
from exploy.mapping.binding import NAMED_ADAPTERS, FieldBinding, TopicSpec
from exploy.mapping.config import GROUP_OVERRIDE_KEYS, MappingConfig
from exploy.mapping.errors import MappingError
from exploy.mapping.fields import ADAPTERS, JOINT_STATE, JOINT_TRAJECTORY, TWIST
from exploy.mapping.resolve import resolve
from exploy.mapping.rules import RUNTIME_INPUT_PREFIX, Direction


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


def _check_config_names(meta: PolicyMetadata, config: MappingConfig) -> None:
    comps = {c.name: c for c in meta.components}
    groups = {g.name for g in meta.groups}
    for key, ovr in config.overrides.items():
        comp = comps.get(key)
        if comp is not None and comp.kind is ComponentKind.MEMORY:
            raise MappingError(
                f"{config.where}: '{key}' is a memory component, kept inside the runtime; it has no topic. Remove it."
            )
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
        resolved = resolve(comp, meta, config)
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
