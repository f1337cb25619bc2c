"""Default topic rules: which topic, adapter and field a component gets without a mapping file.

``<in>``/``<out>`` are the input/output topic prefixes, ``~/input`` and ``~/output`` by default.
The names are upstream exploy's vocabulary (its C++ controller and IsaacLab / mjlab exporters):

- ``obj.<art>.joints.pos|vel|effort`` -> JointState ``position|velocity|effort`` on
  ``<in>/obj/<art>/joints``; joint names from the metadata key ``joint_names`` (or ``names``) of
  the component or its group.
- ``obj.<art>.<body>.{pos_b_rt_w_in_w, w_Q_b, lin_vel_b_rt_w_in_b, ang_vel_b_rt_w_in_b}``, by
  what the policy reads of that body (:func:`body_binding`):

  - only ``w_Q_b`` and/or ``ang_vel_b_rt_w_in_b`` (what an IMU measures) -> Imu on
    ``<in>/obj/<art>/<body>/imu``;
  - else, for the base (file metadata ``base_names`` = JSON ``{art: base}``) -> Odometry on
    ``<in>/obj/<art>/<body>/odom``;
  - else -> PoseStamped (position, orientation) on ``<in>/obj/<art>/<body>/pose`` and
    TwistStamped (linear, angular) on ``<in>/obj/<art>/<body>/twist``.
- ``sensor.imu.<name>.<item>`` -> Imu on ``<in>/sensor/imu/<name>`` (``<item>`` recognised by
  :data:`IMU_ITEMS`); ``sensor.imu.<name>.lin_vel_b_rt_w_in_b`` -> TwistStamped ``linear`` on
  ``<in>/sensor/imu/<name>/twist`` (an Imu message has no velocity).
- ``cmd.se2_velocity.<n>`` -> Twist ``se2`` (linear.x, linear.y, angular.z); ``cmd.se3_pose.<n>``
  -> PoseStamped ``pose`` (x, y, z, qw, qx, qy, qz); ``cmd.boolean.<n>`` -> Bool;
  ``cmd.float.<n>`` -> Float32; ``cmd.joint_pos.<n>`` -> JointState ``position``; each on
  ``<in>/cmd/<kind>/<n>``.
- ``sensor.ray_caster.<s>.height|r|g|b`` -> Float32MultiArray with a rows x cols layout (from the
  group metadata ``resolution``, ``size_x``, ``size_y``; :func:`height_scan_grid`) on
  ``<in>/sensor/ray_caster/<s>/<channel>``.
- ``output.joint_targets.<t>.pos|vel|effort`` -> JointState on ``<out>/joint_targets/<t>``;
  ``output.se2_velocity.<n>`` -> Twist ``se2`` on ``<out>/se2_velocity/<n>``.
- anything else -> Float32MultiArray ``data`` on ``<in>/a/b`` for input ``a.b`` and ``<out>/a/b``
  for output ``a.b`` (a leading ``output.`` is dropped; characters not allowed in topic names
  become ``_``).

A JointState binding without joint names is an error (no silent fallback): the message's joints
could not be put in the policy's order.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from exploy.format import ComponentKind, ComponentSpec, PolicyMetadata
from exploy.format.errors import excerpt
from exploy.format.upstream import parse_base_names
from exploy.mapping.errors import MappingError
from exploy.mapping.fields import (
    ADAPTERS,
    BOOL,
    FLOAT32,
    FLOAT32_MULTI_ARRAY,
    IMU,
    JOINT_STATE,
    JOINT_TRAJECTORY,
    ODOMETRY,
    POSE_STAMPED,
    TWIST,
    TWIST_STAMPED,
)

Direction = Literal["input", "output"]

RUNTIME_INPUT_PREFIX = "ctx."
"""Inputs with this prefix are fed by the runtime (e.g. ``ctx.step_count``), not by a topic."""

NAME_KEYS = ("joint_names", "names")
"""Metadata keys holding joint names, in order of preference."""

JOINT_ITEMS = {"pos": "position", "vel": "velocity", "effort": "effort"}
"""Joint item name -> JointState field."""

TRAJECTORY_ITEMS = {"pos": "positions", "vel": "velocities", "effort": "effort"}
"""Joint item name -> JointTrajectory point field."""

BODY_ITEMS = {
    "pos_b_rt_w_in_w": "position",
    "w_Q_b": "orientation",
    "lin_vel_b_rt_w_in_b": "linear_velocity",
    "ang_vel_b_rt_w_in_b": "angular_velocity",
}
"""Body item (upstream name) -> Odometry field."""

IMU_BODY_ITEMS = frozenset({"w_Q_b", "ang_vel_b_rt_w_in_b"})
"""Body items an IMU measures: a body read only through these stays on an Imu topic."""

HEIGHT_SCAN_CHANNELS = ("height", "r", "g", "b")
"""Channels of a ``sensor.ray_caster.<s>`` group (upstream's height-scan matcher)."""

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
    ("input", re.compile(rf"sensor\.imu\.(?P<a>{_TOKEN})\.(?P<item>{'|'.join(_IMU_ITEM_FIELD)})"), IMU,
     ("sensor", "imu", "{a}")),
    ("input", re.compile(rf"sensor\.imu\.(?P<a>{_TOKEN})\.lin_vel_b_rt_w_in_b"), TWIST_STAMPED,
     ("sensor", "imu", "{a}", "twist")),
    ("input", re.compile(rf"cmd\.se2_velocity\.(?P<a>{_TOKEN})"), TWIST, ("cmd", "se2_velocity", "{a}")),
    ("input", re.compile(rf"cmd\.se3_pose\.(?P<a>{_TOKEN})"), POSE_STAMPED, ("cmd", "se3_pose", "{a}")),
    ("input", re.compile(rf"cmd\.boolean\.(?P<a>{_TOKEN})"), BOOL, ("cmd", "boolean", "{a}")),
    ("input", re.compile(rf"cmd\.float\.(?P<a>{_TOKEN})"), FLOAT32, ("cmd", "float", "{a}")),
    ("input", re.compile(rf"cmd\.joint_pos\.(?P<a>{_TOKEN})"), JOINT_STATE, ("cmd", "joint_pos", "{a}")),
    ("output", re.compile(rf"output\.joint_targets\.(?P<a>{_TOKEN})\.(?P<item>pos|vel|effort)"), JOINT_STATE,
     ("joint_targets", "{a}")),
    ("output", re.compile(rf"output\.se2_velocity\.(?P<a>{_TOKEN})"), TWIST, ("se2_velocity", "{a}")),
)

