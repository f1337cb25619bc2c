"""The policy node's ``/diagnostics`` report: counters kept by the tick, turned into a status."""

from __future__ import annotations

from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

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
        tick_time: Duration of whole ticks (inputs to last publish), seconds.
        inference_time: Duration of the policy step (onnxruntime + feed), seconds.
    """

    ticks: int = 0
    policy_steps: int = 0
    missed: int = 0
    waiting: int = 0
    stale: int = 0
    output_rejected: int = 0
    tick_time: LatencyWindow = field(default_factory=LatencyWindow)
    inference_time: LatencyWindow = field(default_factory=LatencyWindow)


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
) -> DiagnosticArray:
    """The ``/diagnostics`` message of the node.

    Level: ERROR while inputs are missing or stale (no outputs go out), WARN when messages or
    outputs were rejected or ticks missed, OK otherwise (and OK while inactive).

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
    """
    missing = inputs.missing()
    stale = [t for t, s in inputs.topics.items() if s.stale]
    rejected = inputs.rejected
    if not active:
        level, message = DiagnosticStatus.OK, "inactive"
    elif missing:
        level, message = DiagnosticStatus.ERROR, f"waiting for inputs: {', '.join(missing)}"
    elif stale:
        level, message = DiagnosticStatus.ERROR, f"stale inputs, outputs stopped: {', '.join(stale)}"
    elif rejected or stats.missed or stats.output_rejected:
        level, message = DiagnosticStatus.WARN, (
            f"running; {rejected} rejected messages, {stats.output_rejected} rejected outputs, "
            f"{stats.missed} missed ticks"
        )
    else:
        level, message = DiagnosticStatus.OK, "running"
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
        "stale_inputs": ",".join(stale),
        "missing_inputs": ",".join(missing),
        "inference_p50_ms": _ms(stats.inference_time.percentile(50)),
        "inference_p99_ms": _ms(stats.inference_time.percentile(99)),
        "tick_p50_ms": _ms(stats.tick_time.percentile(50)),
        "tick_p99_ms": _ms(stats.tick_time.percentile(99)),
        "tick_max_ms": _ms(stats.tick_time.max),
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
