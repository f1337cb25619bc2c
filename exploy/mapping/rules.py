"""Default topic rules: which topic, adapter and field a component gets without a mapping file.

``<in>``/``<out>`` are the input/output topic prefixes, ``~/input`` and ``~/output`` by default:

- ``obj.<art>.joints.pos|vel|effort`` -> JointState ``position|velocity|effort`` on
  ``<in>/obj/<art>/joints``; joint names from the metadata key ``joint_names`` (or ``names``) of
  the component or its group.
- ``obj.<art>.<body>.w_Q_b`` / ``.ang_vel_b_rt_w_in_b`` -> Imu ``orientation`` /
  ``angular_velocity`` on ``<in>/obj/<art>/<body>/imu``.
- ``sensor.imu.<name>.<item>`` -> Imu on ``<in>/sensor/imu/<name>``; ``<item>`` is recognised by
  :data:`IMU_ITEMS`.
- ``cmd.se2_velocity.<term>`` -> Twist ``se2`` (linear.x, linear.y, angular.z) on
  ``<in>/cmd/se2_velocity/<term>``.
- ``output.joint_targets.<term>.pos|vel|effort`` -> JointState on ``<out>/joint_targets/<term>``.
- anything else -> Float32MultiArray ``data`` on ``<in>/a/b`` for input ``a.b`` and ``<out>/a/b``
  for output ``a.b`` (a leading ``output.`` is dropped; characters not allowed in topic names
  become ``_``).

A JointState binding without joint names is an error (no silent fallback): the message's joints
could not be put in the policy's order.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from exploy.format import ComponentKind, ComponentSpec, PolicyMetadata
from exploy.mapping.errors import MappingError
from exploy.mapping.fields import ADAPTERS, FLOAT32_MULTI_ARRAY, IMU, JOINT_STATE, TWIST

Direction = Literal["input", "output"]

RUNTIME_INPUT_PREFIX = "ctx."
"""Inputs with this prefix are fed by the runtime (e.g. ``ctx.step_count``), not by a topic."""

NAME_KEYS = ("joint_names", "names")
"""Metadata keys holding joint names, in order of preference."""

JOINT_ITEMS = {"pos": "position", "vel": "velocity", "effort": "effort"}
"""Joint item name -> JointState field."""

IMU_ITEMS = {
    "orientation": ("w_Q_b", "quat", "quat_wxyz", "orientation"),
    "angular_velocity": ("ang_vel", "ang_vel_b", "ang_vel_b_rt_w_in_b", "angular_velocity", "gyro"),
    "linear_acceleration": ("lin_acc", "lin_acc_b", "linear_acceleration", "acc", "accel"),
}
"""Imu field -> the item names (last name token) recognised for it."""

_IMU_ITEM_FIELD = {item: fld for fld, items in IMU_ITEMS.items() for item in items}

_TOKEN = r"[^.]+"
_RULES: tuple[tuple[Direction, re.Pattern[str], str, tuple[str, ...]], ...] = (
    ("input", re.compile(rf"obj\.(?P<a>{_TOKEN})\.joints\.(?P<item>pos|vel|effort)"), JOINT_STATE,
     ("obj", "{a}", "joints")),
    ("input", re.compile(rf"obj\.(?P<a>{_TOKEN})\.(?P<b>{_TOKEN})\.(?P<item>w_Q_b|ang_vel_b_rt_w_in_b)"), IMU,
     ("obj", "{a}", "{b}", "imu")),
    ("input", re.compile(rf"sensor\.imu\.(?P<a>{_TOKEN})\.(?P<item>{'|'.join(_IMU_ITEM_FIELD)})"), IMU,
     ("sensor", "imu", "{a}")),
    ("input", re.compile(rf"cmd\.se2_velocity\.(?P<a>{_TOKEN})"), TWIST, ("cmd", "se2_velocity", "{a}")),
    ("output", re.compile(rf"output\.joint_targets\.(?P<a>{_TOKEN})\.(?P<item>pos|vel|effort)"), JOINT_STATE,
     ("joint_targets", "{a}")),
)


def sanitize_token(token: str) -> str:
    """``token`` made valid in a topic name: other characters become ``_``, no leading digit."""
    token = re.sub(r"[^A-Za-z0-9_]", "_", token) or "_"
    return "_" + token if token[0].isdigit() else token


def topic_name(prefix: str, tokens: tuple[str, ...] | list[str]) -> str:
    """``<prefix>/<token>/...`` with each token sanitised."""
    return "/".join([prefix.rstrip("/"), *(sanitize_token(t) for t in tokens)])


def fallback_topic(comp: ComponentSpec, prefix: str) -> str:
    """``<prefix>/a/b`` for component ``a.b`` (a leading ``output.`` of an output is dropped)."""
    tokens = comp.name.split(".")
    if comp.kind is ComponentKind.OUTPUT and len(tokens) > 1 and tokens[0] == "output":
        tokens = tokens[1:]
    return topic_name(prefix, tokens)


def item_field(adapter: str, item: str | None) -> str | None:
    """The field an item name (last name token) selects for ``adapter``, when recognisable."""
    if adapter == FLOAT32_MULTI_ARRAY:
        return "data"
    if adapter == TWIST:
        return "se2"
    if item is None:
        return None
    if adapter == JOINT_STATE:
        return JOINT_ITEMS.get(item, item if item in ADAPTERS[JOINT_STATE].fields else None)
    if adapter == IMU:
        return _IMU_ITEM_FIELD.get(item)
    return None


def default_binding(comp: ComponentSpec, direction: Direction, prefix: str) -> tuple[str, str, str]:
    """(adapter, field, topic) the default rules give ``comp``."""
    for rule_dir, pattern, adapter, topic_tokens in _RULES:
        match = pattern.fullmatch(comp.name) if rule_dir == direction else None
        if match:
            fld = item_field(adapter, match.groupdict().get("item")) or "data"  # patterns admit known items only
            return adapter, fld, topic_name(prefix, [t.format(**match.groupdict()) for t in topic_tokens])
    return FLOAT32_MULTI_ARRAY, "data", fallback_topic(comp, prefix)


def group_chain(comp: ComponentSpec, meta: PolicyMetadata) -> list[str]:
    """Names of the groups holding ``comp``, innermost first."""
    chain: list[str] = []
    name = comp.group
    while name and name not in chain:
        chain.append(name)
        try:
            name = meta.group(name).parent
        except KeyError:
            break
    return chain


def metadata_names(comp: ComponentSpec, meta: PolicyMetadata) -> tuple[str, ...] | None:
    """Joint names from the metadata of ``comp``, else of its groups (inner first), else None.

    Raises:
        MappingError: when a names entry is not a list of strings.
    """
    sources: list[tuple[str, dict[str, Any] | None]] = [(comp.name, comp.metadata)]
    for grp in group_chain(comp, meta):
        try:
            sources.append((grp, meta.group(grp).metadata))
        except KeyError:
            pass
    for owner, metadata in sources:
        for key in NAME_KEYS:
            if metadata and key in metadata:
                value = metadata[key]
                if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
                    raise MappingError(f"Metadata '{key}' of '{owner}' must be a list of joint names, got {value!r}")
                return tuple(value)
    return None
