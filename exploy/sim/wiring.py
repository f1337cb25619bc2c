"""Which topics a simulator publishes and reads to drive a policy node, and decoding its commands.

:func:`sim_topics` reads them from the policy's topic map (``exploy inspect policy.onnx`` shows
the same map): the ``sensor_msgs/JointState`` input (joint states by name), ``sensor_msgs/Imu``
and ``geometry_msgs/TwistStamped`` inputs (each field filled from a body, a site or a named
MuJoCo sensor, :func:`reading_for`), an optional ``nav_msgs/Odometry`` input, an optional
``geometry_msgs/Twist`` velocity command, and the ``sensor_msgs/JointState`` output (efforts or
position targets by name). :class:`JointCommandDecoder` turns such a command into arrays in the
simulator's joint order. No rclpy: the ROS shell is :mod:`exploy_ros.mujoco_sim_node`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from exploy.bag.layout import resolve_topic
from exploy.format import PolicyMetadata
from exploy.mapping.topic_map import TopicMap
from exploy.sim.errors import SimError
from exploy.sim.readings import Reading

__all__ = ["CommandMode", "JointCommand", "JointCommandDecoder", "SimTopics", "StateTopic", "reading_for", "sim_topics"]

JOINT_STATE = "sensor_msgs/msg/JointState"
IMU = "sensor_msgs/msg/Imu"
ODOMETRY = "nav_msgs/msg/Odometry"
TWIST = "geometry_msgs/msg/Twist"
TWIST_STAMPED = "geometry_msgs/msg/TwistStamped"
STATE_TYPES = (JOINT_STATE, IMU, ODOMETRY, TWIST, TWIST_STAMPED)
"""Message types the MuJoCo simulator publishes."""

CommandMode = Literal["auto", "effort", "position"]

_BODY_KIND = {"w_Q_b": "body_quat", "ang_vel_b_rt_w_in_b": "body_ang_vel", "lin_vel_b_rt_w_in_b": "body_lin_vel",
              "pos_b_rt_w_in_w": "body_pos"}
_BODY = re.compile(rf"obj\.[^.]+\.(?P<body>[^.]+)\.(?P<item>{'|'.join(_BODY_KIND)})")
_IMU = re.compile(r"sensor\.imu\.(?P<site>[^.]+)\.(?P<item>[^.]+)")
_FIELD_KIND = {"orientation": "site_quat", "angular_velocity": "site_ang_vel", "linear": "site_lin_vel"}
"""Message field -> what the IMU site gives for it, when the component name says nothing more."""
_IMU_SITE = (("orientation", Reading("site_quat")), ("angular_velocity", Reading("site_ang_vel")))
"""An Imu of the robot's IMU site (no policy file to say more)."""


@dataclass(frozen=True)
class StateTopic:
    """One topic the simulator publishes.

    Attributes:
        topic: Absolute topic name.
        msg_type: ROS message type (one of :data:`STATE_TYPES`).
        readings: Message field -> what fills it, for Imu and TwistStamped topics (JointState,
            Odometry and Twist are filled whole: joints by name, the floating base, the command).
    """

    topic: str
    msg_type: str
    readings: tuple[tuple[str, Reading], ...] = ()


@dataclass(frozen=True)
class SimTopics:
    """Absolute topic names between a simulator and one policy node.

    Attributes:
        states: Topics the simulator publishes once per tick, in publishing order.
        command: Joint commands the simulator applies (JointState, from the policy node).
        node: Fully qualified name of the policy node (``<node>/step``, ``<node>/tick``).
    """

    states: tuple[StateTopic, ...]
    command: str
    node: str

    @classmethod
    def basic(cls, *, joint_state: str | None, imu: str | None, odom: str | None, twist: str | None,
              command: str, node: str) -> SimTopics:
        """One topic of each kind (None: not published); the IMU gives its site's orientation and
        angular velocity."""
        states = [StateTopic(t, k, _IMU_SITE if k == IMU else ())
                  for t, k in ((joint_state, JOINT_STATE), (imu, IMU), (odom, ODOMETRY), (twist, TWIST)) if t]
        return cls(states=tuple(states), command=command, node=node)

    def first(self, msg_type: str) -> str | None:
        """The first published topic of ``msg_type``, or None."""
        return next((s.topic for s in self.states if s.msg_type == msg_type), None)

    joint_state = property(lambda self: self.first(JOINT_STATE), doc="The JointState topic, or None.")
    imu = property(lambda self: self.first(IMU), doc="The first Imu topic, or None.")
    odom = property(lambda self: self.first(ODOMETRY), doc="The Odometry topic, or None.")
    twist = property(lambda self: self.first(TWIST), doc="The Twist command topic, or None.")

    def renamed(self, msg_type: str, topic: str) -> SimTopics:
        """The same topics with the first one of ``msg_type`` published as ``topic`` (added when none).

        Raises:
            SimError: when there are several of that type (rename them with a mapping file instead).
        """
        same = [s for s in self.states if s.msg_type == msg_type]
        if len(same) > 1:
            raise SimError(f"the policy reads {len(same)} {msg_type} topics; rename them with a mapping file, "
                           "not with one topic parameter")
        if not same:
            added = StateTopic(topic, msg_type, _IMU_SITE if msg_type == IMU else ())
            return replace(self, states=(*self.states, added))
        return replace(self, states=tuple(replace(s, topic=topic) if s is same[0] else s for s in self.states))

    @property
    def published(self) -> list[str]:
        """Input topics the simulator publishes once per tick, in publishing order."""
        return [s.topic for s in self.states]


