"""mujoco_sim_node publishes joint states by name, the IMU site and the base odometry."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("mujoco")

import mujoco  # noqa: E402
import rclpy  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from policy_node_rig import unique_domain  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Imu, JointState  # noqa: E402

from exploy.examples.mujoco_quadruped import JOINT_NAMES, write_mjcf  # noqa: E402
from exploy.sim.errors import SimError  # noqa: E402
from exploy_ros.mujoco_sim_node import MujocoSimNode  # noqa: E402


@pytest.fixture
def sim_and_peer(tmp_path):
    """``make(**params)``: a MujocoSimNode on the example model (topics under /sim) and a peer
    node, both on one executor; torn down after the test."""
    made: list = []

    def make(**params):
        context = rclpy.Context()
        rclpy.init(context=context, domain_id=unique_domain())
        executor = SingleThreadedExecutor(context=context)
        params = {"mjcf": str(write_mjcf(tmp_path / "model.xml")), "joint_state_topic": "/sim/joints",
                  "imu_topic": "/sim/imu", **params}
        sim = MujocoSimNode(context=context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        peer = rclpy.create_node("peer", context=context)
        for node in (sim, peer):
            executor.add_node(node)
        made.append((context, executor, sim, peer))
        return sim, peer, executor

    yield make
    for context, executor, *nodes in made:
        for node in nodes:
            executor.remove_node(node)
            node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown(context=context)


def test_state_messages_carry_the_robot_state(sim_and_peer) -> None:
    sim, peer, executor = sim_and_peer(odom_topic="/sim/odom")
    got: dict = {}
    for topic, kind in (("/sim/joints", JointState), ("/sim/imu", Imu), ("/sim/odom", Odometry)):
        peer.create_subscription(kind, topic, lambda m, t=topic: got.__setitem__(t, m), 10)
    robot = sim.robot
    robot.data.qvel[0:6] = [0.4, -0.1, 0.2, 0.3, -0.2, 0.5]  # world linear, body angular
    mujoco.mj_forward(robot.model, robot.data)
    deadline = time.monotonic() + 10.0
    while len(got) < 3 and time.monotonic() < deadline:
        assert sim.publish_state() == 3
        executor.spin_once(timeout_sec=0.05)
    assert len(got) == 3, f"received only {sorted(got)}"
    joints, imu, odom = got["/sim/joints"], got["/sim/imu"], got["/sim/odom"]
    assert list(joints.name) == list(JOINT_NAMES)
    assert np.allclose(joints.position, robot.data.qpos[7:19])
    w, x, y, z = robot.data.qpos[3:7]
    assert np.allclose([imu.orientation.w, imu.orientation.x, imu.orientation.y, imu.orientation.z], [w, x, y, z])
    assert np.allclose([imu.angular_velocity.x, imu.angular_velocity.y, imu.angular_velocity.z], [0.3, -0.2, 0.5])
    p = odom.pose.pose.position
    assert np.allclose([p.x, p.y, p.z], robot.data.qpos[0:3])
    # the keyframe's base is level, so the base-frame linear velocity is the world one
    assert np.allclose(
        [odom.twist.twist.linear.x, odom.twist.twist.linear.y, odom.twist.twist.linear.z], [0.4, -0.1, 0.2]
    )
    # the node's own ROS clock is intact (the /clock message it publishes lives elsewhere)
    assert sim.get_clock().now().nanoseconds > 0


def test_a_bad_mode_or_missing_model_is_a_clear_error(tmp_path) -> None:
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=unique_domain())
    try:
        with pytest.raises(SimError, match="mjcf:="):
            MujocoSimNode(context=context)
        mjcf = write_mjcf(tmp_path / "model.xml")
        with pytest.raises(SimError, match="lockstep or realtime"):
            MujocoSimNode(context=context, parameter_overrides=[Parameter("mjcf", value=str(mjcf)),
                                                                Parameter("mode", value="fast")])
    finally:
        rclpy.try_shutdown(context=context)


def test_commands_are_read_from_their_bytes_and_bad_ones_are_dropped(sim_and_peer) -> None:
    """The command subscription is raw (exploy.mapping.cdr): a command sent by name in another
    order is applied in the robot's order; bytes that are no JointState and a NaN command are
    counted and dropped, the last good command stays."""
    sim, peer, executor = sim_and_peer(command_topic="/sim/command", command_mode="effort")
    pub = peer.create_publisher(JointState, "/sim/command", 10)

    def send(msg) -> None:
        before = sim._received
        pub.publish(msg)
        deadline = time.monotonic() + 10.0
        while sim._received == before and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        sim._take_command()

    deadline = time.monotonic() + 10.0
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    effort = np.arange(1.0, 13.0)
    order = np.random.default_rng(0).permutation(12)
    send(JointState(name=[JOINT_NAMES[i] for i in order], effort=[float(effort[i]) for i in order]))
    np.testing.assert_array_equal(sim.robot.control(), effort)  # the hand-made order, undone
    send(b"\x00\x01\x00\x00garbage")
    send(JointState(name=list(JOINT_NAMES), effort=[float("nan")] * 12))
    assert sim.rejected == 2
    np.testing.assert_array_equal(sim.robot.control(), effort)