_BODY = re.compile(rf"obj\.(?P<a>{_TOKEN})\.(?P<b>{_TOKEN})\.(?P<item>{'|'.join(BODY_ITEMS)})")
_HEIGHT_SCAN = re.compile(rf"sensor\.ray_caster\.{_TOKEN}\.(?:{'|'.join(HEIGHT_SCAN_CHANNELS)})")

# Default field when the rule's name carries no item (one-field messages, se2/se3 commands).
_RULE_FIELD = {TWIST: "se2", POSE_STAMPED: "pose", BOOL: "data", FLOAT32: "data", JOINT_STATE: "position",
               TWIST_STAMPED: "linear"}


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
    fields = ADAPTERS[adapter].fields
    if len(fields) == 1:
        return next(iter(fields))
    if adapter in (TWIST, TWIST_STAMPED) and item not in BODY_ITEMS:
        return "se2"
    if adapter == POSE_STAMPED and item not in BODY_ITEMS:
        return "pose"
    if item is None:
        return None
    if item in fields:
        return item
    if adapter == JOINT_STATE:
        return JOINT_ITEMS.get(item)
    if adapter == JOINT_TRAJECTORY:
        return TRAJECTORY_ITEMS.get(item)
    if adapter == IMU:
        return _IMU_ITEM_FIELD.get(item)
    if adapter in (ODOMETRY, POSE_STAMPED):
        return BODY_ITEMS.get(item)
    if adapter in (TWIST, TWIST_STAMPED):
        return {"lin_vel_b_rt_w_in_b": "linear", "ang_vel_b_rt_w_in_b": "angular"}.get(item)
    return None


