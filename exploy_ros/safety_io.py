"""The policy node's safety wiring: parameters, ``~/state``, ``~/estop``, and the supervisor.

The logic lives in :mod:`exploy.safety` (pure numpy); this module only declares the safety
parameters, builds the :class:`exploy.safety.Supervisor` for the configured file, publishes its
state (``~/state``, ``std_msgs/String``, reliable + transient local: a late subscriber gets the
current state), serves ``~/estop`` (``std_srvs/SetBool``) and reports what the node needs for
``/diagnostics``.

Parameters (declared with descriptions; ints accepted where a double is expected):

- ``soft_start_s`` (double, 1.0): soft-start ramp after activation, fallback and e-stop; 0 = none.
  May be changed while running (``exploy replay --live`` sets it to 0 for an exact replay).
- ``fallback`` (string, ``damp``): ``stop`` | ``hold`` | ``damp``.
- ``fallback_kp`` (double or double array, 20.0), ``fallback_kd`` (double or array, 1.0): gains of
  the fallback laws, one value or one per output joint (policy order).
- ``limits_file`` (string, ""): YAML of joint limits by joint name (over the file's metadata).
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String
from std_srvs.srv import SetBool

from exploy.mapping.topic_map import TopicMap
from exploy.runtime.policy import Policy
from exploy.safety import (
    FALLBACK_MODES,
    JointLayout,
    SafetyConfig,
    SafetyError,
    SafetyState,
    Supervisor,
    Transition,
    joint_layout,
    load_limits_file,
)

STATE_TOPIC = "~/state"
ESTOP_SERVICE = "~/estop"
STATE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
"""QoS of ``~/state``: latched, a late subscriber gets the current state."""

SOFT_START_PARAM = "soft_start_s"


@dataclass(frozen=True)
class _Param:
    default: Any
    description: str


SAFETY_PARAMETERS: dict[str, _Param] = {
    SOFT_START_PARAM: _Param(
        1.0,
        "Soft start (s) after activation and after leaving fallback or e-stop: published position targets "
        "blend from the measured pose to the policy's, velocity targets and efforts scale from 0 to 1. "
        "0 disables it. Needs a position measurement of every output joint. Can be changed while active.",
    ),
    "fallback": _Param(
        "damp",
        "What is published while inputs are stale, a tick was rejected or results were non-finite, and "
        "under e-stop: 'damp' (targets follow the measured positions, efforts -kd*qd), 'hold' (targets "
        "frozen at the pose where fallback began, efforts kp*(q_hold-q)-kd*qd) or 'stop' (publish nothing).",
    ),
    "fallback_kp": _Param(20.0, "Stiffness of the 'hold' fallback: one value, or one per output joint (policy order)."),
    "fallback_kd": _Param(1.0, "Damping of the 'hold' and 'damp' fallbacks: one value, or one per output joint."),
    "limits_file": _Param(
        "", "Optional YAML of joint limits by joint name ({joint: {position: [lo, hi], effort: e}}); "
        "overrides the output group's position_limits / effort_limits metadata."
    ),
}


def declare_safety_parameters(node: Any) -> None:
    """Declare the safety parameters on ``node`` (dynamic typing: ints pass for doubles, lists for gains)."""
    for name, info in SAFETY_PARAMETERS.items():
        node.declare_parameter(
            name, info.default, ParameterDescriptor(description=info.description, dynamic_typing=True)
        )


def _seconds(name: str, raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise SafetyError(f"Parameter '{name}' must be a number of seconds, got {raw!r}")
    value = float(raw)
    if not (math.isfinite(value) and value >= 0.0):
        raise SafetyError(f"Parameter '{name}' must be >= 0 (0: off), got {value}")
    return value


def _gain(name: str, raw: Any) -> float | tuple[float, ...]:
    if isinstance(raw, (list, tuple, np.ndarray)) and not isinstance(raw, (str, bytes)):
        values = list(raw)
        if not values or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
            raise SafetyError(f"Parameter '{name}' must be a number or a list of numbers, got {str(raw)[:80]}")
        return tuple(float(v) for v in values)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise SafetyError(f"Parameter '{name}' must be a number or a list of numbers, got {raw!r}")
    return float(raw)


def read_safety_config(node: Any) -> tuple[SafetyConfig, pathlib.Path | None]:
    """The validated safety parameters of ``node`` and the limits file (or None).

    Raises:
        SafetyError: naming the parameter with a bad value.
    """
    value = {name: node.get_parameter(name).value for name in SAFETY_PARAMETERS}
    fallback = value["fallback"]
    if fallback not in FALLBACK_MODES:
        raise SafetyError(f"Parameter 'fallback' must be one of {list(FALLBACK_MODES)}, got {fallback!r}")
    limits = value["limits_file"]
    if not isinstance(limits, str):
        raise SafetyError(f"Parameter 'limits_file' must be a path, got {limits!r}")
    config = SafetyConfig(
        soft_start_s=_seconds(SOFT_START_PARAM, value[SOFT_START_PARAM]),
        fallback=fallback,
        fallback_kp=_gain("fallback_kp", value["fallback_kp"]),
        fallback_kd=_gain("fallback_kd", value["fallback_kd"]),
    )
    return config, pathlib.Path(limits).expanduser() if limits else None


def build_supervisor(
    node: Any, policy: Policy, topic_map: TopicMap, *, on_transition: Callable[[Transition], None]
) -> Supervisor:
    """Read the safety parameters and build the supervisor for ``policy`` (pure; no ROS objects made).

    Raises:
        SafetyError: for bad parameters, a bad limits file or metadata, or an unmeasured output
            joint with ``soft_start_s > 0``.
    """
    config, limits_path = read_safety_config(node)
    limits = load_limits_file(limits_path) if limits_path is not None else None
    layout = joint_layout(policy.meta, topic_map=topic_map, limits=limits)
    if layout.unused_limits:
        node.get_logger().warning(
            f"limits_file names joints no output commands (typo?): {', '.join(layout.unused_limits[:20])}"
        )
    return Supervisor(layout, config, on_transition=on_transition)


def measurement_topics(layout: JointLayout, topic_map: TopicMap) -> tuple[str, ...]:
    """Input topics carrying the joint measurements of ``layout``."""
    topics = []
    for tensor in layout.measurements:
        try:
            topic = topic_map.topic_of(tensor.component).topic
        except KeyError:
            continue
        if topic not in topics:
            topics.append(topic)
    return tuple(topics)


class SafetyPorts:
    """``~/state`` and ``~/estop`` of one configuration of the node.

    Args:
        node: The policy node.
        supervisor: Its supervisor.
        lock: The node's tick lock (the e-stop takes it, so it lands between two ticks).
    """

    def __init__(self, node: Any, supervisor: Supervisor, lock: Any) -> None:
        self.node = node
        self.supervisor = supervisor
        self._lock = lock
        self._msg = String()
        self.state_pub = node.create_publisher(String, STATE_TOPIC, STATE_QOS)
        self.estop_srv = node.create_service(SetBool, ESTOP_SERVICE, self._on_estop)

    def publish_state(self) -> None:
        """Publish the supervisor's state on ``~/state``."""
        self._msg.data = self.supervisor.state.value
        self.state_pub.publish(self._msg)

    def on_transition(self, change: Transition) -> None:
        """Log one change of state (once) and publish the new state."""
        log = self.node.get_logger()
        text = str(change)
        if change.new in (SafetyState.FALLBACK, SafetyState.ESTOP):
            log.warning(text)
        else:
            log.info(text)
        self.publish_state()

    def _on_estop(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        with self._lock:
            response.message = self.supervisor.engage_estop(bool(request.data))
        response.success = True
        return response

    def destroy(self) -> None:
        """Release the publisher and the service."""
        self.node.destroy_publisher(self.state_pub)
        self.node.destroy_service(self.estop_srv)


def apply_parameter_change(supervisor: Supervisor | None, params: list) -> SetParametersResult:
    """Accept a running change of ``soft_start_s`` (validated); other safety parameters take effect at
    the next configure. For :meth:`rclpy.node.Node.add_on_set_parameters_callback`."""
    for param in params:
        if param.name == SOFT_START_PARAM:
            try:
                seconds = _seconds(SOFT_START_PARAM, param.value)
            except SafetyError as err:
                return SetParametersResult(successful=False, reason=str(err))
            if supervisor is not None:
                try:
                    supervisor.set_soft_start(seconds)
                except SafetyError as err:
                    return SetParametersResult(successful=False, reason=str(err))
    return SetParametersResult(successful=True)


def safety_values(supervisor: Supervisor, policy: Policy) -> Mapping[str, str]:
    """Key/values of the safety layer for ``/diagnostics``."""
    c = supervisor.counters
    values = {
        "state": supervisor.label,
        "soft_start_alpha": f"{supervisor.alpha:.3f}",
        "soft_start_s": f"{supervisor.config.soft_start_s:g}",
        "fallback_mode": supervisor.config.fallback,
        "fallback_entries": str(c.fallback_entries),
        "estop_engagements": str(c.estop_engagements),
        "soft_starts": str(c.soft_starts),
        "rejected_ticks": str(policy.rejected_ticks),
        "clipped_inputs": str(policy.clipped_values),
        "position_clamps": str(c.position_clamps),
        "effort_clamps": str(c.effort_clamps),
        "non_finite_results": str(c.non_finite_results),
    }
    for reason, count in c.fallback_reasons.items():
        values[f"fallback_entries[{reason}]"] = str(count)
    return values


def disable_soft_start(node: Any, executor: Any, target: str, *, timeout: float) -> tuple[str, Callable[[], None]]:
    """Set ``soft_start_s`` of policy node ``target`` to 0 for an exact live replay.

    A replay compares every published value with the recording; a soft-start blend would make
    the first ticks after each activation differ. Uses the node's parameter services.

    Args:
        node: The caller's node (creates the service clients).
        executor: Executor spinning ``node``.
        target: Fully qualified name of the policy node.
        timeout: Seconds to wait for each service call.

    Returns:
        A note for the caller's output, and a function restoring the previous value.
    """
    from rcl_interfaces.msg import Parameter as ParameterMsg
    from rcl_interfaces.msg import ParameterType, ParameterValue
    from rcl_interfaces.srv import GetParameters, SetParameters

    def call(client: Any, request: Any) -> Any:
        if not client.wait_for_service(timeout_sec=timeout):
            return None
        future = client.call_async(request)
        executor.spin_until_future_complete(future, timeout_sec=timeout)
        return future.result() if future.done() else None

    getter = node.create_client(GetParameters, f"{target}/get_parameters")
    setter = node.create_client(SetParameters, f"{target}/set_parameters")
    keep_setter = False  # kept only for restore(); every other way out destroys both clients
    try:
        got = call(getter, GetParameters.Request(names=[SOFT_START_PARAM]))
        previous = got.values[0] if got is not None and got.values else None
        if previous is None or previous.type not in (ParameterType.PARAMETER_DOUBLE, ParameterType.PARAMETER_INTEGER):
            return f"{target} has no '{SOFT_START_PARAM}' parameter: no soft start to disable", lambda: None
        was = (
            previous.double_value if previous.type == ParameterType.PARAMETER_DOUBLE else float(previous.integer_value)
        )
        zero = ParameterMsg(
            name=SOFT_START_PARAM, value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=0.0)
        )
        done = call(setter, SetParameters.Request(parameters=[zero]))
        if done is None or not done.results or not done.results[0].successful:
            reason = done.results[0].reason if done is not None and done.results else "no answer"
            return f"could not disable the soft start of {target} ({reason}): the first ticks may differ", lambda: None
        keep_setter = True
    finally:
        node.destroy_client(getter)
        if not keep_setter:
            node.destroy_client(setter)

    def restore() -> None:
        back = ParameterMsg(
            name=SOFT_START_PARAM, value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=was)
        )
        try:
            call(setter, SetParameters.Request(parameters=[back]))
        finally:
            node.destroy_client(setter)

    if was == 0.0:
        return f"soft start of {target} already off (soft_start_s 0)", restore
    return (
        f"soft start of {target} disabled for an exact replay (soft_start_s {was:g} -> 0, restored afterwards)",
        restore,
    )
