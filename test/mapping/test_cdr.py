"""Reading messages from their CDR bytes (exploy.mapping.cdr), with rosbags as the independent
serializer: both byte orders, the hand-written vocabulary decoding to hand-computed tensors, and
malformed bytes of every kind ending in one CdrError (bounded, never another exception)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore
from vocabulary_messages import CASES, TMAP, header, odometry, quat, vec

from exploy.mapping import TopicDecoder, build_message
from exploy.mapping.cdr import CdrError, cdr_reader
from exploy.mapping.errors import AdapterError

TS = get_typestore(Stores.ROS2_KILTED)
ADAPTER_TYPES = {
    "float32_multi_array": "std_msgs/msg/Float32MultiArray",
    "float64_multi_array": "std_msgs/msg/Float64MultiArray",
    "joint_state": "sensor_msgs/msg/JointState",
    "imu": "sensor_msgs/msg/Imu",
    "twist": "geometry_msgs/msg/Twist",
    "twist_stamped": "geometry_msgs/msg/TwistStamped",
    "odometry": "nav_msgs/msg/Odometry",
}


def rosbags(msg_type, fields):
    return build_message(msg_type, fields, lambda name, kwargs: TS.types[name](**kwargs))


def cdr(msg_type, fields, *, little_endian=True) -> bytes:
    return bytes(TS.serialize_cdr(rosbags(msg_type, fields), msg_type, little_endian=little_endian))


def joint_state(names, position=(), velocity=(), effort=(), frame_id="odom"):
    return {"header": header(frame_id=frame_id), "name": list(names), "position": np.asarray(position, float),
            "velocity": np.asarray(velocity, float), "effort": np.asarray(effort, float)}


def imu(seed=0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    return {"header": header(frame_id="imu_link"), "orientation": quat(q),
            "orientation_covariance": rng.normal(size=9), "angular_velocity": vec(*rng.normal(size=3)),
            "angular_velocity_covariance": rng.normal(size=9), "linear_acceleration": vec(*rng.normal(size=3)),
            "linear_acceleration_covariance": rng.normal(size=9)}


TWIST = {"linear": vec(0.5, -0.25, 7), "angular": vec(8, 9, 1.25)}
SAMPLES = {
    "joint_state": joint_state(["a", "bé", "c" * 70], [1.0, -2.0, 3.5], [0.25, 0.0, -1e300], [], frame_id=""),
    "imu": imu(),
    "twist": TWIST,
    "twist_stamped": {"header": header(), "twist": TWIST},
    "odometry": odometry(),
    "float32_multi_array": {"layout": {"dim": [{"label": "y", "size": 2, "stride": 6},
                                               {"label": "x", "size": 3, "stride": 3}], "data_offset": 0},
                            "data": np.array([1.5, -2.0, 3.25, 0.0, 1e-3, 7.0], np.float32)},
    "float64_multi_array": {"layout": {"dim": [], "data_offset": 2}, "data": np.array([30.0, -1e300, 20.0])},
}


@pytest.mark.parametrize("little_endian", [True, False], ids=["little-endian", "big-endian"])
@pytest.mark.parametrize("adapter", sorted(SAMPLES))
def test_views_carry_every_field_the_serializer_wrote(adapter, little_endian):
    msg_type = ADAPTER_TYPES[adapter]
    fields = SAMPLES[adapter]
    view = cdr_reader(adapter)(cdr(msg_type, fields, little_endian=little_endian))
    _same(view, fields)


def _same(view, fields):
    for key, want in fields.items():
        got = getattr(view, key)
        if isinstance(want, dict):
            _same(got, want)
        elif isinstance(want, (str, int)):
            assert got == want, key
        elif isinstance(want, list) and want and isinstance(want[0], dict):
            assert len(got) == len(want), key
            for g, w in zip(got, want):
                _same(g, w)
        elif isinstance(want, list):
            assert tuple(got) == tuple(want), key
        else:
            np.testing.assert_array_equal(np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64), key)


@pytest.mark.parametrize("topic", sorted(t for t, case in CASES.items() if case[0] in ADAPTER_TYPES.values()))
def test_vocabulary_decodes_from_bytes_to_the_hand_computed_tensors(topic):
    msg_type, fields, expected = CASES[topic]
    spec = TMAP.topic(topic)
    for little_endian in (True, False):
        out = TopicDecoder(spec)(cdr_reader(spec.adapter)(cdr(msg_type, fields, little_endian=little_endian)))
        assert out.keys() == expected.keys()
        for name, value in expected.items():
            np.testing.assert_allclose(out[name], np.asarray(value, dtype=np.float64), rtol=1e-6)


def test_empty_sequences_and_strings_need_no_padding():
    """An empty float64[] is not aligned to 8 (only a sequence with elements is): the fields after
    it are still read right (Fast-CDR and rosbags agree)."""
    for position, velocity, effort in [([], [1.0], []), ([1.0], [], [2.0]), ([], [], [3.0])]:
        fields = joint_state(["j"], position, velocity, effort, frame_id="xyz")
        view = cdr_reader("joint_state")(cdr("sensor_msgs/msg/JointState", fields))
        assert view.header.frame_id == "xyz"
        _same(view, fields)
    view = cdr_reader("joint_state")(cdr("sensor_msgs/msg/JointState", joint_state([])))
    assert view.name == () and view.position.size == 0


def test_trailing_bytes_are_ignored():
    data = cdr("geometry_msgs/msg/Twist", TWIST) + b"\x00\x01junk"
    assert cdr_reader("twist")(data).angular.z == 1.25


def test_a_changed_name_list_is_read_again_not_taken_from_the_cache():
    read = cdr_reader("joint_state")
    first = read(cdr("sensor_msgs/msg/JointState", joint_state(["a", "b"], [1.0, 2.0])))
    second = read(cdr("sensor_msgs/msg/JointState", joint_state(["b", "a"], [1.0, 2.0])))  # same size, other order
    moved = read(cdr("sensor_msgs/msg/JointState", joint_state(["b", "a"], [1.0, 2.0], frame_id="longer")))
    assert (first.name, second.name, moved.name) == (("a", "b"), ("b", "a"), ("b", "a"))
    assert moved.header.frame_id == "longer"


def test_the_views_arrays_are_read_only():
    view = cdr_reader("joint_state")(cdr("sensor_msgs/msg/JointState", joint_state(["a"], [1.0])))
    with pytest.raises(ValueError):
        view.position[0] = 2.0


def test_unsupported_adapters_have_no_reader():
    assert all(cdr_reader(a) is None for a in ("joint_trajectory", "pose_stamped", "bool", "float32"))


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "too short"),
        (b"\x00\x07\x00\x00" + bytes(64), "not plain CDR"),
        (b"\x00\x01\x00\x00" + bytes(6), "inside its header stamp"),
        (b"\x00\x01\x00\x00" + bytes(8) + (1 << 31).to_bytes(4, "little"), "runs past the end"),
        (b"\x00\x01\x00\x00" + bytes(8) + b"\x02\x00\x00\x00ab", "not NUL-terminated"),
        (b"\x00\x01\x00\x00" + bytes(8) + b"\x02\x00\x00\x00\xff\x00", "not UTF-8"),
        (b"\x00\x01\x00\x00" + bytes(8) + b"\x01\x00\x00\x00\x00" + bytes(3) + b"\xff\xff\xff\x7f", "cannot fit"),
    ],
)
def test_malformed_bytes_are_one_bounded_cdr_error(data, says):
    with pytest.raises(CdrError, match=says) as err:
        cdr_reader("joint_state")(data)
    assert isinstance(err.value, AdapterError) and "\n" not in str(err.value) and len(str(err.value)) < 200


@pytest.mark.parametrize("adapter", sorted(SAMPLES))
def test_every_truncation_and_mutation_is_a_view_or_a_cdr_error(adapter):
    """Cut at every length, and 2,000 random byte changes: the reader returns a view or raises
    CdrError, never anything else (no IndexError, struct.error, MemoryError), and a view holds
    no more numbers than the bytes carry."""
    good = cdr(ADAPTER_TYPES[adapter], SAMPLES[adapter])
    rng = np.random.default_rng(7)
    cases = [good[:n] for n in range(len(good))]
    for _ in range(2000):
        data = bytearray(good)
        for i in rng.integers(0, len(data), size=rng.integers(1, 4)):
            data[i] = int(rng.integers(0, 256))
        cases.append(bytes(data))
    read = cdr_reader(adapter)
    for data in cases:
        try:
            view = read(data)
        except CdrError as err:
            assert "\n" not in str(err) and len(str(err)) < 200
            continue
        if adapter == "joint_state":
            assert 8 * (view.position.size + view.velocity.size + view.effort.size) <= len(data)
    with pytest.raises(CdrError):
        read(good[: len(good) // 2])


def test_a_non_finite_value_in_the_bytes_is_rejected_by_the_decoder_as_in_a_message():
    spec = TMAP.topic("~/input/cmd/joint_pos/arm")
    fields = joint_state(["a1", "a2", "a3"], [1.0, math.nan, 3.0])
    with pytest.raises(AdapterError, match="NaN or Inf"):
        TopicDecoder(spec)(cdr_reader("joint_state")(cdr("sensor_msgs/msg/JointState", fields)))


def test_uint64_arrays_read_past_any_layout_and_refuse_what_does_not_fit():
    from exploy.mapping.cdr import read_uint64_array
    from exploy.mapping.cdr_writers import UInt64ArrayWriter

    msg_type = "std_msgs/msg/UInt64MultiArray"
    t = TS.types
    dim = t["std_msgs/msg/MultiArrayDimension"](label="ticks", size=2, stride=2)
    msg = t[msg_type](layout=t["std_msgs/msg/MultiArrayLayout"](dim=[dim], data_offset=1),
                      data=np.array([7, 2**64 - 1], np.uint64))
    for little_endian in (True, False):
        data = bytes(TS.serialize_cdr(msg, msg_type, little_endian=little_endian))
        assert read_uint64_array(data) == (7, 2**64 - 1)
    written = UInt64ArrayWriter(2).write(5, 3)
    assert list(TS.deserialize_cdr(written, msg_type).data) == [5, 3] and read_uint64_array(written) == (5, 3)
    for bad in (written[:-1], b"\x00\x01\x00\x00" + b"\xff\xff\xff\x0f", written[:4]):
        with pytest.raises(CdrError):
            read_uint64_array(bad)


def test_a_uint64_array_longer_than_asked_is_refused_before_it_is_read():
    from exploy.mapping.cdr import read_uint64_array
    from exploy.mapping.cdr_writers import UInt64ArrayWriter

    data = UInt64ArrayWriter(100_000).write(*range(100_000))
    assert len(read_uint64_array(data)) == 100_000
    with pytest.raises(CdrError, match="100000 values, at most 2"):
        read_uint64_array(data, max_values=2)
