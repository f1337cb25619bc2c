"""Tick scheduling and timing statistics of the policy node (no rclpy: tested on its own).

- :class:`SimClockTicker`: with ``use_sim_time``, turns ``/clock`` messages into ticks, exactly
  one per sim period of clock advance.
- :class:`TickThread`: without sim time, ticks at absolute deadlines on its own thread and
  counts the periods it had to skip.
- :class:`LatencyWindow`: a fixed ring of recent durations with percentiles, O(1) per sample.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

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


class TickThread:
    """Calls ``tick(now_ns)`` every ``period_ns`` on its own thread, at absolute deadlines.

    A dedicated thread keeps the tick on time while the executor thread is busy with incoming
    messages (in rclpy, one executor thread would run the timer only between message
    callbacks). A deadline more than one period in the past is skipped, not run late in a
    burst, and counted in :attr:`missed`.

    Args:
        period_ns: Tick period in nanoseconds.
        tick: Called with the monotonic time of each tick.
        priority: 1..99 runs the thread under ``SCHED_FIFO`` at this priority (Linux; needs
            CAP_SYS_NICE or an rtprio limit); 0 keeps normal scheduling.
        name: Thread name.
    """

    def __init__(
        self, *, period_ns: int, tick: Callable[[int], None], priority: int = 0, name: str = "policy-tick"
    ) -> None:
        self.period_ns = period_ns
        self.priority = priority
        self.missed = 0
        self._tick = tick
        self._stop = threading.Event()
        self._started = threading.Event()
        self._priority_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> str | None:
        """Start ticking; return why the real-time priority could not be set, or None."""
        self._thread.start()
        self._started.wait(5.0)
        return self._priority_error

    def stop(self, timeout: float = 5.0) -> None:
        """Stop ticking and wait for a running tick to finish."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _set_priority(self) -> None:
        if self.priority <= 0:
            return
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.priority))  # 0: this thread
        except (AttributeError, OSError) as err:
            self._priority_error = f"cannot run the tick thread at SCHED_FIFO priority {self.priority}: {err}"

    def _run(self) -> None:
        self._set_priority()
        self._started.set()
        period = self.period_ns
        deadline = time.monotonic_ns()
        while not self._stop.is_set():
            now = time.monotonic_ns()
            if now < deadline:
                time.sleep((deadline - now) / NS_PER_S)
                now = time.monotonic_ns()
            late = (now - deadline) // period
            if late > 0:  # whole periods passed without a tick: skip them
                self.missed += late
                deadline += late * period
            if self._stop.is_set():
                break
            self._tick(now)
            deadline += period
