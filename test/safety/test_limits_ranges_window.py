"""Joint limits (metadata and YAML), input ranges, windowed counters: pure, no ROS."""

from __future__ import annotations

import numpy as np
import pytest

from exploy.safety import RecentCounts, SafetyError, load_limits_file, parse_limits
from exploy.safety.limits import limits_from_metadata
from exploy.safety.ranges import input_range

S = 1_000_000_000


def test_limits_file_by_joint_name(tmp_path):
    path = tmp_path / "limits.yaml"
    path.write_text("joints:\n  a: {position: [-1, 2], effort: 5}\n  b: {effort: 3.5}\n")
    limits = load_limits_file(path)
    assert limits.position == {"a": (-1.0, 2.0)} and limits.effort == {"a": 5.0, "b": 3.5}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a: {position: [2, 1]}", "lower <= upper"),
        ("a: {effort: -1}", "must be >= 0"),
        ("a: {torque: 1}", r"unknown keys \['torque'\]"),
        ("a: {position: [0]}", r"\[lower, upper\] pair"),
        ("[1, 2]", "expected a mapping of joint name"),
        ("a: {position: [0, .nan]}", "must be a number"),
        ("a: [", "not valid YAML"),
    ],
)
def test_bad_limits_files_are_refused_with_the_reason(tmp_path, text, match):
    path = tmp_path / "limits.yaml"
    path.write_text(text)
    with pytest.raises(SafetyError, match=match):
        load_limits_file(path)


def test_missing_or_huge_limits_file_is_a_clear_error(tmp_path):
    with pytest.raises(SafetyError, match="Cannot read limits file"):
        load_limits_file(tmp_path / "nope.yaml")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (2 << 20))
    with pytest.raises(SafetyError, match="is not a limits file"):
        load_limits_file(big)


def test_metadata_limits_need_one_entry_per_joint():
    limits = limits_from_metadata(
        ["a", "b"], {"position_limits": [[-1, 1], [0, 2]], "effort_limits": [3, 4]}, owner="g"
    )
    assert limits.position["b"] == (0.0, 2.0) and limits.effort["a"] == 3.0
    with pytest.raises(SafetyError, match="one entry per joint \\(2\\), got 1"):
        limits_from_metadata(["a", "b"], {"effort_limits": [3]}, owner="g")
    assert parse_limits({"a": {"effort": 1}}, source="x").effort == {"a": 1.0}


def test_se2_ranges_clip_each_axis_and_count():
    rng = input_range(
        "cmd.se2_velocity.base", (1, 3), "float32",
        {"ranges": {"lin_vel_x": [-1, 1.5], "lin_vel_y": [-0.5, 0.5], "ang_vel_z": [-2, 2]}},
    )
    clipped, count = rng.clip(np.array([[3e38, 0.2, -7.0]], np.float32))
    np.testing.assert_array_equal(clipped, np.array([[1.5, 0.2, -2.0]], np.float32))
    assert count == 2 and clipped.dtype == np.float32


def test_float_range_and_inputs_without_ranges():
    rng = input_range("cmd.float.gain", (1, 1), "float32", {"range": [0.0, 1.0]})
    assert rng.clip(np.array([[4.0]], np.float32))[0][0, 0] == 1.0
    assert input_range("cmd.float.gain", (1, 1), "float32", {}) is None
    assert input_range("obj.robot.joints.pos", (1, 3), "float32", {"range": [0, 1]}) is None
    with pytest.raises(SafetyError, match="lacks \\['ang_vel_z'\\]"):
        input_range("cmd.se2_velocity.b", (1, 3), "float32", {"ranges": {"lin_vel_x": [0, 1], "lin_vel_y": [0, 1]}})


def test_recent_counts_follow_the_present_and_keep_totals_elsewhere():
    window = RecentCounts(5 * S)
    assert window.update(0, {"rejected": 0}) == {"rejected": 0}
    assert window.update(1 * S, {"rejected": 1}) == {"rejected": 1}
    assert window.update(4 * S, {"rejected": 1}) == {"rejected": 1}
    assert window.update(5 * S, {"rejected": 1}) == {"rejected": 1}  # seen at t=1, within 5 s
    assert window.update(6 * S, {"rejected": 1}) == {"rejected": 0}  # 5 s without a new one: clear
    assert window.update(8 * S, {"rejected": 4}) == {"rejected": 3}


def test_hostile_limits_files_are_refused_without_a_traceback(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000)
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\n")
    huge = tmp_path / "huge.yaml"
    huge.write_text("FL_hip: {effort: 1" + "0" * 400 + "}\n")
    for path in (deep, bomb, huge):
        with pytest.raises(SafetyError):
            load_limits_file(path)


def test_a_range_beyond_float_is_a_clear_error():
    with pytest.raises(SafetyError, match="two numbers"):
        input_range("cmd.float.speed", (1, 1), "float32", {"range": [0, 10**400]})
