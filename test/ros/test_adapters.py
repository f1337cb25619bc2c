"""rclpy message adapters: decode rclpy messages, encode to rclpy messages, agree with rosbags.

No ``rclpy.init()``: messages are plain objects.
"""

from __future__ import annotations

import array

import numpy as np
import pytest

sensor_msgs = pytest.importorskip("sensor_msgs.msg")
from geometry_msgs.msg import Quaternion, Twist, Vector3  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402
from std_msgs.msg import Float32MultiArray  # noqa: E402

from exploy.format import ComponentKind, ComponentSpec, GroupSpec, PolicyMetadata  # noqa: E402
from exploy.mapping import build_topic_map  # noqa: E402
from exploy_ros.adapters import (  # noqa: E402
    AdapterError,
    RosMessageEncoder,
    TopicDecoder,
    build_ros_message,
    build_rosbags_message,
    message_class,
)

IN, OUT = ComponentKind.INPUT, ComponentKind.OUTPUT
JOINTS = ("hip", "knee", "ankle")
TS = get_typestore(Stores.ROS2_KILTED)


def topic_map():
    def comp(name, kind=IN, size=3, group=None):
        return ComponentSpec(name, kind, (1, size), "float32", group)

    meta = PolicyMetadata(
        "0.1.0", 4, 200.0,
        (
            comp("obj.robot.joints.pos", group="obj.robot.joints"),
            comp("obj.robot.joints.vel", group="obj.robot.joints"),
            comp("obj.robot.base.w_Q_b", size=4),
            comp("obj.robot.base.ang_vel_b_rt_w_in_b"),
            comp("cmd.se2_velocity.base_velocity"),
            comp("output.joint_targets.pd.pos", OUT, group="output.joint_targets.pd"),
            comp("output.joint_targets.pd.effort", OUT, group="output.joint_targets.pd"),
            comp("actions", OUT, size=4),
        ),
        (
            GroupSpec("obj.robot.joints", ("obj.robot.joints.pos", "obj.robot.joints.vel"), None,
                      {"joint_names": list(JOINTS)}),
            GroupSpec("output.joint_targets.pd", ("output.joint_targets.pd.pos", "output.joint_targets.pd.effort"),
                      None, {"names": list(JOINTS)}),
        ),
    )
    return build_topic_map(meta)


TMAP = topic_map()


def rclpy_joint_state():
    return sensor_msgs.JointState(name=["knee", "ankle", "hip"], position=[2.0, 3.0, 1.0], velocity=[20.0, 30.0, 10.0])


def rclpy_imu():
    half = float(np.sqrt(0.5))
    return sensor_msgs.Imu(orientation=Quaternion(x=half, y=0.0, z=0.0, w=half),
                           angular_velocity=Vector3(x=0.1, y=0.2, z=0.3))


def rclpy_twist():
    return Twist(linear=Vector3(x=0.5, y=-0.5, z=3.0), angular=Vector3(x=1.0, y=2.0, z=0.75))


def test_message_classes_resolve_from_type_strings():
    assert message_class("sensor_msgs/msg/JointState") is sensor_msgs.JointState
    for spec in TMAP.topics:
        assert message_class(spec.msg_type).__name__ == spec.msg_type.rsplit("/", 1)[-1]
    with pytest.raises(ValueError, match="Not a ROS message type"):
        message_class("sensor_msgs/JointState")
    with pytest.raises(ValueError, match="is not available"):
        message_class("no_such_msgs/msg/Thing")


