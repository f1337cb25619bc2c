"""The component index of a policy file: parsed from ``exploy.components``, or derived from the graph.

Our exporter writes the index (``exploy.components``); upstream's exporters do not. For those
files the index is derived from the graph's own inputs and outputs and the file's metadata keys:

- every graph input other than ``ctx.step_count`` and ``memory.<m>.in`` is an input component,
  every graph output other than ``actions``, ``obs`` and ``memory.<m>.out`` an output component,
  with the graph's shape and dtype;
- ``memory.<m>.in`` / ``memory.<m>.out`` pairs are memory ``<m>``;
- a component's metadata is the JSON object under its name (memory: ``<m>``, ``memory.<m>.in``
  or ``memory.<m>.out``);
- a dotted prefix of component names that carries a JSON object in the metadata is a group
  (``<group>.<item>``); groups nest by prefix. A group without metadata leaves no trace in an
  upstream file, so it is not derived.

Either way the index is checked against the graph: the same names, shapes and dtypes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from exploy.format import names
from exploy.format.errors import PolicyFormatError, excerpt
from exploy.format.graph import GraphSignature, check_step_count
from exploy.format.metadata import KEY_COMPONENTS, ComponentKind, ComponentSpec, GroupSpec

DTYPES = frozenset({"float32", "float64", "int32", "int64", "bool"})
"""Element types a component may have."""

MAX_RANK = 8
"""Largest tensor rank accepted in an index."""


def load_json(props: Mapping[str, str], key: str) -> Any:
    """The JSON value of metadata ``key``.

    Raises:
        PolicyFormatError: when it is not valid JSON (or nested absurdly deep), quoting a
            bounded excerpt.
    """
    text = props[key]
    try:
        return json.loads(text)
    except RecursionError as err:
        raise PolicyFormatError(f"Metadata entry '{excerpt(key)}' is nested too deeply to read") from err
    except (json.JSONDecodeError, TypeError) as err:
        raise PolicyFormatError(
            f"Metadata entry '{excerpt(key)}' is not valid JSON ({excerpt(str(err))}): {excerpt(text)}"
        ) from err


def _metadata_object(props: Mapping[str, str], key: str) -> dict[str, Any] | None:
    if key not in props:
        return None
    value = load_json(props, key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PolicyFormatError(
            f"Metadata of '{excerpt(key)}' must be a JSON object, got {type(value).__name__}: {excerpt(props[key])}"
        )
    return value


def _memory_metadata(props: Mapping[str, str], name: str) -> dict[str, Any] | None:
    for key in (name, names.memory_input_name(name), names.memory_output_name(name)):
        found = _metadata_object(props, key)
        if found is not None:
            return found
    return None


def metadata_keys_of(comp: ComponentSpec) -> tuple[str, ...]:
    """Metadata keys that may hold ``comp``'s metadata."""
    if comp.kind is ComponentKind.MEMORY:
        return (comp.name, names.memory_input_name(comp.name), names.memory_output_name(comp.name))
    return (comp.name,)


def _bad_entry(what: str, entry: Any, problem: str) -> PolicyFormatError:
    return PolicyFormatError(
        f"Malformed {what} in '{KEY_COMPONENTS}': {problem} in {excerpt(entry)}; re-export the policy"
    )


def _shape(entry: Any, raw: Any) -> tuple[int, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_RANK:
        raise _bad_entry("component", entry, f"'shape' must be a list of at most {MAX_RANK} ints")
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in raw):
        raise _bad_entry("component", entry, "'shape' must hold positive ints")
    return tuple(raw)


def _parse_component(entry: Any, props: Mapping[str, str]) -> ComponentSpec:
    if not isinstance(entry, dict):
        raise _bad_entry("component", entry, "an entry must be a JSON object")
    name, kind, dtype, group = entry.get("name"), entry.get("kind"), entry.get("dtype"), entry.get("group")
    if not isinstance(name, str) or not name:
        raise _bad_entry("component", entry, "'name' must be a non-empty string")
    try:
        kind = ComponentKind(kind)
    except (ValueError, TypeError) as err:
        raise _bad_entry("component", entry, f"'kind' must be one of {[k.value for k in ComponentKind]}") from err
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise _bad_entry("component", entry, f"'dtype' must be one of {sorted(DTYPES)}")
    if group is not None and not isinstance(group, str):
        raise _bad_entry("component", entry, "'group' must be a string or null")
    shape = _shape(entry, entry.get("shape"))
    metadata = _memory_metadata(props, name) if kind is ComponentKind.MEMORY else _metadata_object(props, name)
    return ComponentSpec(name, kind, shape, dtype, group, metadata)


