"""Resolve one policy component to its (direction, topic, adapter, binding).

The default rules (:mod:`exploy.mapping.rules`) give a topic, adapter and field; the mapping
file's overrides (the component's own entry over its groups' entries) change them; the result is
checked (field exists, joint names present, sizes fit) and returned as a :class:`FieldBinding`.
"""

from __future__ import annotations

from typing import Any

from exploy.format import ComponentKind, ComponentSpec, PolicyMetadata
from exploy.mapping.binding import NAMED_ADAPTERS, FieldBinding
from exploy.mapping.config import GROUP_OVERRIDE_KEYS, ComponentOverride, MappingConfig
from exploy.mapping.errors import MappingError
from exploy.mapping.fields import ADAPTERS, FLOAT32_MULTI_ARRAY, FLOAT64_MULTI_ARRAY, JOINT_ORDER_ADAPTERS
from exploy.mapping.rules import (
    Direction,
    default_binding,
    fallback_topic,
    group_chain,
    height_scan_grid,
    item_field,
    metadata_names,
)


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


def _own_adapter(comp: ComponentSpec, config: MappingConfig) -> bool:
    """True when the component's own mapping entry sets the adapter (not one of its groups)."""
    own = config.overrides.get(comp.name)
    return own is not None and own.adapter is not None


def resolve(
    comp: ComponentSpec, meta: PolicyMetadata, config: MappingConfig
) -> tuple[Direction, str, str, FieldBinding] | None:
    """(direction, topic, adapter, binding) of one component; None for a disabled output."""
    direction: Direction = "input" if comp.kind is ComponentKind.INPUT else "output"
    prefix = config.input_prefix if direction == "input" else config.output_prefix
    where = f"{config.where}, components.{comp.name}"
    default_adapter, default_field, default_topic = default_binding(comp, direction, prefix, meta=meta)
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
        own_adapter = _own_adapter(comp, config)
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
                f"Component '{comp.name}' is bound to {info.msg_type.rsplit('/', 1)[-1]} field '{fld}' "
                "but has no joint names. "
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
    missing = [n for n in names if n not in order]
    if unknown or missing:
        problems = ([f"unknown joint(s) {unknown[:10]}"] if unknown else []) + (
            [f"missing joint(s) {missing[:10]}"] if missing else []
        )
        raise MappingError(
            f"{where}.joint_order: {' and '.join(problems)}; it must list every joint of '{comp.name}' once "
            f"(it has {list(names)[:20]}{'...' if len(names) > 20 else ''})."
        )
    return None if order == names else order


__all__ = ["resolve"]
