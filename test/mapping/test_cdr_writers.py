"""Messages written straight to CDR bytes (exploy.mapping.cdr_writers), read back by rosbags'
deserializer (independent of the code under test) and by our own views."""

from __future__ import annotations

import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore

from exploy.mapping.cdr import cdr_reader
from exploy.mapping.cdr_writers import ImuWriter, JointStateWriter

TS = get_typestore(Stores.ROS2_KILTED)


@pytest.mark.parametrize("fields", [("position", "velocity", "effort"), ("position", "effort"), ("effort",), ()])
def test_joint_state_bytes_deserialize_to_the_values_written(fields):
    names = ["hip", "knee_ü", "a" * 13]
    writer = JointStateWriter(names, fields=fields, frame_id="base_link")
    rng = np.random.default_rng(1)
    for stamp_ns in (0, 5 * 10**9 + 7, 1_800_000_000 * 10**9 + 999_999_999):
        values = {f: rng.normal(size=3) for f in fields}
        data = writer.write(stamp_ns, **values)
        msg = TS.deserialize_cdr(data, "sensor_msgs/msg/JointState")
        assert list(msg.name) == names and msg.header.frame_id == "base_link"
        assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == stamp_ns
        for f in JointStateWriter.FIELDS:
            np.testing.assert_array_equal(getattr(msg, f), values.get(f, np.zeros(0)))
        view = cdr_reader("joint_state")(data)
        assert view.name == tuple(names)


def test_joint_state_writer_refuses_a_wrong_count_or_field():
    writer = JointStateWriter(["a", "b"], fields=("position",))
    with pytest.raises(ValueError):
        writer.write(0, position=np.zeros(3))
    with pytest.raises(KeyError):
        writer.write(0, effort=np.zeros(2))
    with pytest.raises(ValueError, match="no field"):
        JointStateWriter(["a"], fields=("positions",))


def test_a_field_not_given_keeps_its_previous_values():
    writer = JointStateWriter(["a"])
    writer.write(0, position=[1.0], velocity=[2.0], effort=[3.0])
    msg = TS.deserialize_cdr(writer.write(1, effort=[4.0]), "sensor_msgs/msg/JointState")
    assert (msg.position[0], msg.velocity[0], msg.effort[0]) == (1.0, 2.0, 4.0)


def test_imu_bytes_deserialize_to_the_values_written():
    writer = ImuWriter(frame_id="imu")
    writer.orientation[:] = (0.1, 0.2, 0.3, 0.9)
    writer.angular_velocity[:] = (1.0, -2.0, 3.0)
    writer.linear_acceleration[:] = (0.0, 0.0, 9.81)
    writer.linear_acceleration_covariance[0] = -1.0
    msg = TS.deserialize_cdr(writer.write(3 * 10**9 + 4), "sensor_msgs/msg/Imu")
    o, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
    assert (o.x, o.y, o.z, o.w) == (0.1, 0.2, 0.3, 0.9) and (w.x, w.y, w.z) == (1.0, -2.0, 3.0)
    assert (a.z, msg.linear_acceleration_covariance[0], msg.orientation_covariance[0]) == (9.81, -1.0, 0.0)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (3, 4, "imu")


def test_encoder_fields_serialize_to_the_bytes_rosbags_writes():
    """Every vocabulary topic of a supported adapter: our bytes equal rosbags' for the same fields."""
    import sys

    from exploy.mapping import TopicEncoder, build_rosbags_message
    from exploy.mapping.cdr_writers import serialize_fields

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from vocabulary_messages import CASES, TMAP

    done = set()
    for topic, (_, _, expected) in CASES.items():
        spec = TMAP.topic(topic)
        fields = TopicEncoder(spec)(expected, stamp=(3, 4), frame_id="frame")
        data = serialize_fields(spec.adapter, fields)
        if data is None:
            continue
        assert data == bytes(TS.serialize_cdr(build_rosbags_message(TS, spec.msg_type, fields), spec.msg_type)), topic
        done.add(spec.adapter)
    assert serialize_fields("bool", {"data": True}) is None
    assert done >= {"joint_state", "twist", "twist_stamped", "float32_multi_array", "float64_multi_array"}


def test_imu_fields_serialize_to_the_bytes_rosbags_writes():
    from exploy.mapping import build_rosbags_message
    from exploy.mapping.cdr_writers import serialize_fields

    vec = {"x": 0.5, "y": -1.0, "z": 2.0}
    fields = {"header": {"stamp": {"sec": 1, "nanosec": 2}, "frame_id": "imu_link"},
              "orientation": {"x": 0.0, "y": 0.6, "z": 0.0, "w": 0.8}, "orientation_covariance": np.arange(9.0),
              "angular_velocity": vec, "angular_velocity_covariance": np.zeros(9),
              "linear_acceleration": vec, "linear_acceleration_covariance": -np.ones(9)}
    msg_type = "sensor_msgs/msg/Imu"
    assert serialize_fields("imu", fields) == bytes(
        TS.serialize_cdr(build_rosbags_message(TS, msg_type, fields), msg_type))
