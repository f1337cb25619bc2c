"""Stability and command-age summaries, checked at hand-computed points."""

from __future__ import annotations

import math

import numpy as np
import pytest

from exploy.sim.errors import SimError
from exploy.sim.monitor import CommandAges, Trajectory, stability, tilt_deg


def _trajectory(heights: list[float], pitch_deg: list[float], q: list[list[float]], target=None) -> Trajectory:
    traj = Trajectory(2, capacity=2)  # grows while recording
    for k, (h, p, qk) in enumerate(zip(heights, pitch_deg, q)):
        half = math.radians(p) / 2
        traj.add(time=0.005 * (k + 1), joint_pos=qk, base_pos=[0.0, 0.0, h],
                 base_quat=[math.cos(half), 0.0, math.sin(half), 0.0], effort=[0.0, 0.0],
                 target=None if target is None else target[k])
    return traj


def test_a_robot_whose_base_drops_below_half_its_height_is_reported_fallen_at_that_time() -> None:
    traj = _trajectory([0.30, 0.25, 0.14, 0.05], [0, 5, 20, 80], [[0.0, 0.0]] * 4)
    result = stability(
        traj, joint_names=["a", "b"], joint_lower=np.array([-1.0, -1.0]), joint_upper=np.array([1.0, 1.0])
    )
    assert result.fell and result.fall_time_s == pytest.approx(0.015)
    assert result.base_height_min == pytest.approx(0.05) and result.max_tilt_deg == pytest.approx(80.0)
    assert "FELL at 0.02 s" in result.describe() or "FELL at 0.01 s" in result.describe()


def test_a_standing_robot_with_joint_limit_hits_and_tracking_error() -> None:
    q = [[0.0, 1.0], [0.5, 0.2], [-0.9995, 0.2]]
    target = [[0.1, 1.0], [0.5, 0.0], [-1.0, 0.2]]
    traj = _trajectory([0.3, 0.3, 0.29], [0, 1, 2], q, target)
    result = stability(
        traj, joint_names=["a", "b"], joint_lower=np.array([-1.0, -1.0]), joint_upper=np.array([1.0, 1.0])
    )
    assert not result.fell and result.fall_time_s is None
    assert result.joint_limit_hits == 2 and result.joint_limit_hit_joints == ["a", "b"]
    errors = np.array([0.1, 0.0, 0.0, 0.2, 0.0005, 0.0])
    assert result.tracking_rms == pytest.approx(math.sqrt(np.mean(errors**2)))
    assert tilt_deg(np.array([math.cos(0.25), math.sin(0.25), 0, 0])) == pytest.approx(math.degrees(0.5))


def test_an_empty_run_is_an_error() -> None:
    with pytest.raises(SimError, match="no step"):
        stability(Trajectory(1), joint_names=["a"], joint_lower=np.zeros(1), joint_upper=np.ones(1))


def test_command_ages_percentiles_and_steps_older_than_one_policy_period() -> None:
    ages = CommandAges(policy_period_s=0.02)
    for age in [None, 0.0, 0.005, 0.005, 0.010, 0.025, 0.140]:
        ages.add(age)
    summary = ages.summary()
    assert summary["steps"] == 7 and summary["steps_without_command"] == 1
    assert summary["older_than_policy_period"] == 2
    assert summary["max_ms"] == pytest.approx(140.0)
    assert summary["p50_ms"] == pytest.approx(np.percentile([0, 5, 5, 10, 25, 140], 50))


def test_bounded_trajectory_keeps_the_newest_steps_and_counts_all():
    traj = Trajectory(2, capacity=4, max_rows=10)
    for k in range(25):
        traj.add(time=float(k), joint_pos=[k, k], base_pos=[0, 0, 0], base_quat=[1, 0, 0, 0], effort=[0, 0])
    assert traj.total == 25 and len(traj) <= 10
    assert traj.time[-1] == 24.0 and list(np.diff(traj.time)) == [1.0] * (len(traj) - 1)  # newest, in order
    assert traj._data["time"].shape[0] <= 16  # the buffer stopped growing
