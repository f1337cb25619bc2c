"""Parameters of the policy node: declared with descriptions, validated once into typed settings."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any

from rclpy.node import Node
from rcl_interfaces.msg import ParameterDescriptor, ParameterType

from exploy.errors import ExployError

RELIABILITIES = ("reliable", "best_effort")


@dataclass(frozen=True)
class ParameterInfo:
    """One node parameter: default value, ROS type and what it means."""

    default: Any
    type: int
    description: str


PARAMETERS: dict[str, ParameterInfo] = {
    "policy_path": ParameterInfo(
        "", ParameterType.PARAMETER_STRING, "Path of the exploy policy file (.onnx). Required."
    ),
    "sim_rate_hz": ParameterInfo(
        0.0,
        ParameterType.PARAMETER_DOUBLE,
        "Tick rate in Hz (the sim rate the policy was trained at). 0 takes the file's update_rate; "
        "required when the file has none. A value that differs from the file's is used, with a warning.",
    ),
    "mapping_file": ParameterInfo(
        "", ParameterType.PARAMETER_STRING, "Optional YAML mapping file renaming topics or choosing adapters."
    ),
    "input_timeout_s": ParameterInfo(
        0.5,
        ParameterType.PARAMETER_DOUBLE,
        "An input older than this (s, node clock: sim time with use_sim_time) stops ticking and "
        "output publishing until fresh data arrives. 0 disables the check.",
    ),
    "publish_debug": ParameterInfo(
        False, ParameterType.PARAMETER_BOOL, "Also publish ~/actions and ~/obs after every policy (Default) tick."
    ),
    "qos_depth": ParameterInfo(10, ParameterType.PARAMETER_INTEGER, "History depth of every subscription and publisher."),
    "qos_reliability": ParameterInfo(
        "reliable",
        ParameterType.PARAMETER_STRING,
        "Reliability of input subscriptions and output publishers: 'reliable' or 'best_effort' "
        "(a best_effort subscription also accepts reliable publishers).",
    ),
    "frame_id": ParameterInfo("", ParameterType.PARAMETER_STRING, "frame_id of published messages with a header."),
    "diagnostics_period_s": ParameterInfo(
        1.0, ParameterType.PARAMETER_DOUBLE, "Period (s, wall clock) of the /diagnostics report."
    ),
    "realtime_priority": ParameterInfo(
        0,
        ParameterType.PARAMETER_INTEGER,
        "1..99: run the wall-clock tick thread under SCHED_FIFO at this priority (Linux, needs "
        "CAP_SYS_NICE or an rtprio limit; a warning if refused). 0: normal scheduling.",
    ),
    "first_step": ParameterInfo(
        0,
        ParameterType.PARAMETER_INTEGER,
        "ctx.step_count of the first tick after configure and after every ~/reset. 0 (default): the "
        "first tick runs the policy (Default path). 1 reproduces upstream exploy's C++ controller, "
        "which increments the counter before its first run, so its first policy tick is tick "
        "'decimation' (docs/file_format.md).",
    ),
    "execution_providers": ParameterInfo(
        ["CPU"],
        ParameterType.PARAMETER_STRING_ARRAY,
        "onnxruntime execution providers in order of preference: 'CUDA', 'TensorRT', 'CPU' or full "
        "onnxruntime names. One this onnxruntime lacks is skipped with a logged warning; CPU always "
        "comes last.",
    ),
    "autostart": ParameterInfo(
        True, ParameterType.PARAMETER_BOOL, "Configure and activate at start-up (read once, at construction)."
    ),
}
"""Every parameter the node declares (``use_sim_time`` comes with rclpy)."""


class SettingsError(ExployError):
    """A node parameter has a bad value; the message names it and says what is allowed."""


@dataclass(frozen=True)
class NodeSettings:
    """The validated parameters of one configuration of the node.

    Attributes:
        policy_path: The policy file.
        sim_rate_hz: Requested tick rate, or None to take the file's ``update_rate``.
        mapping_file: The mapping file, or None.
        input_timeout_s: Staleness timeout (0: off).
        publish_debug: Publish ``~/actions`` and ``~/obs``.
        qos_depth: History depth.
        best_effort: Inputs and outputs use best-effort reliability.
        frame_id: Header frame id of published messages.
        diagnostics_period_s: Period of the diagnostics report.
        realtime_priority: SCHED_FIFO priority of the tick thread (0: normal scheduling).
        use_sim_time: Tick from ``/clock``.
        first_step: ``ctx.step_count`` of the first tick (and after a reset).
        execution_providers: onnxruntime providers, in order of preference.
    """

    policy_path: pathlib.Path
    sim_rate_hz: float | None
    mapping_file: pathlib.Path | None
    input_timeout_s: float
    publish_debug: bool
    qos_depth: int
    best_effort: bool
    frame_id: str
    diagnostics_period_s: float
    realtime_priority: int
    use_sim_time: bool
    first_step: int = 0
    execution_providers: tuple[str, ...] = ("CPU",)


def declare_parameters(node: Node) -> None:
    """Declare every parameter of :data:`PARAMETERS` on ``node``, with its description."""
    for name, info in PARAMETERS.items():
        node.declare_parameter(name, info.default, ParameterDescriptor(description=info.description, type=info.type))


def read_settings(node: Node) -> NodeSettings:
    """Read and validate the node's parameters.

    Raises:
        SettingsError: naming the parameter with a bad value.
    """
    value = {name: node.get_parameter(name).value for name in PARAMETERS}
    if not value["policy_path"]:
        raise SettingsError("Parameter 'policy_path' is required: set it to the exploy policy file (.onnx)")
    rate = float(value["sim_rate_hz"])
    if rate < 0.0 or rate != rate:
        raise SettingsError(f"Parameter 'sim_rate_hz' must be > 0 (or 0 for the file's rate), got {rate}")
    timeout = float(value["input_timeout_s"])
    if not timeout >= 0.0:
        raise SettingsError(f"Parameter 'input_timeout_s' must be >= 0 (0 disables it), got {timeout}")
    depth = int(value["qos_depth"])
    if depth < 1:
        raise SettingsError(f"Parameter 'qos_depth' must be >= 1, got {depth}")
    reliability = str(value["qos_reliability"])
    if reliability not in RELIABILITIES:
        raise SettingsError(f"Parameter 'qos_reliability' must be one of {list(RELIABILITIES)}, got {reliability!r}")
    priority = int(value["realtime_priority"])
    if not 0 <= priority <= 99:
        raise SettingsError(f"Parameter 'realtime_priority' must be 0 (off) or 1..99, got {priority}")
    diag = float(value["diagnostics_period_s"])
    if not diag > 0.0:
        raise SettingsError(f"Parameter 'diagnostics_period_s' must be > 0, got {diag}")
    first_step = int(value["first_step"])
    if not 0 <= first_step < 2**31:
        raise SettingsError(
            f"Parameter 'first_step' must be in 0..2**31-1 (0: the first tick is a policy tick), got {first_step}"
        )
    providers = tuple(str(p) for p in (value["execution_providers"] or ()))
    if not providers or len(providers) > 16 or not all(p.strip() for p in providers):
        raise SettingsError(
            "Parameter 'execution_providers' must list 1..16 provider names such as ['CUDA', 'CPU'], "
            f"got {list(providers)[:16]}"
        )
    return NodeSettings(
        policy_path=pathlib.Path(value["policy_path"]).expanduser(),
        sim_rate_hz=rate or None,
        mapping_file=pathlib.Path(value["mapping_file"]).expanduser() if value["mapping_file"] else None,
        input_timeout_s=timeout,
        publish_debug=bool(value["publish_debug"]),
        qos_depth=depth,
        best_effort=reliability == "best_effort",
        frame_id=str(value["frame_id"]),
        diagnostics_period_s=diag,
        realtime_priority=priority,
        use_sim_time=bool(node.get_parameter("use_sim_time").value),
        first_step=first_step,
        execution_providers=providers,
    )
