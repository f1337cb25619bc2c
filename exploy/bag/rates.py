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
    counts: Sequence[int], *, dt_ns: int, file_rate_hz: float | None, node: str, first_late: int | None = None
) -> tuple[int, str] | None:
    """Name a node that does not tick exactly once per ``/clock`` step.

    Messages on different topics are not ordered, so a tick that arrives late may be counted
    on the next clock step: the verdict uses the total over all steps, and the step it names is
    the first whose count is off or (``first_late``) whose tick ran with an unexpected
    ``ctx.step_count``.

    Args:
        counts: ``~/tick`` messages received per ``/clock`` step, in order (the last may be
            the step that timed out, with 0).
        dt_ns: Sim period of the bag (one ``/clock`` step).
        file_rate_hz: The policy file's ``update_rate``, or None.
        node: The policy node's name, for the message.
        first_late: First clock step whose tick had an unexpected step count, if any.

    Returns:
        ``(clock step index, sentence)``, or None when no step's count is off.
    """
    values = np.asarray(counts, dtype=np.int64)
    bad = np.flatnonzero(values != 1)
    if bad.size == 0:
        return None
    first = int(bad[0]) if first_late is None else min(int(bad[0]), first_late)
    bag_rate = 1e9 / dt_ns
    # The first clock value is the node's origin (one tick at any rate): rate from the others.
    ratio = float(values[1:].mean()) if values.size > 1 else float(values[0])
    want = f"{file_rate_hz:g} Hz" if file_rate_hz else f"the bag's {bag_rate:g} Hz"
    how = "more" if ratio > 1 else "less"
    return first, (
        f"rate mismatch: {node} ticked {int(values.sum())} times over {values.size} /clock steps of "
        f"{dt_ns * 1e-9:g} s ({int(values[first])} time(s) on /clock step {first}), i.e. at about "
        f"{ratio * bag_rate:g} Hz instead of {want}: it ticks {how} often than the file's sim rate. Start "
        "it with sim_rate_hz:=0 (the file's update_rate) and one tick source (use_sim_time:=true ticks "
        "once per sim period of /clock)"
    )
