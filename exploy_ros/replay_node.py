"""Live replay: drive a running ``policy_node`` in lockstep with a recorded bag and compare.

For every sim tick ``k`` of the bag the driver

1. calls the node's ``~/reset`` service where the bag marks a reset (and before tick 0);
2. publishes the tick's inputs on the node's input topics, then ``~/step`` ``[sim_time_ns,
   inputs]`` (:data:`exploy_ros.lockstep.STEP_TOPIC`): the node ticks once it has taken those
   inputs (DDS does not order messages across topics), so one round trip per tick;
3. waits (bounded) for one message on every output topic and the node's ``~/tick``, whose
   ``ctx.step_count`` must be the one the bag implies.

Before the first tick the driver sets the node's ``soft_start_s`` to 0 (and restores it after),
so the safety layer's soft start cannot make the comparison lie; the result's warnings say so.

The produced outputs go through :func:`exploy.bag.compare.compare_outputs`, like the offline
replay. Console script ``replay_node`` (parameters ``bag``, ``policy_path``, ``target_node``,
``atol``, ``rtol``, ``timeout_s``, ``out_dir``); also ``exploy replay --live``.
"""

from __future__ import annotations

import pathlib
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import exploy_ros.ros_required  # noqa: F401  (first: without rclpy, one line instead of a traceback)

import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from std_msgs.msg import UInt64, UInt64MultiArray
from std_srvs.srv import Trigger

from exploy.bag.checks import check_expected_complete
from exploy.bag.compare import DEFAULT_ATOL, DEFAULT_RTOL, Divergence, ReplayResult, compare_outputs
from exploy.bag.errors import BagError, LiveReplayError
from exploy.bag.layout import resolve_topic
from exploy.bag.rates import tick_rate_problem
from exploy.bag.reader import Recording, check_policy, read_bag, read_meta, topic_map_for
from exploy.cli.main import error_line
from exploy.errors import ExployError
from exploy.format import PolicyFormatError, read_metadata
from exploy.mapping import TopicDecoder, TopicEncoder, TopicMap
from exploy_ros.adapters import build_ros_message, message_class
from exploy_ros.lockstep import INPUT_COUNT_QOS, INPUT_COUNT_TOPIC, STEP_QOS, STEP_TOPIC
from exploy_ros.parameters import declare_table
from exploy_ros.safety_io import disable_soft_start
from exploy_ros.ticking import build_executor

