"""The policy node's tick: check inputs, step the policy, publish what the supervisor lets through.

Plain functions taking the :class:`~exploy_ros.policy_node.PolicyNode`, called with the node's
lock held: from the wall tick (:func:`on_wall_tick`) or from the sim clock
(:func:`exploy_ros.stepping.advance_clock`).

Timing: without ``use_sim_time`` the node ticks at the sim rate at absolute monotonic
deadlines, by default on the executor's own thread from a steady timer with ``main()`` spinning
rclpy's EventsExecutor (parameter ``tick_mode``, see :mod:`exploy_ros.ticking`: ``events``,
``executor``, or ``thread``, a dedicated tick thread, optionally ``SCHED_FIFO``); headers carry
the system time of the tick. With ``use_sim_time`` the node ticks from ``/clock`` on the executor thread: exactly one
tick per sim period of clock advance (:class:`exploy_ros.timing.SimClockTicker`), headers carry
the tick's sim time, and inputs published before a ``/clock`` message are used by the ticks it
triggers (input subscriptions are created before the ``/clock`` one, so the executor takes them
first). Outputs go out only while every input has arrived; while one is stale the fallback
law is published instead (nothing with ``fallback: stop``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from exploy.runtime.errors import PolicyRuntimeError
from exploy.safety import REJECTED_TICK
from exploy_ros.publishing import LOG_PERIOD_NS, log_output_problem, publish_outputs
from exploy_ros.timing import NS_PER_S

if TYPE_CHECKING:
    from exploy_ros.policy_node import PolicyNode


def on_wall_tick(node: PolicyNode, now_ns: int) -> None:
    """A tick of the tick thread (without use_sim_time, ROS time is the system time)."""
    with node._lock:
        thread = node._tick_thread
        if not node._active or thread is None:
            return
        node.stats.missed = thread.missed
        try:
            if node._inbox is not None:
                for topic, msg, received_ns in node._inbox.drain():
                    node.inputs.receive(topic, msg, received_ns)
            run_tick(node, time.time_ns(), now_ns)
        except Exception as err:  # the tick thread must outlive any one tick
            if not node.context.ok():
                thread.stop()  # SIGINT shut the context down before main() stopped us
                return
            node.stats.output_rejected += 1
            log_output_problem(node, now_ns, f"Tick failed: {type(err).__name__}: {err}")


def run_tick(node: PolicyNode, stamp_ns: int, now_ns: int) -> None:
    """One sim tick: check inputs, step the policy, publish what the safety supervisor lets
    through (``stamp_ns``: header stamp; the soft start follows it with ``use_sim_time``,
    ``now_ns``, the monotonic tick deadline, otherwise)."""
    start = time.perf_counter()
    inputs, policy, stats, safety = node.inputs, node.policy, node.stats, node.safety
    safety_ns = stamp_ns if node.settings.use_sim_time else now_ns  # the ramp's clock: sim time or monotonic
    status = input_status(node, now_ns)
    if status or safety.estopped:
        published = safety.idle(
            safety_ns, inputs.values, missing=status == "missing", stale=status == "stale",
            measurement_fresh=measurement_fresh(node),
        )
        if published:
            publish_outputs(node, published, stamp_ns, now_ns)
        return
    step_start = time.perf_counter()
    try:
        result = policy.step(inputs.values, validate=False)  # the decoders validated
    except PolicyRuntimeError as err:  # the decoders validate; this is a safety net
        stats.output_rejected += 1
        log_output_problem(node, now_ns, f"Tick skipped: {err}")
        publish_outputs(node, safety.after_tick(safety_ns, inputs.values, {}, problem=REJECTED_TICK), stamp_ns, now_ns)
        return
    step_end = time.perf_counter()
    if result.rejected is not None:
        log_output_problem(
            node, now_ns, f"Tick {result.step_count} rejected ({result.rejected}): memory and step counter kept, "
            f"fallback '{safety.config.fallback}' published"
        )
        publish_outputs(node, safety.after_tick(safety_ns, inputs.values, {}, problem=REJECTED_TICK), stamp_ns, now_ns)
        return
    publish_outputs(node, safety.after_tick(safety_ns, inputs.values, result.outputs), stamp_ns, now_ns)
    if node._oldest_rx_ns is not None:  # input-to-output latency: oldest input used -> outputs out
        stats.latency.add((time.monotonic_ns() - node._oldest_rx_ns) / NS_PER_S)
        node._oldest_rx_ns = None
    if result.policy_step:
        stats.policy_steps += 1
        if node._debug is not None:
            act_writer, act_pub, obs_writer, obs_pub = node._debug
            act_pub.publish(act_writer.fill(result.actions))
            obs_pub.publish(obs_writer.fill(result.obs))
    if node._tick_pub.get_subscription_count():  # no reader: skip the publish (it would reach nobody)
        node._tick_msg.data = result.step_count
        node._tick_pub.publish(node._tick_msg)
    stats.ticks += 1
    stats.inference_time.add(step_end - step_start)
    stats.tick_time.add(time.perf_counter() - start)


def measurement_fresh(node: PolicyNode) -> bool:
    """Whether every input the fallback law measures from is fresh."""
    topics = node.inputs.topics
    return not any(topics[t].stale for t in node._measurement_topics)


def input_status(node: PolicyNode, now_ns: int) -> str:
    """``"missing"`` (an input never arrived), ``"stale"``, or ``""`` when the policy may tick."""
    inputs = node.inputs
    missing = [] if inputs.all_arrived else inputs.missing()
    if missing:
        node.stats.waiting += 1
        if now_ns - node._waiting_logged_ns >= LOG_PERIOD_NS or now_ns < node._waiting_logged_ns:
            node._waiting_logged_ns = now_ns
            node.get_logger().warning(f"Not ticking: no message yet on {', '.join(missing)}")
        return "missing"
    if inputs.stale(now_ns):
        node.stats.stale += 1
        return "stale"
    return ""