def _parse_group(entry: Any, props: Mapping[str, str]) -> GroupSpec:
    if not isinstance(entry, dict):
        raise _bad_entry("group", entry, "an entry must be a JSON object")
    name, members, parent = entry.get("name"), entry.get("members", []), entry.get("parent")
    if not isinstance(name, str) or not name:
        raise _bad_entry("group", entry, "'name' must be a non-empty string")
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise _bad_entry("group", entry, "'members' must be a list of strings")
    if parent is not None and not isinstance(parent, str):
        raise _bad_entry("group", entry, "'parent' must be a string or null")
    return GroupSpec(name, tuple(members), parent, _metadata_object(props, name))


def parse_index(props: Mapping[str, str]) -> tuple[tuple[ComponentSpec, ...], tuple[GroupSpec, ...]]:
    """Components and groups of the ``exploy.components`` index, validated entry by entry.

    Raises:
        PolicyFormatError: naming the malformed part (with a bounded excerpt).
    """
    index = load_json(props, KEY_COMPONENTS)
    if not isinstance(index, dict):
        raise PolicyFormatError(
            f"Metadata '{KEY_COMPONENTS}' must be a JSON object, got {excerpt(props[KEY_COMPONENTS])}"
        )
    entries, group_entries = index.get("components"), index.get("groups", [])
    if not isinstance(entries, list):
        raise PolicyFormatError(
            f"Metadata '{KEY_COMPONENTS}' needs a list under 'components', got {excerpt(entries)}; re-export the policy"
        )
    if not isinstance(group_entries, list):
        raise PolicyFormatError(f"Metadata '{KEY_COMPONENTS}' 'groups' must be a list, got {excerpt(group_entries)}")
    components = tuple(_parse_component(e, props) for e in entries)
    groups = tuple(_parse_group(e, props) for e in group_entries)
    _check_unique([c.name for c in components], "component")
    _check_unique([g.name for g in groups], "group")
    known_groups = {g.name for g in groups}
    for comp in components:
        if comp.group is not None and comp.group not in known_groups:
            raise PolicyFormatError(
                f"Component '{excerpt(comp.name)}' names group '{excerpt(comp.group)}', which the index does not list"
            )
    return components, groups


