"""Record an ExportableEnvironment run (env + actor) into an exploy bag. Needs torch.

Timing follows :mod:`exploy.exporter.core.evaluator`:

- environments that call the evaluation hooks are recorded at every sim substep: the inputs of
  substep ``i`` are those read at the last ``update()`` before it (substep 0: read before the
  policy step), the expected outputs those read at ``evaluate_substep(i)``, right after
  ``apply_actions()``;
- environments that call none are recorded once per policy step: inputs before the step on its
  first tick, outputs after it on its last tick.

``/clock`` is written for every sim tick either way, so a node driven by the bag ticks
``decimation`` times per policy step.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field

import numpy as np
import torch

import exploy
from exploy.bag.errors import BagError
from exploy.bag.layout import (
    DEFAULT_NODE,
    DEFAULT_SIM_DT,
    DEFAULT_T0_NS,
    SAMPLING_POLICY_STEP,
    SAMPLING_SUBSTEP,
    BagMeta,
    expected_topic,
    resolve_topic,
)
from exploy.bag.reader import file_sha256, topic_map_for
from exploy.bag.writer import BagWriter
from exploy.exporter.core import sim_checks
from exploy.exporter.core.context_manager import ContextManager
from exploy.exporter.core.exportable_environment import ExportableEnvironment, connect_evaluation_hooks
from exploy.format import PolicyFormatError, PolicyMetadata, read_metadata
from exploy.runtime.policy import INITIAL_VALUE_KEY


def _np(value: torch.Tensor) -> np.ndarray:
    return value.detach().cpu().numpy().copy()


@dataclass
class _Tick:
    inputs: dict[str, np.ndarray] | None = None
    expected: dict[str, np.ndarray] | None = None
    reset: bool = False


@dataclass
class _Hooks:
    """Collects what the environment's hooks report during one policy step."""

    cm: ContextManager
    outputs: list[str]
    base: int = 0
    latest_inputs: dict[str, np.ndarray] | None = None
    ticks: dict[int, _Tick] = field(default_factory=dict)
    reset_seen: bool = False
    substeps: list[int] = field(default_factory=list)

    def read_inputs(self) -> dict[str, np.ndarray]:
        return {e.name: _np(e.read()) for e in self.cm.inputs()}

    def read_outputs(self) -> dict[str, np.ndarray]:
        return {e.name: _np(e.read()) for e in self.cm.outputs() if e.name in self.outputs}

    def on_update(self) -> None:
        self.latest_inputs = self.read_inputs()

    def on_reset(self) -> None:
        self.reset_seen = True

    def on_substep(self, substep: int) -> None:
        self.substeps.append(int(substep))
        tick = self.ticks.setdefault(self.base + substep, _Tick())
        if substep > 0:
            tick.inputs = self.latest_inputs if self.latest_inputs is not None else self.read_inputs()
        tick.expected = self.read_outputs()


def _check_env_matches(cm: ContextManager, meta: PolicyMetadata, policy: pathlib.Path) -> None:
    env_specs = {s.name: (s.kind, s.shape) for s in cm.specs()}
    file_specs = {c.name: (c.kind, c.shape) for c in meta.components if not c.name.startswith("ctx.")}
    if env_specs != file_specs:
        diff = sorted(set(env_specs.items()) ^ set(file_specs.items()), key=str)
        raise BagError(
            f"The environment's registered components do not match {policy} (differences: {diff}); "
            "record with the environment the file was exported from"
        )


def _sim_dt(meta: PolicyMetadata, env: ExportableEnvironment, sim_dt: float | None) -> tuple[float, list[str]]:
    if sim_dt is not None:
        if not sim_dt > 0:
            raise BagError(f"sim_dt must be a positive number of seconds, got {sim_dt!r}")
        return float(sim_dt), []
    if meta.update_rate:
        return 1.0 / meta.update_rate, []
    env_dt = getattr(env, "sim_dt", None)
    if env_dt:
        return float(env_dt), []
    return DEFAULT_SIM_DT, [
        f"sim time step unknown (no update_rate in the file, no env.sim_dt); used {DEFAULT_SIM_DT} s"
    ]


