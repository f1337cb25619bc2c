"""Parameters of ``mujoco_sim_node``: defaults and descriptions (declared up front by the node)."""

from __future__ import annotations

import numpy as np

from exploy.sim.errors import SimError

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
    "rate_hz": (0.0, "Tick rate of the policy node (Hz); 0: the MJCF's physics rate."),
    "command_mode": ("auto", "auto (efforts if present, else positions), effort or position."),
    "kp": ([0.0], "Position-target stiffness per joint (or one value for all)."),
    "kd": ([0.0], "Position-target damping per joint (or one value for all)."),
    "velocity_command": ([0.0, 0.0, 0.0], "Constant (vx, vy, wz) published on the Twist topic."),
    "publish_clock": (True, "Publish /clock (sim time after the step)."),
    "clock_every": (1, "Publish /clock every this many ticks (lockstep: the policy node ticks from ~/step, "
                    "so /clock is only for other nodes and can be sparse)."),
    "twist_period_s": (0.1, "Sim seconds between two publications of the constant Twist command "
                       "(keep it below the policy node's input_timeout_s)."),
    "timeout_s": (2.0, "lockstep: seconds to wait for a tick's command."),
    "duration_s": (0.0, "Sim seconds to run, then exit and print the report; 0: until shut down."),
    "policy_period_s": (0.02, "One policy period (s): commands older than this are counted in realtime mode."),
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
