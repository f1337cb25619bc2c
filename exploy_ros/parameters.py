"""Parameters of the policy node: declared with descriptions and limits, validated once into typed settings.

Every parameter is declared up front with a :class:`ParameterDescriptor` carrying its description
and its limits (``FloatingPointRange`` / ``IntegerRange``; ``read_only`` for ``autostart``, which
is read once at construction). Double parameters take integers too (``-p sim_rate_hz:=200``, as
every ROS user types it): they are declared with dynamic typing and an integer is stored as the
equal double. A value rclpy refuses at declaration (wrong type, out of range) does not crash the
node: the parameter keeps its default and :func:`read_settings` (at configure) fails with the
reason, so configure fails with one line instead of the process dying with a traceback.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.node import Node
from rclpy.parameter import Parameter

from exploy.errors import ExployError

RELIABILITIES = ("reliable", "best_effort")
MAX_SIM_RATE_HZ = 10_000.0
"""Highest tick rate the node accepts (parameter or file): a 100 us period."""
MAX_PERIOD_S = 3600.0
"""Longest timeout or report period the node accepts (s)."""


@dataclass(frozen=True)
class ParameterInfo:
    """One node parameter: default value, ROS type and what it means."""

    default: Any
    type: int
    description: str
    limits: tuple[float, float] | None = None
    """Inclusive ``(low, high)``; a ``FloatingPointRange`` or ``IntegerRange`` in the descriptor."""
    read_only: bool = False


PARAMETERS: dict[str, ParameterInfo] = {
    "policy_path": ParameterInfo(
        "", ParameterType.PARAMETER_STRING, "Path of the exploy policy file (.onnx). Required."
    ),
    "sim_rate_hz": ParameterInfo(
        0.0,
        ParameterType.PARAMETER_DOUBLE,
        "Tick rate in Hz (the sim rate the policy was trained at). 0 takes the file's update_rate; "
        "required when the file has none. A value that differs from the file's is used, with a warning.",
        (0.0, MAX_SIM_RATE_HZ),
    ),
    "mapping_file": ParameterInfo(
        "", ParameterType.PARAMETER_STRING, "Optional YAML mapping file renaming topics or choosing adapters."
    ),
    "input_timeout_s": ParameterInfo(
        0.5,
        ParameterType.PARAMETER_DOUBLE,
        "An input older than this (s, node clock: sim time with use_sim_time) stops ticking and "
        "output publishing until fresh data arrives. 0 disables the check.",
        (0.0, MAX_PERIOD_S),
    ),
    "publish_debug": ParameterInfo(
        False, ParameterType.PARAMETER_BOOL, "Also publish ~/actions and ~/obs after every policy (Default) tick."
    ),
    "qos_depth": ParameterInfo(
        10, ParameterType.PARAMETER_INTEGER, "History depth of every subscription and publisher.", (1, 10_000)
    ),
    "qos_reliability": ParameterInfo(
        "reliable",
        ParameterType.PARAMETER_STRING,
        "Reliability of input subscriptions and output publishers: 'reliable' or 'best_effort' "
        "(a best_effort subscription also accepts reliable publishers).",
    ),
    "frame_id": ParameterInfo("", ParameterType.PARAMETER_STRING, "frame_id of published messages with a header."),
    "diagnostics_period_s": ParameterInfo(
        1.0, ParameterType.PARAMETER_DOUBLE, "Period (s, wall clock) of the /diagnostics report.", (0.001, MAX_PERIOD_S)
    ),
    "realtime_priority": ParameterInfo(
        0,
        ParameterType.PARAMETER_INTEGER,
        "1..99: run the wall-clock tick thread under SCHED_FIFO at this priority (Linux, needs "
        "CAP_SYS_NICE or an rtprio limit; a warning if refused). 0: normal scheduling.",
        (0, 99),
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
        True,
        ParameterType.PARAMETER_BOOL,
        "Configure and activate at start-up (read once, at construction).",
        read_only=True,
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


def descriptor(info: ParameterInfo) -> ParameterDescriptor:
    """The :class:`ParameterDescriptor` of a parameter: description, type (or dynamic typing for doubles), limits."""
    desc = ParameterDescriptor(description=info.description, read_only=info.read_only)
    if info.type == ParameterType.PARAMETER_DOUBLE:
        desc.dynamic_typing = True  # so an integer override is accepted; stored as a double below
        if info.limits is not None:
            desc.floating_point_range = [
                FloatingPointRange(from_value=float(info.limits[0]), to_value=float(info.limits[1]))
            ]
    else:
        desc.type = info.type
        if info.limits is not None and info.type == ParameterType.PARAMETER_INTEGER:
            desc.integer_range = [IntegerRange(from_value=int(info.limits[0]), to_value=int(info.limits[1]))]
    return desc


def declare_parameters(node: Node) -> dict[str, str]:
    """Declare every parameter of :data:`PARAMETERS` on ``node``, with its descriptor.

    Never raises for a bad override: the parameter keeps its default and the problem is
    returned; pass it to :func:`read_settings` as ``refused`` so configure fails with it.

    Returns:
        Parameter name -> why its override was refused (empty when every override was taken).
    """
    problems: dict[str, str] = {}
    for name, info in PARAMETERS.items():
        try:
            node.declare_parameter(name, info.default, descriptor(info))
        except Exception as err:  # InvalidParameterTypeException / InvalidParameterValueException
            problems[name] = _one_line(err)
            node.declare_parameter(name, info.default, descriptor(info), ignore_override=True)
            continue
        if info.type == ParameterType.PARAMETER_DOUBLE:
            problem = _store_as_double(node, name)
            if problem:
                problems[name] = problem
    return problems


def _store_as_double(node: Node, name: str) -> str | None:
    """Turn an integer (or refuse a non-number) given for double parameter ``name``; why not, or None."""
    value = node.get_parameter(name).value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        node.set_parameters([Parameter(name, Parameter.Type.DOUBLE, float(PARAMETERS[name].default))])
        return f"expected a number, got {type(value).__name__} {str(value)[:60]!r}"
    if isinstance(value, int):
        result = node.set_parameters([Parameter(name, Parameter.Type.DOUBLE, float(value))])[0]
        if not result.successful:
            node.set_parameters([Parameter(name, Parameter.Type.DOUBLE, float(PARAMETERS[name].default))])
            return result.reason
    return None


def declare_table(node: Node, table: Mapping[str, tuple[Any, str]]) -> dict[str, Any]:
    """Declare ``name -> (default, description)`` parameters on ``node`` and return their values.

    Every parameter is declared with dynamic typing, so a wrong type never fails the node's
    construction with a traceback; the values are then checked against their defaults' types
    (an integer is accepted, and returned as a float, where a double is meant).

    Raises:
        SettingsError: naming the first parameter whose value has the wrong type.
    """
    values = {}
    for name, (default, text) in table.items():
        node.declare_parameter(name, default, ParameterDescriptor(description=text, dynamic_typing=True))
        values[name] = typed_like(name, node.get_parameter(name).value, default)
    return values


def typed_like(name: str, value: Any, default: Any) -> Any:
    """``value`` of parameter ``name`` in the type of ``default`` (ints widen to doubles).

    Raises:
        SettingsError: when ``value`` cannot be that type.
    """
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok, value = number(value), float(value) if number(value) else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, (list, tuple)) and default and isinstance(default[0], float):
        ok = isinstance(value, (list, tuple)) and all(number(v) for v in value)
        value = [float(v) for v in value] if ok else value
    elif isinstance(default, (list, tuple)):
        kind = type(default[0]) if default else str
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, kind) for v in value)
        value = list(value) if ok else value
    else:
        ok = True
    if not ok:
        kinds = {bool: "true or false", float: "a number", int: "an integer", str: "a string"}
        if isinstance(default, (list, tuple)):
            want = "a list of strings" if default and isinstance(default[0], str) else "a list of numbers"
        else:
            want = kinds.get(type(default), "another type")
        raise SettingsError(f"parameter '{name}' must be {want}, got {type(value).__name__} {str(value)[:60]!r}")
    return value


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 300 else text[:300] + "..."


def read_settings(node: Node, *, refused: Mapping[str, str] | None = None) -> NodeSettings:
    """Read and validate the node's parameters.

    Args:
        node: The node whose parameters are read.
        refused: What :func:`declare_parameters` returned: overrides refused at start-up.

    Raises:
        SettingsError: naming the parameter with a bad value.
    """
    for name, problem in (refused or {}).items():
        raise SettingsError(f"Parameter '{name}' was refused at start-up ({problem}); fix its value and restart")
    value = {name: node.get_parameter(name).value for name in PARAMETERS}
    for name, info in PARAMETERS.items():
        if info.type == ParameterType.PARAMETER_DOUBLE:
            if isinstance(value[name], bool) or not isinstance(value[name], (int, float)):
                raise SettingsError(f"Parameter '{name}' must be a number, got {str(value[name])[:60]!r}")
            value[name] = float(value[name])
    if not value["policy_path"]:
        raise SettingsError("Parameter 'policy_path' is required: set it to the exploy policy file (.onnx)")
    rate = float(value["sim_rate_hz"])
    if not 0.0 <= rate <= MAX_SIM_RATE_HZ:
        raise SettingsError(
            f"Parameter 'sim_rate_hz' must be in (0, {MAX_SIM_RATE_HZ:g}] Hz (or 0 for the file's rate), got {rate}"
        )
    timeout = float(value["input_timeout_s"])
    if not 0.0 <= timeout <= MAX_PERIOD_S:
        raise SettingsError(
            f"Parameter 'input_timeout_s' must be in [0, {MAX_PERIOD_S:g}] s (0 disables it), got {timeout}"
        )
    depth = int(value["qos_depth"])
    if not 1 <= depth <= 10_000:
        raise SettingsError(f"Parameter 'qos_depth' must be in [1, 10000], got {depth}")
    reliability = str(value["qos_reliability"])
    if reliability not in RELIABILITIES:
        raise SettingsError(f"Parameter 'qos_reliability' must be one of {list(RELIABILITIES)}, got {reliability!r}")
    priority = int(value["realtime_priority"])
    if not 0 <= priority <= 99:
        raise SettingsError(f"Parameter 'realtime_priority' must be 0 (off) or 1..99, got {priority}")
    diag = float(value["diagnostics_period_s"])
    if not 0.0 < diag <= MAX_PERIOD_S:
        raise SettingsError(f"Parameter 'diagnostics_period_s' must be in (0, {MAX_PERIOD_S:g}] s, got {diag}")
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


def tick_rate(settings: NodeSettings, file_rate: float | None, *, warn: Callable[[str], None]) -> float:
    """The rate the node ticks at: parameter ``sim_rate_hz`` if set, else the file's ``update_rate``.

    Args:
        settings: The validated parameters.
        file_rate: The policy file's ``update_rate`` (Hz), or None.
        warn: Called with a warning when the parameter and the file disagree.

    Raises:
        SettingsError: when the parameter is not set and the file has no usable rate (none,
            NaN, infinite, not positive, above :data:`MAX_SIM_RATE_HZ`).
    """
    if file_rate is not None and not 0.0 < file_rate <= MAX_SIM_RATE_HZ:
        if settings.sim_rate_hz is None:
            raise SettingsError(
                f"{settings.policy_path.name} has update_rate {file_rate!r}, not a tick rate in "
                f"(0, {MAX_SIM_RATE_HZ:g}] Hz: re-export it, or set parameter 'sim_rate_hz'"
            )
        file_rate = None  # the parameter decides; nothing to compare with
    if settings.sim_rate_hz is None:
        if file_rate is None:
            raise SettingsError(
                f"{settings.policy_path.name} carries no update_rate: set parameter 'sim_rate_hz' "
                "to the sim rate the policy was trained at"
            )
        return file_rate
    if file_rate is not None and abs(file_rate - settings.sim_rate_hz) > 1e-6 * file_rate:
        warn(
            f"sim_rate_hz {settings.sim_rate_hz:g} differs from the file's update_rate {file_rate:g}; "
            f"ticking at {settings.sim_rate_hz:g} Hz"
        )
    return settings.sim_rate_hz
