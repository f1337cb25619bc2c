"""A deterministic stand-in for a physics simulator: 12 joints and a floating-base IMU.

Not a rigid-body simulator: each joint is an independent second-order system driven by its
effort, ``q̈ = (effort - damping * q̇) / inertia`` (semi-implicit Euler), and the base
orientation integrates a slowly varying body-frame angular velocity (quaternion kinematics,
renormalised every tick). The velocity command follows a fixed schedule. Everything is updated
in place, as a simulator's state buffers are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "JOINT_NAMES",
    "NUM_JOINTS",
    "QuadrupedSim",
    "SimConfig",
    "quat_integrate",
    "quat_mul",
    "quat_rotate_inverse",
]

LEGS = ("FL", "FR", "RL", "RR")
PARTS = ("hip", "thigh", "calf")
JOINT_NAMES: tuple[str, ...] = tuple(f"{leg}_{part}" for leg in LEGS for part in PARTS)
NUM_JOINTS = len(JOINT_NAMES)


def quat_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product of quaternions (w, x, y, z), shapes (..., 4)."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def quat_integrate(quat: torch.Tensor, ang_vel_b: torch.Tensor, dt: float) -> torch.Tensor:
    """One explicit Euler step of ``q̇ = ½ q ⊗ (0, ω_b)``, renormalised to unit length."""
    omega = torch.cat([torch.zeros_like(ang_vel_b[..., :1]), ang_vel_b], dim=-1)
    quat = quat + 0.5 * dt * quat_mul(quat, omega)
    return quat / quat.norm(dim=-1, keepdim=True)


def _cross(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    ux, uy, uz = u[:, 0:1], u[:, 1:2], u[:, 2:3]
    vx, vy, vz = v[:, 0:1], v[:, 1:2], v[:, 2:3]
    return torch.cat([uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx], dim=-1)


def quat_rotate_inverse(quat: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
    """Rotate world-frame ``vec`` (N, 3) into the frame of unit quaternion ``quat`` (N, 4), w first.

    Uses only slicing and elementwise ops so it traces to plain ONNX.
    """
    w = quat[:, 0:1]
    u = quat[:, 1:4]
    return (
        vec * (2.0 * w * w - 1.0)
        - 2.0 * w * _cross(u, vec)
        + 2.0 * u * (u * vec).sum(dim=-1, keepdim=True)
    )


@dataclass(frozen=True)
class SimConfig:
    """Settings of the simulated robot.

    Attributes:
        dt: Sim time step in seconds (200 Hz).
        inertia: Joint inertia (kg m²) for hip, thigh, calf; repeated for every leg.
        joint_damping: Viscous joint friction (Nm s/rad).
        default_joint_pos: Nominal stance (rad) for hip, thigh, calf; hips splay ±hip.
        initial_joint_offset: Amplitude (rad) of the deterministic offset from the stance at reset.
        joint_pos_limits: (lower, upper) joint position limits (rad) for hip, thigh, calf.
        initial_roll_pitch: Base roll and pitch (rad) at reset.
        command_schedule: Velocity commands (vx, vy, wz) cycled through during an episode.
        command_period: Sim ticks each command is held.
    """

    dt: float = 0.005
    inertia: tuple[float, float, float] = (0.03, 0.05, 0.04)
    joint_damping: float = 0.05
    default_joint_pos: tuple[float, float, float] = (0.1, 0.8, -1.5)
    initial_joint_offset: float = 0.05
    joint_pos_limits: tuple[tuple[float, float], ...] = ((-0.8, 0.8), (-1.0, 3.5), (-2.7, -0.9))
    initial_roll_pitch: tuple[float, float] = (0.05, -0.03)
    command_schedule: tuple[tuple[float, float, float], ...] = (
        (0.5, 0.0, 0.0),
        (0.3, 0.2, 0.0),
        (0.0, 0.0, 0.5),
        (-0.2, 0.0, -0.3),
    )
    command_period: int = 100


class QuadrupedSim:
    """State buffers (all shape (1, N), updated in place) and the dynamics that advance them.

    Attributes:
        joint_pos, joint_vel: Joint state (rad, rad/s), order :data:`JOINT_NAMES`.
        base_quat: Base orientation w.r.t. world, (w, x, y, z).
        base_ang_vel: Base angular velocity w.r.t. world, in the base frame (rad/s).
        command: Velocity command (vx, vy, wz).
        default_joint_pos: The nominal stance (constant).
        joint_pos_lower, joint_pos_upper: Joint position limits (constant).
    """

    def __init__(self, cfg: SimConfig) -> None:
        if cfg.dt <= 0.0 or cfg.command_period < 1 or not cfg.command_schedule:
            raise ValueError(f"Invalid SimConfig: {cfg}")
        self.cfg = cfg
        hip, thigh, calf = cfg.default_joint_pos
        # Left legs splay +hip, right legs -hip.
        stance = [v for side in (1.0, -1.0, 1.0, -1.0) for v in (side * hip, thigh, calf)]
        self.default_joint_pos = torch.tensor([stance])
        self._inertia = torch.tensor([list(cfg.inertia) * 4])
        self.joint_pos_lower = torch.tensor([[lo for lo, _ in cfg.joint_pos_limits] * 4])
        self.joint_pos_upper = torch.tensor([[hi for _, hi in cfg.joint_pos_limits] * 4])
        offsets = [cfg.initial_joint_offset * math.sin(1.0 + i) for i in range(NUM_JOINTS)]
        self._initial_joint_pos = self.default_joint_pos + torch.tensor([offsets])
        roll, pitch = cfg.initial_roll_pitch
        q_roll = torch.tensor([[math.cos(roll / 2), math.sin(roll / 2), 0.0, 0.0]])
        q_pitch = torch.tensor([[math.cos(pitch / 2), 0.0, math.sin(pitch / 2), 0.0]])
        self._initial_quat = quat_mul(q_roll, q_pitch)

        self.joint_pos = torch.zeros(1, NUM_JOINTS)
        self.joint_vel = torch.zeros(1, NUM_JOINTS)
        self.base_quat = torch.zeros(1, 4)
        self.base_ang_vel = torch.zeros(1, 3)
        self.command = torch.zeros(1, 3)
        self.tick = 0
        self.reset()

    @property
    def time(self) -> float:
        """Sim time since reset (s)."""
        return self.tick * self.cfg.dt

    def reset(self) -> None:
        """Restore the initial state (in place)."""
        self.tick = 0
        self.joint_pos[:] = self._initial_joint_pos
        self.joint_vel.zero_()
        self.base_quat[:] = self._initial_quat
        self._update_command_and_ang_vel()

    def step(self, effort: torch.Tensor) -> None:
        """Advance one tick under joint ``effort`` (1, 12)."""
        dt = self.cfg.dt
        joint_acc = (effort - self.cfg.joint_damping * self.joint_vel) / self._inertia
        self.joint_vel += dt * joint_acc
        self.joint_pos += dt * self.joint_vel
        self.base_quat[:] = quat_integrate(self.base_quat, self.base_ang_vel, dt)
        self.tick += 1
        self._update_command_and_ang_vel()

    def _update_command_and_ang_vel(self) -> None:
        schedule = self.cfg.command_schedule
        command = schedule[(self.tick // self.cfg.command_period) % len(schedule)]
        self.command[:] = torch.tensor(command)
        t = self.time
        # Slow roll/pitch oscillation; yaw rate follows the commanded wz.
        self.base_ang_vel[:] = torch.tensor(
            [0.3 * math.sin(1.7 * t), 0.2 * math.sin(2.3 * t + 0.5), command[2] + 0.05 * math.sin(t)]
        )
