"""The policy node's input path and sim-time clock: input callbacks, ``/clock``, ``~/step``.

Plain functions taking the :class:`~exploy_ros.policy_node.PolicyNode`; the state they use
(``_now_ns``, ``_stepped``, ``_since_step``, ``_pending_step``, ``_input_count``) stays on the node,
which resets it on release. The handshake itself is described in :mod:`exploy_ros.lockstep`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import exploy_ros.ros_required  # noqa: F401  (first: without rclpy, one line instead of a traceback)

from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock as ClockMsg
from std_msgs.msg import UInt64, UInt64MultiArray

from exploy.mapping.cdr import CdrError, read_uint64_array
from exploy.mapping.topic_map import TopicMap
from exploy_ros.adapters import message_class
from exploy_ros.lockstep import INPUT_COUNT_QOS, INPUT_COUNT_TOPIC, STEP_QOS, STEP_TOPIC
from exploy_ros.parameters import NodeSettings
from exploy_ros.policy_tick import run_tick
from exploy_ros.publishing import log_output_problem
from exploy_ros.serialized import message_when_needed
from exploy_ros.timing import NS_PER_S

if TYPE_CHECKING:
    from exploy_ros.policy_node import PolicyNode


def create_input_subscriptions(node: PolicyNode, topic_map: TopicMap, qos: QoSProfile) -> None:
    """One subscription per input topic of the map (made before the ``/clock`` one); raw (the
    serialized bytes, read by :mod:`exploy.mapping.cdr`) where the type allows and ``raw_inputs`` is on."""
    for spec in topic_map.inputs:
        callback = input_callback(node, spec.topic)
        cls = message_class(spec.msg_type)
        raw = node.tick_settings.raw_inputs and node.inputs is not None and node.inputs.takes_raw(spec.topic)
        if raw:
            callback = functools.partial(_bytes_or_message, cls, callback)
        node._owned_subscriptions.append(node.create_subscription(cls, spec.topic, callback, qos, raw=raw))


def _bytes_or_message(cls: type, callback: Callable[[Any], None], data: Any) -> None:
    """Hand ``data`` on, as rclpy's message where :func:`message_when_needed` says so."""
    callback(message_when_needed(data, cls))


def create_sim_time_entities(node: PolicyNode, settings: NodeSettings) -> None:
    """With ``use_sim_time``: ``~/input_count``, the ``/clock`` and ``~/step`` subscriptions."""
    node._input_count_pub = node.create_publisher(UInt64, f"~/{INPUT_COUNT_TOPIC}", INPUT_COUNT_QOS)
    node._owned_publishers.append(node._input_count_pub)
    clock_qos = QoSProfile(depth=max(settings.qos_depth, 10), reliability=ReliabilityPolicy.BEST_EFFORT)
    node._owned_subscriptions.append(
        node.create_subscription(ClockMsg, "/clock", functools.partial(on_clock, node), clock_qos)
    )
    node._owned_subscriptions.append(  # raw: two numbers, read from the bytes
        node.create_subscription(
            UInt64MultiArray, f"~/{STEP_TOPIC}", functools.partial(on_step, node), STEP_QOS, raw=True
        )
    )


def input_callback(node: PolicyNode, topic: str):
    """The subscription callback of input ``topic``: decode and store it, or queue it raw."""

    def on_message(msg) -> None:
        inputs, inbox = node.inputs, node._inbox
        if inbox is not None:  # decode_on_tick: the tick decodes it
            now = time.monotonic_ns()
            inbox.put(topic, msg, now)
            if node._oldest_rx_ns is None:
                node._oldest_rx_ns = now
        elif inputs is not None:
            decoded = inputs.decode(topic, msg)  # the slow part, outside the tick's lock
            with node._lock:
                if inputs is node.inputs:  # not reconfigured meanwhile
                    inputs.commit(topic, decoded, clock_ns(node))
                    if node._oldest_rx_ns is None:
                        node._oldest_rx_ns = time.monotonic_ns()
        if node._input_count_pub is not None:
            node._input_count.data += 1
            if not node._stepped:  # a ~/step driver needs no count: save a publish per input
                node._input_count_pub.publish(node._input_count)
            node._since_step += 1
            pending = node._pending_step
            if pending is not None and node._since_step >= pending[1]:
                node._pending_step = None
                node._since_step -= pending[1]
                advance_clock(node, pending[0])

    return on_message


def clock_ns(node: PolicyNode) -> int:
    """Now on the clock that input ages are measured with (sim time from /clock, or monotonic)."""
    if node.settings is not None and node.settings.use_sim_time:
        return 0 if node._now_ns is None else node._now_ns
    return time.monotonic_ns()


def on_clock(node: PolicyNode, msg: ClockMsg) -> None:
    """``/clock``: move the clock, unless a ``~/step`` driver took it over."""
    if not node._stepped:
        advance_clock(node, msg.clock.sec * NS_PER_S + msg.clock.nanosec)


def on_step(node: PolicyNode, msg: bytes | UInt64MultiArray) -> None:
    """``~/step`` (its serialized bytes, or the message): move the clock once this step's inputs
    are in (see :data:`STEP_TOPIC`)."""
    try:
        data = read_uint64_array(msg, max_values=2) if isinstance(msg, bytes) else tuple(msg.data)
        problem = "" if len(data) == 2 else f"{len(data)} values"
    except CdrError as err:
        problem = str(err)
    if problem:
        node.stats.step_rejected += 1
        log_output_problem(
            node, clock_ns(node), f"Ignored a ~/{STEP_TOPIC} message ({problem}): send [sim_time_ns, inputs]"
        )
        return
    node._stepped = True
    now, inputs = int(data[0]), int(data[1])
    if node._since_step >= inputs:
        node._since_step -= inputs
        advance_clock(node, now)
    else:
        node._pending_step = (now, inputs)


def advance_clock(node: PolicyNode, now: int) -> None:
    """The sim clock moved to ``now`` (ns): run the ticks that became due."""
    if node._now_ns is None and node.inputs is not None:
        node.inputs.restamp(now)  # messages that came before the first /clock are fresh
    node._now_ns = now
    if not node._active or node._ticker is None:
        return
    skipped = node._ticker.skipped
    with node._lock:
        for stamp in node._ticker.advance(now):
            try:
                run_tick(node, stamp, now)
            except Exception as err:  # like the wall-clock path: one failing tick never kills the node
                node.stats.output_rejected += 1
                log_output_problem(node, now, f"Tick failed: {type(err).__name__}: {err}")
    node.stats.missed += node._ticker.skipped - skipped
