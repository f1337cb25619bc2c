"""Codecs of every upstream family on rclpy messages: decode, encode, agree with rosbags, and the
node's fast output path for ros2_control's Float64MultiArray. No ``rclpy.init()`` needed."""

from __future__ import annotations

import math
import pathlib
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("nav_msgs.msg")
sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "mapping"))

from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.serialization import deserialize_message  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402
from vocabulary_messages import CASES, QUAT_WXYZ, TMAP  # noqa: E402

from exploy.mapping import AdapterError, TopicDecoder, TopicEncoder  # noqa: E402
from exploy_ros.adapters import RosMessageEncoder, build_ros_message, build_rosbags_message, message_class  # noqa: E402
from exploy_ros.outputs import OutputWriter  # noqa: E402

TS = get_typestore(Stores.ROS2_KILTED)


@pytest.mark.parametrize("topic", sorted(CASES))
def test_rclpy_message_decodes_to_policy_tensors(topic):
    msg_type, fields, expected = CASES[topic]
    msg = build_ros_message(msg_type, fields)
    assert isinstance(msg, message_class(msg_type))
    out = TopicDecoder(TMAP.topic(topic))(msg)
    for name, value in expected.items():
        np.testing.assert_allclose(out[name], np.asarray(value, dtype=np.float64), rtol=1e-6)


def test_hand_built_odometry_gives_wxyz_and_body_frame_twist():
    msg = Odometry()
    msg.pose.pose.position.x, msg.pose.pose.position.y, msg.pose.pose.position.z = 1.0, 2.0, 3.0
    half = math.sqrt(0.5)
    msg.pose.pose.orientation.x, msg.pose.pose.orientation.w = half, half  # 90 degrees about x
    msg.twist.twist.linear.x, msg.twist.twist.angular.z = 0.75, -0.5
    out = TopicDecoder(TMAP.topic("~/input/obj/robot/base/odom"))(msg)
    np.testing.assert_allclose(out["obj.robot.base.w_Q_b"], [[half, half, 0.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(out["obj.robot.base.pos_b_rt_w_in_w"], [[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(out["obj.robot.base.lin_vel_b_rt_w_in_b"], [[0.75, 0.0, 0.0]])
    np.testing.assert_allclose(out["obj.robot.base.ang_vel_b_rt_w_in_b"], [[0.0, 0.0, -0.5]])


def test_hand_built_joint_trajectory_is_read_by_joint_name():
    msg = JointTrajectory(joint_names=["a3", "a2", "a1"],
                          points=[JointTrajectoryPoint(positions=[3.0, 2.0, 1.0], effort=[-3.0, -2.0, -1.0])])
    out = TopicDecoder(TMAP.topic("/jtc/joint_trajectory"))(msg)
    np.testing.assert_array_equal(out["output.joint_targets.arm.pos"], [[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(out["output.joint_targets.arm.effort"], [[-1.0, -2.0, -3.0]])


@pytest.mark.parametrize("topic", sorted(CASES))
def test_rclpy_and_rosbags_builders_make_the_same_message(topic):
    spec = TMAP.topic(topic)
    fields = TopicEncoder(spec)(CASES[topic][2], stamp=(1, 2), frame_id="f")
    rosbags_bytes = bytes(TS.serialize_cdr(build_rosbags_message(TS, spec.msg_type, fields), spec.msg_type))
    assert deserialize_message(rosbags_bytes, message_class(spec.msg_type)) == build_ros_message(spec.msg_type, fields)


def test_encoded_pose_command_has_ros_quaternion_order():
    msg = RosMessageEncoder(TMAP.topic("~/input/cmd/se3_pose/target"))(
        {"cmd.se3_pose.target": [[4.0, 5.0, 6.0, *QUAT_WXYZ]]}, stamp=(1, 2), frame_id="map")
    q = msg.pose.orientation
    assert (q.w, q.x, q.y, q.z) == pytest.approx(QUAT_WXYZ)
    assert (msg.pose.position.x, msg.header.frame_id) == (4.0, "map")


def test_float64_multi_array_fast_path_matches_the_encoder():
    spec = TMAP.topic("/fwd/commands")
    writer = OutputWriter(spec)
    value = np.array([[0.1, 0.2, 0.3]], dtype=np.float32)
    msg = writer.fill({"output.joint_targets.legs.pos": value}, 5)
    assert isinstance(msg, Float64MultiArray)
    reference = RosMessageEncoder(spec)({"output.joint_targets.legs.pos": value})
    assert msg == reference
    np.testing.assert_array_equal(msg.data, value.astype(np.float64)[0, [2, 0, 1]])  # ankle, hip, knee
    with pytest.raises(AdapterError, match="NaN or Inf"):
        writer.fill({"output.joint_targets.legs.pos": np.array([[0.0, np.nan, 0.0]], np.float32)}, 6)


def test_joint_trajectory_fast_path_publishes_one_point_in_joint_order():
    spec = TMAP.topic("/jtc/joint_trajectory")
    writer = OutputWriter(spec, frame_id="base")
    values = {"output.joint_targets.arm.pos": np.array([[1.0, 2.0, 3.0]], np.float32),
              "output.joint_targets.arm.effort": np.array([[4.0, 5.0, 6.0]], np.float32)}
    msg = writer.fill(values, 10**9)
    assert list(msg.joint_names) == ["a3", "a1", "a2"] and len(msg.points) == 1
    np.testing.assert_array_equal(msg.points[0].positions, [3.0, 1.0, 2.0])
    np.testing.assert_array_equal(msg.points[0].effort, [6.0, 4.0, 5.0])
    assert len(msg.points[0].velocities) == 0
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (0, 0)
    assert msg == RosMessageEncoder(spec)(values, stamp=(1, 0), frame_id="base")
    with pytest.raises(AdapterError, match="NaN or Inf"):
        writer.fill({**values, "output.joint_targets.arm.effort": np.array([[np.inf, 0.0, 0.0]], np.float32)}, 2)


def test_rclpy_float32_overflow_is_rejected_silently(capfd):
    msg = JointState(name=["a1", "a2", "a3"], position=[0.0, 0.0, 1e39])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AdapterError, match="beyond float32 range"):
            TopicDecoder(TMAP.topic("~/input/cmd/joint_pos/arm"))(msg)
    assert capfd.readouterr().err == ""


def test_joint_state_fast_path_publishes_bytes_that_deserialize_to_the_encoders_message():
    from rclpy.serialization import deserialize_message
    from vocabulary_messages import vocabulary

    from exploy.mapping import build_topic_map

    spec = build_topic_map(vocabulary()).topic("~/output/joint_targets/arm")  # pos + effort, no velocity
    writer = OutputWriter(spec, frame_id="base")
    values = {b.component: np.array([[0.5, -1.25, 3.0]], np.float32) * (i + 1) for i, b in enumerate(spec.bindings)}
    data = writer.fill(values, 7 * 10**9 + 8)
    assert isinstance(data, bytes)
    msg = deserialize_message(data, JointState)
    assert msg == RosMessageEncoder(spec)(values, stamp=(7, 8), frame_id="base")
    again = deserialize_message(writer.fill({k: -v for k, v in values.items()}, 9), JointState)
    np.testing.assert_array_equal(again.position, -np.asarray(msg.position))
    with pytest.raises(AdapterError, match="NaN or Inf"):
        writer.fill({k: np.full((1, 3), np.nan, np.float32) for k in values}, 10)
