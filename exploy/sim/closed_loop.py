"""Sim-to-sim: the in-process rollout, its comparison with the closed loop, and the reports.

- :func:`rollout_env`: run an exportable MuJoCo environment (one with a ``robot`` attribute
  holding a :class:`exploy.sim.mujoco_robot.MujocoRobot`) with its torch actor, recording the
  same :class:`exploy.sim.monitor.Trajectory` the simulator node records.
- :func:`compare_trajectories`: tick-by-tick comparison of joints and base pose.
- :func:`write_reports`: ``summary.json`` and ``plot.png`` (joint trajectories and base height,
  sim vs closed loop).
"""

from __future__ import annotations

import json
import pathlib
from dataclasses import asdict, dataclass

import numpy as np

from exploy.sim.errors import SimError
from exploy.sim.monitor import Trajectory
from exploy.sim.mujoco_robot import MujocoRobot

__all__ = ["TrajectoryComparison", "compare_trajectories", "env_robot", "rollout_env", "write_reports"]

DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-4
COMPARED = ("joint_pos", "base_pos", "base_quat")


def env_robot(env) -> MujocoRobot:
    """The :class:`MujocoRobot` of an environment (attribute ``robot``).

    Raises:
        SimError: when the environment has none (it is not a MuJoCo environment).
    """
    robot = getattr(env, "robot", None)
    if not isinstance(robot, MujocoRobot):
        raise SimError(
            f"{type(env).__name__} has no 'robot' attribute holding an exploy.sim.MujocoRobot, so its MuJoCo model "
            "is unknown; give the environment one (see exploy.examples.mujoco_quadruped) or run with --mjcf only"
        )
    return robot


def rollout_env(env, actor, *, seconds: float, progress: bool = False) -> Trajectory:
    """Reset ``env`` and run it with ``actor`` for ``seconds`` of sim time, recording every physics step.

    Stops early (with fewer steps recorded) if the environment ends its episode.
    """
    import torch
    from tqdm import tqdm

    robot = env_robot(env)
    traj = Trajectory(len(robot.joint_names), capacity=4096)
    effort: list[np.ndarray] = [np.zeros(len(robot.joint_names))]
    done_flag = [False]

    def on_substep(_: int) -> None:
        effort[0] = np.clip(env.joint_effort.numpy().reshape(-1).astype(np.float64),
                            robot.model.actuator_ctrlrange[robot.actuator_ids, 0],
                            robot.model.actuator_ctrlrange[robot.actuator_ids, 1])

    def on_update() -> None:
        if done_flag[0]:
            return
        target = getattr(env, "joint_pos_command", None)
        traj.add(time=robot.time, joint_pos=robot.joint_pos(), base_pos=robot.base_pos(),
                 base_quat=robot.base_quat(), effort=effort[0],
                 target=None if target is None else target.numpy().reshape(-1))

    def on_reset() -> None:
        done_flag[0] = True

    env.register_evaluation_hooks(on_update, on_reset, on_substep)
    if hasattr(actor, "reset"):
        actor.reset(torch.ones(1, dtype=torch.bool))
    obs = env.reset()
    policy_steps = max(1, round(seconds / (robot.dt * env.decimation)))
    with torch.inference_mode():
        for _ in tqdm(range(policy_steps), desc="in-process rollout", unit="step", disable=not progress):
            obs, done = env.step(actor(obs))
            if done:
                break
    return traj


@dataclass
class TrajectoryComparison:
    """Where the closed loop and the in-process rollout differ (JSON-friendly)."""

    ok: bool
    ticks_compared: int
    max_abs_error: dict[str, float]
    first_divergence_tick: int | None
    first_divergence: str | None
    atol: float
    rtol: float

    def describe(self) -> str:
        errors = ", ".join(f"{k} {v:.3g}" for k, v in self.max_abs_error.items())
        if self.ok:
            return f"MATCH: {self.ticks_compared} ticks agree (max |error|: {errors})"
        return f"DIVERGED at tick {self.first_divergence_tick}: {self.first_divergence} (max |error|: {errors})"


def compare_trajectories(
    reference: Trajectory, closed: Trajectory, *, atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL
) -> TrajectoryComparison:
    """Compare joints and base pose tick by tick over the ticks both recorded.

    A closed loop shorter than the reference diverges at its end (ticks are missing).
    """
    n = min(len(reference), len(closed))
    errors: dict[str, float] = {}
    first_tick: int | None = None
    first_text: str | None = None
    for name in COMPARED:
        ref, act = getattr(reference, name)[:n], getattr(closed, name)[:n]
        diff = np.abs(act - ref)
        errors[name] = float(np.nanmax(diff)) if n else 0.0
        bad = ~np.isclose(act, ref, atol=atol, rtol=rtol, equal_nan=True)
        if bad.any():
            tick = int(np.argmax(bad.any(axis=1)))
            if first_tick is None or tick < first_tick:
                col = int(np.argmax(bad[tick]))
                first_tick = tick
                first_text = (f"{name}[{col}] is {act[tick, col]:.6g} in the closed loop, "
                              f"{ref[tick, col]:.6g} in the rollout (sim time {reference.time[tick]:.3f} s)")
    if first_tick is None and len(closed) < len(reference):
        first_tick, first_text = n, f"the closed loop stopped after {n} of {len(reference)} ticks"
    return TrajectoryComparison(
        ok=first_tick is None, ticks_compared=n, max_abs_error=errors,
        first_divergence_tick=first_tick, first_divergence=first_text, atol=atol, rtol=rtol,
    )


def write_reports(
    out: str | pathlib.Path,
    summary: dict,
    closed: Trajectory,
    *,
    reference: Trajectory | None = None,
    joint_names: list[str],
    title: str = "exploy sim2sim",
) -> tuple[pathlib.Path, pathlib.Path]:
    """Write ``summary.json`` and ``plot.png`` into ``out``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2, default=_jsonable) + "\n")
    fig, (ax_q, ax_h) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    shown = list(range(min(3, len(joint_names))))  # one leg: hip, thigh, calf
    for i, color in zip(shown, ("tab:blue", "tab:orange", "tab:green")):
        if reference is not None and len(reference):
            ax_q.plot(reference.time, reference.joint_pos[:, i], color=color, lw=3, alpha=0.35,
                      label=f"{joint_names[i]} (in-process sim)")
        ax_q.plot(closed.time, closed.joint_pos[:, i], color=color, lw=1, label=f"{joint_names[i]} (closed loop)")
    ax_q.set_ylabel("joint position (rad)")
    ax_q.legend(fontsize=8, ncol=2)
    if reference is not None and len(reference):
        ax_h.plot(reference.time, reference.base_pos[:, 2], color="k", lw=3, alpha=0.35, label="in-process sim")
    ax_h.plot(closed.time, closed.base_pos[:, 2], color="k", lw=1, label="closed loop through policy_node")
    ax_h.set_ylabel("base height (m)")
    ax_h.set_xlabel("sim time (s)")
    ax_h.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    plot_path = out / "plot.png"
    fig.savefig(plot_path, dpi=90)
    plt.close(fig)
    return summary_path, plot_path


def _jsonable(value):
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