def base_names(meta: PolicyMetadata) -> dict[str, str]:
    """The file metadata ``base_names`` (JSON ``{articulation: base body}``), or ``{}``.

    Raises:
        MappingError: when the key is there but not a JSON object of strings.
    """
    raw: Any = meta.env_metadata.get("base_names")
    if raw is None:
        return {}
    value = parse_base_names(raw)
    if value is None:
        raise MappingError(
            f"File metadata 'base_names' must be a JSON object {{articulation: base body}}, got {excerpt(raw)}"
        )
    return value


def body_binding(comp: ComponentSpec, meta: PolicyMetadata, prefix: str) -> tuple[str, str, str] | None:
    """(adapter, field, topic) of a body component ``obj.<art>.<body>.<item>``, else None.

    The message depends on what the policy reads of the body: orientation and angular velocity
    only -> Imu; anything more of the base (``base_names``) -> Odometry; of another body ->
    PoseStamped (position, orientation) and TwistStamped (velocities).
    """
    match = _BODY.fullmatch(comp.name)
    if match is None or match["b"] == "joints":
        return None
    art, body, item = match["a"], match["b"], match["item"]
    head = f"obj.{art}.{body}."
    items = {
        c.name[len(head):] for c in meta.components if c.kind is ComponentKind.INPUT and c.name.startswith(head)
    } & set(BODY_ITEMS)
    if items <= IMU_BODY_ITEMS:
        return IMU, _IMU_ITEM_FIELD[item], topic_name(prefix, ["obj", art, body, "imu"])
    if base_names(meta).get(art) == body:
        return ODOMETRY, BODY_ITEMS[item], topic_name(prefix, ["obj", art, body, "odom"])
    if item in ("pos_b_rt_w_in_w", "w_Q_b"):
        return POSE_STAMPED, BODY_ITEMS[item], topic_name(prefix, ["obj", art, body, "pose"])
    return TWIST_STAMPED, BODY_ITEMS[item].split("_")[0], topic_name(prefix, ["obj", art, body, "twist"])


def default_binding(
    comp: ComponentSpec, direction: Direction, prefix: str, *, meta: PolicyMetadata | None = None
) -> tuple[str, str, str]:
    """(adapter, field, topic) the default rules give ``comp`` (``meta``: for body components)."""
    if direction == "input" and meta is not None:
        body = body_binding(comp, meta, prefix)
        if body is not None:
            return body
    for rule_dir, pattern, adapter, topic_tokens in _RULES:
        match = pattern.fullmatch(comp.name) if rule_dir == direction else None
        if match:
            item = match.groupdict().get("item")
            fld = item_field(adapter, item) if item else _RULE_FIELD[adapter]
            return adapter, fld or "data", topic_name(prefix, [t.format(**match.groupdict()) for t in topic_tokens])
    return FLOAT32_MULTI_ARRAY, "data", fallback_topic(comp, prefix)


def height_scan_grid(comp: ComponentSpec, meta: PolicyMetadata) -> tuple[int, int] | None:
    """(rows, cols) of a ``sensor.ray_caster.<s>.<channel>`` tensor, else None.

    From the group metadata (upstream's grid pattern): ``cols = round(size_x / resolution) + 1``
    cells along x, ``rows = round(size_y / resolution) + 1`` along y; cells row by row, x fastest
    (IsaacLab's ``GridPatternCfg`` default ``ordering="xy"``). None when the name is not a
    height-scan channel, the metadata is missing, or ``rows * cols`` is not the tensor's size.
    """
    if not _HEIGHT_SCAN.fullmatch(comp.name):
        return None
    for grp in group_chain(comp, meta):
        try:
            md = meta.group(grp).metadata or {}
        except KeyError:
            continue
        try:
            res, size_x, size_y = (float(md[k]) for k in ("resolution", "size_x", "size_y"))
        except (KeyError, TypeError, ValueError):
            continue
        if not (res > 0 and math.isfinite(size_x / res) and math.isfinite(size_y / res)):
            return None
        rows, cols = round(size_y / res) + 1, round(size_x / res) + 1
        return (rows, cols) if rows * cols == comp.size else None
    return None


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
