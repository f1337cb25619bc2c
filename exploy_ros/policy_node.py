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

Timing (:mod:`exploy_ros.policy_tick`, :mod:`exploy_ros.stepping`): without ``use_sim_time`` the
node ticks at the sim rate at absolute monotonic deadlines (parameter ``tick_mode``, see
:mod:`exploy_ros.ticking`); with ``use_sim_time`` it ticks from ``/clock`` (or ``~/step``). Outputs
go out only while every input has arrived; while one is stale the fallback law is published
instead (nothing with ``fallback: stop``).
"""

from __future__ import annotations

import functools
import sys
import threading
import time
import traceback
import warnings

import exploy_ros.ros_required  # noqa: F401  (first: without rclpy, one line instead of a traceback)

import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import UInt64
from std_srvs.srv import Trigger

from exploy.mapping import build_topic_map, load_mapping_file
from exploy.mapping.topic_map import TopicMap
from exploy.runtime.policy import Policy
from exploy.runtime.providers import ExecutionProviderWarning
from exploy.safety import RecentCounts, Supervisor, Transition
from exploy_ros.diagnostics import TickStats
from exploy_ros.inputs import InputStore
from exploy_ros.parameters import NodeSettings, declare_parameters, read_settings, tick_rate
from exploy_ros.policy_tick import on_wall_tick
from exploy_ros.publishing import LOG_PERIOD_NS, create_publishers, publish_diagnostics
from exploy_ros.safety_io import (
    SafetyPorts,
    apply_parameter_change,
    build_supervisor,
    declare_safety_parameters,
    measurement_topics,
)
from exploy_ros.stepping import create_input_subscriptions, create_sim_time_entities
from exploy_ros.ticking import (
    RawInbox,
    TickSettings,
    WallTicker,
    build_executor,
    declare_tick_parameters,
    make_wall_ticker,
    read_tick_settings,
    spin_forever,
    tune_process_for_ticking,
)
from exploy_ros.timing import NS_PER_S, SimClockTicker, period_ns
from exploy_ros.topic_names import OWN_TOPICS as NODE_TOPICS
from exploy_ros.topic_names import check_topic_names
from exploy_ros.transitions import destroy_all, guarded

__all__ = ["NODE_NAME", "PolicyNode", "main", "tune_process_for_ticking"]

NODE_NAME = "policy_node"
OWN_TOPICS = {**NODE_TOPICS, "~/state": "the node's safety state", "~/estop": "the node's e-stop service"}
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
        create_input_subscriptions(self, topic_map, qos)
        create_publishers(self, settings=settings, topic_map=topic_map, policy=policy, qos=qos)
        self._reset_service = self.create_service(Trigger, "~/reset", self._on_reset)
        self._safety_ports = SafetyPorts(self, supervisor, self._lock)
        if settings.use_sim_time:
            create_sim_time_entities(self, settings)
        self._diag_timer = self.create_timer(
            settings.diagnostics_period_s,
            functools.partial(publish_diagnostics, self),
            clock=Clock(clock_type=ClockType.STEADY_TIME),
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
                self, self.tick_settings, period_ns=period, tick=functools.partial(on_wall_tick, self),
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
        destroy_all(destroy)

    # -- callbacks --------------------------------------------------------------------------

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
            # a new run: the next driver may be a /clock one again, and no step of the last run is pending
            self._stepped, self._since_step, self._pending_step = False, 0, None
        response.success, response.message = (
            True,
            f"memory restored to its initial value, step counter {self.policy.first_step}",
        )
        self.get_logger().info("Reset: " + response.message)
        return response


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