def reading_for(component: str, field: str, metadata: dict | None = None) -> Reading:
    """What fills ``field`` (of an Imu or TwistStamped) for policy input ``component``.

    ``obj.<art>.<body>.<item>``: that body; ``sensor.imu.<site>.<item>``: the MuJoCo sensor the
    component's metadata names (``mujoco_sensor``, as mjlab files carry), else computed at its
    site (metadata ``site``, else ``<site>``); anything else: the robot's IMU site.
    """
    match = _BODY.fullmatch(component)
    if match is not None:
        return Reading(_BODY_KIND[match["item"]], match["body"])  # type: ignore[arg-type]  # a ReadingKind
    kind = _FIELD_KIND.get(field)
    match = _IMU.fullmatch(component)
    if match is not None:
        site_name = (metadata or {}).get("site") or match["site"]
        site = Reading(kind, str(site_name)) if kind else None  # type: ignore[arg-type]  # a ReadingKind
        sensor = (metadata or {}).get("mujoco_sensor")
        if sensor:
            return Reading("sensor", str(sensor), fallback=site)
        if site is not None:
            return site
        raise SimError(f"the simulator cannot compute {component} (field {field}) without a MuJoCo sensor; "
                       "add the sensor to the model and name it in the component's metadata 'mujoco_sensor'")
    if kind is None:
        raise SimError(f"the simulator has no reading for {component} (field {field}); publish it yourself")
    return Reading(kind)  # type: ignore[arg-type]  # a ReadingKind


def sim_topics(topic_map: TopicMap, node: str, *, meta: PolicyMetadata | None = None) -> SimTopics:
    """The simulator's topics for a policy node named ``node`` running ``topic_map``.

    Args:
        topic_map: The policy's topics.
        node: The policy node's name.
        meta: The policy's metadata, for the MuJoCo sensor each ``sensor.imu.*`` input names.

    Raises:
        SimError: when the policy needs an input a simulator cannot publish (another message
            type, or two JointState / Odometry / Twist topics), or has no JointState output.
    """
    node = "/" + node.strip("/")
    states: list[StateTopic] = []
    for spec in topic_map.inputs:
        if spec.msg_type not in STATE_TYPES:
            raise SimError(
                f"the policy reads {spec.topic} ({spec.msg_type}, {', '.join(spec.components)}), which the MuJoCo "
                "simulator does not publish; map it to JointState, Imu, TwistStamped, Odometry or Twist with a "
                "mapping file, or publish it yourself"
            )
        topic = resolve_topic(spec.topic, node)
        twin = next((s.topic for s in states if s.msg_type == spec.msg_type), None)
        if twin is not None and spec.msg_type in (JOINT_STATE, ODOMETRY, TWIST):
            raise SimError(f"the policy reads two {spec.msg_type} topics ({twin}, {topic}); "
                           "the simulator publishes one of this type")
        readings: tuple[tuple[str, Reading], ...] = ()
        if spec.msg_type in (IMU, TWIST_STAMPED):
            readings = tuple(
                (b.field, reading_for(b.component, b.field, _metadata(meta, b.component))) for b in spec.bindings
            )
        states.append(StateTopic(topic, spec.msg_type, readings))
    commands = [spec for spec in topic_map.outputs if spec.msg_type == JOINT_STATE]
    if not commands:
        raise SimError("the policy has no sensor_msgs/JointState output (joint efforts or position targets) "
                       "for the simulator to apply")
    return SimTopics(states=tuple(states), command=resolve_topic(commands[0].topic, node), node=node)


def _metadata(meta: PolicyMetadata | None, component: str) -> dict | None:
    if meta is None:
        return None
    try:
        return meta.component(component).metadata
    except KeyError:
        return None


@dataclass(frozen=True)
class JointCommand:
    """A decoded joint command in simulator joint order (None: field not commanded).

    With ``effort`` set the efforts are applied and ``pos`` (if the message had positions) is only
    the reference that command tracking is measured against.
    """

    effort: np.ndarray | None
    pos: np.ndarray | None
    vel: np.ndarray | None


