"""Step bundles: written and read back byte for byte; every malformed one is one clear error."""

from __future__ import annotations

import struct

import pytest

from exploy.mapping.step_bundle import MAX_STEP_INPUTS, StepBundleError, pack_step, unpack_step


def test_round_trip_keeps_time_order_topics_and_payloads() -> None:
    inputs = [("~/input/a", b"\x00\x01\x00\x00abc"), ("/ns/policy_node/input/b", b""), ("~/input/ü", bytes(range(256)))]
    data = pack_step(2**63 + 5, inputs)
    bundle = unpack_step(data)
    assert bundle.sim_time_ns == 2**63 + 5
    assert list(bundle.inputs) == inputs
    # the layout, by hand: magic, version, time, count, then (len, name, len, payload) per input
    assert data[:4] == b"XSTB" and data[4] == 1
    assert struct.unpack_from("<QH", data, 5) == (2**63 + 5, 3)
    assert struct.unpack_from("<H", data, 15) == (len("~/input/a"),)


def test_reads_the_array_rclpy_delivers() -> None:
    import array

    data = pack_step(7, [("~/input/a", b"xyz")])
    assert unpack_step(array.array("B", data)).inputs == (("~/input/a", b"xyz"),)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "at least"),
        (b"XXXX" + bytes(11), "not a step bundle"),
        (struct.pack("<4sBQH", b"XSTB", 9, 0, 0), "version 9"),
        (struct.pack("<4sBQH", b"XSTB", 1, 0, MAX_STEP_INPUTS + 1), "at most"),
        (struct.pack("<4sBQH", b"XSTB", 1, 0, 2), "truncated in input 1 of 2"),
        (struct.pack("<4sBQHH", b"XSTB", 1, 0, 1, 60000) + b"ab", "topic name"),
        (struct.pack("<4sBQHH", b"XSTB", 1, 0, 1, 2) + b"\xff\xfe" + struct.pack("<I", 0), "not UTF-8"),
        (struct.pack("<4sBQHH", b"XSTB", 1, 0, 1, 1) + b"a" + struct.pack("<I", 2**32 - 1) + b"xy", "announced"),
        (pack_step(1, [("a", b"x")]) + b"junk", "bytes after"),
    ],
)
def test_malformed_bundles_are_one_line_errors(data: bytes, says: str) -> None:
    with pytest.raises(StepBundleError) as err:
        unpack_step(data)
    text = str(err.value)
    assert says in text and "\n" not in text and len(text) < 300


def test_pack_refuses_what_the_layout_cannot_hold() -> None:
    with pytest.raises(StepBundleError, match="unsigned 64-bit"):
        pack_step(-1, [])
    with pytest.raises(StepBundleError, match="at most"):
        pack_step(0, [("a", b"")] * (MAX_STEP_INPUTS + 1))
    with pytest.raises(StepBundleError, match="longer than"):
        pack_step(0, [("a" * 2000, b"")])
