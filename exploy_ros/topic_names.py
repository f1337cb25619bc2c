"""Topic names of the policy node: the mapping's topics are checked before anything is created.

A mapping file may name any topic. Before ``on_configure`` creates a subscription or publisher,
every mapped topic is resolved the way rclpy will resolve it (namespace, ``~``, remapping) and
rejected with one line when it is not a valid ROS name (a 300-character name, a space, an
unknown ``{substitution}``) or when it lands on a topic the node itself uses (``~/tick``,
``/diagnostics``, ``/rosout``, ``/clock``, ...): subscribing a policy input to its own tick
counter or publishing joint targets on ``/rosout`` is never what the user meant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rclpy.node import Node

from exploy.errors import ExployError
from exploy.mapping.topic_map import TopicMap
from exploy_ros.lockstep import INPUT_COUNT_TOPIC, STEP_TOPIC

OWN_TOPICS: dict[str, str] = {
    "~/tick": "the node's tick counter",
    "~/actions": "the node's debug actions",
    "~/obs": "the node's debug observations",
    f"~/{INPUT_COUNT_TOPIC}": "the node's input counter (lockstep)",
    f"~/{STEP_TOPIC}": "the node's lockstep step (sim time)",
    "~/transition_event": "the node's lifecycle events",
    "/diagnostics": "the node's diagnostics",
    "/clock": "the sim clock",
    "/rosout": "the ROS log",
    "/parameter_events": "ROS parameter events",
}
"""Topics the node publishes or subscribes itself (as written, before resolution) and what they are."""

MAX_QUOTED = 60
"""Longest excerpt of a bad topic name quoted in an error message."""


class TopicNameError(ExployError):
    """A mapped topic is not a valid ROS name or collides with a topic the node uses itself."""


def quote_name(name: str, limit: int = MAX_QUOTED) -> str:
    """``name`` quoted for an error message, cut to ``limit`` characters (with its length when cut)."""
    if len(name) <= limit:
        return repr(name)
    return f"{name[:limit]!r}... ({len(name)} characters)"


def resolve(node: Node, topic: str) -> str:
    """The fully qualified name rclpy gives ``topic`` on ``node``.

    Raises:
        TopicNameError: when ``topic`` is not a valid ROS topic name.
    """
    try:
        return node.resolve_topic_name(topic)
    except Exception as err:  # rclpy raises RCLError (a RuntimeError) naming the rule broken
        reason = re.sub(r", at \S+:\d+\s*$", "", str(err).strip()).removeprefix("failed to resolve name: ")
        raise TopicNameError(
            f"Topic {quote_name(topic)} is not a valid ROS topic name ({reason[:200]}); fix it in the mapping file"
        ) from err


def check_topic_names(node: Node, topic_map: TopicMap, *, own: Mapping[str, str] = OWN_TOPICS) -> None:
    """Check every topic of ``topic_map`` before the node creates any of them.

    Args:
        node: The node the topics will be created on (its namespace and remappings apply).
        topic_map: The node's inputs and outputs.
        own: Topics the node uses itself (written as in :data:`OWN_TOPICS`) and what they are.

    Raises:
        TopicNameError: for the first mapped topic that is invalid or resolves to one of ``own``.
    """
    reserved = {resolve(node, name): what for name, what in own.items()}
    for spec in (*topic_map.inputs, *topic_map.outputs):
        full = resolve(node, spec.topic)
        if full in reserved:
            verb = "subscribes" if spec.direction == "input" else "publishes"
            raise TopicNameError(
                f"Mapped {spec.direction} topic {quote_name(spec.topic)} ({verb} {', '.join(spec.components)[:200]}) "
                f"resolves to {full}, which is {reserved[full]}; map it to another topic"
            )