class JointCommandDecoder:
    """Turns JointState-like commands (names + arrays) into simulator-ordered arrays.

    Args:
        joint_names: The simulator's joints, in its order; each must appear in every command.
        mode: ``effort``: use the efforts; ``position``: use positions (and velocities when
            given) as PD targets; ``auto``: efforts when present, else positions.
    """

    def __init__(self, joint_names: Sequence[str], *, mode: CommandMode = "auto") -> None:
        if mode not in ("auto", "effort", "position"):
            raise SimError(f"command mode '{mode}' is not one of auto, effort, position")
        self.joint_names = list(joint_names)
        self.mode = mode

    def _order(self, names: Sequence[str]) -> np.ndarray:
        """Index into the command of each simulated joint (the mapping's bounded joint-index cache)."""
        from exploy.mapping.decoders import joint_indices
        from exploy.mapping.errors import AdapterError

        try:
            return joint_indices(tuple(self.joint_names), tuple(names))
        except AdapterError as err:
            given = set(names)
            missing = [n for n in self.joint_names if n not in given]
            if missing:
                shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
                raise SimError(
                    f"the command names no value for joint(s) {shown}; command every simulated joint by name"
                ) from err
            raise SimError(f"{err}; command every simulated joint by name, once") from err

    def decode(self, names: Sequence[str], *, position: Sequence[float] | np.ndarray,
               velocity: Sequence[float] | np.ndarray, effort: Sequence[float] | np.ndarray) -> JointCommand:
        """Pick this simulator's joints out of one command message's fields.

        Raises:
            SimError: for missing joints, fields whose length differs from the names, missing
                fields for the mode, or non-finite values.
        """
        order = self._order(names)
        n = len(names)

        def field(values: Sequence[float] | np.ndarray, label: str) -> np.ndarray | None:
            if len(values) == 0:
                return None
            if len(values) != n:
                raise SimError(f"the command's {label} has {len(values)} values for {n} names")
            arr = np.asarray(values, dtype=np.float64)[order]
            if not np.isfinite(arr).all():
                raise SimError(f"the command's {label} contains NaN or inf; keeping the previous command")
            return arr

        eff, pos = field(effort, "effort"), field(position, "position")
        use_effort = self.mode == "effort" or (self.mode == "auto" and eff is not None)
        if use_effort:
            if eff is None:
                raise SimError("effort mode, but the command carries no efforts")
            return JointCommand(effort=eff, pos=pos, vel=None)  # pos: reference for tracking only
        if pos is None:
            raise SimError("the command carries neither efforts nor positions")
        return JointCommand(effort=None, pos=pos, vel=field(velocity, "velocity"))


def policy_joint_names(topic_map: TopicMap) -> list[str] | None:
    """Joint names of the policy's JointState input (the joints a simulator must publish), or None."""
    for spec in topic_map.inputs:
        if spec.msg_type == JOINT_STATE and spec.bindings and spec.bindings[0].names:
            return list(spec.bindings[0].names)
    return None


def policy_gains(meta: PolicyMetadata, topic_map: TopicMap,
                 joint_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """``stiffness`` / ``damping`` metadata of the policy's JointState output (as mjlab and IsaacLab
    files carry them with ``names``), in ``joint_names`` order; None when the file has none.

    Raises:
        SimError: for gains that are not one number per named joint, or a joint they do not name.
    """
    from exploy.mapping.rules import group_chain

    spec = next((s for s in topic_map.outputs if s.msg_type == JOINT_STATE), None)
    if spec is None or not spec.bindings:
        return None
    comp = meta.component(spec.bindings[0].component)
    sources = [comp.metadata] + [meta.group(g).metadata for g in group_chain(comp, meta)]
    md = next((m for m in sources if m and "stiffness" in m and "damping" in m), None)
    if md is None:
        return None
    names = list(md.get("names") or spec.names or ())
    try:
        kp, kd = (np.asarray(md[k], dtype=np.float64).reshape(-1) for k in ("stiffness", "damping"))
    except (TypeError, ValueError) as err:
        raise SimError(f"the stiffness/damping metadata of {comp.name} is not numbers: {err}") from err
    if not (kp.size == kd.size == len(names)) or not (np.isfinite(kp).all() and np.isfinite(kd).all()):
        raise SimError(f"the stiffness/damping metadata of {comp.name} has {kp.size}/{kd.size} finite values "
                       f"for {len(names)} joints")
    index = {n: i for i, n in enumerate(names)}
    missing = [n for n in joint_names if n not in index]
    if missing:
        raise SimError(f"the policy's stiffness/damping metadata names no gain for joint(s) {', '.join(missing[:5])}")
    order = [index[n] for n in joint_names]
    return kp[order], kd[order]
