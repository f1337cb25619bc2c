"""The policy node's ``/diagnostics`` report: counters kept by the tick, turned into a status.

The level follows the present: WARN for rejected messages, outputs or ticks, missed ticks or
clipped inputs only while they grew within the recent window (:class:`exploy.safety.RecentCounts`);
the totals stay in the values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from exploy.safety import RecentCounts
from exploy_ros.inputs import InputStore
from exploy_ros.timing import LatencyWindow


@dataclass
class TickStats:
    """Counters and timings kept by the node's tick (reset on activation).

    Attributes:
        ticks: Ticks run (policy stepped, outputs published unless an output was rejected).
        policy_steps: Ticks that ran the Default path.
        missed: Tick periods that passed without a tick (late timer, or a clock jump beyond
            the catch-up limit).
        waiting: Tick periods skipped because an input never arrived.
        stale: Tick periods skipped because an input was stale.
        output_rejected: Output messages not published because they held NaN/Inf.
        step_rejected: Malformed ``~/step`` messages ignored.
        tick_time: Duration of whole ticks (inputs to last publish), seconds.
        inference_time: Duration of the policy step (onnxruntime + feed), seconds.
        latency: Input-to-output latency per tick: receipt of the oldest input message the tick
            used to the publish of its outputs, seconds.
    """

    ticks: int = 0
    policy_steps: int = 0
    missed: int = 0
    waiting: int = 0
    stale: int = 0
    output_rejected: int = 0
    step_rejected: int = 0
    tick_time: LatencyWindow = field(default_factory=LatencyWindow)
    inference_time: LatencyWindow = field(default_factory=LatencyWindow)
    latency: LatencyWindow = field(default_factory=LatencyWindow)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.4f}"


def build_status(
    *,
    name: str,
    hardware_id: str,
    stats: TickStats,
    inputs: InputStore,
    tick_rate_hz: float,
    expected_rate_hz: float,
    step_count: int,
    active: bool,
    stamp_ns: int,
    safety_state: str = "",
    safety: Mapping[str, str] | None = None,
    recent: RecentCounts | None = None,
    now_ns: int = 0,
) -> DiagnosticArray:
    """The ``/diagnostics`` message of the node.

    Level: ERROR while inputs are missing or stale or the safety state is ``fallback`` (the
    policy is not in control), WARN under e-stop and while messages, outputs or ticks were
    rejected, ticks missed or inputs clipped within the recent window, OK otherwise (and OK
    while inactive).

    Args:
        name: Status name (the node's fully qualified name).
        hardware_id: The policy file name.
        stats: The tick counters.
        inputs: The input store (per-topic counts, missing and stale topics).
        tick_rate_hz: Ticks per second over the last report period.
        expected_rate_hz: The configured tick rate.
        step_count: The runtime's current ``ctx.step_count``.
        active: Whether the node is active (ticking).
        stamp_ns: Header stamp.
        safety_state: The safety state (``waiting``, ``starting``, ``running``, ``fallback``, ``estop``).
        safety: The safety layer's values (:func:`exploy_ros.safety_io.safety_values`).
        recent: Window judging the counters (None: judge the totals).
        now_ns: Time of the report on the window's clock.
    """
    missing = inputs.missing()
    stale = [t for t, s in inputs.topics.items() if s.stale]
    safety = dict(safety or {})
    totals = {
        "rejected messages": inputs.rejected,
        "rejected outputs": stats.output_rejected,
        "rejected step messages": stats.step_rejected,
        "missed ticks": stats.missed,
        "rejected ticks": int(safety.get("rejected_ticks", 0)),
        "clipped inputs": int(safety.get("clipped_inputs", 0)),
    }
    grown = recent.update(now_ns, totals) if recent is not None else totals
    problems = ", ".join(f"{count} {what}" for what, count in grown.items() if count)
    window = f" in the last {recent.window_ns / 1e9:g} s" if recent is not None else ""
    label = safety.get("state", safety_state)
    if not active:
        level, message = DiagnosticStatus.OK, "inactive"
    elif missing:
        level, message = DiagnosticStatus.ERROR, f"waiting for inputs: {', '.join(missing)}"
    elif safety_state == "estop":
        level, message = DiagnosticStatus.WARN, "e-stop engaged: fallback outputs, policy stopped"
    elif stale:
        level, message = DiagnosticStatus.ERROR, f"{label}; stale inputs: {', '.join(stale)}"
    elif safety_state == "fallback":
        level, message = DiagnosticStatus.ERROR, label
    elif problems:
        level, message = DiagnosticStatus.WARN, f"{label or 'running'}; {problems}{window}"
    else:
        level, message = DiagnosticStatus.OK, label or "running"
    rejected = inputs.rejected
    values = {
        "tick_rate_hz": f"{tick_rate_hz:.2f}",
        "expected_rate_hz": f"{expected_rate_hz:.2f}",
        "ticks": str(stats.ticks),
        "policy_steps": str(stats.policy_steps),
        "step_count": str(step_count),
        "missed_ticks": str(stats.missed),
        "waiting_ticks": str(stats.waiting),
        "stale_ticks": str(stats.stale),
        "rejected_messages": str(rejected),
        "rejected_outputs": str(stats.output_rejected),
        "rejected_step_messages": str(stats.step_rejected),
        "stale_inputs": ",".join(stale),
        "missing_inputs": ",".join(missing),
        "inference_p50_ms": _ms(stats.inference_time.percentile(50)),
        "inference_p99_ms": _ms(stats.inference_time.percentile(99)),
        "tick_p50_ms": _ms(stats.tick_time.percentile(50)),
        "tick_p99_ms": _ms(stats.tick_time.percentile(99)),
        "tick_max_ms": _ms(stats.tick_time.max),
        "latency_p50_ms": _ms(stats.latency.percentile(50)),
        "latency_p99_ms": _ms(stats.latency.percentile(99)),
        **safety,
    }
    for topic, state in inputs.topics.items():
        values[f"rejected[{topic}]"] = str(state.rejected)
        values[f"stale_events[{topic}]"] = str(state.stale_events)
    status = DiagnosticStatus(
        level=level,
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[KeyValue(key=k, value=v) for k, v in values.items()],
    )
    msg = DiagnosticArray(status=[status])
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    return msg