@dataclass(frozen=True)
class RecordResult:
    """What :func:`record` wrote.

    Attributes:
        meta: The metadata written into the bag.
        warnings: Things that will likely make a replay diverge (e.g. memory not zero after a
            reset, while a policy node zeroes it), also those found after the metadata was written.
    """

    meta: BagMeta
    warnings: list[str]


def record(
    env: ExportableEnvironment,
    actor: torch.nn.Module,
    policy_path: str | pathlib.Path,
    bag_path: str | pathlib.Path,
    *,
    num_steps: int,
    storage: str = "mcap",
    mapping: object | None = None,
    node: str = DEFAULT_NODE,
    sim_dt: float | None = None,
    progress: bool = False,
) -> RecordResult:
    """Run ``env`` with ``actor`` for ``num_steps`` policy steps and record it into a bag.

    Args:
        env: The environment the policy file was exported from, components registered.
        actor: The torch actor; it computes the actions, as in training/evaluation.
        policy_path: The exported policy file (its hash and topics go into the bag).
        bag_path: The bag directory to create (must not exist).
        num_steps: Policy steps to record (the environment may reset in between).
        storage: ``"mcap"`` (default) or ``"sqlite3"``.
        mapping: The mapping file's YAML document (as loaded by ``yaml.safe_load``), or None
            for the default topic rules; stored in the bag so replays use the same topics.
        node: Fully qualified name of the policy node the ``~`` topics are resolved for.
        sim_dt: Sim time step in seconds; default: ``1 / update_rate`` of the file, else
            ``env.sim_dt``, else :data:`~exploy.bag.layout.DEFAULT_SIM_DT`.
        progress: Show a progress bar.

    Returns:
        The metadata written and warnings found while recording.

    Raises:
        BagError: for a bad policy file, a mismatching environment, bad arguments, or write errors.
    """
    from tqdm import tqdm

    policy_path = pathlib.Path(policy_path)
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise BagError(f"num_steps must be a positive int, got {num_steps!r}")
    try:
        policy_meta = read_metadata(policy_path)
    except PolicyFormatError as err:
        raise BagError(f"Cannot record for {policy_path}: {err}") from err
    cm = env.context_manager()
    _check_env_matches(cm, policy_meta, policy_path)
    decimation = int(env.decimation)
    if decimation != policy_meta.decimation:
        raise BagError(f"env.decimation is {decimation} but {policy_path} has {policy_meta.decimation}")
    tmap = topic_map_for(policy_meta, mapping)
    dt, warnings = _sim_dt(policy_meta, env, sim_dt)
    env_dt = getattr(env, "sim_dt", None)
    physics_dt = (  # the quaternion check integrates over the physics time (axes only when unknown)
        float(env_dt) if isinstance(env_dt, (int, float)) and env_dt > 0
        else (1.0 / policy_meta.update_rate if policy_meta.update_rate else None)
    )
    initial = _initial_memory(policy_meta)
    warned = set(_nonzero_memory(cm, initial))
    if warned:
        warnings.append(_memory_note(sorted(warned), "at the start"))
    hooks = _Hooks(cm, [b.component for s in tmap.outputs for b in s.bindings])
    connect_evaluation_hooks(env, update=hooks.on_update, reset=hooks.on_reset, evaluate_substep=hooks.on_substep)
    quaternions = sim_checks.QuaternionCheck(
        sim_checks.quaternion_pairs([(e.name, e.component.metadata) for e in cm.inputs()]),
        None if physics_dt is None else physics_dt * decimation,
    )
    problems: list[str] = []
    node = "/" + node.strip("/")
    writer: BagWriter | None = None
    meta: BagMeta | None = None
    reset_next = False
    try:
        with torch.inference_mode():
            obs = env.observations_reset()
            for step in tqdm(range(num_steps), desc="record", unit="step", disable=not progress):
                base = step * decimation
                hooks.base = base
                inputs = hooks.read_inputs()
                _check_step_start(step, hooks.latest_inputs, inputs, reset_next, problems)
                quaternions.add(inputs, after_reset=reset_next or step == 0)
                hooks.ticks = {base: _Tick(inputs=inputs, reset=reset_next)}
                hooks.latest_inputs = None
                hooks.reset_seen = False
                hooks.substeps = []
                stage = {"memory." + e.name: _np(e.read()) for e in cm.memories()}
                actions = actor(obs)
                stage.update(obs=_np(obs), actions=_np(actions))
                obs, done = env.step(actions)
                if hooks.substeps:
                    problem = sim_checks.substep_problem(step, hooks.substeps, decimation)
                    if problem is not None:
                        raise BagError(f"Recording stopped: {problem}")
                called = len(hooks.ticks) > 1 or hooks.ticks[base].expected is not None
                if not called:
                    hooks.ticks.setdefault(base + decimation - 1, _Tick()).expected = hooks.read_outputs()
                if writer is None:  # the first step tells whether the environment calls the hooks
                    meta = BagMeta(
                        policy_sha256=file_sha256(policy_path),
                        policy_file=policy_path.name,
                        exploy_version=str(exploy.__version__),
                        decimation=decimation,
                        dt_ns=int(round(dt * 1e9)),
                        t0_ns=DEFAULT_T0_NS,
                        num_ticks=num_steps * decimation,
                        sampling=SAMPLING_SUBSTEP if called else SAMPLING_POLICY_STEP,
                        node=node,
                        mapping=mapping,
                        inputs={resolve_topic(s.topic, node): s.msg_type for s in tmap.inputs},
                        expected={expected_topic(resolve_topic(s.topic, node)): s.msg_type for s in tmap.outputs},
                        notes=list(warnings),
                    )
                    writer = BagWriter(bag_path, meta=meta, topic_map=tmap, storage=storage)
                    stages = writer.stage_writer([e.name for e in cm.memories()])
                    if not stages.write_policy(policy_path):
                        warnings.append(
                            f"{policy_path} is too large to embed; "
                            "a replay against another file will only see the hash differ"
                        )
                stages.write(base, stage)
                for tick in range(base, base + decimation):
                    item = hooks.ticks.get(tick, _Tick())
                    writer.write_tick(tick, inputs=item.inputs, expected=item.expected, reset=item.reset)
                reset_next = bool(done) or hooks.reset_seen
                if reset_next:
                    if hasattr(actor, "reset"):
                        # reset() of an actor that has one (hasattr above)
                        actor.reset(torch.ones(obs.shape[0], dtype=torch.bool))  # type: ignore[operator]
                    fresh = [name for name in _nonzero_memory(cm, initial) if name not in warned]
                    if fresh:
                        warned.update(fresh)
                        warnings.append(_memory_note(fresh, f"after the reset following policy step {step}"))
    finally:
        if writer is not None:
            writer.close()
    if meta is None:  # unreachable: num_steps >= 1 was checked
        raise BagError("Nothing was recorded")
    warnings += problems + quaternions.problems()
    return RecordResult(meta=meta, warnings=warnings)


