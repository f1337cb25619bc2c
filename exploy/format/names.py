"""Graph input/output names of an exploy policy file (upstream-compatible conventions)."""

from __future__ import annotations

STEP_COUNT = "ctx.step_count"
"""Input: sim tick counter (ours int32 ``()``; int32/int64 of shape ``()`` or ``(1,)`` accepted).
``step_count % decimation == 0`` runs the Default path (docs/file_format.md, "The step counter")."""

ACTIONS = "actions"
"""Output: raw actor actions (valid on Default ticks)."""

OBS = "obs"
"""Output: actor observations (valid on Default ticks)."""

MEMORY_PREFIX = "memory."
MEMORY_IN_SUFFIX = ".in"
MEMORY_OUT_SUFFIX = ".out"
GROUP_SEPARATOR = "."

INITIAL_VALUE_KEY = "initial_value"
"""Metadata key of a memory component holding its initial value (a nested or flat list of
numbers with the component's element count). Memory without it starts at zeros."""


def memory_input_name(name: str) -> str:
    """Graph input carrying memory ``name`` into a tick: ``memory.<name>.in``."""
    return f"{MEMORY_PREFIX}{name}{MEMORY_IN_SUFFIX}"


def memory_output_name(name: str) -> str:
    """Graph output carrying memory ``name`` out of a tick: ``memory.<name>.out``."""
    return f"{MEMORY_PREFIX}{name}{MEMORY_OUT_SUFFIX}"


def group_member_name(group: str, item: str) -> str:
    """Name of ``item`` inside ``group``: ``<group>.<item>``."""
    return f"{group}{GROUP_SEPARATOR}{item}"


def is_memory_name(graph_name: str) -> bool:
    """True for ``memory.<name>.in`` / ``memory.<name>.out`` graph names."""
    return graph_name.startswith(MEMORY_PREFIX) and (
        graph_name.endswith(MEMORY_IN_SUFFIX) or graph_name.endswith(MEMORY_OUT_SUFFIX)
    )

QUATERNION_ORDER = "quaternion_order"
"""Component metadata key: element order of a quaternion component, ``"wxyz"`` (default, what
``w_Q_b`` means) or ``"xyzw"``. The exporter writes it on every quaternion component."""

WXYZ = "wxyz"
XYZW = "xyzw"
QUATERNION_ORDERS = (WXYZ, XYZW)
