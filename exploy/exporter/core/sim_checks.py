"""Invariants a correct environment keeps, checked by ``evaluate`` and ``exploy record``.

Pure numpy (no torch): each check takes what the evaluation hooks reported and returns a
sentence naming the culprit, or None. They catch sim-to-real bugs that comparing the file with
the environment cannot see, because both read the same (wrong) tensors:

- :func:`substep_problem`: the environment ran a number of sim substeps per policy step other
  than ``decimation``;
- :func:`rewritten_inputs`: code outside the exported path rewrote a registered input between
  the last ``update()`` and the next policy step;
- :class:`QuaternionCheck`: a quaternion component does not follow its angular velocity in the
  declared component order, but does in the other one (``x,y,z,w`` stored as ``w_Q_b``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exploy.format.names import QUATERNION_ORDER, QUATERNION_ORDERS, WXYZ, XYZW

QUATERNION_ITEMS = ("w_Q_b",)
"""Component items (last name part) holding an orientation quaternion."""

ANG_VEL_ITEMS = ("ang_vel_b_rt_w_in_b", "ang_vel_b", "ang_vel")
"""Items of the body-frame angular velocity paired with a quaternion of the same prefix."""

MIN_JUDGED_ANGLE = 1e-3
"""Rotations (rad) per policy step smaller than this say nothing about the order; skipped."""

MIN_JUDGED_STEPS = 3


def substep_problem(step: int, substeps: Sequence[int], decimation: int) -> str | None:
    """A sentence when the substeps a policy step reported are not ``0 .. decimation-1``.

    Args:
        step: Policy step index.
        substeps: Substep indices passed to ``evaluate_substep`` during that step, in order.
        decimation: Sim substeps per policy step (the file's and ``env.decimation``).
    """
    if list(substeps) == list(range(decimation)):
        return None
    return (
        f"decimation mismatch: policy step {step} ran {len(substeps)} sim substep(s) "
        f"(evaluate_substep called with {list(substeps)[:12]}) but the file's decimation is {decimation}; "
        "make env.decimation the number of physics steps step() really runs"
    )


def rewritten_inputs(
    at_update: Mapping[str, np.ndarray], at_step: Mapping[str, np.ndarray]
) -> list[tuple[str, float]]:
    """Inputs whose value at the start of a policy step differs from the last ``update()``.

    Returns:
        ``(name, max abs change)`` per changed input, exact comparison (NaN equals NaN).
    """
    changed = []
    for name, before in at_update.items():
        after = at_step.get(name)
        if after is None or before.shape != after.shape:
            continue
        if not np.array_equal(before, after, equal_nan=True):
            diff = np.abs(after.astype(np.float64) - before.astype(np.float64))
            changed.append((name, float(np.nanmax(diff)) if diff.size else 0.0))
    return changed


def rewrite_problem(step: int, changed: list[tuple[str, float]]) -> str:
    """The sentence for :func:`rewritten_inputs` findings before policy step ``step``."""
    shown = ", ".join(f"'{n}' (by up to {d:.4g})" for n, d in changed[:6])
    return (
        f"rewritten input: sim-only code rewrote registered input(s) {shown} after the last update() before policy "
        f"step {step}: the simulator's policy saw a value the robot will never send. Move that code "
        "into compute_observations()/process_actions() (the exported path), or stop rewriting the "
        "input tensor in step()"
    )


# -- quaternions ----------------------------------------------------------------------------


def _to_wxyz(q: np.ndarray, order: str) -> np.ndarray:
    return q if order == WXYZ else q[..., [3, 0, 1, 2]]


def _normalise(q: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    return q / np.where(norm > 0, norm, 1.0)


def _mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def _rotvec(q: np.ndarray) -> np.ndarray:
    """Rotation vector of unit quaternions ``(..., 4)`` in w,x,y,z (shortest rotation)."""
    q = np.where(q[..., :1] < 0, -q, q)
    vec = q[..., 1:]
    sin = np.linalg.norm(vec, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin, q[..., :1])
    return vec * np.where(sin > 1e-12, angle / np.where(sin > 1e-12, sin, 1.0), 2.0)


def increment_consistent(
    q0: np.ndarray, q1: np.ndarray, predicted: np.ndarray, order: str, *, dt_known: bool
) -> np.ndarray:
    """Per row: does ``q0 -> q1`` (read in ``order``) rotate by ``predicted`` (body frame)?

    With the time step known, the measured rotation vector must be within 25 % (plus 1 mrad)
    of ``predicted``; without it only its axis is checked (cosine above 0.9).
    """
    a = _normalise(_to_wxyz(q0, order))
    b = _normalise(_to_wxyz(q1, order))
    conj = a * np.array([1.0, -1.0, -1.0, -1.0])
    measured = _rotvec(_mul(conj, b))
    size = np.linalg.norm(predicted, axis=-1)
    if dt_known:
        return np.linalg.norm(measured - predicted, axis=-1) <= 0.25 * size + 1e-3
    norm = np.linalg.norm(measured, axis=-1) * size
    cosine = np.sum(measured * predicted, axis=-1) / np.where(norm > 0, norm, 1.0)
    return cosine > 0.9


@dataclass
class _Pair:
    quat: str
    ang_vel: str
    order: str
    judged: int = 0
    declared_ok: int = 0
    other_ok: int = 0


@dataclass
class QuaternionCheck:
    """Is each quaternion input consistent with its angular velocity over a policy step?

    Feed the inputs at the start of consecutive policy steps with :meth:`add`; :meth:`problems`
    names each quaternion that follows its angular velocity only when read in the other order.

    Args:
        pairs: ``(quaternion input, angular velocity input, declared order)``.
        step_dt: Seconds per policy step (``decimation * sim_dt``), or None when unknown.
    """

    pairs: list[tuple[str, str, str]]
    step_dt: float | None
    _state: list[_Pair] = field(default_factory=list, init=False)
    _last: dict[str, np.ndarray] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._state = [_Pair(q, w, o) for q, w, o in self.pairs]

    def add(self, inputs: Mapping[str, np.ndarray], *, after_reset: bool = False) -> None:
        """The inputs at the start of the next policy step (``after_reset``: do not pair it
        with the previous one)."""
        if not self._state:
            return
        current = {p.quat: np.asarray(inputs[p.quat], dtype=np.float64) for p in self._state}
        current.update({p.ang_vel: np.asarray(inputs[p.ang_vel], dtype=np.float64) for p in self._state})
        last, self._last = self._last, current
        if last is None or after_reset:
            return
        for pair in self._state:
            q0, q1 = last[pair.quat].reshape(-1, 4), current[pair.quat].reshape(-1, 4)
            w0, w1 = last[pair.ang_vel].reshape(-1, 3), current[pair.ang_vel].reshape(-1, 3)
            if q0.shape[0] != w0.shape[0]:
                continue
            predicted = 0.5 * (w0 + w1) * (self.step_dt or 1.0)
            judged = np.linalg.norm(predicted, axis=-1) >= (MIN_JUDGED_ANGLE if self.step_dt else 1e-6)
            if not judged.any():
                continue
            other = XYZW if pair.order == WXYZ else WXYZ
            known = self.step_dt is not None
            ok = increment_consistent(q0, q1, predicted, pair.order, dt_known=known)[judged]
            ok_other = increment_consistent(q0, q1, predicted, other, dt_known=known)[judged]
            pair.judged += int(judged.sum())
            pair.declared_ok += int(ok.sum())
            pair.other_ok += int(ok_other.sum())

    def problems(self) -> list[str]:
        """One sentence per quaternion that looks stored in the other order."""
        found = []
        for p in self._state:
            if p.judged < MIN_JUDGED_STEPS:
                continue
            if p.declared_ok < 0.5 * p.judged and p.other_ok >= 0.8 * p.judged:
                other = XYZW if p.order == WXYZ else WXYZ
                found.append(
                    f"quaternion convention: '{p.quat}' is declared {_spell(p.order)} but does not follow "
                    f"its angular velocity '{p.ang_vel}' over a policy step ({p.declared_ok}/{p.judged} "
                    f"steps consistent); read as {_spell(other)} it does ({p.other_ok}/{p.judged}). The "
                    f"simulator stores {_spell(other)}: reorder the tensor to {_spell(p.order)} in the "
                    f"environment, or declare metadata {QUATERNION_ORDER}: '{other}' on the component"
                )
        return found


def _spell(order: str) -> str:
    return ",".join(order)


def quaternion_pairs(components: Sequence[tuple[str, dict[str, Any] | None]]) -> list[tuple[str, str, str]]:
    """``(quaternion, angular velocity, declared order)`` for every quaternion input that has an
    angular velocity input of the same prefix (``<prefix>.w_Q_b`` / ``<prefix>.ang_vel_b_rt_w_in_b``).

    Args:
        components: ``(name, metadata)`` of the input components.
    """
    by_name = dict(components)
    pairs = []
    for name, meta in components:
        prefix, _, item = name.rpartition(".")
        if item not in QUATERNION_ITEMS and QUATERNION_ORDER not in (meta or {}):
            continue
        order = quaternion_order_of(name, meta)
        for ang in ANG_VEL_ITEMS:
            candidate = f"{prefix}.{ang}" if prefix else ang
            if candidate in by_name:
                pairs.append((name, candidate, order))
                break
    return pairs


def quaternion_order_of(name: str, metadata: dict[str, Any] | None) -> str:
    """The declared order of quaternion component ``name`` (default ``"wxyz"``).

    Raises:
        ValueError: for a declared order other than ``"wxyz"`` / ``"xyzw"``.
    """
    order = (metadata or {}).get(QUATERNION_ORDER, WXYZ)
    if order not in QUATERNION_ORDERS:
        raise ValueError(
            f"'{name}': metadata {QUATERNION_ORDER} is {order!r}; use one of {list(QUATERNION_ORDERS)}"
        )
    return str(order)


def is_quaternion(name: str, metadata: dict[str, Any] | None) -> bool:
    """True for a quaternion component: item ``w_Q_b`` or an explicit ``quaternion_order``."""
    return name.rpartition(".")[2] in QUATERNION_ITEMS or QUATERNION_ORDER in (metadata or {})


def entry_labels(name: str, size: int, sources: Sequence[dict[str, Any] | None]) -> list[str] | None:
    """Per-entry labels of a component from the first ``names`` / ``joint_names`` list of
    ``size`` entries in ``sources`` (its own metadata, then its group's), e.g. ``effort[LF_HAA]``."""
    for meta in sources:
        for key in ("names", "joint_names"):
            value = (meta or {}).get(key)
            if isinstance(value, list) and len(value) == size:
                return [f"{name}[{v}]" for v in value]
    return None
