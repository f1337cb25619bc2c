"""Filling the simulator node's state messages from a :class:`exploy.sim.mujoco_robot.MujocoRobot`.

Each function writes into a message allocated once by the node and returns it.
"""

from __future__ import annotations

import mujoco
import numpy as np
from sensor_msgs.msg import Imu, JointState

from exploy.sim.mujoco_robot import MujocoRobot


def fill_joint_state(msg: JointState, robot: MujocoRobot, sec: int, nsec: int) -> JointState:
    """Positions, velocities and applied efforts of the driven joints (names set by the caller)."""
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nsec
    msg.position = robot.joint_pos().tolist()
    msg.velocity = robot.joint_vel().tolist()
    msg.effort = robot.joint_effort().tolist()
    return msg


def fill_imu(msg: Imu, robot: MujocoRobot, sec: int, nsec: int) -> Imu:
    """Orientation of the IMU site w.r.t. the world and its angular velocity in the site frame."""
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nsec
    w, x, y, z = robot.imu_quat().tolist()
    msg.orientation.w, msg.orientation.x, msg.orientation.y, msg.orientation.z = w, x, y, z
    msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = robot.imu_ang_vel().tolist()
    return msg


def fill_odometry(msg, robot: MujocoRobot, sec: int, nsec: int):
    """``nav_msgs/Odometry`` of the floating base: pose in the world, twist in the base frame."""
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nsec
    msg.header.frame_id, msg.child_frame_id = "world", robot.base_body or ""
    pose = msg.pose.pose
    pose.position.x, pose.position.y, pose.position.z = robot.base_pos().tolist()
    w, x, y, z = robot.base_quat().tolist()
    pose.orientation.w, pose.orientation.x, pose.orientation.y, pose.orientation.z = w, x, y, z
    lin_b = np.zeros(3)
    mujoco.mju_rotVecQuat(lin_b, robot.base_lin_vel(), np.array([w, -x, -y, -z]))
    twist = msg.twist.twist
    twist.linear.x, twist.linear.y, twist.linear.z = lin_b.tolist()
    twist.angular.x, twist.angular.y, twist.angular.z = robot.base_ang_vel().tolist()
    return msg
