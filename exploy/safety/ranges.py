"""Input ranges from the file's metadata: commands are clipped to the range the policy was trained on.

Upstream exploy writes, on a velocity command ``cmd.se2_velocity.<term>`` (3 values vx, vy, wz),
``{"ranges": {"lin_vel_x": [lo, hi], "lin_vel_y": [lo, hi], "ang_vel_z": [lo, hi]}}``, and on a
scalar command ``cmd.float.<name>`` ``{"range": [lo, hi]}``. Other inputs are not clipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from exploy.safety.errors import SafetyError

SE2_PREFIX = "cmd.se2_velocity."
FLOAT_PREFIX = "cmd.float."
SE2_KEYS = ("lin_vel_x", "lin_vel_y", "ang_vel_z")
"""Keys of an SE(2) velocity command's ``ranges``, in tensor order (vx, vy, wz)."""


@dataclass(frozen=True)
class InputRange:
    """Per-element bounds of one input tensor (``lower <= value <= upper``, same shape)."""

    name: str
    lower: np.ndarray
    upper: np.ndarray

    def clip(self, value: np.ndarray) -> tuple[np.ndarray, int]:
        """``value`` clipped into the range (a new array) and how many elements were clipped."""
        clipped = np.minimum(np.maximum(value, self.lower), self.upper)
        count = int(np.count_nonzero(clipped != value))
        return clipped, count


def _pair(raw: Any, where: str) -> tuple[float, float]:
    if not isinstance(raw, (list, tuple)) or len(raw) != 2:
        raise SafetyError(f"{where} must be a [min, max] pair, got {str(raw)[:80]}; fix the file's metadata")
    try:
        lo, hi = float(raw[0]), float(raw[1])
    except (TypeError, ValueError, OverflowError) as err:
        raise SafetyError(f"{where} must hold two numbers, got {str(raw)[:80]}; fix the file's metadata") from err
    if math.isnan(lo) or math.isnan(hi) or lo > hi:
        raise SafetyError(f"{where} must satisfy min <= max, got [{lo}, {hi}]; fix the file's metadata")
    return lo, hi


def input_range(
    name: str, shape: tuple[int, ...], dtype: str, metadata: Mapping[str, Any] | None
) -> InputRange | None:
    """The range of input ``name`` from its metadata, or None when it has none.

    Raises:
        SafetyError: when the metadata holds a malformed range.
    """
    metadata = metadata or {}
    bounds: list[tuple[float, float]] | None = None
    if name.startswith(SE2_PREFIX) and metadata.get("ranges") is not None:
        raw = metadata["ranges"]
        if not isinstance(raw, Mapping):
            raise SafetyError(f"Input '{name}': metadata 'ranges' must be an object with keys {list(SE2_KEYS)}")
        missing = [k for k in SE2_KEYS if k not in raw]
        if missing:
            raise SafetyError(f"Input '{name}': metadata 'ranges' lacks {missing}; it needs {list(SE2_KEYS)}")
        bounds = [_pair(raw[k], f"Input '{name}': ranges.{k}") for k in SE2_KEYS]
        if shape[-1:] != (3,):
            raise SafetyError(f"Input '{name}' has shape {shape}; an SE(2) velocity with 'ranges' needs 3 values last")
    elif name.startswith(FLOAT_PREFIX) and metadata.get("range") is not None:
        bounds = [_pair(metadata["range"], f"Input '{name}': range")]
    if bounds is None:
        return None
    dt = np.dtype(dtype)
    lower = np.broadcast_to(np.array([b[0] for b in bounds], dtype=dt), shape).copy()
    upper = np.broadcast_to(np.array([b[1] for b in bounds], dtype=dt), shape).copy()
    return InputRange(name, lower, upper)


def input_ranges(specs: Iterable[Any]) -> dict[str, InputRange]:
    """Ranges of the input components ``specs`` (``ComponentSpec``), by name; inputs without one omitted."""
    out = {}
    for spec in specs:
        rng = input_range(spec.name, tuple(spec.shape), spec.dtype, spec.metadata)
        if rng is not None:
            out[spec.name] = rng
    return out
