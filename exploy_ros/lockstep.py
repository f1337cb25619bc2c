"""The lockstep protocol between the policy node (``use_sim_time``) and a driver such as the
live replay: which topics tell the driver that its inputs are in and which tick ran."""

from __future__ import annotations

import time
from collections.abc import Callable

from rclpy.executors import Executor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

TICK_TOPIC = "tick"
"""``~/tick`` (std_msgs/UInt64): ``ctx.step_count`` of each tick, after its outputs."""

INPUT_COUNT_TOPIC = "input_count"
"""``~/input_count`` (std_msgs/UInt64): input messages taken so far (``use_sim_time`` only)."""

INPUT_COUNT_QOS = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
"""QoS of ``~/input_count``: a late-joining driver still gets the current count."""

STEP_TOPIC = "step"
"""``~/step`` (std_msgs/UInt64MultiArray ``[sim_time_ns, inputs]``; ``use_sim_time`` only): the
one-message lockstep handshake. The node moves its clock to ``sim_time_ns`` (ticking as a
``/clock`` message would) as soon as it has taken ``inputs`` input messages since the previous
step message, so a driver publishes its inputs, then the step, then waits for ``~/tick``: one
round trip per tick. Once a step message arrived the node no longer ticks from ``/clock``."""

STEP_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
"""QoS of ``~/step``: reliable, so no step is lost; volatile, so a late joiner never replays one."""


def spin_until(
    executor: Executor, done: Callable[[], bool], timeout: float, what: str, *, error: type[Exception]
) -> None:
    """Spin ``executor`` until ``done()``; after ``timeout`` seconds raise ``error(what)``."""
    deadline = time.monotonic() + timeout
    while not done():
        left = deadline - time.monotonic()
        if left <= 0:
            raise error(what)
        executor.spin_once(timeout_sec=min(left, 0.05))
