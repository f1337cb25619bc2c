"""Codecs of every upstream family on rosbags messages: decode hand-written messages, reject bad
values, round trip through CDR, keep memory bounded, stay silent on float32 overflow."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore
from vocabulary_messages import CASES, LEGS, QUAT_WXYZ, TMAP, grid, odometry, trajectory

from exploy.mapping import AdapterError, TopicDecoder, TopicEncoder, build_message, build_rosbags_message
from exploy.mapping.decoders import INDEX_CACHE_ENTRIES, JOINT_INDEX_CACHE

TS = get_typestore(Stores.ROS2_KILTED)


def rosbags(msg_type, fields):
    return build_message(msg_type, fields, lambda name, kwargs: TS.types[name](**kwargs))


@pytest.mark.parametrize("topic", sorted(CASES))
def test_hand_written_message_decodes_to_policy_tensors(topic):
    msg_type, fields, expected = CASES[topic]
    spec = TMAP.topic(topic)
    assert spec.msg_type == msg_type
    out = TopicDecoder(spec)(rosbags(msg_type, fields))
    assert out.keys() == expected.keys()
    for name, value in expected.items():
        bnd = spec.binding(name)
        assert out[name].shape == bnd.shape and out[name].dtype == np.dtype(bnd.dtype)
        np.testing.assert_allclose(out[name], np.asarray(value, dtype=np.float64), rtol=1e-6)


@pytest.mark.parametrize("topic", sorted(CASES))
def test_every_adapter_round_trips_through_cdr(topic):
    spec = TMAP.topic(topic)
    _, _, expected = CASES[topic]
    fields = TopicEncoder(spec)(expected, stamp=(3, 4), frame_id="f")
    msg = build_rosbags_message(TS, spec.msg_type, fields)
    back = TS.deserialize_cdr(TS.serialize_cdr(msg, spec.msg_type), spec.msg_type)
    decoded = TopicDecoder(spec)(back)
    for name, value in expected.items():
        np.testing.assert_allclose(decoded[name], np.asarray(value, dtype=np.float64), rtol=1e-6)


def test_encoders_write_ros_quaternion_order_and_message_joint_order():
    odom = TopicEncoder(TMAP.topic("~/input/obj/robot/base/odom"))(CASES["~/input/obj/robot/base/odom"][2])
    w, x, y, z = QUAT_WXYZ
    assert odom["pose"]["pose"]["orientation"] == {"x": x, "y": y, "z": z, "w": w}
    fwd = TopicEncoder(TMAP.topic("/fwd/commands"))({"output.joint_targets.legs.pos": [[10.0, 20.0, 30.0]]})
    np.testing.assert_array_equal(fwd["data"], [30.0, 10.0, 20.0])  # ankle, hip, knee
    assert fwd["data"].dtype == np.float64
    jtc = TopicEncoder(TMAP.topic("/jtc/joint_trajectory"))(
        {"output.joint_targets.arm.pos": [[1.0, 2.0, 3.0]], "output.joint_targets.arm.effort": [[4.0, 5.0, 6.0]]})
    assert jtc["joint_names"] == ["a3", "a1", "a2"]
    (point,) = jtc["points"]
    np.testing.assert_array_equal(point["positions"], [3.0, 1.0, 2.0])
    np.testing.assert_array_equal(point["effort"], [6.0, 4.0, 5.0])
    assert point["velocities"].size == 0 and point["time_from_start"] == {"sec": 0, "nanosec": 0}
    assert jtc["header"]["stamp"] == {"sec": 0, "nanosec": 0}  # "start now" for joint_trajectory_controller
    twist = TopicEncoder(TMAP.topic("~/output/se2_velocity/walk"))({"output.se2_velocity.walk": [[0.5, 0.25, -1.0]]})
    assert twist == {"linear": {"x": 0.5, "y": 0.25, "z": 0.0}, "angular": {"x": 0.0, "y": 0.0, "z": -1.0}}


def test_height_grid_layout_is_rows_then_columns():
    fields = TopicEncoder(TMAP.topic("~/input/sensor/ray_caster/scan/height"))(
        {"sensor.ray_caster.scan.height": np.arange(15.0)})
    assert [(d["label"], d["size"], d["stride"]) for d in fields["layout"]["dim"]] == [("y", 3, 15), ("x", 5, 5)]


@pytest.mark.parametrize(
    ("topic", "fields", "match"),
    [
        (
            "~/input/obj/robot/base/odom",
            odometry((0.0, 0.0, 0.0, 0.0)),
            r"orientation is not a unit quaternion \(norm 0\)",
        ),
        ("~/input/obj/robot/base/odom", odometry((0.0, 0.0, 0.0, float("nan"))), "not a unit quaternion"),
        ("~/input/cmd/float/height", {"data": float("inf")}, "'cmd.float.height': data contains NaN or Inf"),
        (
            "~/input/sensor/ray_caster/scan/height",
            grid(5, 3, np.arange(15)),
            r"height grid is 5x3, expected 3x5 \(rows along y",
        ),
        ("~/input/sensor/ray_caster/scan/height", grid(3, 5, np.arange(14)), "has 14 values, expected 15"),
        (
            "/fwd/commands",
            {"layout": {"dim": [], "data_offset": 0}, "data": np.zeros(2)},
            "Float64MultiArray has 2 values, expected 3",
        ),
        ("/jtc/joint_trajectory", trajectory(["a1", "a2"], [1.0, 2.0]), r"JointTrajectory lacks joint\(s\) \['a3'\]"),
        ("/jtc/joint_trajectory", {**trajectory([], []), "points": []}, "JointTrajectory has no point"),
        (
            "/jtc/joint_trajectory",
            trajectory(["a1", "a2", "a3"], [1.0, 2.0, 3.0], effort=[1.0]),
            "JointTrajectory has 3 names but 1 effort values",
        ),
    ],
)
def test_bad_messages_are_rejected(topic, fields, match):
    spec = TMAP.topic(topic)
    with pytest.raises(AdapterError, match=match):
        TopicDecoder(spec)(rosbags(spec.msg_type, fields))


def test_float32_overflow_is_rejected_without_a_numpy_warning(capfd):
    legs = TopicDecoder(TMAP.topic("~/input/cmd/joint_pos/arm"))
    msg = rosbags("sensor_msgs/msg/JointState", {
        "header": {"stamp": {"sec": 0, "nanosec": 0}, "frame_id": ""}, "name": ["a1", "a2", "a3"],
        "position": np.array([0.0, 1e39, 0.0]), "velocity": np.zeros(0), "effort": np.zeros(0)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AdapterError, match=r"beyond float32 range .*\[1\]=1e\+39"):
            legs(msg)
    assert capfd.readouterr().err == ""


def test_unique_huge_joint_names_do_not_grow_memory():
    """Issue 9: 300 JointStates each with a unique 1 MiB extra name grew the node by 293 MB."""
    decode = TopicDecoder(TMAP.topic("~/input/cmd/joint_pos/arm"))
    JOINT_INDEX_CACHE.clear()
    make = TS.types["sensor_msgs/msg/JointState"]
    stamp = TS.types["std_msgs/msg/Header"](TS.types["builtin_interfaces/msg/Time"](0, 0), "")
    tracemalloc.start()
    try:
        for i in range(300):
            names = ["a1", "a2", "a3", f"{i:06d}" + "x" * (1 << 20)]
            decode(make(stamp, names, np.array([1.0, 2.0, 3.0, 4.0]), np.zeros(0), np.zeros(0)))
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert current < 8 * (1 << 20), f"{current / 2**20:.1f} MiB retained"
    assert len(JOINT_INDEX_CACHE) <= INDEX_CACHE_ENTRIES


def test_missing_joint_error_is_bounded_for_huge_names():
    decode = TopicDecoder(TMAP.topic("~/input/cmd/joint_pos/arm"))
    make = TS.types["sensor_msgs/msg/JointState"]
    stamp = TS.types["std_msgs/msg/Header"](TS.types["builtin_interfaces/msg/Time"](0, 0), "")
    names = ["y" * (1 << 20)] * 50
    with pytest.raises(AdapterError) as err:
        decode(make(stamp, names, np.zeros(50), np.zeros(0), np.zeros(0)))
    assert len(str(err.value)) < 1000


def test_joint_names_cache_still_hits_for_ordinary_messages():
    from exploy.mapping import joint_indices

    first = joint_indices(LEGS, ("knee", "hip", "ankle"))
    assert first is joint_indices(LEGS, ("knee", "hip", "ankle"))
