"""Offline replay: run the policy file in-process over a bag, tick by tick, and compare."""

from __future__ import annotations

import pathlib
import time

import numpy as np

from exploy.bag.checks import check_expected_complete
from exploy.bag.compare import DEFAULT_ATOL, DEFAULT_RTOL, ReplayResult, compare_outputs
from exploy.bag.errors import BagError
from exploy.bag.layout import BagMeta
from exploy.bag.policy_diff import diff_policies
from exploy.bag.reader import Recording, check_policy, file_sha256, read_bag, read_meta
from exploy.bag.stages import ACTIONS, OBS, Stages, read_stages
from exploy.format import PolicyFormatError
from exploy.runtime.errors import PolicyRuntimeError
from exploy.runtime.policy import Policy

PROGRESS_CHUNK = 1000
"""Ticks run per call of :meth:`Policy.run_ticks` (the progress bar moves per chunk)."""


def load_for_replay(
    bag: str | pathlib.Path,
    policy_path: str | pathlib.Path,
    *,
    allow_policy_mismatch: bool = False,
    progress: bool = False,
) -> tuple[Policy, Recording, list[str]]:
    """Load the policy file and the bag, checking they belong together.

    Returns:
        The policy, the recording, and warnings (recording notes, allowed mismatches with what
        differs between the files, incomplete ticks).

    Raises:
        BagError: for an unreadable bag or policy file, a bag recorded for another file, or a
            bag whose policy steps lack expected values on some of their ``decimation`` ticks.
    """
    meta = read_meta(bag)
    try:
        warnings = list(meta.notes) + check_policy(meta, policy_path, allow_mismatch=allow_policy_mismatch)
        policy = Policy(policy_path)
    except (PolicyFormatError, PolicyRuntimeError, OSError) as err:
        raise BagError(f"Cannot load policy file {policy_path}: {err}") from err
    recording = read_bag(bag, policy.meta, progress=progress)
    check_expected_complete(recording, str(bag))
    if recording.incomplete_ticks:
        ticks = recording.incomplete_ticks
        warnings.append(f"{len(ticks)} tick(s) lack some input topics (first: {ticks[0]}); their last values were held")
    return policy, recording, warnings


def load_stages(bag: str | pathlib.Path, recording: Recording, policy: Policy) -> Stages:
    """The simulator's recorded stages (observations, actions, incoming memory) of ``bag``."""
    meta = recording.meta
    return read_stages(bag, meta.num_ticks, meta.t0_ns, meta.dt_ns, [m.name for m in policy.memories])


def policy_differences(meta: BagMeta, stages: Stages, policy_path: str | pathlib.Path) -> list[str]:
    """What differs between the file the bag was recorded for and ``policy_path`` (empty when
    they are the same file)."""
    if file_sha256(policy_path) == meta.policy_sha256:
        return []
    if stages.policy_bytes is None:
        return [
            f"the bag does not carry '{meta.policy_file}' (recorded by an older exploy or too large): "
            "only its hash is known"
        ]
    try:
        lines = diff_policies(stages.policy_bytes, policy_path)
    except Exception as err:  # onnx's parser on a damaged embedded copy
        return [f"the bag's copy of '{meta.policy_file}' cannot be read ({err})"]
    if not lines:
        return ["the files differ only in volatile metadata (export date)"]
    return [f"'{meta.policy_file}' -> {pathlib.Path(policy_path).name}: {line}" for line in lines]


def run_policy(policy: Policy, recording: Recording, *, progress: bool = False) -> dict[str, np.ndarray]:
    """Step ``policy`` over every tick of ``recording``; return the outputs per tick.

    The policy is reset at the start and wherever the bag marks a reset. Ticks missing from the
    bag are still run (with the last inputs) so the step counter stays aligned. Uses the batch
    fast path :meth:`Policy.run_ticks`, in chunks so the progress bar moves.

    Returns:
        Output component -> ``(num_ticks, size)`` array of produced values.

    Raises:
        BagError: when the policy rejects the bag's inputs (e.g. NaN).
    """
    policy.reset()
    return _run_in_chunks(policy, recording, progress=progress)


def _run_in_chunks(
    policy: Policy, recording: Recording, *, stages: dict[str, np.ndarray] | None = None, progress: bool = False
) -> dict[str, np.ndarray]:
    """:meth:`Policy.run_ticks` over the recording in chunks (so the progress bar moves): the
    outputs the bag expects, ``(num_ticks, size)`` each; with ``stages``, those of every tick too.

    Raises:
        BagError: when the policy rejects the bag's inputs (e.g. NaN).
    """
    from tqdm import tqdm

    n = recording.num_ticks
    chunk = max(1, min(PROGRESS_CHUNK, n))
    produced: dict[str, list[np.ndarray]] = {name: [] for name in recording.expected}
    with tqdm(total=n, desc="replay", unit="tick", disable=not progress) as bar:
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            part: dict[str, np.ndarray] = {}
            try:
                out = policy.run_ticks(
                    {name: value[start:stop] for name, value in recording.inputs.items()},
                    resets=recording.resets[start:stop], stages=part if stages is not None else None,
                )
            except PolicyRuntimeError as err:
                raise BagError(f"The policy rejected the bag's inputs in ticks {start}..{stop - 1}: {err}") from err
            for name, values in produced.items():
                values.append(out[name].reshape(stop - start, -1))
            if stages is not None:
                for key, rows in part.items():
                    if key not in stages:
                        stages[key] = np.zeros((n, rows.shape[1]))
                    stages[key][start:stop] = rows
            bar.update(stop - start)
    return {name: np.concatenate(values) for name, values in produced.items()}


