"""Tick scheduling and timing statistics of the policy node (no rclpy: tested on its own).

- :class:`SimClockTicker`: with ``use_sim_time``, turns ``/clock`` messages into ticks, exactly
  one per sim period of clock advance.
- :class:`MissedTickCounter`: with the wall clock, counts the periods a late timer skipped.
- :class:`LatencyWindow`: a fixed ring of recent durations with percentiles, O(1) per sample.
"""

from __future__ import annotations

import numpy as np

NS_PER_S = 1_000_000_000


def period_ns(rate_hz: float) -> int:
    """The tick period in integer nanoseconds for ``rate_hz`` (rounded to the nearest ns)."""
    if not rate_hz > 0.0:
        raise ValueError(f"rate must be > 0 Hz, got {rate_hz}")
    return max(1, round(NS_PER_S / rate_hz))


class SimClockTicker:
    """Ticks once per ``period_ns`` of sim-clock advance.

    The first clock value seen is the origin and is due for a tick; tick ``k`` is due when the
    clock reaches ``origin + k * period_ns``. A clock that advances by several periods at once
    makes several ticks due (up to ``max_catch_up``; beyond that the surplus is reported as
    skipped and the schedule restarts from the new time). A clock that goes backwards (a
    simulator reset) restarts the schedule: the new time is a fresh origin, due for one tick.

    Args:
        period_ns: Sim period in nanoseconds.
        max_catch_up: Most ticks one clock message may make due.
    """

    def __init__(self, *, period_ns: int, max_catch_up: int = 100) -> None:
        if period_ns < 1 or max_catch_up < 1:
            raise ValueError(f"period_ns and max_catch_up must be >= 1, got {period_ns}, {max_catch_up}")
        self.period_ns = period_ns
        self.max_catch_up = max_catch_up
        self._next_ns: int | None = None
        self.skipped = 0
        """Ticks not run because one clock step exceeded ``max_catch_up`` periods."""
        self.restarts = 0
        """Times the clock went backwards and the schedule restarted."""

    def restart(self) -> None:
        """Forget the origin: the next clock value is a new origin, due for one tick."""
        self._next_ns = None

    def advance(self, now_ns: int) -> list[int]:
        """Sim times (ns) of the ticks due at clock ``now_ns``, oldest first (often empty)."""
        nxt = self._next_ns
        if nxt is None or now_ns < nxt - self.period_ns:
            if nxt is not None:
                self.restarts += 1
            self._next_ns = now_ns + self.period_ns
            return [now_ns]
        if now_ns < nxt:
            return []
        due = (now_ns - nxt) // self.period_ns + 1
        if due > self.max_catch_up:
            self.skipped += due - self.max_catch_up
            nxt = now_ns - (self.max_catch_up - 1) * self.period_ns
            due = self.max_catch_up
        times = [nxt + i * self.period_ns for i in range(due)]
        self._next_ns = times[-1] + self.period_ns
        return times


class MissedTickCounter:
    """Counts timer periods that passed without a callback (the timer was late and skipped).

    Call :meth:`tick` with a monotonic time at every timer callback.

    Args:
        period_ns: Timer period in nanoseconds.
    """

    def __init__(self, *, period_ns: int) -> None:
        self.period_ns = period_ns
        self.missed = 0
        self.callbacks = 0
        self._first_ns: int | None = None

    def reset(self) -> None:
        """Start counting afresh (e.g. on activation)."""
        self.missed = 0
        self.callbacks = 0
        self._first_ns = None

    def tick(self, now_ns: int) -> int:
        """Record a callback at ``now_ns``; return how many periods were missed just before it.

        The expected number of callbacks is the number of whole periods since the first one,
        plus one; the shortfall is what the timer skipped (rcl timers drop late periods).
        """
        self.callbacks += 1
        if self._first_ns is None:
            self._first_ns = now_ns
            return 0
        expected = (now_ns - self._first_ns + self.period_ns // 2) // self.period_ns + 1
        new = max(0, expected - self.callbacks - self.missed)
        self.missed += new
        return new


class LatencyWindow:
    """The last ``size`` durations (seconds) with percentiles and a running maximum.

    Args:
        size: Number of samples kept.
    """

    def __init__(self, size: int = 4096) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self._buf = np.zeros(size, dtype=np.float64)
        self._pos = 0
        self.count = 0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        """Record one duration."""
        self._buf[self._pos] = seconds
        self._pos = (self._pos + 1) % self._buf.size
        self.count += 1
        if seconds > self.max:
            self.max = seconds

    def clear(self) -> None:
        """Forget every sample."""
        self._pos = 0
        self.count = 0
        self.max = 0.0

    def samples(self) -> np.ndarray:
        """The kept samples (a copy, oldest order not preserved)."""
        return self._buf[: min(self.count, self._buf.size)].copy()

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0..100) of the kept samples; NaN when empty."""
        if self.count == 0:
            return float("nan")
        return float(np.percentile(self._buf[: min(self.count, self._buf.size)], q))
