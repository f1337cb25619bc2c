"""The safety supervisor at hand-computed points: states, soft start, fallback laws, limits."""

from __future__ import annotations

import numpy as np
import pytest

from exploy.safety import (
    REJECTED_TICK,
    STALE_INPUT,
    JointLayout,
    JointLimits,
    JointTensor,
    SafetyConfig,
    SafetyError,
    SafetyState,
    Supervisor,
)

MS = 1_000_000
JOINTS = ("a", "b")


def _layout(limits: JointLimits | None = None, measured=("position", "velocity")) -> JointLayout:
    def tensor(component, role, joints=JOINTS):
        return JointTensor(
            component, role, joints, (1, len(joints)), "float32", np.array([JOINTS.index(j) for j in joints])
        )

    return JointLayout(
        joints=JOINTS,
        targets=(tensor("out.pos", "position"), tensor("out.effort", "effort"), tensor("out.vel", "velocity")),
        measurements=tuple(tensor(f"in.{r[:3]}", r, ("b", "a")) for r in measured),  # other joint order
        other_outputs=("out.other",),
        limits=limits or JointLimits(),
    )


def _values(q_ab, qd_ab):
    """Measurement tensors (joint order b, a) for positions / velocities given in order a, b."""
    return {
        "in.pos": np.array([[q_ab[1], q_ab[0]]], np.float32),
        "in.vel": np.array([[qd_ab[1], qd_ab[0]]], np.float32),
    }


POLICY = {
    "out.pos": np.array([[1.0, 2.0]], np.float32),
    "out.effort": np.array([[10.0, -20.0]], np.float32),
    "out.vel": np.array([[4.0, 8.0]], np.float32),
    "out.other": np.array([[7.0]], np.float32),
}


def _supervisor(**config):
    changes = []
    sup = Supervisor(_layout(config.pop("limits", None)), SafetyConfig(**config), on_transition=changes.append)
    return sup, changes


def test_soft_start_blends_from_the_measured_pose_over_soft_start_s():
    sup, changes = _supervisor(soft_start_s=0.04)
    assert sup.idle(0, {}, missing=True) == {} and sup.state is SafetyState.WAITING
    q0 = (0.5, -0.5)
    for k, alpha in enumerate((0.0, 0.25, 0.5, 0.75, 1.0, 1.0)):
        out = sup.after_tick(k * 10 * MS, _values(q0 if k == 0 else (9.0, 9.0), (0.0, 0.0)), POLICY)
        np.testing.assert_allclose(
            out["out.pos"], [[(1 - alpha) * 0.5 + alpha * 1.0, (1 - alpha) * -0.5 + alpha * 2.0]], rtol=1e-6
        )
        np.testing.assert_allclose(out["out.effort"], [[alpha * 10.0, alpha * -20.0]], rtol=1e-6)
        np.testing.assert_allclose(out["out.vel"], [[alpha * 4.0, alpha * 8.0]], rtol=1e-6)
        np.testing.assert_array_equal(out["out.other"], POLICY["out.other"])  # passed through
    assert [(c.old.value, c.new.value) for c in changes] == [("waiting", "starting"), ("starting", "running")]


@pytest.mark.parametrize("mode", ["hold", "damp", "stop"])
def test_fallback_laws_follow_their_formulas(mode):
    sup, changes = _supervisor(soft_start_s=0.0, fallback=mode, fallback_kp=(30.0, 40.0), fallback_kd=2.0)
    sup.after_tick(0, _values((0.1, 0.2), (0.0, 0.0)), POLICY)
    assert sup.state is SafetyState.RUNNING
    q_hold = (0.3, -0.4)
    first = sup.idle(MS, _values(q_hold, (1.0, -1.0)), stale=True)
    out = sup.idle(2 * MS, _values((0.5, -0.1), (2.0, 3.0)), stale=True)
    assert sup.state is SafetyState.FALLBACK and sup.reason == STALE_INPUT
    assert sup.counters.fallback_entries == 1 and changes[-1].reason == STALE_INPUT
    if mode == "stop":
        assert first == {} and out == {}
        return
    assert set(out) == {"out.pos", "out.effort", "out.vel"}  # never the outputs it has no law for
    np.testing.assert_array_equal(out["out.vel"], [[0.0, 0.0]])
    if mode == "hold":
        np.testing.assert_allclose(out["out.pos"], [q_hold], rtol=1e-6)
        np.testing.assert_allclose(
            out["out.effort"], [[30 * (0.3 - 0.5) - 2 * 2.0, 40 * (-0.4 + 0.1) - 2 * 3.0]], rtol=1e-5
        )
    else:
        np.testing.assert_allclose(out["out.pos"], [[0.5, -0.1]], rtol=1e-6)
        np.testing.assert_allclose(out["out.effort"], [[-2 * 2.0, -2 * 3.0]], rtol=1e-6)
    # no fresh measurement at all: zero efforts, the last held targets
    stale = sup.idle(3 * MS, _values((5.0, 5.0), (5.0, 5.0)), stale=True, measurement_fresh=False)
    np.testing.assert_array_equal(stale["out.effort"], [[0.0, 0.0]])
    np.testing.assert_allclose(stale["out.pos"], [q_hold] if mode == "hold" else [[0.5, -0.1]], rtol=1e-6)


