"""Step the environment and the exported file side by side and report where they diverge."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from exploy.exporter.core import sim_checks
from exploy.exporter.core.context_manager import ContextManager, Registered
from exploy.exporter.core.errors import EvaluationError
from exploy.exporter.core.evaluation_report import EvaluationReport, Mismatch
from exploy.exporter.core.exportable_environment import ExportableEnvironment, connect_evaluation_hooks
from exploy.exporter.core.tracing import dtype_problem
from exploy.format import names
from exploy.runtime.session import SessionWrapper

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-4
DEFAULT_RESYNC_EVERY = 10

__all__ = ["EvaluationReport", "Mismatch", "evaluate", "run_evaluation"]


def _np(value: torch.Tensor) -> np.ndarray:
    return value.detach().cpu().numpy().copy()


class _SideBySide:
    """State of one evaluation: the ONNX feed, the hooks, the comparisons, the invariants."""

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
        self.substeps: list[int] = []
        self.reset_seen = False
        self.labels = {e.name: _labels(cm, e) for e in (*cm.outputs(), *cm.memories())}
        self.quaternions = sim_checks.QuaternionCheck(
            sim_checks.quaternion_pairs([(e.name, e.component.metadata) for e in cm.inputs()]),
            _step_dt(env, self.decimation),
        )

    # -- ONNX side ----------------------------------------------------------------------------

    def memory_from_env(self) -> dict[str, np.ndarray]:
        # memory/output components always name their tensors
        return {e.input_name: _np(e.read()) for e in self.cm.memories()}  # type: ignore[misc]

    def read_inputs(self) -> dict[str, np.ndarray]:
        # input components always name their tensors
        return {e.input_name: _np(e.read()) for e in self.cm.inputs()}  # type: ignore[misc]

    def run(self, tick: int, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {**inputs, **self.memory, names.STEP_COUNT: np.array(tick, dtype=np.int32)}
        feed = {k: v for k, v in feed.items() if k in self.session.input_names}
        outputs = self.session.run(feed)
        self.memory = {
            # memory/output components always name their tensors
            e.input_name: outputs[e.output_name] for e in self.cm.memories() if e.output_name in outputs  # type: ignore[misc]
        }
        return outputs

    # -- hooks --------------------------------------------------------------------------------

    def on_update(self) -> None:
        self.inputs = self.read_inputs()

    def on_reset(self) -> None:
        self.reset_seen = True

    def on_substep(self, substep: int) -> None:
        self.substeps.append(int(substep))
        if substep == 0:
            outputs = self.default_outputs
        else:
            inputs = self.inputs if self.inputs is not None else self.read_inputs()
            outputs = self.run(self.step * self.decimation + substep, inputs)
        self.compare_outputs(outputs, substep)

    # -- invariants ---------------------------------------------------------------------------

    def start_step(self, step: int, inputs: dict[str, np.ndarray], after_reset: bool) -> None:
        """Checks at the start of policy step ``step`` (``inputs``: read now)."""
        if step > 0 and not after_reset and self.inputs is not None:
            changed = sim_checks.rewritten_inputs(self.inputs, inputs)
            if changed:
                self.report.add_problem(sim_checks.rewrite_problem(step, changed))
        self.quaternions.add(inputs, after_reset=after_reset)
        self.inputs = None
        self.substeps = []
        self.reset_seen = False

    def end_step(self) -> None:
        if self.substeps:
            problem = sim_checks.substep_problem(self.step, self.substeps, self.decimation)
            if problem is not None:
                self.report.add_problem(problem)

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
            self.compare(
                # memory/output components always name their tensors
                entry.output_name, _np(entry.read()), outputs[entry.output_name], substep, self.labels.get(entry.name)  # type: ignore[arg-type,index]
            )


def _labels(cm: ContextManager, entry: Registered) -> list[str] | None:
    """Joint names (``names`` / ``joint_names`` of the component or its group) per last-axis entry."""
    sources = [entry.component.metadata]
    if entry.group is not None:
        sources += [g.metadata for g in cm.groups if g.name == entry.group]
    width = int(entry.read().shape[-1]) if entry.read().dim() else 1
    item = entry.name.rsplit(".", 1)[-1]
    return sim_checks.entry_labels(item, width, sources)


def _step_dt(env: ExportableEnvironment, decimation: int) -> float | None:
    sim_dt = getattr(env, "sim_dt", None)
    return float(sim_dt) * decimation if isinstance(sim_dt, (int, float)) and sim_dt > 0 else None


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
    max_episode_steps: int | None = None,
    num_episodes: int | None = None,
) -> EvaluationReport:
    """Step ``env`` and the file for ``num_steps`` policy steps and compare everything.

    Each policy step runs the file's Default tick on the environment's current inputs and
    memory, compares observations and actions with the environment and actor, then steps the
    environment. Environments that call the evaluation hooks are compared at every sim
    substep (ProcessActions ticks included); others once per policy step, after ``step()``.
    Memory is fed back from the file's outputs and re-read from the environment on reset and
    every ``resync_every`` policy steps, so float drift cannot accumulate.

    Besides the comparisons, environments that call the hooks are checked for invariants the
    comparison cannot see (:mod:`exploy.exporter.core.sim_checks`): ``decimation`` substeps per
    policy step, inputs not rewritten between the last ``update()`` and the next policy step,
    quaternion inputs consistent with their angular velocity in the declared order.

    Args:
        max_episode_steps: End an episode after this many policy steps without ``done``
            (upstream's ``evaluate`` form): the next step starts from
            ``env.observations_reset()`` with memory re-read and the actor reset.
        num_episodes: Stop after this many episodes (an episode ends on ``done`` or after
            ``max_episode_steps``), even before ``num_steps``.

    Raises:
        EvaluationError: when the actor fails on observations whose dtype is not its own.
    """
    side = _SideBySide(env, context_manager, session_wrapper, atol, rtol)
    connect_evaluation_hooks(env, update=side.on_update, reset=side.on_reset, evaluate_substep=side.on_substep)
    actor = session_wrapper.get_actor()
    input_dtypes = {e.name: e.read().dtype for e in context_manager.inputs()}
    obs = env.observations_reset()
    side.memory = side.memory_from_env()  # after observations_reset(), which may reset state
    after_reset = True
    episode_steps = episodes_done = 0
    for step in tqdm(range(num_steps), desc="evaluate", unit="step", disable=not verbose):
        if max_episode_steps is not None and episode_steps >= max_episode_steps:
            obs = env.observations_reset()
            if actor is not None and hasattr(actor, "reset"):
                actor.reset(torch.ones(obs.shape[0], dtype=torch.bool))
            side.memory = side.memory_from_env()
            after_reset, episode_steps = True, 0
        side.step = step
        inputs = side.read_inputs()
        side.start_step(step, inputs, after_reset)
        outputs = side.run(step * side.decimation, inputs)
        side.default_outputs = outputs
        side.compare(names.OBS, _np(obs), outputs[names.OBS], None, side.obs_names)
        if actor is not None:
            try:
                actions = actor(obs)
            except Exception as err:
                problem = dtype_problem(obs, actor, input_dtypes, "the environment (step() / observations_reset())")
                if problem is None:
                    raise
                raise EvaluationError(problem) from err
            side.compare(names.ACTIONS, _np(actions), outputs[names.ACTIONS], None)
        else:
            actions = torch.as_tensor(outputs[names.ACTIONS])
        obs, done = env.step(actions)
        side.end_step()
        side.report.per_substep = side.report.per_substep or bool(side.substeps)
        reset = bool(done) or side.reset_seen
        if not side.substeps and not reset:
            side.compare_outputs(outputs, None)
        if reset:
            if actor is not None and hasattr(actor, "reset"):
                actor.reset(torch.ones(obs.shape[0], dtype=torch.bool))
            side.memory = side.memory_from_env()
        elif resync_every > 0 and (step + 1) % resync_every == 0:
            side.memory = side.memory_from_env()
        after_reset = reset
        episode_steps = 0 if reset else episode_steps + 1
        side.report.steps = step + 1
        if reset or (max_episode_steps is not None and episode_steps >= max_episode_steps):
            episodes_done += 1
            if num_episodes is not None and episodes_done >= num_episodes:
                break
    for problem in side.quaternions.problems():
        side.report.add_problem(problem)
    side.report.observations = obs
    return side.report


def evaluate(
    env: ExportableEnvironment,
    context_manager: ContextManager,
    session_wrapper: SessionWrapper,
    *args: Any,
    num_steps: int | None = None,
    num_episodes: int | None = None,
    max_episode_steps: int | None = None,
    verbose: bool = True,
    pause_on_failure: bool = True,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
) -> tuple[bool, torch.Tensor]:
    """Compare the exported file with the environment, policy step by policy step.

    Two call forms, arguments after the first three by keyword only:

    - the tutorial's ``evaluate(env, cm, sw, num_steps=N)``: ``N`` policy steps, across resets;
    - upstream's current ``evaluate(env, cm, sw, num_episodes=E, max_episode_steps=S)``: ``E``
      episodes of at most ``S`` policy steps each (an episode also ends when the environment
      resets); each episode starts from ``env.observations_reset()``.

    Args:
        env: The environment the file was exported from.
        context_manager: Its context manager (the registered components).
        session_wrapper: The loaded file; its actor (if any) computes the reference actions.
        num_steps: Policy steps to run (the environment may reset in between).
        num_episodes: Episodes to run (with ``max_episode_steps``, instead of ``num_steps``).
        max_episode_steps: Policy steps per episode at most.
        verbose: Show a progress bar and print the summary.
        pause_on_failure: On failure wait for Enter, when stdin is a terminal.
        atol: Absolute tolerance.
        rtol: Relative tolerance.

    Returns:
        ``(export_ok, observations)``: whether everything matched and every invariant held, and
        the last observations. On failure the divergences (tensor, entries, step, size) and the
        broken invariants (naming the culprit) are printed.

    Raises:
        EvaluationError: for positional optional arguments (an upstream-style
            ``evaluate(env, cm, sw, 1, 20)``), a missing or conflicting step count, or
            observations whose dtype differs from the actor's.
    """
    if args:
        raise EvaluationError(
            f"evaluate() takes its optional arguments by keyword only, got {len(args)} positional "
            f"value(s) {list(args)[:4]} after session_wrapper. Call evaluate(env, cm, sw, num_steps=N) "
            "or evaluate(env, cm, sw, num_episodes=E, max_episode_steps=S)"
        )
    total, per_episode = _step_plan(num_steps, num_episodes, max_episode_steps)
    report = run_evaluation(
        env, context_manager, session_wrapper, total, verbose=verbose, atol=atol, rtol=rtol,
        max_episode_steps=per_episode, num_episodes=None if per_episode is None else total // per_episode,
    )
    if verbose or not report.ok:
        print(report.summary())
    if not report.ok and pause_on_failure and sys.stdin is not None and sys.stdin.isatty():
        input("exploy evaluate: export mismatch. Press Enter to continue...")
    return report.ok, report.observations  # type: ignore[return-value]  # _run always sets observations


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise EvaluationError(f"evaluate(): {name} must be a positive int, got {value!r}")
    return int(value)


def _step_plan(num_steps: Any, num_episodes: Any, max_episode_steps: Any) -> tuple[int, int | None]:
    """``(total policy steps, steps per episode or None)`` from either call form."""
    episodic = num_episodes is not None or max_episode_steps is not None
    if num_steps is not None and episodic:
        raise EvaluationError(
            "evaluate(): pass either num_steps=N or num_episodes=E with max_episode_steps=S, not both"
        )
    if episodic:
        if num_episodes is None or max_episode_steps is None:
            raise EvaluationError("evaluate(): num_episodes and max_episode_steps go together; pass both")
        episodes = _positive("num_episodes", num_episodes)
        per_episode = _positive("max_episode_steps", max_episode_steps)
        return episodes * per_episode, per_episode
    if num_steps is None:
        raise EvaluationError("evaluate(): pass num_steps=N (or num_episodes=E, max_episode_steps=S)")
    return _positive("num_steps", num_steps), None
