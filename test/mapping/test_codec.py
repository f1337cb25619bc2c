"""Message codecs on rosbags messages (no rclpy): decode, validate, encode, round trip."""

from __future__ import annotations

import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore

from exploy.mapping import (
    AdapterError,
    FieldBinding,
    TopicDecoder,
    TopicEncoder,
    TopicSpec,
    build_rosbags_message,
    joint_indices,
)

TS = get_typestore(Stores.ROS2_KILTED)
T = TS.types
JOINTS = ("hip", "knee", "ankle")


def spec(adapter, msg_type, *bindings, direction="input"):
    return TopicSpec("/t", direction, msg_type, adapter, tuple(bindings))


def joint_spec(direction="input"):
    return spec(
        "joint_state", "sensor_msgs/msg/JointState",
        FieldBinding("j.pos", "position", JOINTS, (1, 3)),
        FieldBinding("j.vel", "velocity", JOINTS, (1, 3)),
        direction=direction,
    )


def imu_spec(direction="input"):
    return spec(
        "imu", "sensor_msgs/msg/Imu",
        FieldBinding("b.w_Q_b", "orientation", None, (1, 4)),
        FieldBinding("b.gyro", "angular_velocity", None, (1, 3)),
        direction=direction,
    )


def header():
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=1, nanosec=2), frame_id="")


def joint_state(names, position, velocity):
    return T["sensor_msgs/msg/JointState"](
        header=header(), name=list(names), position=np.array(position, dtype=np.float64),
        velocity=np.array(velocity, dtype=np.float64), effort=np.zeros(0),
    )


def imu(xyzw, gyro, orientation_cov0=0.0):
    quat = T["geometry_msgs/msg/Quaternion"](*xyzw)
    vec = T["geometry_msgs/msg/Vector3"]
    cov = np.zeros(9)
    cov[0] = orientation_cov0
    return T["sensor_msgs/msg/Imu"](header(), quat, cov, vec(*gyro), np.zeros(9), vec(0.0, 0.0, 9.81), np.zeros(9))


