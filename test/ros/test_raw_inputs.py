"""Inputs read from their CDR bytes (``raw_inputs``, on by default): the views agree with the
messages rclpy's own serializer wrote, a node reading bytes publishes what a node reading rclpy
messages publishes, and bytes that are no message are rejected and counted while the node ticks on."""

from __future__ import annotations

import numpy as np
import pytest
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from policy_node_rig import Rig
from rclpy.serialization import serialize_message
from sensor_msgs.msg import JointState
from test_policy_node_adapters import CMD, IMU, JOINTS, TARGETS, _robot_state

from exploy.examples.legged_robot import make_mlp_example
from exploy.exporter.core.exporter import export_environment_as_onnx
from exploy.mapping.cdr import cdr_reader


@pytest.fixture(scope="module")
def legged_file(tmp_path_factory):
    env, actor = make_mlp_example(seed=4)
    return export_environment_as_onnx(env=env, actor=actor, path=tmp_path_factory.mktemp("legged"))


def _messages():
    rng = np.random.default_rng(3)
    _, joints, imu, twist = _robot_state(rng)
    joints.name[0] = "gelenk_ü"
    joints.header.stamp.sec, joints.header.stamp.nanosec, joints.header.frame_id = 12, 345, "base"
    imu.orientation_covariance[0] = -1.0
    imu.linear_acceleration.z = 9.81
    stamped = TwistStamped()
    stamped.twist = twist
    stamped.header.frame_id = "x" * 33
    odom = Odometry()
    odom.child_frame_id = "base_link"
    odom.pose.pose.position.x, odom.pose.pose.orientation.w = 1.5, 1.0
    odom.pose.covariance[35] = 0.5
    odom.twist.twist.angular.z = -0.25
    odom.twist.covariance[0] = 2.0
    return {"joint_state": joints, "imu": imu, "twist": twist, "twist_stamped": stamped, "odometry": odom}


def _fields(msg):
    return msg.get_fields_and_field_types().keys()


def _same(view, msg, path="msg"):
    for name in _fields(msg):
        want, got = getattr(msg, name), getattr(view, name)
        if hasattr(want, "get_fields_and_field_types"):
            _same(got, want, f"{path}.{name}")
        elif isinstance(want, (str, int, float)):
            assert got == want, f"{path}.{name}"
        else:
            np.testing.assert_array_equal(
                np.asarray(got, dtype=object), np.asarray(want, dtype=object), f"{path}.{name}"
            )


@pytest.mark.parametrize("adapter", ["joint_state", "imu", "twist", "twist_stamped", "odometry"])
def test_views_agree_with_rclpys_serialization(adapter):
    msg = _messages()[adapter]
    _same(cdr_reader(adapter)(serialize_message(msg)), msg)


def _outputs(legged_file, raw: bool, steps: int = 5) -> list:
    params = {"input_timeout_s": 0.0, "soft_start_s": 0.0, "raw_inputs": raw}
    with Rig(legged_file, params=params) as rig:
        subs = [s for s in rig.node.subscriptions if s.topic_name.startswith(rig.topic("~/input"))]
        assert [s.raw for s in subs] == [raw] * 3
        outs = rig.collect(TARGETS, JointState)
        rng = np.random.default_rng(21)
        for k in range(steps):
            _, joints, imu, twist = _robot_state(rng)
            rig.feed({JOINTS: joints, IMU: imu, CMD: twist})
            rig.advance(1, expect_ticks=1)
            rig.spin_until(lambda: len(outs) > k, what=f"targets of tick {k}")  # noqa: B023 (waited on at once)
        return [(list(m.name), list(m.position), list(m.velocity), list(m.effort)) for m in outs]


def test_a_node_reading_bytes_publishes_what_a_node_reading_messages_publishes(legged_file):
    assert _outputs(legged_file, raw=True) == _outputs(legged_file, raw=False)


def test_bytes_that_are_no_message_are_rejected_and_counted_and_the_node_ticks_on(legged_file):
    rng = np.random.default_rng(5)
    tensors, joints, imu, twist = _robot_state(rng)
    with Rig(legged_file, params={"input_timeout_s": 0.0}) as rig:
        rig.feed({JOINTS: joints, IMU: imu, CMD: twist})
        pub = rig.peer.create_publisher(JointState, rig.topic(JOINTS), 10)
        rig.spin_until(lambda: pub.get_subscription_count() > 0, what="the node's joint subscription")
        state = rig.node.inputs.topics[JOINTS]
        nan = JointState(name=list(joints.name), position=[float("nan")] * 13, velocity=list(joints.velocity))
        bad = [b"\x00\x01\x00\x00\xff", bytes(serialize_message(joints))[:40], serialize_message(nan)]
        for k, data in enumerate(bad):
            pub.publish(data)
            rig.spin_until(lambda: state.rejected > k, what=f"rejection {k + 1}")  # noqa: B023 (waited on at once)
        assert state.received == 1 and "NaN" in state.last_error
        np.testing.assert_allclose(rig.node.inputs.values["obj.robot.joints.pos"], tensors["obj.robot.joints.pos"])
        rig.advance(1, expect_ticks=1)  # still ticking, on the last good values


