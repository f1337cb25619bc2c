"""Offline replay: run the policy file in-process over a bag, tick by tick, and compare."""

from __future__ import annotations

import pathlib
import time

import numpy as np

from exploy.bag.compare import DEFAULT_ATOL, DEFAULT_RTOL, ReplayResult, compare_outputs
from exploy.bag.errors import BagError
from exploy.bag.reader import Recording, check_policy, read_bag, read_meta
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
        The policy, the recording, and warnings (recording notes, allowed mismatches,
        incomplete ticks).

    Raises:
        BagError: for an unreadable bag or policy file, or a bag recorded for another file.
    """
    meta = read_meta(bag)
    try:
        warnings = list(meta.notes) + check_policy(meta, policy_path, allow_mismatch=allow_policy_mismatch)
        policy = Policy(policy_path)
    except (PolicyFormatError, PolicyRuntimeError, OSError) as err:
        raise BagError(f"Cannot load policy file {policy_path}: {err}") from err
    recording = read_bag(bag, policy.meta, progress=progress)
    if recording.incomplete_ticks:
        ticks = recording.incomplete_ticks
        warnings.append(f"{len(ticks)} tick(s) lack some input topics (first: {ticks[0]}); their last values were held")
    return policy, recording, warnings


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
    from tqdm import tqdm

    policy.reset()
    n = recording.num_ticks
    chunk = max(1, min(PROGRESS_CHUNK, n))
    produced: dict[str, list[np.ndarray]] = {name: [] for name in recording.expected}
    with tqdm(total=n, desc="replay", unit="tick", disable=not progress) as bar:
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            try:
                out = policy.run_ticks(
                    {name: value[start:stop] for name, value in recording.inputs.items()},
                    resets=recording.resets[start:stop],
                )
            except PolicyRuntimeError as err:
                raise BagError(f"The policy rejected the bag's inputs in ticks {start}..{stop - 1}: {err}") from err
            for name, values in produced.items():
                values.append(out[name].reshape(stop - start, -1))
            bar.update(stop - start)
    return {name: np.concatenate(values) for name, values in produced.items()}


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
    start = time.perf_counter()
    actual = run_policy(policy, recording, progress=progress)
    seconds = time.perf_counter() - start
    return compare_outputs(
        recording, actual, mode="offline", bag=str(bag), policy=str(policy_path),
        atol=atol, rtol=rtol, warnings=warnings, seconds=seconds,
    )
