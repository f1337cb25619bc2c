"""A 12-joint MuJoCo quadruped and an exportable environment around it (the main example).

The robot is built from primitives in :func:`exploy.examples.mujoco_quadruped_model.quadruped_mjcf`
(no downloaded assets): a box base with an ``imu`` site and a free joint, four legs of hip (x
axis), thigh and calf (y axis) hinges named like :mod:`exploy.examples.legged_robot` (``FL_hip``
... ``RR_calf``), one motor per joint, spherical feet on a floor, and a keyframe ``home`` in the
nominal stance. Physics at 200 Hz.

:class:`MujocoQuadrupedEnv` has the observations of the plain-torch example (base angular
velocity, projected gravity, velocity command, joint positions relative to the stance, joint
velocities, last actions, a joint-position history in memory) and a PD law at sim rate in
``apply_actions``. MuJoCo's float64 state reaches the traced code through a
:class:`exploy.sim.state.TensorMirror`: float32 tensors allocated once, refreshed in place after
every ``mj_step``, so the exporter sees them as the graph's inputs.

Factories for the CLI: :func:`make_mlp_example`, :func:`make_lstm_example`; the model file for
``mujoco_sim_node``/``exploy sim2sim``: :func:`write_mjcf`.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

import torch

from exploy.examples.legged_robot import LstmActor, MlpActor, _seeded
from exploy.examples.mujoco_quadruped_model import EFFORT_LIMITS, quadruped_mjcf, stance, write_mjcf
from exploy.examples.quadruped_env import QuadrupedEnvironment
from exploy.examples.quadruped_sim import JOINT_NAMES, NUM_JOINTS
from exploy.examples.quadruped_task import StateGetters
from exploy.exporter.core.actor import add_actor_memory
from exploy.sim.mujoco_robot import MujocoRobot
from exploy.sim.state import TensorMirror

__all__ = [
    "JOINT_NAMES",
    "MujocoQuadrupedConfig",
    "MujocoQuadrupedEnv",
    "make_lstm_example",
    "make_mlp_example",
    "quadruped_mjcf",
    "stance",
    "write_mjcf",
]

@dataclass(frozen=True)
class MujocoQuadrupedConfig:
    """Policy-side settings.

    Attributes:
        decimation: Physics steps per policy step (200 Hz / 4 = 50 Hz policy).
        episode_length: Policy steps after which :meth:`MujocoQuadrupedEnv.step` resets.
        history_length: Policy steps of joint positions kept in the history observation.
        action_scale: Joint target = stance + action_scale * action (rad).
        kp: PD stiffness (Nm/rad), every joint.
        kd: PD damping (Nm s/rad), every joint.
        command: Constant velocity command (vx, vy, wz).
        ang_vel_scale, joint_vel_scale, command_scale: Observation scales.
    """

    decimation: int = 4
    episode_length: int = 1000
    history_length: int = 3
    action_scale: float = 0.25
    kp: float = 30.0
    kd: float = 0.8
    command: tuple[float, float, float] = (0.0, 0.0, 0.0)
    ang_vel_scale: float = 0.25
    joint_vel_scale: float = 0.05
    command_scale: tuple[float, float, float] = (2.0, 2.0, 0.25)


class MujocoQuadrupedEnv(QuadrupedEnvironment):
    """Exportable MuJoCo quadruped: PD joints at 200 Hz, IMU base, constant velocity command.

    Args:
        config: Policy-side settings.
        mjcf: Load the model from this MJCF file (same joints, ``imu`` site and ``base`` body)
            instead of :func:`quadruped_mjcf`.

    Attributes:
        robot: The :class:`MujocoRobot` (``robot.model``, ``robot.data``).
        mirror: The float32 tensors the graph reads, refreshed after every ``mj_step``.

    The evaluation loop and the export methods are
    :class:`~exploy.examples.quadruped_env.QuadrupedEnvironment`'s.
    """

    ROBOT = "exploy_quadruped_mujoco"
    EXAMPLE = "exploy.examples.mujoco_quadruped"

    def __init__(self, *, config: MujocoQuadrupedConfig | None = None, mjcf: str | pathlib.Path | None = None) -> None:
        super().__init__()
        cfg = config if config is not None else MujocoQuadrupedConfig()
        names: dict = {"joint_names": JOINT_NAMES, "imu_site": "imu", "base_body": "base"}
        self.robot = (MujocoRobot.from_xml(quadruped_mjcf(), **names) if mjcf is None
                      else MujocoRobot.from_file(mjcf, **names))
        robot = self.robot
        self.mirror = TensorMirror()
        self.joint_pos = self.mirror.add("joint_pos", robot.joint_pos)
        self.joint_vel = self.mirror.add("joint_vel", robot.joint_vel)
        self.base_quat = self.mirror.add("base_quat", robot.imu_quat)
        self.base_ang_vel = self.mirror.add("base_ang_vel", robot.imu_ang_vel)
        self.command = torch.tensor([cfg.command], dtype=torch.float32)

        self.default_joint_pos = torch.tensor([stance()])
        self.joint_lower = torch.tensor([robot.joint_lower.tolist()], dtype=torch.float32)
        self.joint_upper = torch.tensor([robot.joint_upper.tolist()], dtype=torch.float32)
        self._set_up_task(cfg, effort_limits=list(EFFORT_LIMITS) * 4, state=StateGetters.of(self))
        self._reset_buffers()
        self._register_components()

    # -- state ------------------------------------------------------------------------------

    @property
    def sim_dt(self) -> float:
        return self.robot.dt

    def _reset_buffers(self) -> None:
        self._episode_step = 0
        self.mirror.refresh()
        self.task.reset(joint_pos=self.joint_pos, default_joint_pos=self.default_joint_pos)

    def reset_physics(self) -> None:
        """Back to the ``home`` keyframe."""
        self.robot.reset()

    def physics_step(self) -> None:
        """One ``mj_step`` with the current effort output, then refresh the mirrored state."""
        self.robot.step_with_ctrl(self.joint_effort.numpy().reshape(-1))
        self.mirror.refresh()

    def _register_components(self) -> None:
        limits = list(zip(self.robot.joint_lower.tolist(), self.robot.joint_upper.tolist()))
        self.task.register(
            self.context_manager(), self._state, position_limits=limits, base_group_metadata={"site": "imu"}
        )

    # -- traced -----------------------------------------------------------------------------

    def compute_observations(self) -> torch.Tensor:
        return self.task.observations(self._state, self.default_joint_pos)

    def process_actions(self, actions: torch.Tensor) -> None:
        self.task.process_actions(actions, self.joint_pos, self.default_joint_pos)

    def apply_actions(self) -> None:
        """PD law at sim rate towards the clamped target; effort clamped to the motor limits."""
        self.task.apply(self.joint_pos, self.joint_vel, self.joint_lower, self.joint_upper)


def _quiet_output(actor: torch.nn.Module, last: torch.nn.Linear, gain: float) -> torch.nn.Module:
    """Shrink the output layer so the actions stay small: the PD law then holds the stance."""
    with torch.no_grad():
        last.weight.mul_(gain)
        last.bias.zero_()
    return actor


OUTPUT_GAIN = 0.02
"""Scale of the hand-set output layer: actions stay within a few hundredths of a radian."""


def make_mlp_example(seed: int = 0, mjcf: str | pathlib.Path | None = None) -> tuple[MujocoQuadrupedEnv, MlpActor]:
    """The MuJoCo quadruped with a deterministic MLP that keeps it standing (eval mode); ``mjcf``:
    its model from that file (see :class:`MujocoQuadrupedEnv`)."""
    env = MujocoQuadrupedEnv(mjcf=mjcf)
    num_obs = env.empty_actor_observations().shape[-1]
    actor = _seeded(seed, lambda: MlpActor(num_obs, NUM_JOINTS)).eval()
    _quiet_output(actor, actor.net[-1], OUTPUT_GAIN)  # type: ignore[arg-type]  # the MLP's last layer is a Linear
    return env, actor


def make_lstm_example(seed: int = 0) -> tuple[MujocoQuadrupedEnv, LstmActor]:
    """The MuJoCo quadruped with a deterministic LSTM that keeps it standing; its state is memory."""
    env = MujocoQuadrupedEnv()
    num_obs = env.empty_actor_observations().shape[-1]
    actor = _seeded(seed, lambda: LstmActor(num_obs, NUM_JOINTS)).eval()
    _quiet_output(actor, actor.head.net[-1], OUTPUT_GAIN)  # type: ignore[arg-type]  # the MLP's last layer is a Linear
    with torch.no_grad():
        actor(env.empty_actor_observations())
    add_actor_memory(context_manager=env.context_manager(), get_hidden_states_func=actor.get_state)
    return env, actor
