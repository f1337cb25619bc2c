"""Tick scheduling helpers of the policy node (no rclpy needed)."""

from __future__ import annotations

import numpy as np
import pytest

from exploy_ros.timing import LatencyWindow, SimClockTicker, TickThread, period_ns

MS = 1_000_000


def test_sim_clock_ticker_runs_one_tick_per_period_of_advance():
    ticker = SimClockTicker(period_ns=5 * MS)
    assert ticker.advance(100 * MS) == [100 * MS]  # origin
    assert ticker.advance(102 * MS) == []
    assert ticker.advance(105 * MS) == [105 * MS]
    assert ticker.advance(105 * MS) == []  # repeated clock value
    assert ticker.advance(121 * MS) == [110 * MS, 115 * MS, 120 * MS]
    assert ticker.advance(125 * MS) == [125 * MS]


def test_sim_clock_ticker_restarts_when_the_clock_goes_back():
    ticker = SimClockTicker(period_ns=5 * MS)
    ticker.advance(100 * MS)
    ticker.advance(105 * MS)
    assert ticker.advance(3 * MS) == [3 * MS]
    assert ticker.restarts == 1
    assert ticker.advance(8 * MS) == [8 * MS]


def test_sim_clock_ticker_caps_catch_up_and_counts_the_rest_as_skipped():
    ticker = SimClockTicker(period_ns=MS, max_catch_up=3)
    ticker.advance(0)
    assert ticker.advance(10 * MS) == [8 * MS, 9 * MS, 10 * MS]
    assert ticker.skipped == 7
    assert ticker.advance(11 * MS) == [11 * MS]


def test_latency_window_percentiles_and_max():
    window = LatencyWindow(size=100)
    assert np.isnan(window.percentile(50))
    for i in range(1000):
        window.add(i / 1000)
    assert window.count == 1000 and window.max == pytest.approx(0.999)
    assert window.percentile(50) == pytest.approx(0.9495, abs=1e-3)  # the last 100 samples


def test_period_ns_rejects_non_positive_rates():
    assert period_ns(1000.0) == MS
    with pytest.raises(ValueError, match="rate must be > 0"):
        period_ns(0.0)


def test_tick_thread_ticks_at_the_period_and_counts_skipped_deadlines():
    import time

    stamps = []

    def tick(now_ns):
        stamps.append(now_ns)
        if len(stamps) == 5:
            time.sleep(0.035)  # a stall of 3.5 periods

    thread = TickThread(period_ns=10 * MS, tick=tick)
    start = time.monotonic_ns()
    thread.start()
    time.sleep(0.2)
    thread.stop()
    periods = (time.monotonic_ns() - start) / (10 * MS)  # the sleep overshoots on a loaded machine
    assert thread.missed >= 2
    # every period is either a tick or counted as missed (one either side for start and stop)
    assert periods - 2 <= len(stamps) + thread.missed <= periods + 1
    # the ticks before the stall follow the period (the median: one late wake-up under load is not a wrong period)
    assert 8 < float(np.median(np.diff(stamps[:5]) / MS)) < 12


def test_deadline_schedule_runs_each_deadline_once_and_skips_whole_late_periods():
    from exploy_ros.timing import DeadlineSchedule

    schedule = DeadlineSchedule(period_ns=10, origin_ns=100)
    assert schedule.take(105) is None  # first deadline is 110
    assert schedule.take(110) == 110
    assert schedule.take(115) is None
    assert schedule.take(129) == 120  # late by 9: still this period's tick
    assert schedule.missed == 0
    assert schedule.take(165) == 160  # 130, 140, 150 passed without a tick
    assert schedule.missed == 3
    assert schedule.next_ns == 170


def test_busy_wait_returns_at_or_after_the_deadline():
    import time

    from exploy_ros.timing import busy_wait_until

    deadline = time.monotonic_ns() + 2 * MS
    assert busy_wait_until(deadline) >= deadline
    assert time.monotonic_ns() >= deadline


@pytest.mark.parametrize(
    ("text", "cpus"), [("", set()), ("1", {1}), ("0,1", {0, 1}), (" 2-4 , 7", {2, 3, 4, 7})]
)
def test_cpu_list_parses_numbers_and_ranges(text, cpus):
    from exploy_ros.timing import parse_cpu_list

    assert parse_cpu_list(text) == cpus


@pytest.mark.parametrize("text", ["a", "3-1", "-1", "1-x", "5000"])
def test_cpu_list_rejects_what_is_not_a_cpu(text):
    from exploy_ros.timing import parse_cpu_list

    with pytest.raises(ValueError, match="CPU"):
        parse_cpu_list(text)


def test_tick_thread_with_a_spin_wait_ticks_on_its_period_grid():
    import time

    stamps = []
    thread = TickThread(period_ns=5 * MS, tick=stamps.append, spin_ns=2 * MS)
    thread.start()
    time.sleep(0.1)
    thread.stop()
    assert len(stamps) + thread.missed >= 15
    offsets = (np.array(stamps) - stamps[0]) % (5 * MS)  # the first tick is at its deadline (origin)
    distance = np.minimum(offsets, 5 * MS - offsets)
    assert np.median(distance) < 1 * MS  # ticks sit on the 5 ms grid, not spread over the period