def run_policy_with_stages(
    policy: Policy, recording: Recording, *, progress: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Like :func:`run_policy`, also returning on every Default tick the observations, actions
    and the memory the tick received (stage keys ``obs``, ``actions``, ``memory.<name>``).

    exploy's :class:`Policy` is run on its session directly (fast); a subclass (e.g. a
    deployment's own runtime) tick by tick through its :meth:`Policy.step`."""
    from tqdm import tqdm

    policy.reset()
    n = recording.num_ticks
    outputs = {name: np.zeros_like(values, dtype=np.float64) for name, values in recording.expected.items()}
    stages: dict[str, np.ndarray] = {}
    if policy.check_finite:
        for name, value in recording.inputs.items():
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                tick = int(np.argmax(~np.isfinite(value.reshape(n, -1)).all(axis=1)))
                raise BagError(f"The policy rejected the bag's inputs: input '{name}' holds NaN or Inf at tick {tick}")
    if type(policy) is Policy:  # exploy's own runtime: the same ticks, run without per-tick objects
        produced = _run_in_chunks(policy, recording, stages=stages, progress=progress)
        return {name: produced[name].astype(np.float64) for name in outputs}, stages
    for tick in tqdm(range(n), desc="replay", unit="tick", disable=not progress, mininterval=0.5):
        if recording.resets[tick]:
            policy.reset()
        inputs = {name: value[tick] for name, value in recording.inputs.items()}
        memory = policy.memory if policy.is_policy_tick() else None
        try:
            result = policy.step(inputs, validate=tick == 0)  # names and shapes once, like run_ticks
        except PolicyRuntimeError as err:
            raise BagError(f"The policy rejected the bag's inputs at tick {tick}: {err}") from err
        for name, value in result.outputs.items():
            if name in outputs:
                outputs[name][tick] = value.reshape(-1)
        if memory is not None:
            values = {OBS: result.obs, ACTIONS: result.actions, **{f"memory.{k}": v for k, v in memory.items()}}
            for key, value in values.items():  # type: ignore[assignment]  # memory is not None in this branch
                flat = np.asarray(value, dtype=np.float64).reshape(-1)
                if key not in stages:
                    stages[key] = np.zeros((n, flat.size))
                stages[key][tick] = flat
    return outputs, stages


def replay_offline(
    bag: str | pathlib.Path,
    policy_path: str | pathlib.Path,
    *,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    allow_policy_mismatch: bool = False,
    progress: bool = False,
) -> ReplayResult:
    """Replay ``bag`` against the policy file in-process and compare every expected output.

    Args:
        bag: The bag recorded by :func:`exploy.bag.recorder.record`.
        policy_path: The policy file to check.
        atol: Absolute tolerance.
        rtol: Relative tolerance.
        allow_policy_mismatch: Compare even when the file's hash differs from the bag's
            (e.g. a re-export with new weights); otherwise that is a :class:`BagError`.
        progress: Show progress bars.

    Raises:
        BagError: for bad input (see :func:`load_for_replay`).
    """
    policy, recording, warnings = load_for_replay(
        bag, policy_path, allow_policy_mismatch=allow_policy_mismatch, progress=progress
    )
    stages = None
    if file_sha256(policy_path) != recording.meta.policy_sha256:  # allowed: say what differs
        stages = load_stages(bag, recording, policy)
        warnings += policy_differences(recording.meta, stages, policy_path)
    return replay_loaded(
        policy, recording, stages=stages, bag=bag, atol=atol, rtol=rtol, warnings=warnings, progress=progress
    )


def replay_loaded(
    policy: Policy,
    recording: Recording,
    *,
    stages: Stages | None = None,
    bag: str | pathlib.Path,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    warnings: list[str] | None = None,
    progress: bool = False,
) -> ReplayResult:
    """Run ``policy`` over a loaded recording and compare its outputs and, where it matters,
    the simulator's stages (observations, actions, incoming memory).

    exploy's :class:`Policy` first runs the fast path on outputs only; only when an output
    diverges are the stages read (``stages``, or from ``bag``) and the file run again to find
    the earliest stage that differs. A subclass (e.g. a deployment's own runtime) is always run
    tick by tick through its :meth:`Policy.step`, with the stages.
    """
    start = time.perf_counter()
    result = None
    if type(policy) is Policy:
        actual = run_policy(policy, recording, progress=progress)
        result = compare_outputs(
            recording, actual, mode="offline", bag=str(bag), policy=str(policy.path),
            atol=atol, rtol=rtol, warnings=warnings, seconds=time.perf_counter() - start,
        )
        if result.ok:
            return result
    if stages is None:
        stages = load_stages(bag, recording, policy)
    if not stages.present:
        if result is not None:
            return result
        actual, produced = run_policy(policy, recording, progress=progress), None
    else:
        actual, produced = run_policy_with_stages(policy, recording, progress=progress)
    return compare_outputs(
        recording, actual, mode="offline", bag=str(bag), policy=str(policy.path),
        atol=atol, rtol=rtol, warnings=warnings, seconds=time.perf_counter() - start,
        stages=stages if stages.present else None, produced_stages=produced,
    )
