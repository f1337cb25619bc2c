"""The soft-start blend and the fallback laws, over joint vectors (one value per joint).

Soft start, ``a`` ramping from 0 to 1 over ``soft_start_s``:

- position targets ``(1 - a) * q_start + a * q_policy`` (``q_start``: measured when the ramp began),
- velocity targets and efforts ``a * value``.

Fallback (``q``, ``qd``: measured positions and velocities; ``q_hold``: positions measured when
the fallback began):

- ``stop``: nothing is published;
- ``hold``: position targets ``q_hold``, velocity targets 0, efforts ``kp * (q_hold - q) - kd * qd``;
- ``damp``: position targets ``q``, velocity targets 0, efforts ``-kd * qd``.

A joint without a fresh measurement gets effort 0 and its last held position target.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

FallbackMode = Literal["stop", "hold", "damp"]
FALLBACK_MODES: tuple[str, ...] = ("stop", "hold", "damp")


def ramp(elapsed_s: float, duration_s: float) -> float:
    """The soft-start factor ``a`` after ``elapsed_s`` of a ramp lasting ``duration_s`` (0..1)."""
    if duration_s <= 0.0:
        return 1.0
    return float(min(1.0, max(0.0, elapsed_s / duration_s)))


def blend(role: str, alpha: float, value: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The soft-start blend of one tensor of joint values.

    Args:
        role: ``position``, ``velocity`` or ``effort``.
        alpha: The ramp factor (0..1).
        value: The policy's values.
        start: Measured positions at the start of the ramp (same size; used for positions only).
    """
    if role == "position":
        return (1.0 - alpha) * start + alpha * value
    return alpha * value


def fallback_law(
    mode: FallbackMode,
    *,
    q: np.ndarray,
    qd: np.ndarray,
    fresh: np.ndarray,
    held: np.ndarray,
    kp: np.ndarray,
    kd: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Position targets, velocity targets and efforts of the fallback ``mode`` (not ``stop``).

    Args:
        mode: ``hold`` or ``damp``.
        q: Measured positions (NaN where never measured).
        qd: Measured velocities (NaN where never measured).
        fresh: Per joint: the measurement is current (not stale).
        held: ``hold``: positions measured when the fallback began; ``damp``: the last position
            targets published (both NaN where unknown).
        kp: Stiffness per joint.
        kd: Damping per joint.

    Returns:
        ``(position_targets, velocity_targets, efforts)``; a position target is NaN only for a
        joint that was never measured.
    """
    ok = fresh & np.isfinite(q) & np.isfinite(qd)
    velocity = np.zeros_like(q)
    if mode == "hold":
        position = held.copy()
        effort = kp * (held - q) - kd * qd
    elif mode == "damp":
        position = np.where(fresh & np.isfinite(q), q, held)
        effort = -kd * qd
    else:
        raise ValueError(f"fallback_law has no law for mode {mode!r}")
    effort = np.where(ok & np.isfinite(effort), effort, 0.0)
    return position, velocity, effort
