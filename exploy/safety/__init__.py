"""On-robot safety, pure numpy (no rclpy): the state machine, soft start, fallback laws, joint
limits, input ranges and windowed diagnostics counters. ``exploy_ros.safety_io`` wires it into
the policy node; docs/safety.md describes the behaviour."""

from exploy.safety.errors import SafetyError
from exploy.safety.joints import JointLayout, JointTensor, joint_layout
from exploy.safety.laws import FALLBACK_MODES, FallbackMode, blend, fallback_law, ramp
from exploy.safety.limits import JointLimits, load_limits_file, parse_limits
from exploy.safety.ranges import InputRange, input_ranges
from exploy.safety.supervisor import (
    NON_FINITE_RESULT,
    REJECTED_TICK,
    STALE_INPUT,
    SafetyConfig,
    SafetyCounters,
    SafetyState,
    Supervisor,
    Transition,
)
from exploy.safety.window import RecentCounts

__all__ = [
    "FALLBACK_MODES",
    "NON_FINITE_RESULT",
    "REJECTED_TICK",
    "STALE_INPUT",
    "FallbackMode",
    "InputRange",
    "JointLayout",
    "JointLimits",
    "JointTensor",
    "RecentCounts",
    "SafetyConfig",
    "SafetyCounters",
    "SafetyError",
    "SafetyState",
    "Supervisor",
    "Transition",
    "blend",
    "fallback_law",
    "input_ranges",
    "joint_layout",
    "load_limits_file",
    "parse_limits",
    "ramp",
]
