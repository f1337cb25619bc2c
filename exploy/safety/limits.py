"""Per-joint limits: position bounds and effort bounds, from the file's metadata or a YAML file.

Metadata (on an output component or its group, next to the joint ``names``), one entry per joint
in the component's joint order::

    {"names": ["j1", "j2"], "position_limits": [[-0.8, 0.8], [-1.0, 3.5]], "effort_limits": [23.7, 35.5]}

``limits_file`` (YAML, by joint name; every key optional, the file wins over the metadata)::

    joints:
      j1: {position: [-0.8, 0.8], effort: 23.7}
      j2: {effort: 35.5}

An effort limit ``e`` bounds the effort to ``[-e, e]``.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exploy.safety.errors import SafetyError

POSITION_LIMITS_KEY = "position_limits"
EFFORT_LIMITS_KEY = "effort_limits"
MAX_LIMITS_FILE_BYTES = 1 << 20
"""Largest limits file read (1 MiB): a limits file is a few lines per joint."""


@dataclass(frozen=True)
class JointLimits:
    """Limits by joint name.

    Attributes:
        position: Joint name -> (lower, upper) position bound.
        effort: Joint name -> largest absolute effort.
    """

    position: dict[str, tuple[float, float]] = field(default_factory=dict)
    effort: dict[str, float] = field(default_factory=dict)

    def merged(self, other: JointLimits) -> JointLimits:
        """These limits with ``other``'s entries replacing same-joint ones."""
        return JointLimits({**self.position, **other.position}, {**self.effort, **other.effort})

    def __bool__(self) -> bool:
        return bool(self.position or self.effort)


def _number(raw: Any, where: str) -> float:
    try:
        value = float(raw) if not isinstance(raw, bool) and isinstance(raw, (int, float)) else math.nan
    except OverflowError:  # an integer beyond float range
        value = math.nan
    if math.isnan(value):
        raise SafetyError(f"{where} must be a number, got {str(raw)[:60]!r}")
    return value


def _position(raw: Any, where: str) -> tuple[float, float]:
    if not isinstance(raw, (list, tuple)) or len(raw) != 2:
        raise SafetyError(f"{where} must be a [lower, upper] pair, got {str(raw)[:60]!r}")
    lo, hi = _number(raw[0], where), _number(raw[1], where)
    if lo > hi:
        raise SafetyError(f"{where} must have lower <= upper, got [{lo}, {hi}]")
    return lo, hi


def _effort(raw: Any, where: str) -> float:
    value = _number(raw, where)
    if value < 0:
        raise SafetyError(f"{where} must be >= 0 (it bounds |effort|), got {value}")
    return value


def limits_from_metadata(joints: Sequence[str], metadata: Mapping[str, Any] | None, *, owner: str) -> JointLimits:
    """Limits carried by ``metadata`` (of ``owner``) for ``joints``, in that order.

    Raises:
        SafetyError: when a limit list has the wrong length or holds something that is not a limit.
    """
    metadata = metadata or {}
    position: dict[str, tuple[float, float]] = {}
    effort: dict[str, float] = {}
    for key, parse, into in (
        (POSITION_LIMITS_KEY, _position, position),
        (EFFORT_LIMITS_KEY, _effort, effort),
    ):
        raw = metadata.get(key)
        if raw is None:
            continue
        if not isinstance(raw, list) or len(raw) != len(joints):
            size = len(raw) if isinstance(raw, list) else type(raw).__name__
            raise SafetyError(
                f"Metadata '{key}' of '{owner}' must be a list with one entry per joint ({len(joints)}), "
                f"got {size}; re-export with one entry per joint name"
            )
        for name, entry in zip(joints, raw):
            # parse and into come in matching pairs (_position/position, _effort/effort).
            into[name] = parse(entry, f"Metadata '{key}' of '{owner}', joint '{name}'")  # type: ignore[assignment]
    return JointLimits(position, effort)


def parse_limits(data: Any, *, source: str) -> JointLimits:
    """Limits from parsed YAML ``data`` (see the module docstring).

    Raises:
        SafetyError: naming the joint and key that are malformed.
    """
    if isinstance(data, Mapping) and set(data) == {"joints"}:
        data = data["joints"]
    if not isinstance(data, Mapping):
        raise SafetyError(f"{source}: expected a mapping of joint name -> {{position: [lo, hi], effort: e}}")
    position: dict[str, tuple[float, float]] = {}
    effort: dict[str, float] = {}
    for name, entry in data.items():
        where = f"{source}: joint '{name}'"
        if not isinstance(name, str) or not isinstance(entry, Mapping):
            raise SafetyError(f"{where} must map to {{position: [lo, hi], effort: e}}, got {str(entry)[:60]!r}")
        unknown = sorted(str(k) for k in entry if k not in ("position", "effort"))
        if unknown:
            raise SafetyError(f"{where} has unknown keys {unknown}; allowed: position, effort")
        if "position" in entry:
            position[name] = _position(entry["position"], f"{where} position")
        if "effort" in entry:
            effort[name] = _effort(entry["effort"], f"{where} effort")
    return JointLimits(position, effort)


def load_limits_file(path: str | pathlib.Path) -> JointLimits:
    """Read a limits YAML file through the project's bounded YAML loader (size, nesting, aliases).

    Raises:
        SafetyError: when the file is missing, too large, not YAML or malformed.
    """
    from exploy.mapping.yaml_loader import YamlFileError, load_yaml_file

    path = pathlib.Path(path)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise SafetyError(f"Cannot read limits file {path}: {err}") from err
    if size > MAX_LIMITS_FILE_BYTES:
        raise SafetyError(f"Limits file {path} is {size} bytes; more than {MAX_LIMITS_FILE_BYTES} is not a limits file")
    try:
        data = load_yaml_file(path, what="limits file", max_bytes=MAX_LIMITS_FILE_BYTES)
    except YamlFileError as err:
        raise SafetyError(str(err)) from err
    return parse_limits(data, source=str(path))
