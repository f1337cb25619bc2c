"""The policy node: runs an exploy policy file on ROS 2 as a managed (lifecycle) node.

Topics (names relative to the node; inputs and outputs follow the topic map, see
``exploy inspect policy.onnx``):

- inputs: one subscription per input topic of the map (``~/input/...`` by default);
- outputs: one publisher per output topic (``~/output/...``), published after every tick;
- ``~/actions``, ``~/obs`` (``Float32MultiArray``, with ``publish_debug``): after Default ticks;
- ``~/tick`` (``std_msgs/UInt64``): the ``ctx.step_count`` of the tick just run, published
  after that tick's outputs, so a lockstep driver can tell which tick produced them;
- ``~/input_count`` (``std_msgs/UInt64``, reliable, transient local; with ``use_sim_time``
  only): how many input messages the node has taken so far, published after each one, so a
  lockstep driver (``exploy replay --live``) knows its inputs are in before it moves
  ``/clock`` (DDS does not order messages across topics);
- ``~/step`` (``std_msgs/UInt64MultiArray`` ``[sim_time_ns, inputs]``; ``use_sim_time`` only):
  the one-round-trip lockstep handshake (:data:`exploy_ros.lockstep.STEP_TOPIC`): the node
  moves its clock to ``sim_time_ns`` once it has taken ``inputs`` input messages since the
  previous step; after the first step message ``/clock`` no longer makes it tick and
  ``~/input_count`` is no longer published (one publish less per input message);
- ``/diagnostics`` (``diagnostic_msgs/DiagnosticArray``) and the ``~/reset`` service
  (``std_srvs/Trigger``: restores the initial memory and sets the step counter to 0);
- safety (:mod:`exploy_ros.safety_io`, logic in :mod:`exploy.safety`): ``~/state``
  (``std_msgs/String``, latched: waiting, starting, running, fallback, estop) and the ``~/estop``
  service (``std_srvs/SetBool``). What is published goes through the supervisor: a soft start
  after activation, fallback and e-stop; the fallback law while inputs are stale or a tick was
  rejected; joint limits always.

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

import gc
import sys
import threading
import time
import traceback
import warnings

import exploy_ros.ros_required  # noqa: F401  (first: without rclpy, one line instead of a traceback)

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock as ClockMsg
from std_msgs.msg import Float32MultiArray, UInt64, UInt64MultiArray
from std_srvs.srv import Trigger

from exploy.mapping import build_topic_map, load_mapping_file
from exploy.mapping.errors import AdapterError
from exploy.mapping.topic_map import TopicMap
from exploy.runtime.errors import PolicyRuntimeError
from exploy.runtime.policy import Policy
from exploy.runtime.providers import ExecutionProviderWarning
from exploy.safety import REJECTED_TICK, RecentCounts, Supervisor, Transition
from exploy_ros.adapters import message_class
from exploy_ros.diagnostics import TickStats, build_status
from exploy_ros.inputs import InputStore
from exploy_ros.lockstep import INPUT_COUNT_QOS, INPUT_COUNT_TOPIC, STEP_QOS, STEP_TOPIC
from exploy_ros.outputs import ArrayWriter, OutputWriter
from exploy_ros.parameters import NodeSettings, declare_parameters, read_settings, tick_rate
from exploy_ros.safety_io import (
    SafetyPorts,
    apply_parameter_change,
    build_supervisor,
    declare_safety_parameters,
    measurement_topics,
    safety_values,
)
from exploy_ros.ticking import (
    RawInbox,
    TickSettings,
    WallTicker,
    build_executor,
    declare_tick_parameters,
    make_wall_ticker,
    read_tick_settings,
    spin_forever,
)
from exploy_ros.timing import NS_PER_S, SimClockTicker, period_ns
from exploy_ros.topic_names import OWN_TOPICS as NODE_TOPICS
from exploy_ros.topic_names import check_topic_names
from exploy_ros.transitions import guarded

NODE_NAME = "policy_node"
OWN_TOPICS = {**NODE_TOPICS, "~/state": "the node's safety state", "~/estop": "the node's e-stop service"}
LOG_PERIOD_NS = 2 * NS_PER_S
DIAGNOSTICS_WINDOW_NS = 5 * NS_PER_S
"""Diagnostics levels judge the counters over this recent window (totals stay in the values)."""


class PolicyNode(LifecycleNode):
    """Runs one exploy policy file: inputs from topics, outputs to topics, memory inside.

    Args:
        node_name: Node name.
        namespace: Node namespace.
        **kwargs: Passed to :class:`rclpy.lifecycle.LifecycleNode` (e.g. ``parameter_overrides``,
            ``context``).

    With the parameter ``autostart`` (default true) the constructor configures and activates
    the node; :attr:`start_failed` then tells whether that failed.
    """

    def __init__(self, node_name: str = NODE_NAME, *, namespace: str | None = None, **kwargs) -> None:
        super().__init__(node_name, namespace=namespace, **kwargs)
        self._tick_thread: WallTicker | None = None  # first: destroy_node reads it
        self._active = False
        self.tick_settings = TickSettings()
        self._inbox: RawInbox | None = None
        self._oldest_rx_ns: int | None = None  # receipt time of the oldest input not yet used by a tick
        self.safety: Supervisor | None = None
        self._safety_ports: SafetyPorts | None = None
        self._measurement_topics: tuple[str, ...] = ()
        self._recent = RecentCounts(DIAGNOSTICS_WINDOW_NS)
        self._refused = declare_parameters(self)
        declare_safety_parameters(self)
        declare_tick_parameters(self)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.settings: NodeSettings | None = None
        self.policy: Policy | None = None
        self.topic_map: TopicMap | None = None
        self.inputs: InputStore | None = None
        self.stats = TickStats()
        self.rate_hz = 0.0
        self._owned_subscriptions: list = []
        self._owned_publishers: list = []
        self._reset_service = None
        self._outputs: list = []
        self._debug: tuple | None = None
        self._tick_pub = None
        self._tick_msg = UInt64()
        self._input_count_pub = None
        self._input_count = UInt64()
        self._lock = threading.Lock()  # one tick, message or reset at a time
        self._diag_timer = None
        self._diag_pub = None
        self._ticker: SimClockTicker | None = None
        self._waiting_logged_ns = -LOG_PERIOD_NS
        self._output_logged_ns = -LOG_PERIOD_NS
        self._now_ns: int | None = None  # last /clock time (use_sim_time), None before the first
        self._stepped = False  # a ~/step driver took over the clock
        self._since_step = 0  # input messages taken since the last ~/step
        self._pending_step: tuple[int, int] | None = None  # (sim_time_ns, inputs) waiting for inputs
        self._diag_last = (0, time.monotonic_ns())
        self.start_failed = False
        if self.get_parameter("autostart").value:
            self.start_failed = not self.start()

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def lifecycle_state(self) -> str:
        """Label of the current lifecycle state, e.g. ``"active"``."""
        return self._state_machine.current_state[1]

    def start(self) -> bool:
        """Configure and activate; True when the node is active afterwards."""
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            return False
        return self.trigger_activate() == TransitionCallbackReturn.SUCCESS

    @guarded("Configure", release=True)
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load and validate the file, build the topic map, create topics and the reset service.

        All or nothing: on any failure the reason is logged and everything made so far is
        released, so a later configure (e.g. with corrected parameters) starts clean.
        """
        log = self.get_logger()
        self._release()  # a configure after a failed one starts from nothing
        settings = read_settings(self, refused=self._refused)
        tick_settings = read_tick_settings(self)
        with warnings.catch_warnings(record=True) as caught:  # provider fallbacks: to the node log
            warnings.simplefilter("always", ExecutionProviderWarning)
            policy = Policy(
                settings.policy_path,
                first_step=settings.first_step,
                execution_providers=settings.execution_providers,
            )
        for warning in caught:
            log.warning(str(warning.message))
        config = load_mapping_file(settings.mapping_file) if settings.mapping_file else None
        topic_map = build_topic_map(policy.meta, config)
        check_topic_names(self, topic_map, own=OWN_TOPICS)
        rate = tick_rate(settings, policy.update_rate, warn=log.warning)
        supervisor = build_supervisor(self, policy, topic_map, on_transition=self._on_safety_transition)
        self.settings, self.policy, self.topic_map, self.rate_hz = settings, policy, topic_map, rate
        self.safety = supervisor
        self.tick_settings = tick_settings
        self._measurement_topics = measurement_topics(supervisor.layout, topic_map)
        self.inputs = InputStore(
            topic_map.inputs,
            timeout_ns=round(settings.input_timeout_s * NS_PER_S),
            log_warning=log.warning,
        )
        if tick_settings.decode_on_tick and not settings.use_sim_time:
            self._inbox = RawInbox([spec.topic for spec in topic_map.inputs], depth=settings.qos_depth)
        qos = QoSProfile(
            depth=settings.qos_depth,
            reliability=ReliabilityPolicy.BEST_EFFORT if settings.best_effort else ReliabilityPolicy.RELIABLE,
        )
        for spec in topic_map.inputs:
            callback = self._input_callback(spec.topic)
            self._owned_subscriptions.append(
                self.create_subscription(message_class(spec.msg_type), spec.topic, callback, qos)
            )
        for spec in topic_map.outputs:
            writer = OutputWriter(spec, frame_id=settings.frame_id)
            pub = self.create_publisher(message_class(spec.msg_type), spec.topic, qos)
            self._owned_publishers.append(pub)
            self._outputs.append((writer, pub))
        if settings.publish_debug:
            actions_pub = self.create_publisher(Float32MultiArray, "~/actions", qos)
            self._owned_publishers.append(actions_pub)
            obs_pub = self.create_publisher(Float32MultiArray, "~/obs", qos)
            self._owned_publishers.append(obs_pub)
            shapes = policy.output_shapes
            self._debug = (
                ArrayWriter("actions", _static(shapes.get("actions"))),
                actions_pub,
                ArrayWriter("obs", _static(shapes.get("obs"))),
                obs_pub,
            )
        self._tick_pub = self.create_publisher(UInt64, "~/tick", qos)
        self._owned_publishers.append(self._tick_pub)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._owned_publishers.append(self._diag_pub)
        self._reset_service = self.create_service(Trigger, "~/reset", self._on_reset)
        self._safety_ports = SafetyPorts(self, supervisor, self._lock)
        if settings.use_sim_time:
            self._input_count_pub = self.create_publisher(UInt64, f"~/{INPUT_COUNT_TOPIC}", INPUT_COUNT_QOS)
            self._owned_publishers.append(self._input_count_pub)
            clock_qos = QoSProfile(depth=max(settings.qos_depth, 10), reliability=ReliabilityPolicy.BEST_EFFORT)
            self._owned_subscriptions.append(self.create_subscription(ClockMsg, "/clock", self._on_clock, clock_qos))
            self._owned_subscriptions.append(
                self.create_subscription(UInt64MultiArray, f"~/{STEP_TOPIC}", self._on_step, STEP_QOS)
            )
        self._diag_timer = self.create_timer(
            settings.diagnostics_period_s, self._publish_diagnostics, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )
        log.info(
            f"Configured {settings.policy_path.name}: {rate:g} Hz sim rate, decimation {policy.decimation}, "
            f"{'/clock' if settings.use_sim_time else 'wall clock'} timing. Topics:\n{topic_map.describe()}"
        )
        return TransitionCallbackReturn.SUCCESS

    @guarded("Activate")
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start ticking (timer, or ``/clock`` following with ``use_sim_time``).

        Inputs received while inactive count; inputs from before a deactivation do not (see
        :meth:`on_deactivate`).
        """
        if self.settings is None or self.inputs is None:
            self.get_logger().error("Activate failed: the node is not configured")
            return TransitionCallbackReturn.FAILURE
        self._waiting_logged_ns = -LOG_PERIOD_NS
        self.stats = TickStats()
        self._diag_last = (0, time.monotonic_ns())
        self._recent = RecentCounts(DIAGNOSTICS_WINDOW_NS)
        if self.safety is not None:
            with self._lock:
                self.safety.activate()
            if self._safety_ports is not None:
                self._safety_ports.publish_state()
        period = period_ns(self.rate_hz)
        if self.settings.use_sim_time:
            self._ticker = SimClockTicker(period_ns=period)
        else:
            self._tick_thread = make_wall_ticker(
                self, self.tick_settings, period_ns=period, tick=self._on_wall_tick,
                priority=self.settings.realtime_priority,
            )
            problem = self._tick_thread.start()
            if problem:
                self.get_logger().warning(f"{problem}; ticking at normal priority")
        self._active = True
        if self._input_count_pub is not None:
            self._input_count_pub.publish(self._input_count)
        missing = self.inputs.missing()
        if missing:
            self.get_logger().info(f"Active; waiting for inputs: {', '.join(missing)}")
        return super().on_activate(state)

    @guarded("Deactivate")
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop ticking, and forget when inputs arrived: after the next activation the node
        ticks only once every input has arrived again (a robot paused for minutes must not
        resume on the values it had when it stopped)."""
        self._stop_ticking()
        with self._lock:
            if self.inputs is not None:
                self.inputs.reset_times()
        return super().on_deactivate(state)

    @guarded("Cleanup", release=True)
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the policy, topics, service and timers."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    @guarded("Shutdown", release=True)
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop ticking and release everything."""
        self._stop_ticking()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    @guarded("Error processing")
    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """After an unexpected failure of a transition: stop, release everything, back to unconfigured."""
        self._stop_ticking()
        self._release()
        self.get_logger().info("Recovered from the error: unconfigured, nothing held; configure again to retry")
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        """Stop the tick thread, then destroy the node (safe on a node whose constructor failed)."""
        self._stop_ticking()
        super().destroy_node()

    def _stop_ticking(self) -> None:
        self._active = False
        thread = getattr(self, "_tick_thread", None)
        self._tick_thread = None
        if thread is not None:
            thread.stop()
        self._ticker = None

    def _release_quietly(self) -> None:
        """:meth:`_release`, logging instead of raising (it runs on the way out of a failure)."""
        try:
            self._stop_ticking()
            self._release()
        except Exception as err:
            self.get_logger().error(f"Releasing after a failure failed: {type(err).__name__}: {err}")
            self.get_logger().debug(traceback.format_exc())

    def _release(self) -> None:
        """Destroy every entity :meth:`on_configure` made and forget the configuration.

        Tries every entity even when one fails to be destroyed, then raises the first failure.
        """
        destroy = [(self.destroy_subscription, sub) for sub in self._owned_subscriptions]
        destroy += [(self.destroy_publisher, pub) for pub in self._owned_publishers]
        if self._reset_service is not None:
            destroy.append((self.destroy_service, self._reset_service))
        if self._diag_timer is not None:
            destroy.append((self.destroy_timer, self._diag_timer))
        if self._safety_ports is not None:
            ports = self._safety_ports
            destroy += [(self.destroy_publisher, ports.state_pub), (self.destroy_service, ports.estop_srv)]
        self._safety_ports, self.safety, self._measurement_topics = None, None, ()
        self._owned_subscriptions, self._owned_publishers, self._outputs, self._debug = [], [], [], None
        self._tick_pub = self._diag_pub = self._diag_timer = self._reset_service = None
        self._input_count_pub = None
        self._stepped, self._since_step, self._pending_step = False, 0, None
        self.policy = self.topic_map = self.inputs = self.settings = None
        self._inbox, self._oldest_rx_ns = None, None
        self._now_ns = None
        failures = []
        for method, entity in destroy:
            try:
                method(entity)
            except Exception as err:  # keep going: release the rest
                failures.append(err)
        if failures:
            raise failures[0]

    # -- callbacks --------------------------------------------------------------------------

    def _input_callback(self, topic: str):
        def on_message(msg) -> None:
            inputs, inbox = self.inputs, self._inbox
            if inbox is not None:  # decode_on_tick: the tick decodes it
                now = time.monotonic_ns()
                inbox.put(topic, msg, now)
                if self._oldest_rx_ns is None:
                    self._oldest_rx_ns = now
            elif inputs is not None:
                decoded = inputs.decode(topic, msg)  # the slow part, outside the tick's lock
                with self._lock:
                    if inputs is self.inputs:  # not reconfigured meanwhile
                        inputs.commit(topic, decoded, self._clock_ns())
                        if self._oldest_rx_ns is None:
                            self._oldest_rx_ns = time.monotonic_ns()
            if self._input_count_pub is not None:
                self._input_count.data += 1
                if not self._stepped:  # a ~/step driver needs no count: save a publish per input
                    self._input_count_pub.publish(self._input_count)
                self._since_step += 1
                pending = self._pending_step
                if pending is not None and self._since_step >= pending[1]:
                    self._pending_step = None
                    self._since_step -= pending[1]
                    self._advance_clock(pending[0])
        return on_message

    def _clock_ns(self) -> int:
        """Now on the clock that input ages are measured with (sim time from /clock, or monotonic)."""
        if self.settings is not None and self.settings.use_sim_time:
            return 0 if self._now_ns is None else self._now_ns
        return time.monotonic_ns()

    def _on_clock(self, msg: ClockMsg) -> None:
        if not self._stepped:
            self._advance_clock(msg.clock.sec * NS_PER_S + msg.clock.nanosec)

    def _on_step(self, msg: UInt64MultiArray) -> None:
        """``~/step``: move the clock once this step's inputs are in (see :data:`STEP_TOPIC`)."""
        if len(msg.data) != 2:
            self._log_output_problem(
                self._clock_ns(),
                f"Ignored a ~/{STEP_TOPIC} message with {len(msg.data)} values: send [sim_time_ns, inputs]",
            )
            return
        self._stepped = True
        now, inputs = int(msg.data[0]), int(msg.data[1])
        if self._since_step >= inputs:
            self._since_step -= inputs
            self._advance_clock(now)
        else:
            self._pending_step = (now, inputs)

    def _advance_clock(self, now: int) -> None:
        """The sim clock moved to ``now`` (ns): run the ticks that became due."""
        if self._now_ns is None and self.inputs is not None:
            self.inputs.restamp(now)  # messages that came before the first /clock are fresh
        self._now_ns = now
        if not self._active or self._ticker is None:
            return
        skipped = self._ticker.skipped
        with self._lock:
            for stamp in self._ticker.advance(now):
                self._tick(stamp, now)
        self.stats.missed += self._ticker.skipped - skipped

    def _on_wall_tick(self, now_ns: int) -> None:
        """A tick of the tick thread (without use_sim_time, ROS time is the system time)."""
        with self._lock:
            thread = self._tick_thread
            if not self._active or thread is None:
                return
            self.stats.missed = thread.missed
            try:
                if self._inbox is not None:
                    for topic, msg, received_ns in self._inbox.drain():
                        self.inputs.receive(topic, msg, received_ns)
                self._tick(time.time_ns(), now_ns)
            except Exception as err:  # the tick thread must outlive any one tick
                if not self.context.ok():
                    thread.stop()  # SIGINT shut the context down before main() stopped us
                    return
                self.stats.output_rejected += 1
                self._log_output_problem(now_ns, f"Tick failed: {type(err).__name__}: {err}")

    def _on_safety_transition(self, change: Transition) -> None:
        if self._safety_ports is not None:
            self._safety_ports.on_transition(change)
        else:
            self.get_logger().info(str(change))

    def _on_set_parameters(self, params: list):
        with self._lock:
            return apply_parameter_change(self.safety, params)

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.policy is None:
            response.success, response.message = False, "not configured"
            return response
        with self._lock:
            self.policy.reset()
        response.success, response.message = (
            True,
            f"memory restored to its initial value, step counter {self.policy.first_step}",
        )
        self.get_logger().info("Reset: " + response.message)
        return response

    # -- the tick ---------------------------------------------------------------------------

    def _tick(self, stamp_ns: int, now_ns: int) -> None:
        """One sim tick: check inputs, step the policy, publish what the safety supervisor lets
        through (``stamp_ns``: header stamp; the soft start follows it with ``use_sim_time``,
        ``now_ns``, the monotonic tick deadline, otherwise)."""
        start = time.perf_counter()
        inputs, policy, stats, safety = self.inputs, self.policy, self.stats, self.safety
        safety_ns = stamp_ns if self.settings.use_sim_time else now_ns  # the ramp's clock: sim time or monotonic
        status = self._input_status(now_ns)
        if status or safety.estopped:
            published = safety.idle(
                safety_ns, inputs.values, missing=status == "missing", stale=status == "stale",
                measurement_fresh=self._measurement_fresh(),
            )
            if published:
                self._publish(published, stamp_ns, now_ns)
            return
        step_start = time.perf_counter()
        try:
            result = policy.step(inputs.values, validate=False)  # the decoders validated
        except PolicyRuntimeError as err:  # the decoders validate; this is a safety net
            stats.output_rejected += 1
            self._log_output_problem(now_ns, f"Tick skipped: {err}")
            self._publish(safety.after_tick(safety_ns, inputs.values, {}, problem=REJECTED_TICK), stamp_ns, now_ns)
            return
        step_end = time.perf_counter()
        if result.rejected is not None:
            self._log_output_problem(
                now_ns, f"Tick {result.step_count} rejected ({result.rejected}): memory and step counter kept, "
                f"fallback '{safety.config.fallback}' published"
            )
            self._publish(safety.after_tick(safety_ns, inputs.values, {}, problem=REJECTED_TICK), stamp_ns, now_ns)
            return
        self._publish(safety.after_tick(safety_ns, inputs.values, result.outputs), stamp_ns, now_ns)
        if self._oldest_rx_ns is not None:  # input-to-output latency: oldest input used -> outputs out
            stats.latency.add((time.monotonic_ns() - self._oldest_rx_ns) / NS_PER_S)
            self._oldest_rx_ns = None
        if result.policy_step:
            stats.policy_steps += 1
            if self._debug is not None:
                act_writer, act_pub, obs_writer, obs_pub = self._debug
                act_pub.publish(act_writer.fill(result.actions))
                obs_pub.publish(obs_writer.fill(result.obs))
        self._tick_msg.data = result.step_count
        self._tick_pub.publish(self._tick_msg)
        stats.ticks += 1
        stats.inference_time.add(step_end - step_start)
        stats.tick_time.add(time.perf_counter() - start)

    def _publish(self, published: dict, stamp_ns: int, now_ns: int) -> None:
        """Publish every output topic whose components are all in ``published``."""
        for writer, pub in self._outputs:
            if not all(c in published for c in writer.spec.components):
                continue
            try:
                pub.publish(writer.fill(published, stamp_ns))
            except AdapterError as err:
                self.stats.output_rejected += 1
                self._log_output_problem(now_ns, f"Not published on {writer.spec.topic}: {err}")

    def _measurement_fresh(self) -> bool:
        topics = self.inputs.topics
        return not any(topics[t].stale for t in self._measurement_topics)

    def _input_status(self, now_ns: int) -> str:
        """``"missing"`` (an input never arrived), ``"stale"``, or ``""`` when the policy may tick."""
        inputs = self.inputs
        missing = [] if inputs.all_arrived else inputs.missing()
        if missing:
            self.stats.waiting += 1
            if now_ns - self._waiting_logged_ns >= LOG_PERIOD_NS or now_ns < self._waiting_logged_ns:
                self._waiting_logged_ns = now_ns
                self.get_logger().warning(f"Not ticking: no message yet on {', '.join(missing)}")
            return "missing"
        if inputs.stale(now_ns):
            self.stats.stale += 1
            return "stale"
        return ""

    def _log_output_problem(self, now_ns: int, text: str) -> None:
        if now_ns - self._output_logged_ns >= LOG_PERIOD_NS or now_ns < self._output_logged_ns:
            self._output_logged_ns = now_ns
            self.get_logger().error(text)

    def _publish_diagnostics(self) -> None:
        if self._diag_pub is None or self.inputs is None or self.settings is None:
            return
        now = time.monotonic_ns()
        last_ticks, last_ns = self._diag_last
        rate = (self.stats.ticks - last_ticks) * NS_PER_S / max(1, now - last_ns)
        self._diag_last = (self.stats.ticks, now)
        with self._lock:
            safety = safety_values(self.safety, self.policy) if self.safety and self.policy else {}
            state = self.safety.state.value if self.safety else ""
        self._diag_pub.publish(
            build_status(
                name=self.get_fully_qualified_name(),
                hardware_id=self.settings.policy_path.name,
                stats=self.stats,
                inputs=self.inputs,
                tick_rate_hz=rate,
                expected_rate_hz=self.rate_hz,
                step_count=self.policy.step_count if self.policy else 0,
                active=self._active,
                stamp_ns=self.get_clock().now().nanoseconds,
                safety_state=state,
                safety=safety,
                recent=self._recent,
                now_ns=now,
            )
        )


def _static(shape: tuple | None) -> tuple[int, ...]:
    """A graph output shape with symbolic dimensions dropped to 1."""
    return tuple(d if isinstance(d, int) else 1 for d in (shape or ()))


def tune_process_for_ticking() -> None:
    """Process-wide settings for a 1 kHz tick: no GC pauses over start-up objects, and a short
    GIL switch interval so the tick thread gets the interpreter promptly while the executor
    thread runs callbacks (default 5 ms)."""
    gc.freeze()
    sys.setswitchinterval(2e-5)


def main(args: list[str] | None = None) -> int:
    """Run the policy node until shutdown; exit code 1 when autostart fails to configure."""
    rclpy.init(args=args)
    node = None
    code = 0
    try:
        node = PolicyNode()
        if node.start_failed:
            code = 1
        else:
            tune_process_for_ticking()
            executor = build_executor(node.tick_settings.mode, log_warning=node.get_logger().warning)
            executor.add_node(node)
            spin_forever(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
