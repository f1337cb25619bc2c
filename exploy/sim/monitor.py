"""What a closed-loop run measures: the trajectory, command ages and stability (numpy only).

- :class:`Trajectory`: joints, base pose and applied commands per physics step, preallocated.
- :class:`CommandAges`: age of the command applied at each step (real-time mode) with
  percentiles and a count of steps whose command is older than one policy period.
- :func:`stability`: base height, fall detection, joint-limit hits and command tracking.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from exploy.sim.errors import SimError

__all__ = ["CommandAges", "Stability", "Trajectory", "stability", "tilt_deg"]


class Trajectory:
    """Per-step samples of a run, in preallocated arrays (grown by doubling when full).

    Attributes (after :meth:`trim`, one row per recorded step):
        time: Sim time after the step (s).
        joint_pos: Joint positions, shape (steps, joints).
        base_pos: Base position (steps, 3); NaN without a floating base.
        base_quat: Base orientation (w, x, y, z), (steps, 4).
        effort: Motor command applied in the step (steps, joints).
        target: Position target in force during the step (steps, joints), NaN when none.
    """

    def __init__(self, num_joints: int, capacity: int = 1024, *, max_rows: int | None = None) -> None:
        self.count = 0
        self.total = 0
        """Steps ever added (``count`` is the steps kept: the newest ``max_rows`` when bounded)."""
        self.max_rows = max_rows
        self._cols = {"time": 1, "joint_pos": num_joints, "base_pos": 3, "base_quat": 4,
                      "effort": num_joints, "target": num_joints}
        self._data = {k: np.full((max(1, capacity), w), np.nan) for k, w in self._cols.items()}

    def add(self, *, time: float, joint_pos, base_pos, base_quat, effort, target=None) -> None:
        """Record one step (``target`` None: no position target)."""
        if self.max_rows is not None and self.count >= self.max_rows:  # bounded: drop the older half
            keep = self.max_rows // 2
            for v in self._data.values():
                v[:keep] = v[self.count - keep : self.count]
            self.count = keep
        if self.count == len(self._data["time"]):
            self._data = {k: np.concatenate([v, np.full_like(v, np.nan)]) for k, v in self._data.items()}
        row = self.count
        d = self._data
        d["time"][row, 0] = time
        d["joint_pos"][row] = joint_pos
        d["base_pos"][row] = base_pos
        d["base_quat"][row] = base_quat
        d["effort"][row] = effort
        d["target"][row] = np.nan if target is None else target
        self.count += 1
        self.total += 1

    def __getattr__(self, name: str) -> np.ndarray:
        data = self.__dict__.get("_data")
        if data is None or name not in data:
            raise AttributeError(name)
        values = data[name][: self.count]
        return values[:, 0] if name == "time" else values

    def __len__(self) -> int:
        return self.count

    def arrays(self) -> dict[str, np.ndarray]:
        """Every recorded column, trimmed to the recorded steps."""
        return {k: getattr(self, k) for k in self._cols}


def tilt_deg(quat: np.ndarray) -> np.ndarray:
    """Angle (deg) between the base z axis and the world z axis for quaternions (..., 4), w first."""
    q = np.asarray(quat, dtype=np.float64)
    cos = 1.0 - 2.0 * (q[..., 1] ** 2 + q[..., 2] ** 2)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


@dataclass
class Stability:
    """Stability of a closed-loop run (all JSON-friendly)."""

    seconds: float
    base_height_initial: float
    base_height_min: float
    base_height_mean: float
    base_height_final: float
    max_tilt_deg: float
    fell: bool
    fall_time_s: float | None
    joint_limit_hits: int
    joint_limit_hit_joints: list[str]
    tracking_rms: float | None

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        verdict = f"FELL at {self.fall_time_s:.2f} s" if self.fell else "stood"
        tracking = "n/a" if self.tracking_rms is None else f"{self.tracking_rms:.4f} rad"
        return (
            f"{verdict}; base height {self.base_height_initial:.3f} -> {self.base_height_final:.3f} m "
            f"(min {self.base_height_min:.3f}), max tilt {self.max_tilt_deg:.1f} deg, "
            f"{self.joint_limit_hits} joint-limit hits, tracking RMS {tracking}"
        )


def stability(
    traj: Trajectory,
    *,
    joint_names: list[str],
    joint_lower: np.ndarray,
    joint_upper: np.ndarray,
    fall_height_ratio: float = 0.5,
    fall_tilt_deg: float = 60.0,
    limit_margin: float = 1e-3,
) -> Stability:
    """Summarise ``traj``: the robot fell when the base drops below ``fall_height_ratio`` of its
    initial height or tilts more than ``fall_tilt_deg``; a joint-limit hit is a step with a joint
    within ``limit_margin`` of its range; tracking is the RMS of (position target - joint).

    Raises:
        SimError: for an empty trajectory.
    """
    if len(traj) == 0:
        raise SimError("the run recorded no step: did the policy node produce any command?")
    height = traj.base_pos[:, 2]
    tilt = tilt_deg(traj.base_quat)
    initial = float(height[0])
    fallen = (height < fall_height_ratio * initial) | (tilt > fall_tilt_deg)
    first = int(np.argmax(fallen)) if fallen.any() else None
    q = traj.joint_pos
    hits = (q <= joint_lower + limit_margin) | (q >= joint_upper - limit_margin)
    target = traj.target
    has_target = ~np.isnan(target)
    tracking = float(np.sqrt(np.mean((target[has_target] - q[has_target]) ** 2))) if has_target.any() else None
    return Stability(
        seconds=float(traj.time[-1] - traj.time[0] + (traj.time[1] - traj.time[0] if len(traj) > 1 else 0.0)),
        base_height_initial=initial,
        base_height_min=float(np.nanmin(height)),
        base_height_mean=float(np.nanmean(height)),
        base_height_final=float(height[-1]),
        max_tilt_deg=float(np.nanmax(tilt)),
        fell=first is not None,
        fall_time_s=None if first is None else float(traj.time[first]),
        joint_limit_hits=int(hits.any(axis=1).sum()),
        joint_limit_hit_joints=[n for n, hit in zip(joint_names, hits.any(axis=0)) if hit],  # type: ignore[arg-type]  # 2-D: an array
        tracking_rms=tracking,
    )


class CommandAges:
    """Ages (s) of the command applied at each physics step, in a fixed ring buffer.

    Args:
        policy_period_s: One policy period; steps with an older command are counted as stale.
        size: Samples kept for the percentiles.
    """

    def __init__(self, *, policy_period_s: float, size: int = 100_000) -> None:
        if not policy_period_s > 0.0:
            raise SimError(f"policy period must be > 0 s, got {policy_period_s}")
        self.policy_period_s = policy_period_s
        self._buf = np.zeros(size)
        self.count = 0
        self.stale = 0
        self.without_command = 0
        self.max = 0.0

    def add(self, age_s: float | None) -> None:
        """Record the age of the applied command (None: no command yet, zero effort applied)."""
        if age_s is None or not math.isfinite(age_s):
            self.without_command += 1
            return
        self._buf[self.count % self._buf.size] = age_s
        self.count += 1
        self.max = max(self.max, age_s)
        if age_s > self.policy_period_s:
            self.stale += 1

    def summary(self) -> dict:
        """Percentiles (ms), the maximum, and the stale and command-less step counts."""
        kept = self._buf[: min(self.count, self._buf.size)]
        pct = {f"p{q}_ms": (float(np.percentile(kept, q)) * 1e3 if kept.size else None) for q in (50, 90, 99)}
        return {
            "steps": self.count + self.without_command,
            **pct,
            "max_ms": self.max * 1e3 if self.count else None,
            "older_than_policy_period": self.stale,
            "policy_period_ms": self.policy_period_s * 1e3,
            "steps_without_command": self.without_command,
        }
