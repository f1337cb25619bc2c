"""Tick scheduling and timing statistics of the policy node (no rclpy: tested on its own).

- :class:`SimClockTicker`: with ``use_sim_time``, turns ``/clock`` messages into ticks, exactly
  one per sim period of clock advance.
- :class:`DeadlineSchedule`: absolute monotonic deadlines, whole late periods skipped and
  counted; shared by every wall-clock tick design (:mod:`exploy_ros.ticking`).
- :class:`TickThread`: without sim time, ticks at absolute deadlines on its own thread and
  counts the periods it had to skip.
- :func:`busy_wait_until`, :func:`parse_cpu_list`, :func:`pin_this_thread`: the floor-lowering
  knobs (a short spin before a deadline, CPU affinity).
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


class DeadlineSchedule:
    """Absolute tick deadlines ``origin + k * period`` (k >= 1) on the monotonic clock.

    :meth:`take` turns "it is now ``now_ns``" into the deadline of the tick to run: a deadline
    more than one period in the past is skipped (counted in :attr:`missed`), never run late in
    a burst.

    Args:
        period_ns: Tick period in nanoseconds.
        origin_ns: Monotonic time of tick 0; the first deadline is one period later.
    """

    def __init__(self, *, period_ns: int, origin_ns: int) -> None:
        if period_ns < 1:
            raise ValueError(f"period_ns must be >= 1, got {period_ns}")
        self.period_ns = period_ns
        self.next_ns = origin_ns + period_ns
        """The deadline of the next tick."""
        self.missed = 0
        """Deadlines skipped because a whole period passed without a tick."""

    def take(self, now_ns: int) -> int | None:
        """The deadline of the tick due at ``now_ns``, or None when it is not due yet.

        Skips (and counts) whole periods that passed; afterwards :attr:`next_ns` is one period
        after the returned deadline.
        """
        deadline = self.next_ns
        if now_ns < deadline:
            return None
        late = (now_ns - deadline) // self.period_ns
        if late > 0:
            self.missed += late
            deadline += late * self.period_ns
        self.next_ns = deadline + self.period_ns
        return deadline


def busy_wait_until(deadline_ns: int) -> int:
    """Spin (holding the CPU, no sleep) until the monotonic clock reaches ``deadline_ns``; return now."""
    now = time.monotonic_ns()
    while now < deadline_ns:
        now = time.monotonic_ns()
    return now


def parse_cpu_list(text: str) -> frozenset[int]:
    """CPU numbers from ``"1"``, ``"0,1"`` or ``"2-3"`` (empty text: no CPU, i.e. no pinning).

    Raises:
        ValueError: naming the part that is not a CPU number or range.
    """
    cpus: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi) if sep else int(lo)
        except ValueError as err:
            raise ValueError(f"'{part}' is not a CPU number or range like 2-3") from err
        if first < 0 or last < first or last > 4095:
            raise ValueError(f"'{part}' is not a valid CPU range (0..4095, low-high)")
        cpus.update(range(first, last + 1))
    return frozenset(cpus)


def pin_this_thread(cpus: frozenset[int]) -> str | None:
    """Restrict the calling thread to ``cpus`` (Linux); return why that failed, or None.

    An empty set leaves the affinity alone.
    """
    if not cpus:
        return None
    try:
        os.sched_setaffinity(0, cpus)  # 0: the calling thread
    except (AttributeError, OSError, ValueError) as err:
        return f"cannot pin the tick to CPUs {sorted(cpus)}: {err}"
    return None


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
        spin_ns: Sleep until this long before each deadline, then busy-wait to it (0: sleep
            all the way; costs up to ``spin_ns`` of CPU per tick).
        cpus: Pin the thread to these CPUs (empty: no pinning).
    """

    def __init__(
        self,
        *,
        period_ns: int,
        tick: Callable[[int], None],
        priority: int = 0,
        name: str = "policy-tick",
        spin_ns: int = 0,
        cpus: frozenset[int] = frozenset(),
    ) -> None:
        self.period_ns = period_ns
        self.priority = priority
        self.spin_ns = max(0, spin_ns)
        self.cpus = cpus
        self._schedule: DeadlineSchedule | None = None
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

    @property
    def missed(self) -> int:
        """Deadlines skipped because a whole period passed without a tick."""
        return self._schedule.missed if self._schedule is not None else 0

    def _set_priority(self) -> None:
        problems = [pin_this_thread(self.cpus)]
        if self.priority > 0:
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.priority))  # 0: this thread
            except (AttributeError, OSError) as err:
                problems.append(f"cannot run the tick thread at SCHED_FIFO priority {self.priority}: {err}")
        self._priority_error = "; ".join(p for p in problems if p) or None

    def _run(self) -> None:
        self._set_priority()
        schedule = self._schedule = DeadlineSchedule(
            period_ns=self.period_ns, origin_ns=time.monotonic_ns() - self.period_ns
        )
        self._started.set()
        spin = self.spin_ns
        while not self._stop.is_set():
            now = time.monotonic_ns()
            wake = schedule.next_ns - spin
            if now < wake:
                time.sleep((wake - now) / NS_PER_S)
                now = time.monotonic_ns()
            if spin and now < schedule.next_ns:
                now = busy_wait_until(schedule.next_ns)
            if schedule.take(now) is None or self._stop.is_set():
                continue
            self._tick(now)
