"""What a policy file lacks for upstream exploy's C++ controller (``exploy inspect --check-upstream``).

The rules restate what upstream's controller (rai-opensource/exploy, ``control/src/context.cpp``,
``matcher.cpp``, ``components.cpp`` and ``include/exploy/metadata.hpp``, read 2026-11-25) does
with a file; no code of it is used here:

- ``exploy_version`` must be a JSON string starting with ``MAJOR.MINOR``; ``update_rate`` must be
  present and at least 1 once truncated to an int (the controller ticks at ``int(update_rate)``).
- Every graph input and output (except the outputs ``actions`` and ``obs``) must be claimed by
  exactly one of its name patterns; an unclaimed one is never fed or written.
- ``ctx.step_count`` is read as int32; the sensor, state and command tensors as float32
  (``cmd.boolean.*`` as bool).
- A group is only used with its metadata: ``obj.<art>.joints`` needs ``joint_names``,
  ``output.joint_targets.<t>`` needs ``names``, ``stiffness`` and ``damping`` (and writing
  reads its ``pos``, ``vel`` and ``effort``), ``sensor.ray_caster.<s>`` needs ``pattern_type``,
  ``resolution``, ``size_x``, ``size_y``; ``cmd.joint_pos.<n>`` needs ``joint_names``,
  ``output.se2_velocity.<n>`` needs ``target_frame`` (and 3 values).
- ``base_names`` (JSON ``{articulation: base body}``) tells the floating base's
  ``obj.<art>.<base>.*`` apart from other bodies; without it they are read as plain bodies.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from exploy.format import names
from exploy.format.errors import excerpt
from exploy.format.graph import GraphSignature, TensorSignature
from exploy.format.metadata import KEY_EXPLOY_VERSION, KEY_UPDATE_RATE, PolicyMetadata

_A = "[a-zA-Z0-9_]+"
_BODY_FIELDS = ("pos_b_rt_w_in_w", "w_Q_b", "lin_vel_b_rt_w_in_b", "ang_vel_b_rt_w_in_b")

PATTERNS: tuple[tuple[str, str, str | None], ...] = (
    # (matcher, regex, group regex: the part of the name that keys the group metadata)
    ("step count", re.escape(names.STEP_COUNT), None),
    ("imu", rf"sensor\.imu\.{_A}\.(lin_vel_b_rt_w_in_b|ang_vel_b_rt_w_in_b|w_Q_b)", None),
    ("se3 pose command", rf"cmd\.se3_pose\.{_A}", None),
    ("se2 velocity command", rf"cmd\.se2_velocity\.{_A}", None),
    ("boolean command", rf"cmd\.boolean\.{_A}", None),
    ("float command", rf"cmd\.float\.{_A}", None),
    ("joint position command", rf"cmd\.joint_pos\.{_A}", None),
    ("se2 velocity output", rf"output\.se2_velocity\.{_A}", None),
    ("joints", rf"obj\.{_A}\.joints\.(pos|vel)", rf"obj\.{_A}\.joints"),
    ("joint targets", rf"output\.joint_targets\.{_A}\.(pos|vel|effort)", rf"output\.joint_targets\.{_A}"),
    ("height scan", rf"sensor\.ray_caster\.{_A}\.(height|r|g|b)", rf"sensor\.ray_caster\.{_A}"),
    ("spherical image", rf"sensor\.spherical_image\.{_A}\.{_A}", rf"sensor\.spherical_image\.{_A}"),
    ("pinhole image", rf"sensor\.pinhole_image\.{_A}\.{_A}", rf"sensor\.pinhole_image\.{_A}"),
    ("memory", r"memory\..*\.(in|out)", None),
)
"""Upstream's name patterns apart from the base/body ones, which depend on ``base_names``."""

GROUP_KEYS: dict[str, tuple[str, ...]] = {
    "joints": ("joint_names",),
    "joint targets": ("names", "stiffness", "damping"),
    "height scan": ("pattern_type", "resolution", "size_x", "size_y"),
    "spherical image": ("pattern_type", "v_res", "h_res", "v_fov_min_deg", "v_fov_max_deg", "unobserved_value"),
    "pinhole image": ("pattern_type", "width", "height", "fx", "fy", "cx", "cy"),
}
"""Metadata keys each group matcher needs under the group's name (else it skips the group)."""

COMPONENT_KEYS: dict[str, tuple[str, ...]] = {
    "joint position command": ("joint_names",),
    "se2 velocity output": ("target_frame",),
}
"""Metadata keys a single-tensor matcher needs under the tensor's name (else it skips it)."""


@dataclass(frozen=True)
class Finding:
    """One thing upstream's controller needs and the file lacks.

    Attributes:
        subject: The metadata key or tensor name concerned.
        problem: What is missing or wrong, and its consequence there.
        required: True when the controller refuses the file or fails every tick; False when it
            runs but ignores or misreads that part.
    """

    subject: str
    problem: str
    required: bool = True


def parse_base_names(raw: Any) -> dict[str, str] | None:
    """The ``base_names`` metadata value (JSON text, or an already parsed object) as
    ``{articulation: base body}``; None when it is not a JSON object of strings."""
    try:
        value = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return value


def _base_names(raw: str | None) -> tuple[dict[str, str], Finding | None]:
    if raw is None:
        return {}, None
    value = parse_base_names(raw)
    if value is None:
        return {}, Finding("base_names", f"must be a JSON object {{articulation: base body}}, got {excerpt(raw)}")
    return value, None


