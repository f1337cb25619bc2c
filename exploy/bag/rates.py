"""Rate checks of a live replay: how many times the node ticked per ``/clock`` step.

In lockstep the driver advances ``/clock`` by one sim period of the bag per tick, and a node
running at the file's sim rate ticks exactly once per advance. A node that ticks more often (its
``sim_rate_hz`` above the file's ``update_rate``, or two tick sources) or less often (below it)
runs the policy at the wrong rate: :func:`tick_rate_problem` names that from the node's
``~/tick`` messages counted per clock step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def tick_rate_problem(
    counts: Sequence[int], *, dt_ns: int, file_rate_hz: float | None, node: str
) -> tuple[int, str] | None:
    """The first ``/clock`` step whose tick count is not 1, and a sentence naming the rate problem.

    Args:
        counts: ``~/tick`` messages received per ``/clock`` step, in order (the last may be
            the step that timed out, with 0).
        dt_ns: Sim period of the bag (one ``/clock`` step).
        file_rate_hz: The policy file's ``update_rate``, or None.
        node: The policy node's name, for the message.

    Returns:
        ``(clock step index, sentence)``, or None when every step ticked exactly once.
    """
    values = np.asarray(counts, dtype=np.int64)
    bad = np.flatnonzero(values != 1)
    if bad.size == 0:
        return None
    first = int(bad[0])
    bag_rate = 1e9 / dt_ns
    ratio = float(values.mean()) if values.size else 0.0
    node_rate = ratio * bag_rate
    want = f"{file_rate_hz:g} Hz" if file_rate_hz else f"the bag's {bag_rate:g} Hz"
    how = "more" if values[first] > 1 else "less"
    return first, (
        f"rate mismatch: {node} ticked {int(values[first])} time(s) on /clock step {first} (sim period "
        f"{dt_ns * 1e-9:g} s) and {int(values.sum())} times over {values.size} steps, i.e. at about "
        f"{node_rate:g} Hz instead of {want}: it runs {how} often than the file's sim rate. Start it "
        "with sim_rate_hz:=0 (the file's update_rate) and one tick source (use_sim_time:=true ticks "
        "once per sim period of /clock)"
    )
