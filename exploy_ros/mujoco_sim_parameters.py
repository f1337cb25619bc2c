"""Parameters of ``mujoco_sim_node``: defaults and descriptions (declared up front by the node),
and what the node derives from them and the policy file (topics, gains)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from exploy.format import PolicyMetadata
from exploy.mapping.topic_map import TopicMap
from exploy.sim.errors import SimError
from exploy.sim.wiring import IMU, JOINT_STATE, ODOMETRY, TWIST, SimTopics, sim_topics

PARAMETERS: dict[str, tuple[object, str]] = {
    "mjcf": ("", "MJCF model file to simulate. Required."),
    "policy_path": ("", "Policy file the policy node runs: its topic map names the topics (unless set below)."),
    "target_node": ("/policy_node", "Fully qualified name of the policy node."),
    "joint_state_topic": ("", "JointState topic to publish; empty: from the policy's topic map."),
    "imu_topic": ("", "Imu topic to publish; empty: from the policy's topic map."),
    "odom_topic": ("", "Odometry topic to publish; empty: from the policy's topic map (none if it has none)."),
    "twist_topic": ("", "Twist velocity-command topic to publish; empty: from the policy's topic map."),
    "command_topic": ("", "JointState command topic to apply; empty: from the policy's topic map."),
    "joints": ([""], "Joints to drive, in order; empty: every joint with a motor actuator."),
    "imu_site": ("imu", "Site whose orientation and angular velocity are published as the IMU."),
    "mode": ("lockstep", "lockstep (wait for each tick's command) or realtime (free-running)."),
    "real_time_factor": (1.0, "realtime mode: sim seconds per wall second."),
    "rate_hz": (0.0, "Tick rate of the policy node (Hz); 0: the policy file's update_rate (its sim rate), "
                "else the MJCF's physics rate."),
    "command_mode": ("auto", "auto (efforts if present, else positions), effort or position."),
    "kp": ([0.0], "Position-target stiffness per joint (or one value for all); all 0: the policy file's "
           "'stiffness' metadata when it has one. Not used for joints with MuJoCo position actuators."),
    "kd": ([0.0], "Position-target damping per joint (or one value for all); all 0: the policy file's "
           "'damping' metadata when it has one. Not used for joints with MuJoCo position actuators."),
    "forward_after_step": (True, "Recompute kinematics and sensors after each physics step, so the published "
                           "IMU and sensor values describe the new state (as mjlab computes observations)."),
    "velocity_command": ([0.0, 0.0, 0.0], "Constant (vx, vy, wz) published on the Twist topic."),
    "publish_clock": (True, "Publish /clock (sim time after the step)."),
    "clock_every": (1, "Publish /clock every this many ticks (lockstep: the policy node ticks from ~/step, "
                    "so /clock is only for other nodes and can be sparse)."),
    "twist_period_s": (0.1, "Sim seconds between two publications of the constant Twist command "
                       "(keep it below the policy node's input_timeout_s)."),
    "timeout_s": (2.0, "lockstep: seconds to wait for a tick's command."),
    "duration_s": (0.0, "Sim seconds to run, then exit and print the report; 0: until shut down."),
    "policy_period_s": (0.0, "One policy period (s): commands older than this are counted in realtime mode. "
                        "0: the policy file's decimation / update_rate, else 0.02 s without a policy file."),
}


def per_joint(values, n: int, name: str) -> np.ndarray:
    """``values`` (one number, or one per joint) as ``n`` per-joint values."""
    values = values if isinstance(values, (list, tuple)) or hasattr(values, "__len__") else [values]
    arr = np.asarray([float(v) for v in values], dtype=np.float64)
    if arr.size == 1:
        return np.full(n, arr[0])
    if arr.size != n:
        raise SimError(f"{name} has {arr.size} values for {n} joints; give one value or one per joint")
    return arr


def apply_gains(node, file_gains: tuple[np.ndarray, np.ndarray] | None) -> list[str]:
    """Settle ``node.kp``/``node.kd`` (set from the parameters) so each joint's gains act once.

    Motor joints: the parameters, else (all zero) the policy file's ``stiffness``/``damping``.
    Joints with a MuJoCo position actuator (``node.robot.servo``) keep the model's gains: kp/kd
    are zeroed for them. Returns warnings: gains given for servo joints (ignored) and file gains
    that differ from the model's.
    """
    robot = node.robot
    notes: list[str] = []
    servo = robot.servo
    if not (node.kp.any() or node.kd.any()) and file_gains is not None:
        node.kp, node.kd = (np.where(servo, 0.0, g) for g in file_gains)
    if servo.any() and (node.kp[servo].any() or node.kd[servo].any()):
        notes.append("kp/kd given for joints with MuJoCo position actuators are ignored: the model's gains act")
    node.kp, node.kd = np.where(servo, 0.0, node.kp), np.where(servo, 0.0, node.kd)
    if file_gains is not None and servo.any():
        off = [n for n, s, a, b, c, d in zip(robot.joint_names, servo, robot.servo_kp, robot.servo_kd, *file_gains)
               if s and not (np.isclose(a, c, rtol=1e-3) and np.isclose(b, d, rtol=1e-3, atol=1e-9))]
        if off:
            notes.append(f"the model's position-actuator gains differ from the policy file's stiffness/damping for "
                         f"{', '.join(off[:4])}{' ...' if len(off) > 4 else ''}: the model's act")
    return notes


def read_policy(path: str) -> tuple[PolicyMetadata, TopicMap] | None:
    """(metadata, topic map) of the policy file ``path``, or None when no file is given."""
    if not path:
        return None
    from exploy.format import read_metadata
    from exploy.mapping import build_topic_map

    meta = read_metadata(path)
    return meta, build_topic_map(meta)


def node_topics(p: dict, robot, policy: tuple[PolicyMetadata, TopicMap] | None) -> SimTopics:
    """The node's topics: from the policy's topic map (``policy``), each renamed by its topic
    parameter when set; without a policy, one of each from the parameters."""
    node = "/" + str(p["target_node"]).strip("/")
    if policy is None:
        return SimTopics.basic(
            joint_state=p["joint_state_topic"] or "joint_states",
            imu=p["imu_topic"] or ("imu" if robot.has_imu else None), odom=p["odom_topic"] or None,
            twist=p["twist_topic"] or None, command=p["command_topic"] or f"{node}/output/joint_targets",
            node=node,
        )
    topics = sim_topics(policy[1], node, meta=policy[0])
    for param, msg_type in (("joint_state_topic", JOINT_STATE), ("imu_topic", IMU), ("odom_topic", ODOMETRY),
                            ("twist_topic", TWIST)):
        if p[param]:
            topics = topics.renamed(msg_type, p[param])
    if p["command_topic"]:
        topics = replace(topics, command=p["command_topic"])
    return topics


def tick_rate(rate_hz: float, dt: float, policy: tuple[PolicyMetadata, TopicMap] | None) -> tuple[float, str]:
    """The node's tick rate (Hz) and where it comes from: ``rate_hz`` when set, else the policy
    file's ``update_rate`` (the rate its decimation counts in), else the physics rate ``1 / dt``."""
    if rate_hz:
        return rate_hz, "rate_hz"
    if policy is not None and policy[0].update_rate:
        return float(policy[0].update_rate), "the policy file's update_rate"
    return 1.0 / dt, "the MJCF's physics rate"


