"""Step the environment and the exported file side by side and report where they diverge."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from exploy.exporter.core.context_manager import ContextManager
from exploy.exporter.core.exportable_environment import ExportableEnvironment
from exploy.format import names
from exploy.runtime.session import SessionWrapper

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-4
DEFAULT_RESYNC_EVERY = 10
MAX_REPORTED = 20
BAKED_STATE_HINT = (
    "  hint: the file's observations do not follow the environment's state, so some state was baked "
    "in as a constant at export: compute_observations read a tensor that is not a registered Input "
    "(e.g. torch.from_numpy(mj_data.qpos) or a new tensor made per call). Register tensors that are "
    "updated in place and read those (exploy.sim.TensorMirror; docs/wrapping_a_simulator.md)."
)


@dataclass(frozen=True)
class Mismatch:
    """One tensor that differed between the environment and the file."""

    step: int
    substep: int | None
    name: str
    entries: tuple[str, ...]
    max_abs_error: float
    expected: np.ndarray
    actual: np.ndarray

    def describe(self) -> str:
        where = f"step {self.step}" + ("" if self.substep is None else f" substep {self.substep}")
        shown = ", ".join(self.entries[:6]) + (" ..." if len(self.entries) > 6 else "")
        return f"{where}: '{self.name}' differs by up to {self.max_abs_error:.4g} at [{shown}]"


@dataclass
class EvaluationReport:
    """What :func:`run_evaluation` compared and what differed."""

    steps: int = 0
    comparisons: int = 0
    per_substep: bool = False
    mismatches: list[Mismatch] = field(default_factory=list)
    observations: torch.Tensor | None = None

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def summary(self) -> str:
        mode = "every sim substep" if self.per_substep else "once per policy step"
        if self.ok:
            return f"exploy evaluate: OK — {self.steps} policy steps, {self.comparisons} comparisons ({mode})"
        lines = [
            f"exploy evaluate: FAILED — {len(self.mismatches)} mismatching tensors in {self.steps} "
            f"policy steps ({mode}); first divergence:"
        ]
        lines += ["  " + m.describe() for m in self.mismatches[:MAX_REPORTED]]
        if len(self.mismatches) > MAX_REPORTED:
            lines.append(f"  ... and {len(self.mismatches) - MAX_REPORTED} more")
        if self.mismatches[0].name == names.OBS:
            lines.append(BAKED_STATE_HINT)
        return "\n".join(lines)


def _np(value: torch.Tensor) -> np.ndarray:
    return value.detach().cpu().numpy().copy()


class _SideBySide:
    """State of one evaluation: the ONNX feed, the hooks, the comparisons."""

    def __init__(
        self,
        env: ExportableEnvironment,
        cm: ContextManager,
        session: SessionWrapper,
        atol: float,
        rtol: float,
    ) -> None:
        self.env = env
        self.cm = cm
        self.session = session
        self.atol = atol
        self.rtol = rtol
        self.decimation = int(env.decimation)
        self.obs_names = [str(n) for n in env.get_observation_names()]
        self.report = EvaluationReport()
        self.memory = self.memory_from_env()
        self.inputs: dict[str, np.ndarray] | None = None
        self.step = 0
        self.default_outputs: dict[str, np.ndarray] = {}
        self.substeps_seen = 0
        self.reset_seen = False

    # -- ONNX side ----------------------------------------------------------------------------

    def memory_from_env(self) -> dict[str, np.ndarray]:
        return {e.input_name: _np(e.read()) for e in self.cm.memories()}

    def read_inputs(self) -> dict[str, np.ndarray]:
        return {e.input_name: _np(e.read()) for e in self.cm.inputs()}

    def run(self, tick: int, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {**inputs, **self.memory, names.STEP_COUNT: np.array(tick, dtype=np.int32)}
        feed = {k: v for k, v in feed.items() if k in self.session.input_names}
        outputs = self.session.run(feed)
        self.memory = {
            e.input_name: outputs[e.output_name] for e in self.cm.memories() if e.output_name in outputs
        }
        return outputs

    # -- hooks --------------------------------------------------------------------------------

    def on_update(self) -> None:
        self.inputs = self.read_inputs()

    def on_reset(self) -> None:
        self.reset_seen = True

    def on_substep(self, substep: int) -> None:
        self.substeps_seen += 1
        if substep == 0:
            outputs = self.default_outputs
        else:
            inputs = self.inputs if self.inputs is not None else self.read_inputs()
            outputs = self.run(self.step * self.decimation + substep, inputs)
        self.compare_outputs(outputs, substep)

    # -- comparisons --------------------------------------------------------------------------

    def compare(self, name: str, expected: np.ndarray, actual: np.ndarray, substep: int | None,
                entry_names: list[str] | None = None) -> None:
        self.report.comparisons += 1
        expected = np.asarray(expected, dtype=np.float64)
        actual = np.asarray(actual, dtype=np.float64)
        if expected.shape != actual.shape:
            self.report.mismatches.append(
                Mismatch(self.step, substep, name, (f"shape {expected.shape} vs {actual.shape}",),
                         float("inf"), expected, actual)
            )
            return
        close = np.isclose(actual, expected, atol=self.atol, rtol=self.rtol, equal_nan=True)
        if close.all():
            return
        bad = np.flatnonzero(~close.reshape(-1))
        labels = entry_names if entry_names and len(entry_names) == expected.shape[-1] else None
        width = expected.shape[-1] if expected.ndim else 1
        entries = tuple(
            labels[i % width] if labels else f"{name}[{i}]" for i in bad
        )
        err = float(np.nanmax(np.abs(actual - expected).reshape(-1)[bad]))
        self.report.mismatches.append(Mismatch(self.step, substep, name, entries, err, expected, actual))

    def compare_outputs(self, outputs: dict[str, np.ndarray], substep: int | None) -> None:
        for entry in self.cm.graph_outputs():
            self.compare(entry.output_name, _np(entry.read()), outputs[entry.output_name], substep)


def run_evaluation(
    env: ExportableEnvironment,
    context_manager: ContextManager,
    session_wrapper: SessionWrapper,
    num_steps: int,
    *,
    verbose: bool = False,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    resync_every: int = DEFAULT_RESYNC_EVERY,
) -> EvaluationReport:
    """Step ``env`` and the file for ``num_steps`` policy steps and compare everything.

    Each policy step runs the file's Default tick on the environment's current inputs and
    memory, compares observations and actions with the environment and actor, then steps the
    environment. Environments that call the evaluation hooks are compared at every sim
    substep (ProcessActions ticks included); others once per policy step, after ``step()``.
    Memory is fed back from the file's outputs and re-read from the environment on reset and
    every ``resync_every`` policy steps, so float drift cannot accumulate.
    """
    side = _SideBySide(env, context_manager, session_wrapper, atol, rtol)
    env.register_evaluation_hooks(side.on_update, side.on_reset, side.on_substep)
    actor = session_wrapper.get_actor()
    obs = env.observations_reset()
    side.memory = side.memory_from_env()  # after observations_reset(), which may reset state
    for step in tqdm(range(num_steps), desc="evaluate", unit="step", disable=not verbose):
        side.step = step
        side.inputs = None
        side.substeps_seen = 0
        side.reset_seen = False
        outputs = side.run(step * side.decimation, side.read_inputs())
        side.default_outputs = outputs
        side.compare(names.OBS, _np(obs), outputs[names.OBS], None, side.obs_names)
        if actor is not None:
            actions = actor(obs)
            side.compare(names.ACTIONS, _np(actions), outputs[names.ACTIONS], None)
        else:
            actions = torch.as_tensor(outputs[names.ACTIONS])
        obs, done = env.step(actions)
        side.report.per_substep = side.report.per_substep or side.substeps_seen > 0
        reset = bool(done) or side.reset_seen
        if side.substeps_seen == 0 and not reset:
            side.compare_outputs(outputs, None)
        if reset:
            if actor is not None and hasattr(actor, "reset"):
                actor.reset(torch.ones(obs.shape[0], dtype=torch.bool))
            side.memory = side.memory_from_env()
        elif resync_every > 0 and (step + 1) % resync_every == 0:
            side.memory = side.memory_from_env()
        side.report.steps = step + 1
    side.report.observations = obs
    return side.report


def evaluate(
    env: ExportableEnvironment,
    context_manager: ContextManager,
    session_wrapper: SessionWrapper,
    num_steps: int,
    verbose: bool = True,
    pause_on_failure: bool = True,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
) -> tuple[bool, torch.Tensor]:
    """Compare the exported file with the environment for ``num_steps`` policy steps.

    Args:
        env: The environment the file was exported from.
        context_manager: Its context manager (the registered components).
        session_wrapper: The loaded file; its actor (if any) computes the reference actions.
        num_steps: Policy steps to run (the environment may reset in between).
        verbose: Show a progress bar and print the summary.
        pause_on_failure: On failure wait for Enter, when stdin is a terminal.
        atol: Absolute tolerance.
        rtol: Relative tolerance.

    Returns:
        ``(export_ok, observations)``: whether everything matched, and the last observations.
        On failure the divergences (tensor, entries, step, size) are printed.
    """
    report = run_evaluation(
        env, context_manager, session_wrapper, num_steps, verbose=verbose, atol=atol, rtol=rtol
    )
    if verbose or not report.ok:
        print(report.summary())
    if not report.ok and pause_on_failure and sys.stdin is not None and sys.stdin.isatty():
        input("exploy evaluate: export mismatch. Press Enter to continue...")
    return report.ok, report.observations
