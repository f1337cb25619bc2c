"""Shared by the codec tests on rosbags (test/mapping) and rclpy (test/ros) messages: a policy
with one component of every upstream family, and hand-written messages with the tensors they must
decode to (values computed by hand, not by the code under test)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from exploy.format import ComponentKind, ComponentSpec, GroupSpec, PolicyMetadata
from exploy.mapping import build_topic_map, parse_mapping

IN, OUT, MEM = ComponentKind.INPUT, ComponentKind.OUTPUT, ComponentKind.MEMORY
ARM = ("a1", "a2", "a3")
LEGS = ("hip", "knee", "ankle")
YAW = 0.6
QUAT_XYZW = (0.0, 0.0, math.sin(YAW / 2), math.cos(YAW / 2))
"""A yaw rotation in ROS order; the policy sees (w, x, y, z) = (cos, 0, 0, sin)."""
QUAT_WXYZ = (QUAT_XYZW[3], 0.0, 0.0, QUAT_XYZW[2])


def comp(name, kind=IN, size=3, group=None, metadata=None, dtype="float32"):
    return ComponentSpec(name, kind, (1, size), dtype, group, metadata)


def vocabulary(base_names=None):
    """One component of every upstream family (names from upstream's C++ matchers)."""
    env = {"base_names": json.dumps(base_names)} if base_names is not None else {}
    return PolicyMetadata(
        "0.1.0", 4, 200.0,
        (
            comp("obj.robot.base.pos_b_rt_w_in_w"),
            comp("obj.robot.base.w_Q_b", size=4),
            comp("obj.robot.base.lin_vel_b_rt_w_in_b"),
            comp("obj.robot.base.ang_vel_b_rt_w_in_b"),
            comp("obj.robot.hand.pos_b_rt_w_in_w"),
            comp("obj.robot.hand.w_Q_b", size=4),
            comp("obj.robot.hand.lin_vel_b_rt_w_in_b"),
            comp("obj.box.lid.w_Q_b", size=4),
            comp("obj.box.lid.ang_vel_b_rt_w_in_b"),
            comp("sensor.imu.chest.w_Q_b", size=4),
            comp("sensor.imu.chest.ang_vel_b_rt_w_in_b"),
            comp("sensor.imu.chest.lin_vel_b_rt_w_in_b"),
            comp("cmd.se3_pose.target", size=7),
            comp("cmd.boolean.stand", size=1, dtype="bool"),
            comp("cmd.float.height", size=1, metadata={"range": [0.2, 0.5]}),
            comp("cmd.joint_pos.arm", metadata={"joint_names": list(ARM)}),
            comp("cmd.se2_velocity.base_velocity", metadata={"ranges": {"lin_vel_x": [-1, 1]}}),
            comp("sensor.ray_caster.scan.height", size=15, group="sensor.ray_caster.scan"),
            comp("output.se2_velocity.walk", OUT, metadata={"target_frame": "base_link"}),
            comp("output.joint_targets.legs.pos", OUT, group="output.joint_targets.legs"),
            comp("output.joint_targets.legs.vel", OUT, group="output.joint_targets.legs"),
            comp("output.joint_targets.arm.pos", OUT, group="output.joint_targets.arm"),
            comp("output.joint_targets.arm.effort", OUT, group="output.joint_targets.arm"),
            comp("memory.h.in", MEM),
        ),
        (
            GroupSpec("sensor.ray_caster.scan", ("sensor.ray_caster.scan.height",), None,
                      {"pattern_type": "grid_pattern", "resolution": 0.1, "size_x": 0.4, "size_y": 0.2,
                       "offset_x": 0.0, "offset_y": 0.0, "articulation_name": "robot"}),
            GroupSpec("output.joint_targets.legs", ("output.joint_targets.legs.pos", "output.joint_targets.legs.vel"),
                      None, {"names": list(LEGS), "stiffness": [20.0] * 3, "damping": [0.5] * 3}),
            GroupSpec("output.joint_targets.arm", ("output.joint_targets.arm.pos", "output.joint_targets.arm.effort"),
                      None, {"names": list(ARM), "stiffness": [20.0] * 3, "damping": [0.5] * 3}),
        ),
        env_metadata=env,
    )


ROS2_CONTROL = parse_mapping({"components": {
    "output.joint_targets.legs.pos": {"topic": "/fwd/commands", "adapter": "float64_multi_array",
                                      "joint_order": ["ankle", "hip", "knee"]},
    "output.joint_targets.legs.vel": {"enabled": False},
    "output.joint_targets.arm": {"topic": "/jtc/joint_trajectory", "adapter": "joint_trajectory",
                                 "joint_order": ["a3", "a1", "a2"]},
}})
"""Legs to a forward_command_controller, arm to a joint_trajectory_controller."""

TMAP = build_topic_map(vocabulary({"robot": "base"}), ROS2_CONTROL)


def header(sec=7, nanosec=8, frame_id="odom"):
    return {"stamp": {"sec": sec, "nanosec": nanosec}, "frame_id": frame_id}


def vec(x, y, z):
    return {"x": float(x), "y": float(y), "z": float(z)}


def quat(xyzw):
    return dict(zip("xyzw", (float(v) for v in xyzw)))


def pose(xyz, xyzw=QUAT_XYZW):
    return {"position": vec(*xyz), "orientation": quat(xyzw)}


def odometry(xyzw=QUAT_XYZW):
    return {
        "header": header(), "child_frame_id": "base",
        "pose": {"pose": pose((1.0, 2.0, 3.0), xyzw), "covariance": np.zeros(36)},
        "twist": {"twist": {"linear": vec(0.1, 0.2, 0.3), "angular": vec(0.4, 0.5, 0.6)}, "covariance": np.zeros(36)},
    }


def grid(rows, cols, data):
    return {"layout": {"dim": [{"label": "y", "size": rows, "stride": rows * cols},
                               {"label": "x", "size": cols, "stride": cols}], "data_offset": 0},
            "data": np.asarray(data, dtype=np.float32)}


def trajectory(names, positions, velocities=(), effort=()):
    point = {"positions": np.asarray(positions, float), "velocities": np.asarray(velocities, float),
             "accelerations": np.zeros(0), "effort": np.asarray(effort, float),
             "time_from_start": {"sec": 0, "nanosec": 0}}
    return {"header": header(0, 0, ""), "joint_names": list(names), "points": [point]}


# topic -> (message type, message fields, expected tensors by component)
CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "~/input/obj/robot/base/odom": (
        "nav_msgs/msg/Odometry",
        odometry(),
        {
            "obj.robot.base.pos_b_rt_w_in_w": [[1.0, 2.0, 3.0]],
            "obj.robot.base.w_Q_b": [QUAT_WXYZ],
            "obj.robot.base.lin_vel_b_rt_w_in_b": [[0.1, 0.2, 0.3]],
            "obj.robot.base.ang_vel_b_rt_w_in_b": [[0.4, 0.5, 0.6]],
        },
    ),
    "~/input/obj/robot/hand/pose": (
        "geometry_msgs/msg/PoseStamped",
        {"header": header(), "pose": pose((-1.0, 0.5, 0.25))},
        {
            "obj.robot.hand.pos_b_rt_w_in_w": [[-1.0, 0.5, 0.25]],
            "obj.robot.hand.w_Q_b": [QUAT_WXYZ],
        },
    ),
    "~/input/obj/robot/hand/twist": (
        "geometry_msgs/msg/TwistStamped",
        {"header": header(), "twist": {"linear": vec(1.5, -2.5, 3.5), "angular": vec(9, 9, 9)}},
        {"obj.robot.hand.lin_vel_b_rt_w_in_b": [[1.5, -2.5, 3.5]]},
    ),
    "~/input/cmd/se3_pose/target": (
        "geometry_msgs/msg/PoseStamped",
        {"header": header(), "pose": pose((4, 5, 6))},
        {"cmd.se3_pose.target": [[4.0, 5.0, 6.0, *QUAT_WXYZ]]},
    ),
    "~/input/cmd/boolean/stand": ("std_msgs/msg/Bool", {"data": True}, {"cmd.boolean.stand": [[True]]}),
    "~/input/cmd/float/height": ("std_msgs/msg/Float32", {"data": 0.375}, {"cmd.float.height": [[0.375]]}),
    "~/input/cmd/joint_pos/arm": (
        "sensor_msgs/msg/JointState",
        {
            "header": header(),
            "name": ["a3", "x", "a1", "a2"],
            "position": np.array([3.0, 9.0, 1.0, 2.0]),
            "velocity": np.zeros(0),
            "effort": np.zeros(0),
        },
        {"cmd.joint_pos.arm": [[1.0, 2.0, 3.0]]},
    ),
    "~/input/sensor/ray_caster/scan/height": (
        "std_msgs/msg/Float32MultiArray",
        grid(3, 5, np.arange(15)),
        {"sensor.ray_caster.scan.height": [np.arange(15.0)]},
    ),
    "/fwd/commands": (
        "std_msgs/msg/Float64MultiArray",
        {"layout": {"dim": [], "data_offset": 0}, "data": np.array([30.0, 10.0, 20.0])},  # ankle, hip, knee
        {"output.joint_targets.legs.pos": [[10.0, 20.0, 30.0]]},
    ),
    "/jtc/joint_trajectory": (
        "trajectory_msgs/msg/JointTrajectory",
        trajectory(["a2", "a3", "a1"], [2.0, 3.0, 1.0], effort=[-2.0, -3.0, -1.0]),
        {
            "output.joint_targets.arm.pos": [[1.0, 2.0, 3.0]],
            "output.joint_targets.arm.effort": [[-1.0, -2.0, -3.0]],
        },
    ),
    "~/output/se2_velocity/walk": (
        "geometry_msgs/msg/Twist",
        {"linear": vec(0.5, -0.25, 7), "angular": vec(8, 9, 1.25)},
        {"output.se2_velocity.walk": [[0.5, -0.25, 1.25]]},
    ),
}
