"""Compare the outputs a deployed policy produced with those a bag expects.

The engine is shared by the offline replay (:mod:`exploy.bag.replay`) and the live replay
(``exploy_ros.replay_node``): both fill one array of produced values per output over the bag's
ticks, then :func:`compare_outputs` checks every tick that carries an expected message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from exploy.bag.reader import Recording
from exploy.bag.stages import ACTIONS, OBS, Stages

ReplayMode = Literal["offline", "live"]
"""How the produced outputs were computed: ``offline`` (onnxruntime on the bag) or ``live`` (a running node)."""

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
    first_label: str | None = None

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
            "first_diverging_entry": self.first_label,
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

    mode: ReplayMode
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
    stages: dict[str, OutputResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.first_divergence is None

    @property
    def ticks_per_second(self) -> float:
        return self.num_ticks / self.seconds if self.seconds > 0 else float("inf")


def _check_output(
    name: str, expected: np.ndarray, actual: np.ndarray, mask: np.ndarray, atol: float, rtol: float,
    labels: list[str] | None = None,
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
        first_label=None if first_channel is None else label_of(labels, name, first_channel),
    )


def label_of(labels: list[str] | None, name: str, channel: int) -> str:
    """``labels[channel]`` (e.g. ``effort[LF_HAA]``), else ``name[channel]``."""
    return labels[channel] if labels is not None and channel < len(labels) else f"{name}[{channel}]"


def entry_labels(policy: str) -> dict[str, list[str]]:
    """Per-entry labels of the file's outputs, memories (``memory.<name>``) and ``obs``: joint
    names from ``names`` / ``joint_names`` metadata (the component's or its group's),
    observation names; empty when the file cannot be read."""
    from exploy.format import PolicyFormatError, read_metadata

    try:
        meta = read_metadata(policy)
    except (PolicyFormatError, OSError):
        return {}
    labels: dict[str, list[str]] = {}
    if meta.observation_names:
        labels[OBS] = [str(n) for n in meta.observation_names]
    for comp in (*meta.outputs, *meta.memories):
        sources = [comp.metadata or {}]
        if comp.group:
            sources.append(meta.group(comp.group).metadata or {})
        names = next((m[k] for m in sources for k in ("names", "joint_names") if isinstance(m.get(k), list)), None)
        key = comp.name if comp in meta.outputs else f"memory.{comp.name}"
        if names is not None and len(names) == comp.size:
            item = comp.name.rsplit(".", 1)[-1]
            labels[key] = [f"{item}[{n}]" for n in names]
    return labels


def _stage_rank(component: str | None) -> int:
    """Order of stages within one tick: missing tick, incoming memory, obs, actions, outputs."""
    if component is None:
        return -1
    if component.startswith("memory."):
        return 0
    return {OBS: 1, ACTIONS: 2}.get(component, 3)


def _stage_reason(key: str, label: str, act: float, exp: float, tick: int, decimation: int, reset: bool) -> str:
    step = tick // decimation
    if key == OBS:
        return (
            f"observation '{label}' is {act:.6g}, expected {exp:.6g} at policy step {step}: the inputs the "
            "deployment got do not reproduce the simulator's observation (look at what feeds that entry)"
        )
    if key == ACTIONS:
        return (
            f"action {label} is {act:.6g}, expected {exp:.6g} at policy step {step} while the observations "
            "match: the file's actor differs from the simulator's"
        )
    name = key.split(".", 1)[1]
    if reset:
        return (
            f"memory '{name}' (entry {label}) enters policy step {step} right after a reset as {act:.6g}, the "
            f"simulator reset it to {exp:.6g}: the file's initial value for '{name}' is not the "
            "simulator's reset value; export it as the memory's 'initial_value' metadata"
        )
    return (
        f"memory '{name}' (entry {label}) enters policy step {step} as {act:.6g}, expected {exp:.6g}: the "
        f"deployment did not carry '{name}' from the previous tick (or computes it differently)"
    )


def compare_stages(
    recording: Recording,
    stages: Stages,
    produced: dict[str, np.ndarray],
    *,
    atol: float,
    rtol: float,
    labels: dict[str, list[str]],
    output_diverging: np.ndarray | None = None,
) -> tuple[dict[str, OutputResult], list[Divergence]]:
    """Compare the deployment's observations, actions and incoming memory (``produced``: stage
    key -> ``(num_ticks, size)``) with the simulator's recorded stages.

    A memory that differs on entry counts only at a policy step where observations, actions or
    outputs (``output_diverging``: ticks where any output diverged) diverge too: a memory that is
    overwritten before it is read (e.g. processed actions the simulator does not reset) is harmless.
    """
    results: dict[str, OutputResult] = {}
    dec = recording.meta.decimation
    n = recording.num_ticks
    for key, expected in stages.values.items():
        if key in produced and produced[key].shape == expected.shape:
            results[key] = _check_output(key, expected, produced[key], stages.ticks[key], atol, rtol, labels.get(key))
    downstream = np.zeros(n, dtype=bool) if output_diverging is None else output_diverging.copy()
    for key, res in results.items():
        if not key.startswith("memory."):
            downstream |= res.diverging
    # Per policy step: did anything downstream of the incoming memory diverge in it?
    steps = -(-n // dec)
    step_bad = np.zeros(steps * dec, dtype=bool)
    step_bad[:n] = downstream
    step_bad = np.repeat(step_bad.reshape(steps, dec).any(axis=1), dec)[:n]
    found: list[Divergence] = []
    for key, res in results.items():
        mask = res.diverging & step_bad if key.startswith("memory.") else res.diverging
        if not mask.any():
            continue
        tick = int(np.argmax(mask))
        exp_row = stages.values[key][tick].astype(np.float64)
        act_row = produced[key][tick].astype(np.float64)
        bad = ~(np.abs(act_row - exp_row) <= atol + rtol * np.abs(exp_row))
        chan = int(np.argmax(bad))
        exp, act = float(exp_row[chan]), float(act_row[chan])
        reset = tick == 0 or bool(recording.resets[tick])
        found.append(
            Divergence(
                tick,
                key,
                chan,
                exp,
                act,
                abs(act - exp),
                _stage_reason(
                    key, label_of(labels.get(key), key.removeprefix("memory."), chan), act, exp, tick, dec, reset
                ),
            )
        )
    return results, found


def compare_outputs(
    recording: Recording,
    actual: dict[str, np.ndarray],
    *,
    mode: ReplayMode,
    bag: str,
    policy: str,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    warnings: list[str] | None = None,
    seconds: float = 0.0,
    stages: Stages | None = None,
    produced_stages: dict[str, np.ndarray] | None = None,
) -> ReplayResult:
    """Compare ``actual`` (output name -> ``(num_ticks, size)``) with the bag's expected values.

    Every tick carrying an expected message is checked element-wise with
    ``|actual - expected| <= atol + rtol * |expected|``. A tick missing from the bag is a
    divergence of its own (component None). With ``stages`` (the simulator's recorded
    observations, actions and incoming memory) and ``produced_stages`` (the deployment's), the
    first divergence is the earliest tick, and at that tick the earliest stage: incoming memory
    -> observation entry (by name) -> actions -> outputs. Entries are labelled by joint and
    observation names where the file carries them.
    """
    labels = entry_labels(policy)
    outputs = {
        name: _check_output(
            name, recording.expected[name], actual[name], recording.expected_ticks[name], atol, rtol, labels.get(name)
        )
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
                    f"output {res.first_label} is {act:.6g}, expected {exp:.6g}",
                )
            )
    stage_results: dict[str, OutputResult] = {}
    if stages is not None and produced_stages is not None:
        any_output = np.zeros(recording.num_ticks, dtype=bool)
        for res in outputs.values():
            any_output |= res.diverging
        stage_results, found = compare_stages(
            recording, stages, produced_stages, atol=atol, rtol=rtol, labels=labels, output_diverging=any_output
        )
        candidates += found
    if recording.missing_ticks:
        tick = recording.missing_ticks[0]
        candidates.append(
            Divergence(tick, None, None, None, None, float("inf"),
                       f"tick {tick} is missing from the bag ({len(recording.missing_ticks)} missing)")
        )
    first = min(candidates, key=lambda d: (d.tick, _stage_rank(d.component))) if candidates else None
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
        stages=stage_results,
    )