def test_a_large_input_is_read_by_rclpy_and_a_large_undecodable_one_is_rejected(legged_file):
    """Above RAW_PARSE_MAX_BYTES the bytes go through rclpy's C deserializer (quicker for huge
    name lists); the values are the same, and bytes it cannot read are still one rejection."""
    from exploy_ros.serialized import RAW_PARSE_MAX_BYTES

    rng = np.random.default_rng(9)
    tensors, joints, imu, twist = _robot_state(rng)
    extra = 8000
    big = JointState(name=[f"extra_{i}" for i in range(extra)] + list(joints.name),
                     position=[0.5] * extra + list(joints.position), velocity=[0.0] * extra + list(joints.velocity))
    data = serialize_message(big)
    assert len(data) > RAW_PARSE_MAX_BYTES
    with Rig(legged_file, params={"input_timeout_s": 0.0}) as rig:
        rig.feed({JOINTS: big, IMU: imu, CMD: twist})
        state = rig.node.inputs.topics[JOINTS]
        assert state.received == 1, state.last_error
        np.testing.assert_allclose(rig.node.inputs.values["obj.robot.joints.pos"], tensors["obj.robot.joints.pos"])
        pub = rig.peer_publisher(JOINTS)
        pub.publish(b"\x00\x01\x00\x00" + b"\xff" * (RAW_PARSE_MAX_BYTES + 8))
        rig.spin_until(lambda: state.rejected == 1, what="the large undecodable message rejected")
        assert state.received == 1 and "\n" not in state.last_error


def test_bytes_in_another_encapsulation_are_read_by_rclpy(legged_file):
    """A middleware writing XCDR2 (encapsulation 00 07): the CDR reader only reads plain CDR, so the
    node hands such bytes to rclpy's deserializer (for a Twist the XCDR2 layout is the plain one)."""
    rng = np.random.default_rng(13)
    tensors, joints, imu, twist = _robot_state(rng)
    with Rig(legged_file, params={"input_timeout_s": 0.0}) as rig:
        rig.feed({JOINTS: joints, IMU: imu, CMD: twist})
        state = rig.node.inputs.topics[CMD]
        twist.linear.x, twist.linear.y, twist.angular.z = 0.25, -0.5, 0.75
        pub = rig.peer_publisher(CMD)
        pub.publish(b"\x00\x07" + bytes(serialize_message(twist))[2:])
        rig.spin_until(lambda: state.received == 2, what="the XCDR2 Twist taken")
        np.testing.assert_array_equal(rig.node.inputs.values["cmd.se2_velocity.base_velocity"], [[0.25, -0.5, 0.75]])
        pub.publish(b"\x00\x07\x00\x00\x01")  # too short for rclpy too: one rejection
        rig.spin_until(lambda: state.rejected == 1, what="the unreadable XCDR2 bytes rejected")
        assert state.received == 2 and "\n" not in state.last_error


def test_message_when_needed_sends_only_huge_or_other_encapsulation_bytes_to_rclpy():
    from exploy_ros.serialized import RAW_PARSE_MAX_BYTES, message_when_needed

    twist = Twist()
    twist.linear.x = 1.5
    plain = bytes(serialize_message(twist))
    assert message_when_needed(twist, Twist) is twist and message_when_needed(plain, Twist) is plain
    xcdr2 = message_when_needed(b"\x00\x07" + plain[2:], Twist)
    assert isinstance(xcdr2, Twist) and xcdr2.linear.x == 1.5
    huge = JointState(name=["j"] * 10_000, position=[2.0] * 10_000)
    data = bytes(serialize_message(huge))
    assert len(data) > RAW_PARSE_MAX_BYTES and isinstance(message_when_needed(data, JointState), JointState)
    garbage = b"\x00\x07\x00\x00\x01"
    assert message_when_needed(garbage, Twist) is garbage  # left to the CDR reader's one-line rejection