def test_rclpy_joint_state_is_reordered_by_name():
    out = TopicDecoder(TMAP.topic("~/input/obj/robot/joints"))(rclpy_joint_state())
    np.testing.assert_array_equal(out["obj.robot.joints.pos"], [[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(out["obj.robot.joints.vel"], [[10.0, 20.0, 30.0]])


def test_rclpy_imu_quaternion_becomes_wxyz():
    out = TopicDecoder(TMAP.topic("~/input/obj/robot/base/imu"))(rclpy_imu())
    half = np.sqrt(0.5)
    np.testing.assert_allclose(out["obj.robot.base.w_Q_b"], [[half, half, 0.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(out["obj.robot.base.ang_vel_b_rt_w_in_b"], [[0.1, 0.2, 0.3]], rtol=1e-6)


def test_rclpy_twist_gives_vx_vy_wz():
    out = TopicDecoder(TMAP.topic("~/input/cmd/se2_velocity/base_velocity"))(rclpy_twist())
    np.testing.assert_array_equal(out["cmd.se2_velocity.base_velocity"], [[0.5, -0.5, 0.75]])


def test_rclpy_messages_are_rejected_like_rosbags_ones():
    decode = TopicDecoder(TMAP.topic("~/input/obj/robot/joints"))
    with pytest.raises(AdapterError, match=r"lacks joint\(s\) \['hip'\]"):
        decode(sensor_msgs.JointState(name=["knee", "ankle"], position=[1.0, 2.0], velocity=[1.0, 2.0]))
    with pytest.raises(AdapterError, match="contains NaN"):
        decode(sensor_msgs.JointState(name=list(JOINTS), position=[1.0, float("nan"), 2.0], velocity=[0.0] * 3))
    with pytest.raises(AdapterError, match="3 names but 0 velocity values"):
        decode(sensor_msgs.JointState(name=list(JOINTS), position=[1.0, 2.0, 3.0]))


def to_rosbags(msg):
    """The same message as a rosbags dataclass, copied field by field."""
    cls = type(msg)
    kwargs = {}
    for name in cls.get_fields_and_field_types():
        value = getattr(msg, name)
        if hasattr(value, "get_fields_and_field_types"):
            value = to_rosbags(value)
        elif isinstance(value, array.array):
            value = np.array(value)
        kwargs[name] = value
    return TS.types[f"{cls.__module__.split('.')[0]}/msg/{cls.__name__}"](**kwargs)


@pytest.mark.parametrize(
    ("topic", "make"),
    [
        ("~/input/obj/robot/joints", rclpy_joint_state),
        ("~/input/obj/robot/base/imu", rclpy_imu),
        ("~/input/cmd/se2_velocity/base_velocity", rclpy_twist),
    ],
)
def test_rclpy_and_rosbags_messages_decode_equally(topic, make):
    spec = TMAP.topic(topic)
    decode = TopicDecoder(spec)
    msg = make()
    from_rclpy = decode(msg)
    rosbags_msg = to_rosbags(msg)
    assert rosbags_msg.__msgtype__ == spec.msg_type
    from_rosbags = decode(rosbags_msg)
    assert from_rclpy.keys() == from_rosbags.keys()
    for name in from_rclpy:
        np.testing.assert_array_equal(from_rclpy[name], from_rosbags[name])


def test_joint_targets_encode_to_an_rclpy_joint_state():
    encode = RosMessageEncoder(TMAP.topic("~/output/joint_targets/pd"))
    msg = encode({"output.joint_targets.pd.pos": np.array([[0.1, 0.2, 0.3]], dtype=np.float32),
                  "output.joint_targets.pd.effort": np.array([[1.0, 2.0, 3.0]], dtype=np.float32)},
                 stamp=(12, 34), frame_id="base")
    assert isinstance(msg, sensor_msgs.JointState) and encode.msg_class is sensor_msgs.JointState
    assert list(msg.name) == list(JOINTS)
    np.testing.assert_allclose(msg.position, [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(msg.effort, [1.0, 2.0, 3.0])
    assert len(msg.velocity) == 0
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (12, 34, "base")


def test_float32_multi_array_encodes_shape_in_layout():
    msg = RosMessageEncoder(TMAP.topic("~/output/actions"))({"actions": [[1.0, 2.0, 3.0, 4.0]]})
    assert isinstance(msg, Float32MultiArray)
    assert [(d.label, d.size, d.stride) for d in msg.layout.dim] == [("actions", 1, 4), ("dim1", 4, 4)]
    np.testing.assert_array_equal(msg.data, [1.0, 2.0, 3.0, 4.0])


def test_encoder_refuses_nan_targets():
    encode = RosMessageEncoder(TMAP.topic("~/output/joint_targets/pd"))
    with pytest.raises(AdapterError, match="output contains NaN"):
        encode({"output.joint_targets.pd.pos": [0.0, np.nan, 0.0], "output.joint_targets.pd.effort": [0.0] * 3})


def test_rclpy_and_rosbags_builders_make_the_same_message():
    from rclpy.serialization import deserialize_message

    spec = TMAP.topic("~/output/joint_targets/pd")
    fields = RosMessageEncoder(spec).fields(
        {"output.joint_targets.pd.pos": [0.1, 0.2, 0.3], "output.joint_targets.pd.effort": [1.0, 2.0, 3.0]},
        stamp=(1, 2),
    )
    rosbags_bytes = bytes(TS.serialize_cdr(build_rosbags_message(TS, spec.msg_type, fields), spec.msg_type))
    assert deserialize_message(rosbags_bytes, sensor_msgs.JointState) == build_ros_message(spec.msg_type, fields)