def _check_step_start(
    step: int,
    at_update: dict[str, np.ndarray] | None,
    inputs: dict[str, np.ndarray],
    after_reset: bool,
    problems: list[str],
) -> None:
    """Inputs at the start of a policy step must equal those at the last ``update()`` before it."""
    if at_update is None or after_reset or any(p.startswith("rewritten input") for p in problems):
        return
    changed = sim_checks.rewritten_inputs(at_update, inputs)
    if changed:
        problems.append(sim_checks.rewrite_problem(step, changed))


def _initial_memory(meta: PolicyMetadata) -> dict[str, np.ndarray]:
    """The memory a policy node starts and resets with: the file's ``initial_value`` or zeros."""
    initial = {}
    for spec in meta.memories:
        raw = (spec.metadata or {}).get(INITIAL_VALUE_KEY)
        value = np.zeros(spec.shape) if raw is None else np.asarray(raw, dtype=np.float64)
        initial[spec.name] = value.reshape(-1)
    return initial


def _nonzero_memory(cm: ContextManager, initial: dict[str, np.ndarray]) -> list[str]:
    """Names of the memory components whose value differs from the policy's initial memory."""
    return [
        e.name for e in cm.memories()
        if e.name in initial and not np.allclose(_np(e.read()).reshape(-1), initial[e.name])
    ]


def _memory_note(names: list[str], when: str) -> str:
    return (
        f"memory {names} differs from the policy's initial memory {when}; a policy node starts and "
        "resets with the initial memory, so the replay may diverge right after it"
    )