DEFAULT_POLICY_PERIOD_S = 0.02
"""The policy period assumed without a policy file (a 50 Hz policy)."""


def policy_period(period_s: float, rate_hz: float, policy: tuple[PolicyMetadata, TopicMap] | None) -> float:
    """One policy period (s): ``period_s`` when set, else the policy file's ``decimation`` ticks at
    ``rate_hz`` (the node's tick rate), else :data:`DEFAULT_POLICY_PERIOD_S`.

    Raises:
        SimError: for a negative or non-finite ``period_s``.
    """
    if not (math.isfinite(period_s) and period_s >= 0.0):
        raise SimError(f"policy_period_s must be a finite number of seconds >= 0 (0: from the policy file), "
                       f"got {period_s}")
    if period_s:
        return period_s
    if policy is not None and policy[0].decimation:
        return policy[0].decimation / rate_hz
    return DEFAULT_POLICY_PERIOD_S


def servo_command_mode(mode: str, robot) -> str:
    """The command mode for ``robot``: ``auto`` means ``position`` when a joint has a MuJoCo position
    actuator (it takes targets; the file's zero efforts are no torque command).

    Raises:
        SimError: for ``effort`` with position actuators (they cannot take a torque).
    """
    if robot.servo.any():
        if mode == "effort":
            name = robot.joint_names[int(np.argmax(robot.servo))]
            raise SimError(f"command_mode effort, but joint '{name}' has a MuJoCo position actuator; use "
                           "command_mode position (or auto), or give the model motor actuators")
        if mode == "auto":
            return "position"
    return mode