def _check_unique(items: list[str], what: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item in seen:
            raise PolicyFormatError(f"The index lists {what} '{excerpt(item)}' twice; re-export the policy")
        seen.add(item)


def _memory_name(graph_name: str, suffix: str) -> str:
    return graph_name[len(names.MEMORY_PREFIX) : -len(suffix)]


def derive_index(
    props: Mapping[str, str], graph: GraphSignature
) -> tuple[tuple[ComponentSpec, ...], tuple[GroupSpec, ...]]:
    """Components and groups of a file without ``exploy.components`` (upstream's files).

    Raises:
        PolicyFormatError: when the graph lacks ``ctx.step_count``, ``actions`` or ``obs``, or a
            memory input has no matching output (or the reverse).
    """
    check_step_count(graph)
    missing = [n for n in (names.ACTIONS, names.OBS) if n not in graph.outputs]
    if missing:
        raise PolicyFormatError(f"Not an exploy policy file: the graph has no output {missing}")
    found: list[tuple[str, ComponentKind, Any]] = []
    memory_outputs = {
        _memory_name(n, names.MEMORY_OUT_SUFFIX): sig
        for n, sig in graph.outputs.items()
        if n.startswith(names.MEMORY_PREFIX) and n.endswith(names.MEMORY_OUT_SUFFIX)
    }
    for name, sig in graph.inputs.items():
        if name == names.STEP_COUNT:
            continue
        if name.startswith(names.MEMORY_PREFIX) and name.endswith(names.MEMORY_IN_SUFFIX):
            memory = _memory_name(name, names.MEMORY_IN_SUFFIX)
            if memory not in memory_outputs:
                raise PolicyFormatError(
                    f"Graph input '{excerpt(name)}' has no matching output "
                    f"'{excerpt(names.memory_output_name(memory))}'"
                )
            found.append((memory, ComponentKind.MEMORY, sig))
        else:
            found.append((name, ComponentKind.INPUT, sig))
    memory_inputs = {name for name, kind, _ in found if kind is ComponentKind.MEMORY}
    for memory in memory_outputs:
        if memory not in memory_inputs:
            raise PolicyFormatError(
                f"Graph output '{excerpt(names.memory_output_name(memory))}' has no matching input "
                f"'{excerpt(names.memory_input_name(memory))}'"
            )
    for name, sig in graph.outputs.items():
        is_memory = name.startswith(names.MEMORY_PREFIX) and name.endswith(names.MEMORY_OUT_SUFFIX)
        if name not in (names.ACTIONS, names.OBS) and not is_memory:  # memory: paired above
            found.append((name, ComponentKind.OUTPUT, sig))

    group_meta: dict[str, dict[str, Any]] = {}
    for name, _, _ in found:
        parts = name.split(names.GROUP_SEPARATOR)
        for cut in range(1, len(parts)):
            prefix = names.GROUP_SEPARATOR.join(parts[:cut])
            if prefix not in group_meta and prefix in props:
                value = _json_object_or_none(props[prefix])
                if value is not None:
                    group_meta[prefix] = value
    components = []
    for name, kind, sig in found:
        metadata = _memory_metadata(props, name) if kind is ComponentKind.MEMORY else _metadata_object(props, name)
        components.append(ComponentSpec(name, kind, sig.shape, sig.dtype, _innermost(name, group_meta), metadata))
    groups = tuple(
        GroupSpec(
            name=group,
            members=tuple(c.name for c in components if c.group == group),
            parent=_innermost(group, group_meta),
            metadata=metadata,
        )
        for group, metadata in group_meta.items()
    )
    return tuple(components), groups


def _json_object_or_none(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def _innermost(name: str, groups: Mapping[str, Any]) -> str | None:
    parts = name.split(names.GROUP_SEPARATOR)
    for cut in range(len(parts) - 1, 0, -1):
        prefix = names.GROUP_SEPARATOR.join(parts[:cut])
        if prefix in groups:
            return prefix
    return None


def check_index(components: tuple[ComponentSpec, ...], graph: GraphSignature) -> None:
    """Check that the index and the graph agree: the same names, shapes and dtypes.

    Raises:
        PolicyFormatError: naming the first disagreement (both values) and saying to re-export.
    """
    check_step_count(graph)
    want_in = {c.input_name: c for c in components if c.input_name}
    want_out = {c.output_name: c for c in components if c.output_name}
    for label, want, have, extra_ok in (
        ("inputs", want_in, graph.inputs, {names.STEP_COUNT}),
        ("outputs", want_out, graph.outputs, {names.ACTIONS, names.OBS}),
    ):
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want) - extra_ok)
        absent = sorted(extra_ok - set(have))
        if missing or extra or absent:
            raise PolicyFormatError(
                f"The metadata index and the graph disagree on {label}: in the index only "
                f"{excerpt(missing)}, in the graph only {excerpt(extra)}"
                + (f", required but absent {absent}" if absent else "")
                + "; the file was edited or is corrupt, re-export it"
            )
        for graph_name, comp in want.items():
            sig = have[graph_name]
            if sig.shape != comp.shape or sig.dtype != comp.dtype:
                raise PolicyFormatError(
                    f"{comp.kind.value.capitalize()} '{excerpt(comp.name)}': the metadata index says shape "
                    f"{comp.shape} {comp.dtype}, the graph's '{excerpt(graph_name)}' is {sig.shape} {sig.dtype}; "
                    "the file was edited or is corrupt, re-export it"
                )
