"""The live-replay driver: a node that feeds a running ``policy_node`` a bag's ticks in lockstep.

Per tick it publishes the inputs, then ``~/step`` ``[sim_time_ns, inputs]``
(:data:`exploy_ros.lockstep.STEP_TOPIC`), and waits (bounded) for one message on every output
topic and the node's ``~/tick``. :func:`exploy_ros.replay_node.replay_live` runs it and compares.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import exploy_ros.ros_required  # noqa: F401  (first: without rclpy, one line instead of a traceback)

import numpy as np
from rclpy.context import Context
from rclpy.executors import Executor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from std_msgs.msg import UInt64, UInt64MultiArray
from std_srvs.srv import Trigger

from exploy.bag.compare import Divergence
from exploy.bag.errors import LiveReplayError
from exploy.bag.layout import resolve_topic
from exploy.bag.rates import tick_rate_problem
from exploy.bag.reader import Recording
from exploy.mapping import TopicDecoder, TopicEncoder, TopicMap, TopicSpec
from exploy.mapping.cdr import cdr_reader
from exploy.mapping.cdr_writers import UInt64ArrayWriter, serialize_fields
from exploy_ros.adapters import build_ros_message, message_class
from exploy_ros.lockstep import INPUT_COUNT_QOS, INPUT_COUNT_TOPIC, STEP_QOS, STEP_TOPIC, spin_until
from exploy_ros.serialized import read_serialized

NS_PER_S = 1_000_000_000
DISCOVERY_TIMEOUT_S = 10.0
CLOCK_EVERY = 50
"""Ticks between two ``/clock`` messages (for other nodes; the policy node ticks from ``~/step``)."""


def _parsed(
    decode: TopicDecoder, parse: Callable[[bytes], Any], cls: type
) -> Callable[[bytes], dict[str, np.ndarray]]:
    """A decoder of serialized messages: :func:`read_serialized`, then ``decode``."""
    return lambda data: decode(read_serialized(data, parse, cls))


class ReplayDriver(Node):
    """The lockstep driver: publishers on the policy node's inputs and ``/clock``, subscriptions
    on its outputs and ``~/tick``, a client of its ``~/reset``.

    Args:
        recording: The bag's content (:func:`exploy.bag.reader.read_bag`).
        topic_map: The policy's topics (``~`` names, resolved against ``target``).
        target: Fully qualified name of the policy node, e.g. ``/policy_node``.
        timeout: Seconds to wait for each tick's outputs (and for a reset).
        context: rclpy context (default: the global one).
    """

    def __init__(
        self,
        *,
        recording: Recording,
        topic_map: TopicMap,
        target: str,
        timeout: float,
        context: Context | None = None,
    ) -> None:
        super().__init__("exploy_replay", context=context)
        self.recording = recording
        self.target = "/" + target.strip("/")
        self.timeout = timeout
        self.file_rate: float | None = None
        qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
        self._clock_pub = self.create_publisher(Clock, "/clock", qos)
        self._clock_msg = Clock()
        self._step_pub = self.create_publisher(UInt64MultiArray, f"{self.target}/{STEP_TOPIC}", STEP_QOS)
        self._step_msg = UInt64ArrayWriter(2)  # [sim_time_ns, inputs], serialized
        self._inputs: list[tuple[TopicEncoder, TopicSpec, Any]] = [
            (TopicEncoder(spec), spec,
             self.create_publisher(message_class(spec.msg_type), self.resolve(spec.topic), qos))
            for spec in topic_map.inputs
        ]
        self._queues: dict[str, deque] = {}
        self._decoders: dict[str, Callable[[Any], dict[str, np.ndarray]]] = {}
        for spec in topic_map.outputs:
            topic = self.resolve(spec.topic)
            self._queues[topic] = deque()
            decode, parse = TopicDecoder(spec), cdr_reader(spec.adapter)  # raw where the bytes can be read directly
            self._decoders[topic] = decode if parse is None else _parsed(decode, parse, message_class(spec.msg_type))
            self.create_subscription(
                message_class(spec.msg_type), topic, lambda m, q=self._queues[topic]: q.append(m), qos,
                raw=parse is not None,
            )
        self._ticks: deque = deque()
        # spin_once takes one callback: at most this many zero-timeout spins before each step take
        # the messages already waiting from an extra tick (its outputs and its ~/tick)
        self._flush_spins = 2 * (len(self._queues) + 1)
        self.create_subscription(UInt64, f"{self.target}/tick", lambda m: self._ticks.append(m.data), qos)
        self._input_count: int | None = None
        self.create_subscription(UInt64, f"{self.target}/{INPUT_COUNT_TOPIC}", self._on_input_count, INPUT_COUNT_QOS)
        self._reset: Any = self.create_client(Trigger, f"{self.target}/reset")

    def _on_input_count(self, msg: UInt64) -> None:
        self._input_count = msg.data

    def resolve(self, topic: str) -> str:
        """Absolute name of a topic-map topic for the target node."""
        return resolve_topic(topic, self.target)

    # -- waiting ----------------------------------------------------------------------------

    def _spin_until(self, executor: Executor, done: Callable[[], bool], timeout: float, what: str) -> None:
        spin_until(executor, done, timeout, what, error=LiveReplayError)

    def wait_for_policy_node(self, executor: Executor, timeout: float = DISCOVERY_TIMEOUT_S) -> None:
        """Wait until the policy node's topics and reset service are matched.

        Raises:
            LiveReplayError: naming what was not found within ``timeout`` seconds.
        """
        hint = (
            f"Is policy node {self.target} running and active, with use_sim_time:=true and the "
            "policy file and mapping file the bag was recorded for (same ROS_DOMAIN_ID)?"
        )
        for _, _, pub in [*self._inputs, (None, None, self._step_pub)]:
            self._spin_until(
                executor, lambda p=pub: p.get_subscription_count() > 0, timeout,  # type: ignore[misc]  # defaults bind loop values
                f"Nobody subscribes to {pub.topic_name} after {timeout:g} s. {hint}",
            )
        for topic in self._queues:
            self._spin_until(
                executor, lambda t=topic: self.count_publishers(t) > 0, timeout,  # type: ignore[misc]  # defaults bind loop values
                f"Nobody publishes {topic} after {timeout:g} s. {hint}",
            )
        self._spin_until(
            executor, lambda: self.count_publishers(f"{self.target}/tick") > 0, timeout,
            f"Nobody publishes {self.target}/tick after {timeout:g} s. {hint}",
        )
        if not self._reset.wait_for_service(timeout_sec=timeout):
            raise LiveReplayError(f"Service {self.target}/reset not available after {timeout:g} s. {hint}")
        self._spin_until(
            executor, lambda: self._input_count is not None, timeout,
            f"No {self.target}/input_count after {timeout:g} s: is the node running with use_sim_time:=true? {hint}",
        )

    def reset_node(self, executor: Executor) -> None:
        """Call the node's ``~/reset`` and wait for its answer."""
        future = self._reset.call_async(Trigger.Request())
        self._spin_until(
            executor, future.done, self.timeout, f"{self.target}/reset did not answer within {self.timeout:g} s"
        )
        response = future.result()
        if response is None or not response.success:
            raise LiveReplayError(f"{self.target}/reset failed: {getattr(response, 'message', 'no response')}")
        self._ticks.clear()
        for queue in self._queues.values():
            queue.clear()

    # -- the lockstep loop -----------------------------------------------------------------

    def run(
        self, executor: Executor, *, progress: bool = False
    ) -> tuple[dict[str, np.ndarray], list[Divergence]]:
        """Drive every tick of the recording; return the produced outputs and timing divergences.

        Raises:
            LiveReplayError: when the node does not answer a tick within the timeout.
        """
        from tqdm import tqdm

        rec = self.recording
        meta = rec.meta
        outputs = {name: np.zeros_like(values) for name, values in rec.expected.items()}
        timing: list[Divergence] = []
        counts: list[int] = []  # ~/tick messages per /clock step (the rate check)
        step_count = 0
        for tick in tqdm(range(rec.num_ticks), desc="live replay", unit="tick", disable=not progress, mininterval=0.5):
            if tick == 0 or rec.resets[tick]:
                self.reset_node(executor)
                step_count = 0
            stamp = meta.stamp(tick)
            sent = 0
            if rec.input_ticks[tick] or tick == 0:
                values = {name: arr[tick] for name, arr in rec.inputs.items()}
                sec_nsec = (stamp // NS_PER_S, stamp % NS_PER_S)
                for encode, spec, pub in self._inputs:
                    fields = encode(values, stamp=sec_nsec, check_finite=False)
                    data = serialize_fields(spec.adapter, fields)  # bytes where it can, else a message object
                    pub.publish(build_ros_message(spec.msg_type, fields) if data is None else data)
                sent = len(self._inputs)
            self._take_waiting(executor)  # a node's extra ticks, so the rate check counts them
            self._drain_extra_ticks(counts)
            self._step_pub.publish(self._step_msg.write(stamp, sent))
            try:
                self._spin_until(
                    executor,
                    lambda: bool(self._ticks) and all(self._queues.values()),
                    self.timeout,
                    f"Policy node {self.target} produced no outputs for tick {tick} "
                    f"(sim time {stamp / NS_PER_S:.6f} s) "
                    f"within {self.timeout:g} s; got tick messages {list(self._ticks)}. Is it ticking from /clock "
                    f"(use_sim_time:=true) at {NS_PER_S / meta.dt_ns:g} Hz with all inputs fresh?",
                )
            except LiveReplayError as err:
                rate = tick_rate_problem(
                    [*counts, len(self._ticks)], dt_ns=meta.dt_ns, file_rate_hz=self.file_rate, node=self.target
                )
                raise LiveReplayError(f"{err} Probably a {rate[1]}" if rate else str(err)) from err
            counts.append(1)
            if tick % CLOCK_EVERY == 0:  # for other nodes; after the tick ran, so it cannot trigger one
                self._clock_msg.clock.sec, self._clock_msg.clock.nanosec = stamp // NS_PER_S, stamp % NS_PER_S
                self._clock_pub.publish(self._clock_msg)
            ran = self._ticks.popleft()
            if ran != step_count:
                timing.append(
                    Divergence(tick, None, None, float(step_count), float(ran), abs(ran - step_count),
                               f"the node ran step_count {ran} at tick {tick}, expected {step_count}")
                )
            for topic, queue in self._queues.items():
                for name, value in self._decoders[topic](queue.popleft()).items():
                    outputs[name][tick] = value.reshape(-1)
            step_count += 1
        settle = time.monotonic() + 0.05  # let a late extra tick of the last step arrive
        while time.monotonic() < settle:
            executor.spin_once(timeout_sec=0.01)
        self._drain_extra_ticks(counts)
        rate = tick_rate_problem(
            counts, dt_ns=meta.dt_ns, file_rate_hz=self.file_rate, node=self.target,
            first_late=timing[0].tick if timing else None,
        )
        if rate is not None:
            timing.insert(
                0, Divergence(rate[0], None, None, 1.0, float(counts[rate[0]]), abs(counts[rate[0]] - 1.0), rate[1])
            )
        return outputs, timing

    def _take_waiting(self, executor: Executor) -> None:
        """Run the callbacks of messages that already arrived, until a spin takes none."""
        for _ in range(self._flush_spins):
            before = len(self._ticks) + sum(len(q) for q in self._queues.values())
            executor.spin_once(timeout_sec=0)
            if len(self._ticks) + sum(len(q) for q in self._queues.values()) == before:
                return

    def _drain_extra_ticks(self, counts: list[int]) -> None:
        """Ticks (and their outputs) that arrived after the one awaited count for the previous
        clock step; dropped so the next clock step's outputs line up."""
        if counts and self._ticks:
            counts[-1] += len(self._ticks)
            self._ticks.clear()
            for queue in self._queues.values():
                queue.clear()
