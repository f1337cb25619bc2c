"""The invariant checks on hand-computed data (no environment)."""

from __future__ import annotations

import numpy as np

from exploy.exporter.core.sim_checks import (
    QuaternionCheck,
    quaternion_pairs,
    rewritten_inputs,
    substep_problem,
)

W = np.array([0.0, 0.0, 2.0])  # rad/s about the body z axis
DT = 0.04  # one policy step


def _yaw(t: float) -> np.ndarray:
    """w,x,y,z of a rotation by W * t: (cos(wt/2), 0, 0, sin(wt/2))."""
    return np.array([[np.cos(W[2] * t / 2), 0.0, 0.0, np.sin(W[2] * t / 2)]])


def _feed(check: QuaternionCheck, order: str, steps: int = 6) -> None:
    for k in range(steps):
        q = _yaw(k * DT)
        check.add({"b.w_Q_b": q if order == "wxyz" else q[:, [1, 2, 3, 0]], "b.ang_vel_b_rt_w_in_b": W[None]})


def test_quaternion_in_the_declared_order_passes_with_and_without_dt():
    for step_dt in (DT, None):
        check = QuaternionCheck([("b.w_Q_b", "b.ang_vel_b_rt_w_in_b", "wxyz")], step_dt)
        _feed(check, "wxyz")
        assert check.problems() == []


def test_quaternion_in_the_other_order_is_named():
    check = QuaternionCheck([("b.w_Q_b", "b.ang_vel_b_rt_w_in_b", "wxyz")], DT)
    _feed(check, "xyzw")
    (problem,) = check.problems()
    assert "'b.w_Q_b' is declared w,x,y,z" in problem and "(5/5)" in problem


def test_a_body_at_rest_says_nothing():
    check = QuaternionCheck([("b.w_Q_b", "b.ang_vel_b_rt_w_in_b", "wxyz")], DT)
    for _ in range(6):
        check.add({"b.w_Q_b": np.array([[0.0, 0.0, 0.0, 1.0]]), "b.ang_vel_b_rt_w_in_b": np.zeros((1, 3))})
    assert check.problems() == []


def test_pairs_by_prefix_and_declared_order():
    comps = [("s.imu.w_Q_b", {"quaternion_order": "xyzw"}), ("s.imu.ang_vel_b_rt_w_in_b", None), ("o.w_Q_b", None)]
    assert quaternion_pairs(comps) == [("s.imu.w_Q_b", "s.imu.ang_vel_b_rt_w_in_b", "xyzw")]


def test_substeps_and_rewrites():
    assert substep_problem(3, [0, 1, 2, 3], 4) is None
    assert "policy step 3 ran 5 sim substep(s)" in substep_problem(3, [0, 1, 2, 3, 0], 4)
    before = {"a": np.array([1.0, 2.0]), "b": np.array([np.nan])}
    assert rewritten_inputs(before, {"a": np.array([1.0, 2.0]), "b": np.array([np.nan])}) == []
    assert rewritten_inputs(before, {"a": np.array([1.0, 2.5]), "b": np.array([np.nan])}) == [("a", 0.5)]