def test_joint_state_values_are_picked_by_name():
    # message order: ankle, extra, hip, knee -> policy order: hip, knee, ankle
    msg = joint_state(["ankle", "wrist", "hip", "knee"], [3.0, 9.0, 1.0, 2.0], [30.0, 90.0, 10.0, 20.0])
    out = TopicDecoder(joint_spec())(msg)
    np.testing.assert_array_equal(out["j.pos"], [[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(out["j.vel"], [[10.0, 20.0, 30.0]])
    assert out["j.pos"].dtype == np.float32 and out["j.pos"].shape == (1, 3)


def test_joint_indices_are_cached_per_name_tuple():
    first = joint_indices(JOINTS, ("knee", "hip", "ankle"))
    assert first is joint_indices(JOINTS, ("knee", "hip", "ankle"))
    np.testing.assert_array_equal(first, [1, 0, 2])
    assert not first.flags.writeable


@pytest.mark.parametrize(
    ("msg", "match"),
    [
        (joint_state(["hip", "knee"], [1, 2], [1, 2]), r"'j.pos': JointState lacks joint\(s\) \['ankle'\]"),
        (joint_state(JOINTS, [1, 2], [1, 2, 3]), "'j.pos': JointState has 3 names but 2 position values"),
        (joint_state(JOINTS, [1, 2, 3], []), "'j.vel': JointState has 3 names but 0 velocity values"),
        (joint_state(JOINTS, [1, np.nan, 3], [1, 2, 3]), "'j.pos': position contains NaN or Inf"),
        (joint_state(JOINTS, [1, 2, 3], [1, 2, np.inf]), "'j.vel': velocity contains NaN or Inf"),
        (joint_state(["hip", "knee", "ankle", "hip"], [1, 2, 3, 4], [1, 2, 3, 4]),
         r"names joint\(s\) \['hip'\] more than once"),
    ],
)
def test_bad_joint_state_is_rejected(msg, match):
    with pytest.raises(AdapterError, match=match):
        TopicDecoder(joint_spec())(msg)


def test_imu_quaternion_is_reordered_to_wxyz():
    half = np.sqrt(0.5)
    out = TopicDecoder(imu_spec())(imu((0.0, 0.0, half, half), (0.1, 0.2, 0.3)))
    np.testing.assert_allclose(out["b.w_Q_b"], [[half, 0.0, 0.0, half]], rtol=1e-6)
    np.testing.assert_allclose(out["b.gyro"], [[0.1, 0.2, 0.3]], rtol=1e-6)


@pytest.mark.parametrize(
    ("msg", "match"),
    [
        (imu((0.0, 0.0, 0.0, 1.0), (0, 0, 0), orientation_cov0=-1.0), "carries no orientation"),
        (imu((0.0, 0.0, 0.0, 0.0), (0, 0, 0)), r"not a unit quaternion \(norm 0\)"),
        (imu((0.0, 0.0, 0.0, np.nan), (0, 0, 0)), "not a unit quaternion"),
        (imu((0.0, 0.0, 0.0, 1.0), (0, np.nan, 0)), "'b.gyro': angular_velocity contains NaN"),
    ],
)
def test_bad_imu_is_rejected(msg, match):
    with pytest.raises(AdapterError, match=match):
        TopicDecoder(imu_spec())(msg)


def test_twist_se2_reads_vx_vy_wz():
    vec = T["geometry_msgs/msg/Vector3"]
    msg = T["geometry_msgs/msg/Twist"](vec(0.5, -0.25, 9.0), vec(7.0, 8.0, 1.5))
    tspec = spec("twist", "geometry_msgs/msg/Twist", FieldBinding("cmd", "se2", None, (1, 3)))
    np.testing.assert_array_equal(TopicDecoder(tspec)(msg)["cmd"], [[0.5, -0.25, 1.5]])


def float_array(data):
    layout = T["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0)
    return T["std_msgs/msg/Float32MultiArray"](layout, np.array(data, dtype=np.float32))


def test_float32_multi_array_is_reshaped_and_checked():
    fspec = spec("float32_multi_array", "std_msgs/msg/Float32MultiArray", FieldBinding("x", "data", None, (1, 2, 2)))
    decode = TopicDecoder(fspec)
    np.testing.assert_array_equal(decode(float_array([1, 2, 3, 4]))["x"], [[[1, 2], [3, 4]]])
    with pytest.raises(AdapterError, match=r"'x': Float32MultiArray has 3 values, expected 4 \(shape \[1, 2, 2\]\)"):
        decode(float_array([1, 2, 3]))
    with pytest.raises(AdapterError, match="'x': data contains NaN"):
        decode(float_array([1, 2, np.nan, 4]))


def test_decoder_is_all_or_nothing():
    msg = joint_state(JOINTS, [1, 2, 3], [1, np.nan, 3])
    with pytest.raises(AdapterError):
        TopicDecoder(joint_spec())(msg)


def test_joint_state_encoder_fills_names_and_leaves_unbound_fields_empty():
    ospec = spec("joint_state", "sensor_msgs/msg/JointState",
                 FieldBinding("t.pos", "position", JOINTS, (1, 3)), direction="output")
    fields = TopicEncoder(ospec)({"t.pos": np.array([[0.1, 0.2, 0.3]], dtype=np.float32)}, stamp=(5, 6))
    assert fields["name"] == list(JOINTS)
    assert fields["header"] == {"stamp": {"sec": 5, "nanosec": 6}, "frame_id": ""}
    np.testing.assert_allclose(fields["position"], [0.1, 0.2, 0.3], rtol=1e-6)
    assert fields["velocity"].size == 0 and fields["effort"].size == 0


def test_imu_encoder_writes_xyzw_and_marks_unbound_parts():
    ospec = spec("imu", "sensor_msgs/msg/Imu", FieldBinding("q", "orientation", None, (1, 4)), direction="output")
    fields = TopicEncoder(ospec)({"q": [1.0, 0.0, 0.0, 0.0]})  # identity, w first
    assert fields["orientation"] == {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0}
    assert fields["orientation_covariance"][0] == 0.0
    assert fields["angular_velocity_covariance"][0] == -1.0
    assert fields["linear_acceleration_covariance"][0] == -1.0


def test_twist_encoder_writes_se2():
    ospec = spec("twist", "geometry_msgs/msg/Twist", FieldBinding("c", "se2", None, (1, 3)), direction="output")
    fields = TopicEncoder(ospec)({"c": [0.5, 0.25, -1.0]})
    assert fields == {"linear": {"x": 0.5, "y": 0.25, "z": 0.0}, "angular": {"x": 0.0, "y": 0.0, "z": -1.0}}


def test_float32_multi_array_encoder_fills_layout():
    ospec = spec("float32_multi_array", "std_msgs/msg/Float32MultiArray",
                 FieldBinding("a", "data", None, (1, 2, 3)), direction="output")
    fields = TopicEncoder(ospec)({"a": np.arange(6).reshape(1, 2, 3)})
    assert [(d["size"], d["stride"]) for d in fields["layout"]["dim"]] == [(1, 6), (2, 6), (3, 3)]
    assert fields["layout"]["dim"][0]["label"] == "a"
    assert fields["data"].dtype == np.float32
    np.testing.assert_array_equal(fields["data"], np.arange(6))


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({}, "No value given for output 't.pos'"),
        ({"t.pos": [1.0, 2.0]}, r"'t.pos': got 2 values, expected 3 \(shape \[1, 3\]\)"),
        ({"t.pos": [1.0, np.nan, 2.0]}, "'t.pos': output contains NaN or Inf"),
    ],
)
def test_encoder_rejects_bad_outputs(values, match):
    ospec = spec("joint_state", "sensor_msgs/msg/JointState",
                 FieldBinding("t.pos", "position", JOINTS, (1, 3)), direction="output")
    with pytest.raises(AdapterError, match=match):
        TopicEncoder(ospec)(values)


@pytest.mark.parametrize(
    ("make_spec", "values"),
    [
        (joint_spec, {"j.pos": [[1.0, 2.0, 3.0]], "j.vel": [[-1.0, -2.0, -3.0]]}),
        (imu_spec, {"b.w_Q_b": [[0.5, 0.5, -0.5, 0.5]], "b.gyro": [[0.1, 0.2, 0.3]]}),
        (lambda direction: spec("twist", "geometry_msgs/msg/Twist", FieldBinding("c", "se2", None, (1, 3)),
                                direction=direction), {"c": [[0.5, 0.25, -1.0]]}),
        (lambda direction: spec("float32_multi_array", "std_msgs/msg/Float32MultiArray",
                                FieldBinding("a", "data", None, (1, 4)), direction=direction),
         {"a": [[1.0, 2.0, 3.0, 4.0]]}),
    ],
)
def test_rosbags_round_trip_through_cdr(make_spec, values):
    ospec = make_spec("output")
    msg = build_rosbags_message(TS, ospec.msg_type, TopicEncoder(ospec)(values, stamp=(3, 4)))
    back = TS.deserialize_cdr(TS.serialize_cdr(msg, ospec.msg_type), ospec.msg_type)
    decoded = TopicDecoder(make_spec("input"))(back)
    for name, expected in values.items():
        np.testing.assert_allclose(decoded[name], expected, rtol=1e-6)


def test_one_joint_state_feeds_two_articulations():
    jspec = spec(
        "joint_state", "sensor_msgs/msg/JointState",
        FieldBinding("arm.pos", "position", ("a1", "a2"), (1, 2)),
        FieldBinding("leg.pos", "position", ("l2", "l1"), (1, 2)),
    )
    msg = joint_state(["l1", "a2", "l2", "a1"], [1.0, 2.0, 3.0, 4.0], [0.0] * 4)
    out = TopicDecoder(jspec)(msg)
    np.testing.assert_array_equal(out["arm.pos"], [[4.0, 2.0]])
    np.testing.assert_array_equal(out["leg.pos"], [[3.0, 1.0]])
