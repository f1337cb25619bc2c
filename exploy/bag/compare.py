"""Compare the outputs a deployed policy produced with those a bag expects.

The engine is shared by the offline replay (:mod:`exploy.bag.replay`) and the live replay
(``exploy_ros.replay_node``): both fill one array of produced values per output over the bag's
ticks, then :func:`compare_outputs` checks every tick that carries an expected message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exploy.bag.reader import Recording

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-4
TOLERANCE_RULE = "|actual - expected| <= atol + rtol * |expected|"
"""When one output value matches its expected value (NaN never matches)."""


@dataclass(frozen=True)
class Divergence:
    """Where a replay first went wrong.

    Attributes:
        tick: Sim tick (from the start of the recording).
        component: Output component, or None when the tick itself is missing from the bag.
        channel: Flat index of the first out-of-tolerance element, or None.
        expected: Expected value of that element.
        actual: Value the deployed policy produced.
        abs_error: ``|actual - expected|``.
        reason: A sentence saying what was wrong.
    """

    tick: int
    component: str | None
    channel: int | None
    expected: float | None
    actual: float | None
    abs_error: float
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "tick": self.tick,
            "component": self.component,
            "channel": self.channel,
            "expected": self.expected,
            "actual": self.actual,
            "abs_error": self.abs_error,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class OutputResult:
    """Verdict for one output component.

    Attributes:
        name: Output component name.
        compared_ticks: Ticks that carried an expected value.
        diverging_ticks: Those out of tolerance.
        max_abs_error: Largest ``|actual - expected|`` over compared ticks and channels.
        max_rel_error: Largest ``|actual - expected| / |expected|`` (elements with expected 0
            count with their absolute error).
        first_tick: First diverging tick, or None.
        first_channel: Flat index of the first diverging element at ``first_tick``, or None.
        diverging: Mask over ticks, True where out of tolerance (not serialised).
    """

    name: str
    compared_ticks: int
    diverging_ticks: int
    max_abs_error: float
    max_rel_error: float
    first_tick: int | None
    first_channel: int | None
    diverging: np.ndarray = field(repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.diverging_ticks == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "compared_ticks": self.compared_ticks,
            "diverging_ticks": self.diverging_ticks,
            "max_abs_error": self.max_abs_error,
            "max_rel_error": self.max_rel_error,
            "first_diverging_tick": self.first_tick,
            "first_diverging_channel": self.first_channel,
        }


@dataclass
class ReplayResult:
    """Everything a replay found; :mod:`exploy.bag.report` writes it out.

    Attributes:
        mode: ``"offline"`` or ``"live"``.
        bag: Path of the bag.
        policy: Path of the policy file.
        num_ticks: Sim ticks in the recording.
        sampling: The bag's sampling (``"substep"`` or ``"policy_step"``).
        atol: Absolute tolerance.
        rtol: Relative tolerance.
        outputs: Verdict per output component.
        first_divergence: The earliest divergence, or None on a match.
        missing_ticks: Ticks absent from the bag.
        warnings: Notes from recording and replay.
        seconds: Wall time of the replay loop.
        dt: Sim time step in seconds (for plots).
        expected: Expected values per output, ``(num_ticks, size)`` (not serialised).
        actual: Produced values per output, ``(num_ticks, size)`` (not serialised).
        expected_ticks: Per output, True for ticks carrying an expected value (not serialised).
    """

    mode: str
    bag: str
    policy: str
    num_ticks: int
    sampling: str
    atol: float
    rtol: float
    outputs: dict[str, OutputResult]
    first_divergence: Divergence | None
    missing_ticks: list[int]
    warnings: list[str]
    seconds: float
    dt: float
    expected: dict[str, np.ndarray] = field(repr=False)
    actual: dict[str, np.ndarray] = field(repr=False)
    expected_ticks: dict[str, np.ndarray] = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.first_divergence is None

    @property
    def ticks_per_second(self) -> float:
        return self.num_ticks / self.seconds if self.seconds > 0 else float("inf")


def _check_output(
    name: str, expected: np.ndarray, actual: np.ndarray, mask: np.ndarray, atol: float, rtol: float
) -> OutputResult:
    exp = expected[mask].astype(np.float64)
    act = actual[mask].astype(np.float64)
    err = np.abs(act - exp)
    both_nan = np.isnan(exp) & np.isnan(act)
    err = np.where(both_nan, 0.0, err)
    bad = ~(err <= atol + rtol * np.abs(exp))  # NaN on one side counts as bad
    bad_ticks = bad.any(axis=1) if bad.ndim > 1 else bad
    ticks = np.flatnonzero(mask)
    first_tick = first_channel = None
    if bad_ticks.any():
        row = int(np.argmax(bad_ticks))
        first_tick = int(ticks[row])
        first_channel = int(np.argmax(bad[row]))
    finite = np.where(np.isfinite(err), err, np.inf)
    rel = finite / np.where(np.abs(exp) > 0, np.abs(exp), 1.0)
    diverging = np.zeros(mask.shape[0], dtype=bool)
    diverging[ticks[bad_ticks]] = True
    return OutputResult(
        name=name,
        compared_ticks=int(ticks.size),
        diverging_ticks=int(bad_ticks.sum()),
        max_abs_error=float(finite.max()) if finite.size else 0.0,
        max_rel_error=float(rel.max()) if rel.size else 0.0,
        first_tick=first_tick,
        first_channel=first_channel,
        diverging=diverging,
    )


def compare_outputs(
    recording: Recording,
    actual: dict[str, np.ndarray],
    *,
    mode: str,
    bag: str,
    policy: str,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    warnings: list[str] | None = None,
    seconds: float = 0.0,
) -> ReplayResult:
    """Compare ``actual`` (output name -> ``(num_ticks, size)``) with the bag's expected values.

    Every tick carrying an expected message is checked element-wise with
    ``|actual - expected| <= atol + rtol * |expected|``. A tick missing from the bag is a
    divergence of its own (component None).
    """
    outputs = {
        name: _check_output(name, recording.expected[name], actual[name], recording.expected_ticks[name], atol, rtol)
        for name in recording.expected
    }
    candidates: list[Divergence] = []
    for name, res in outputs.items():
        if res.first_tick is not None and res.first_channel is not None:
            exp = float(recording.expected[name][res.first_tick, res.first_channel])
            act = float(actual[name][res.first_tick, res.first_channel])
            candidates.append(
                Divergence(
                    res.first_tick, name, res.first_channel, exp, act, abs(act - exp),
                    f"output '{name}'[{res.first_channel}] is {act:.6g}, expected {exp:.6g}",
                )
            )
    if recording.missing_ticks:
        tick = recording.missing_ticks[0]
        candidates.append(
            Divergence(tick, None, None, None, None, float("inf"),
                       f"tick {tick} is missing from the bag ({len(recording.missing_ticks)} missing)")
        )
    first = min(candidates, key=lambda d: (d.tick, d.component is not None)) if candidates else None
    meta = recording.meta
    return ReplayResult(
        mode=mode,
        bag=bag,
        policy=policy,
        num_ticks=recording.num_ticks,
        sampling=meta.sampling,
        atol=atol,
        rtol=rtol,
        outputs=outputs,
        first_divergence=first,
        missing_ticks=list(recording.missing_ticks),
        warnings=list(warnings or []),
        seconds=seconds,
        dt=meta.dt_ns * 1e-9,
        expected=recording.expected,
        actual=actual,
        expected_ticks=recording.expected_ticks,
    )