def _matchers(name: str, base_names: dict[str, str]) -> list[tuple[str, str | None]]:
    """(matcher, group key) of every upstream pattern that claims tensor ``name``."""
    # Each group pattern g is a prefix of its full pattern p: when p matches, g matches too.
    hits = [(m, re.match(g, name).group(0) if g else None) for m, p, g in PATTERNS if re.fullmatch(p, name)]  # type: ignore[union-attr]
    bases = {f"obj.{art}.{base}.{fld}" for art, base in base_names.items() for fld in _BODY_FIELDS}
    if name in bases:
        hits.append(("base", None))
    else:
        excluded = tuple(f"obj.{art}.{base}." for art, base in base_names.items())
        body = re.fullmatch(rf"obj\.{_A}\.{_A}\.({'|'.join(_BODY_FIELDS)})", name)
        if body and not name.startswith(excluded):
            hits.append(("body", None))
    return hits


def _version_finding(raw: str | None) -> Finding | None:
    if raw is None:
        return Finding(KEY_EXPLOY_VERSION, "absent: the controller refuses the file")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, str) or not re.match(r"^\d+\.\d+", value):
        return Finding(KEY_EXPLOY_VERSION, f"must be a JSON string starting with MAJOR.MINOR, got {excerpt(raw)}")
    return None


def _rate_findings(raw: str | None) -> list[Finding]:
    if raw is None:
        return [Finding(KEY_UPDATE_RATE, "absent: the controller refuses the file (it ticks at update_rate Hz)")]
    try:
        rate = float(raw)
    except ValueError:
        return [Finding(KEY_UPDATE_RATE, f"is not a number: {excerpt(raw)}")]
    if not math.isfinite(rate) or int(rate) < 1:
        return [Finding(KEY_UPDATE_RATE, f"is {excerpt(raw)}; the controller needs int(update_rate) >= 1")]
    if rate != int(rate):
        return [Finding(KEY_UPDATE_RATE, f"is {rate:g}; the controller truncates it to {int(rate)} Hz", required=False)]
    return []


def check_upstream(meta: PolicyMetadata, graph: GraphSignature) -> list[Finding]:
    """Everything the file lacks for upstream's C++ controller, by name (empty when none)."""
    raw = meta.raw
    findings = [f for f in (_version_finding(raw.get(KEY_EXPLOY_VERSION)),) if f]
    findings += _rate_findings(raw.get(KEY_UPDATE_RATE))
    base_names, base_problem = _base_names(raw.get("base_names"))
    if base_problem:
        findings.append(base_problem)
    tensors = [(n, s, "input") for n, s in graph.inputs.items()]
    tensors += [(n, s, "output") for n, s in graph.outputs.items() if n not in (names.ACTIONS, names.OBS)]
    groups: dict[str, tuple[str, set[str]]] = {}
    for name, sig, direction in tensors:
        findings += _tensor_findings(meta, name, sig, direction, base_names, groups)
    for group, (matcher, items) in sorted(groups.items()):
        findings += _group_findings(meta, group, matcher, items)
    if "base_names" not in raw and any(m == "body" for n, _, _ in tensors for m, _ in _matchers(n, {})):
        findings.append(
            Finding("base_names", "absent: obj.<art>.<body>.* inputs are all read as non-base bodies", required=False)
        )
    return findings


def _tensor_findings(
    meta: PolicyMetadata,
    name: str,
    sig: TensorSignature,
    direction: str,
    base_names: dict[str, str],
    groups: dict[str, tuple[str, set[str]]],
) -> list[Finding]:
    """What upstream's controller lacks for one graph tensor; records the groups it belongs to."""
    hits = _matchers(name, base_names)
    if not hits:
        unused = "never fed" if direction == "input" else "never written"
        return [Finding(name, f"{direction} matches none of the controller's name patterns: {unused}")]
    if len(hits) > 1:
        return [Finding(name, f"matches several patterns {[m for m, _ in hits]}: the controller refuses the file")]
    matcher, group = hits[0]
    found = []
    wanted = "int32" if matcher == "step count" else "bool" if matcher == "boolean command" else "float32"
    if matcher != "memory" and sig.dtype != wanted:
        verb = "writes" if matcher == "step count" else "reads"
        found.append(Finding(name, f"is {sig.dtype}; the controller {verb} it as {wanted}"))
    if group is not None:
        groups.setdefault(group, (matcher, set()))[1].add(name.rsplit(".", 1)[1])
    for key in COMPONENT_KEYS.get(matcher, ()):
        if key not in _metadata_of(meta, name):
            found.append(Finding(name, f"lacks metadata '{key}': the controller skips it"))
    if matcher == "se2 velocity output" and math.prod(sig.shape) != 3:
        found.append(Finding(name, f"has {math.prod(sig.shape)} values; the controller writes exactly 3"))
    return found


def _group_findings(meta: PolicyMetadata, group: str, matcher: str, items: set[str]) -> list[Finding]:
    """What upstream's controller lacks for one group of tensors (its metadata, its members)."""
    found = []
    metadata = _metadata_of(meta, group)
    missing = [k for k in GROUP_KEYS.get(matcher, ()) if k not in metadata]
    if missing:
        found.append(Finding(group, f"group metadata lacks {missing}: the controller skips the group"))
    if matcher == "joint targets":
        absent = [f"{group}.{i}" for i in ("pos", "vel", "effort") if i not in items]
        if absent:
            found.append(Finding(group, f"lacks outputs {absent}: the controller's write fails every tick"))
        lengths = {k: len(v) for k in ("names", "stiffness", "damping") if isinstance(v := metadata.get(k), list)}
        if len(set(lengths.values())) > 1:
            found.append(Finding(group, f"names, stiffness and damping differ in length {lengths}"))
    return found


def _metadata_of(meta: PolicyMetadata, key: str) -> dict[str, Any]:
    """The JSON object stored under ``key`` in the file, or {}."""
    try:
        value = json.loads(meta.raw.get(key, "{}"))
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}

