"""/diagnostics levels follow the present (a recent window), totals stay in the values."""

from __future__ import annotations

import pytest
from diagnostic_msgs.msg import DiagnosticStatus

from exploy.safety import RecentCounts
from exploy_ros.diagnostics import TickStats, build_status
from exploy_ros.inputs import InputStore

S = 1_000_000_000


def _status(stats, recent, now_ns, state="running", safety=None):
    msg = build_status(
        name="/n", hardware_id="p.onnx", stats=stats, inputs=InputStore((), timeout_ns=0, log_warning=print),
        tick_rate_hz=200.0, expected_rate_hz=200.0, step_count=0, active=True, stamp_ns=now_ns,
        safety_state=state, safety=safety or {"state": state}, recent=recent, now_ns=now_ns,
    )
    status = msg.status[0]
    return status.level, status.message, {kv.key: kv.value for kv in status.values}


@pytest.mark.parametrize(
    ("counter", "count", "says", "key"),
    [("output_rejected", 1, "1 rejected outputs", "rejected_outputs"),
     ("step_rejected", 2, "2 rejected step messages", "rejected_step_messages")],
)
def test_a_rejection_warns_only_within_the_window_and_stays_counted(counter, count, says, key):
    stats, recent = TickStats(), RecentCounts(5 * S)
    assert _status(stats, recent, 0)[0] == DiagnosticStatus.OK
    setattr(stats, counter, count)
    level, message, values = _status(stats, recent, 1 * S)
    assert level == DiagnosticStatus.WARN and f"{says} in the last 5 s" in message
    assert _status(stats, recent, 3 * S)[0] == DiagnosticStatus.WARN
    level, message, values = _status(stats, recent, 7 * S)
    assert level == DiagnosticStatus.OK and message == "running" and values[key] == str(count)


def test_fallback_is_an_error_and_estop_a_warning():
    stats, recent = TickStats(), RecentCounts(5 * S)
    level, message, _ = _status(
        stats, recent, 0, state="fallback", safety={"state": "fallback: rejected tick", "rejected_ticks": "1"}
    )
    assert level == DiagnosticStatus.ERROR and message == "fallback: rejected tick"
    level, message, _ = _status(stats, recent, S, state="estop")
    assert level == DiagnosticStatus.WARN and "e-stop" in message