NS_PER_S = 1_000_000_000
DISCOVERY_TIMEOUT_S = 10.0
CLOCK_EVERY = 50
"""Ticks between two ``/clock`` messages (for other nodes; the policy node ticks from ``~/step``)."""


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
        self._step_msg = UInt64MultiArray()
        self._inputs: list[tuple[TopicEncoder, str, Any]] = [
            (
                TopicEncoder(spec),
                spec.msg_type,
                self.create_publisher(message_class(spec.msg_type), self.resolve(spec.topic), qos),
            )
            for spec in topic_map.inputs
        ]
        self._queues: dict[str, deque] = {}
        self._decoders: dict[str, TopicDecoder] = {}
        for spec in topic_map.outputs:
            topic = self.resolve(spec.topic)
            self._queues[topic] = deque()
            self._decoders[topic] = TopicDecoder(spec)
            self.create_subscription(
                message_class(spec.msg_type), topic, lambda m, q=self._queues[topic]: q.append(m), qos
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

    def _spin_until(
        self, executor: Executor, done: Callable[[], bool], timeout: float, what: str
    ) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise LiveReplayError(what)
            executor.spin_once(timeout_sec=min(left, 0.05))

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
                for encode, msg_type, pub in self._inputs:
                    pub.publish(build_ros_message(msg_type, encode(values, stamp=sec_nsec, check_finite=False)))
                sent = len(self._inputs)
            self._take_waiting(executor)  # a node's extra ticks, so the rate check counts them
            self._drain_extra_ticks(counts)
            self._step_msg.data = [stamp, sent]
            self._step_pub.publish(self._step_msg)
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


def replay_live(
    bag: str | pathlib.Path,
    policy_path: str | pathlib.Path,
    *,
    node: str | None = None,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    timeout: float = 2.0,
    allow_policy_mismatch: bool = False,
    progress: bool = False,
    context: Context | None = None,
    spin_with: Sequence[Node] = (),
    discovery_timeout: float = DISCOVERY_TIMEOUT_S,
) -> ReplayResult:
    """Replay ``bag`` against a running policy node in lockstep and compare every expected output.

    Args:
        bag: The bag recorded by ``exploy record``.
        policy_path: The policy file the node runs (read for its topics and checked against the bag).
        node: Fully qualified name of the policy node (default: the one the bag was recorded for).
        atol: Absolute tolerance.
        rtol: Relative tolerance.
        timeout: Seconds to wait for each tick's outputs.
        allow_policy_mismatch: Compare even when the file's hash differs from the bag's.
        progress: Show a progress bar.
        context: rclpy context (initialised by the caller); default: the global one, initialised
            here when needed and shut down afterwards.
        spin_with: Further nodes to spin on the driver's executor (e.g. an in-process policy node).
        discovery_timeout: Seconds to wait for the node's topics and reset service to appear.

    Raises:
        BagError: for bad input; :class:`LiveReplayError` when the node is absent or silent.
    """
    meta = read_meta(bag)
    try:
        warnings = list(meta.notes) + check_policy(meta, policy_path, allow_mismatch=allow_policy_mismatch)
        policy_meta = read_metadata(policy_path)
    except (PolicyFormatError, OSError) as err:
        raise BagError(f"Cannot load policy file {policy_path}: {err}") from err
    recording = read_bag(bag, policy_meta, progress=progress)
    check_expected_complete(recording, str(bag))
    topic_map = topic_map_for(policy_meta, meta.mapping)
    own_init = context is None and not rclpy.ok()
    if own_init:
        rclpy.init()
    driver: ReplayDriver | None = None
    # With nodes of this process to spin (an in-process policy node): rclpy's EventsExecutor, whose
    # per-message cost does not grow with the policy node's many entities as a wait set's does.
    executor: Executor = (
        build_executor("events", context=context) if spin_with
        else SingleThreadedExecutor(context=context) if context is not None else SingleThreadedExecutor()
    )
    try:
        driver = ReplayDriver(
            recording=recording, topic_map=topic_map, target=node or meta.node, timeout=timeout, context=context
        )
        driver.file_rate = policy_meta.update_rate
        for other in (driver, *spin_with):
            executor.add_node(other)
        driver.wait_for_policy_node(executor, discovery_timeout)
        note, restore = disable_soft_start(driver, executor, driver.target, timeout=discovery_timeout)
        warnings.append(note)
        try:
            start = time.perf_counter()
            actual, timing = driver.run(executor, progress=progress)
            seconds = time.perf_counter() - start
        finally:
            restore()
    finally:
        for started in (driver, *spin_with):
            if started is not None:
                executor.remove_node(started)
        if driver is not None:
            driver.destroy_node()
        executor.shutdown()
        if own_init:
            rclpy.try_shutdown()
    result = compare_outputs(
        recording, actual, mode="live", bag=str(bag), policy=str(policy_path),
        atol=atol, rtol=rtol, warnings=warnings, seconds=seconds,
    )
    if timing:
        result.warnings.append(
            f"{len(timing)} tick(s) ran with an unexpected step count (first: tick {timing[0].tick})"
        )
        if result.first_divergence is None or timing[0].tick <= result.first_divergence.tick:
            result.first_divergence = timing[0]
    return result


_PARAMETERS = {
    "bag": ("", "Bag recorded by `exploy record`. Required."),
    "policy_path": ("", "The policy file the policy node runs. Required."),
    "target_node": ("", "Fully qualified name of the policy node; empty: the one the bag was recorded for."),
    "atol": (DEFAULT_ATOL, "Absolute tolerance."),
    "rtol": (DEFAULT_RTOL, "Relative tolerance."),
    "timeout_s": (2.0, "Seconds to wait for each tick's outputs."),
    "out_dir": ("", "Folder for summary.json and plot.png; empty: <bag>_replay."),
    "allow_policy_mismatch": (False, "Compare even if the policy file is not the one the bag was recorded for."),
}


def main(args: list[str] | None = None) -> int:
    """Console script ``replay_node``: one live replay, exit code 0 match / 1 divergence / 2 bad input."""
    from exploy.bag.report import default_report_dir, summary_text, write_reports

    rclpy.init(args=args)
    try:
        params = rclpy.create_node("exploy_replay_params")
        try:
            value = declare_table(params, _PARAMETERS)
        finally:
            params.destroy_node()
        if not value["bag"] or not value["policy_path"]:
            print("replay_node: set parameters bag:=<bag> and policy_path:=<policy.onnx>", file=sys.stderr)
            return 2
        bag = pathlib.Path(value["bag"])
        result = replay_live(
            bag, value["policy_path"], node=value["target_node"] or None, atol=value["atol"],
            rtol=value["rtol"], timeout=value["timeout_s"],
            allow_policy_mismatch=value["allow_policy_mismatch"], progress=True,
        )
        write_reports(result, value["out_dir"] or default_report_dir(bag))
        print(summary_text(result))
        return 0 if result.ok else 1
    except (ExployError, OSError) as err:  # bad input: one bounded line, exit 2
        print(error_line("replay_node", err), file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        return 130
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