def test_leaving_fallback_goes_through_a_fresh_soft_start():
    sup, changes = _supervisor(soft_start_s=0.01)
    sup.after_tick(0, _values((0, 0), (0, 0)), POLICY)
    sup.after_tick(20 * MS, _values((0, 0), (0, 0)), POLICY)
    assert sup.state is SafetyState.RUNNING
    sup.after_tick(25 * MS, _values((0, 0), (0, 0)), {}, problem=REJECTED_TICK)
    assert sup.label == "fallback: rejected tick"
    out = sup.after_tick(30 * MS, _values((0.2, 0.4), (0, 0)), POLICY)
    assert sup.state is SafetyState.STARTING
    np.testing.assert_allclose(out["out.pos"], [[0.2, 0.4]], rtol=1e-6)  # alpha 0: the measured pose
    np.testing.assert_array_equal(out["out.effort"], [[0.0, 0.0]])
    sup.after_tick(40 * MS, _values((0, 0), (0, 0)), POLICY)
    assert [c.new.value for c in changes] == ["starting", "running", "fallback", "starting", "running"]
    assert sup.counters.soft_starts == 2


def test_estop_engages_latches_and_releases_into_a_soft_start():
    sup, changes = _supervisor(soft_start_s=0.01, fallback="damp", fallback_kd=1.0)
    sup.after_tick(0, _values((0, 0), (0, 0)), POLICY)
    assert "engaged" in sup.engage_estop(True) and sup.estopped and sup.state is SafetyState.ESTOP
    out = sup.idle(MS, _values((0.1, 0.2), (1.0, 1.0)))
    np.testing.assert_allclose(out["out.effort"], [[-1.0, -1.0]])
    assert "already" in sup.engage_estop(True)
    sup.idle(2 * MS, _values((0.1, 0.2), (1.0, 1.0)), stale=True)
    assert sup.state is SafetyState.ESTOP  # latched: stale inputs do not change it
    assert "released" in sup.engage_estop(False)
    out = sup.after_tick(3 * MS, _values((0.1, 0.2), (0, 0)), POLICY)
    assert sup.state is SafetyState.STARTING and sup.alpha == 0.0
    assert [c.new.value for c in changes] == ["starting", "estop", "starting"]


def test_limits_clamp_position_targets_and_efforts_and_count():
    limits = JointLimits(position={"a": (-0.5, 0.5)}, effort={"b": 15.0})
    sup, _ = _supervisor(soft_start_s=0.0, limits=limits)
    out = sup.after_tick(0, _values((0, 0), (0, 0)), POLICY)
    np.testing.assert_array_equal(out["out.pos"], [[0.5, 2.0]])
    np.testing.assert_array_equal(out["out.effort"], [[10.0, -15.0]])
    np.testing.assert_array_equal(out["out.vel"], POLICY["out.vel"])
    assert (sup.counters.position_clamps, sup.counters.effort_clamps) == (1, 1)


def test_a_limit_equal_to_a_float32_output_is_not_a_clamp():
    limits = JointLimits(effort={"a": 23.7, "b": 23.7})
    sup, _ = _supervisor(soft_start_s=0.0, limits=limits)
    sup.after_tick(0, _values((0, 0), (0, 0)), dict(POLICY, **{"out.effort": np.array([[23.7, -23.7]], np.float32)}))
    assert sup.counters.effort_clamps == 0


def test_non_finite_result_enters_fallback():
    sup, _ = _supervisor(soft_start_s=0.0)
    out = sup.after_tick(
        0, _values((0.1, 0.2), (0, 0)), dict(POLICY, **{"out.vel": np.array([[np.nan, 0]], np.float32)})
    )
    assert sup.label == "fallback: non-finite result" and sup.counters.non_finite_results == 1
    assert all(np.isfinite(v).all() for v in out.values())


def test_soft_start_needs_every_output_joint_measured():
    with pytest.raises(SafetyError, match=r"no input measures the position of output joint\(s\) \['a', 'b'\]"):
        Supervisor(_layout(measured=("velocity",)), SafetyConfig(soft_start_s=1.0))
    Supervisor(_layout(measured=("velocity",)), SafetyConfig(soft_start_s=0.0))


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (SafetyConfig(fallback="freeze"), "must be one of"),
        (SafetyConfig(soft_start_s=-1.0), "must be >= 0"),
        (SafetyConfig(fallback_kp=(1.0, 2.0, 3.0)), "has 3 values; give one, or one per output joint"),
        (SafetyConfig(fallback_kd=-1.0), "finite values >= 0"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(config, match):
    with pytest.raises(SafetyError, match=match):
        Supervisor(_layout(), config)
