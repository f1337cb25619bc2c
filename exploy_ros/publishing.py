"""The policy node's publish path: output, debug and ``~/tick`` publishers, rate-limited problem
logging, and the ``/diagnostics`` report.

Plain functions taking the :class:`~exploy_ros.policy_node.PolicyNode`; the entities they make
are kept on the node, which destroys them on release.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import exploy_ros.ros_required  # noqa: F401  (first: without rclpy, one line instead of a traceback)

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile
from std_msgs.msg import Float32MultiArray, UInt64

from exploy.mapping.errors import AdapterError
from exploy.mapping.topic_map import TopicMap
from exploy.runtime.policy import Policy
from exploy_ros.adapters import message_class
from exploy_ros.diagnostics import build_status
from exploy_ros.outputs import ArrayWriter, OutputWriter
from exploy_ros.parameters import NodeSettings
from exploy_ros.safety_io import safety_values
from exploy_ros.timing import NS_PER_S

if TYPE_CHECKING:
    from exploy_ros.policy_node import PolicyNode

LOG_PERIOD_NS = 2 * NS_PER_S
"""A repeated problem (no input yet, an output not published) is logged at most once per period."""


def create_publishers(
    node: PolicyNode, *, settings: NodeSettings, topic_map: TopicMap, policy: Policy, qos: QoSProfile
) -> None:
    """The output publishers, ``~/actions`` and ``~/obs`` (``publish_debug``), ``~/tick`` and ``/diagnostics``."""
    for spec in topic_map.outputs:
        writer = OutputWriter(spec, frame_id=settings.frame_id)
        pub = node.create_publisher(message_class(spec.msg_type), spec.topic, qos)
        node._owned_publishers.append(pub)
        node._outputs.append((writer, pub))
    if settings.publish_debug:
        actions_pub = node.create_publisher(Float32MultiArray, "~/actions", qos)
        node._owned_publishers.append(actions_pub)
        obs_pub = node.create_publisher(Float32MultiArray, "~/obs", qos)
        node._owned_publishers.append(obs_pub)
        shapes = policy.output_shapes
        node._debug = (
            ArrayWriter("actions", _static(shapes.get("actions"))),
            actions_pub,
            ArrayWriter("obs", _static(shapes.get("obs"))),
            obs_pub,
        )
    node._tick_pub = node.create_publisher(UInt64, "~/tick", qos)
    node._owned_publishers.append(node._tick_pub)
    node._diag_pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
    node._owned_publishers.append(node._diag_pub)


def publish_outputs(node: PolicyNode, published: dict, stamp_ns: int, now_ns: int) -> None:
    """Publish every output topic whose components are all in ``published``."""
    for writer, pub in node._outputs:
        if not all(c in published for c in writer.spec.components):
            continue
        try:
            pub.publish(writer.fill(published, stamp_ns))
        except AdapterError as err:
            node.stats.output_rejected += 1
            log_output_problem(node, now_ns, f"Not published on {writer.spec.topic}: {err}")


def log_output_problem(node: PolicyNode, now_ns: int, text: str) -> None:
    """Log ``text`` as an error, at most once per :data:`LOG_PERIOD_NS`."""
    if now_ns - node._output_logged_ns >= LOG_PERIOD_NS or now_ns < node._output_logged_ns:
        node._output_logged_ns = now_ns
        node.get_logger().error(text)


def publish_diagnostics(node: PolicyNode) -> None:
    """The diagnostics timer: one ``/diagnostics`` status for the node."""
    if node._diag_pub is None or node.inputs is None or node.settings is None:
        return
    now = time.monotonic_ns()
    last_ticks, last_ns = node._diag_last
    rate = (node.stats.ticks - last_ticks) * NS_PER_S / max(1, now - last_ns)
    node._diag_last = (node.stats.ticks, now)
    with node._lock:
        safety = safety_values(node.safety, node.policy) if node.safety and node.policy else {}
        state = node.safety.state.value if node.safety else ""
    node._diag_pub.publish(
        build_status(
            name=node.get_fully_qualified_name(),
            hardware_id=node.settings.policy_path.name,
            stats=node.stats,
            inputs=node.inputs,
            tick_rate_hz=rate,
            expected_rate_hz=node.rate_hz,
            step_count=node.policy.step_count if node.policy else 0,
            active=node._active,
            stamp_ns=node.get_clock().now().nanoseconds,
            safety_state=state,
            safety=safety,
            recent=node._recent,
            now_ns=now,
        )
    )


def _static(shape: tuple | None) -> tuple[int, ...]:
    """A graph output shape with symbolic dimensions dropped to 1."""
    return tuple(d if isinstance(d, int) else 1 for d in (shape or ()))
