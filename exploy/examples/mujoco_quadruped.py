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
from collections.abc import Callable
from dataclasses import dataclass

import torch

from exploy.examples.legged_robot import LstmActor, MlpActor, _seeded
from exploy.examples.mujoco_quadruped_model import EFFORT_LIMITS, quadruped_mjcf, stance, write_mjcf
from exploy.examples.quadruped_sim import JOINT_NAMES, NUM_JOINTS
from exploy.examples.quadruped_task import QuadrupedTask, StateGetters, env_metadata, observation_names
from exploy.exporter.core.actor import add_actor_memory
from exploy.exporter.core.exportable_environment import ExportableEnvironment
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


class MujocoQuadrupedEnv(ExportableEnvironment):
    """Exportable MuJoCo quadruped: PD joints at 200 Hz, IMU base, constant velocity command.

    Args:
        config: Policy-side settings.
        mjcf: Load the model from this MJCF file (same joints, ``imu`` site and ``base`` body)
            instead of :func:`quadruped_mjcf`.

    Attributes:
        robot: The :class:`MujocoRobot` (``robot.model``, ``robot.data``).
        mirror: The float32 tensors the graph reads, refreshed after every ``mj_step``.
    """

    def __init__(self, *, config: MujocoQuadrupedConfig | None = None, mjcf: str | pathlib.Path | None = None) -> None:
        super().__init__()
        self.cfg = config if config is not None else MujocoQuadrupedConfig()
        if self.cfg.decimation < 1 or self.cfg.episode_length < 1 or self.cfg.history_length < 1:
            raise ValueError(f"decimation, episode_length and history_length must be >= 1: {self.cfg}")
        names: dict = {"joint_names": JOINT_NAMES, "imu_site": "imu", "base_body": "base"}
        self.robot = (MujocoRobot.from_xml(quadruped_mjcf(), **names) if mjcf is None
                      else MujocoRobot.from_file(mjcf, **names))
        robot = self.robot
        self.mirror = TensorMirror()
        self.joint_pos = self.mirror.add("joint_pos", robot.joint_pos)
        self.joint_vel = self.mirror.add("joint_vel", robot.joint_vel)
        self.base_quat = self.mirror.add("base_quat", robot.imu_quat)
        self.base_ang_vel = self.mirror.add("base_ang_vel", robot.imu_ang_vel)
        self.command = torch.tensor([self.cfg.command], dtype=torch.float32)

        self.default_joint_pos = torch.tensor([stance()])
        self.joint_lower = torch.tensor([robot.joint_lower.tolist()], dtype=torch.float32)
        self.joint_upper = torch.tensor([robot.joint_upper.tolist()], dtype=torch.float32)
        self.task = QuadrupedTask(
            history_length=self.cfg.history_length,
            action_scale=self.cfg.action_scale,
            kp=self.cfg.kp,
            kd=self.cfg.kd,
            effort_limits=list(EFFORT_LIMITS) * 4,
            ang_vel_scale=self.cfg.ang_vel_scale,
            joint_vel_scale=self.cfg.joint_vel_scale,
            command_scale=self.cfg.command_scale,
        )
        self._state = StateGetters(
            joint_pos=lambda: self.joint_pos,
            joint_vel=lambda: self.joint_vel,
            base_quat=lambda: self.base_quat,
            base_ang_vel=lambda: self.base_ang_vel,
            command=lambda: self.command,
        )
        task = self.task
        # The task's buffers, under the environment's names (the very same tensors).
        self.last_actions, self.joint_pos_target, self.joint_pos_history = (
            task.last_actions, task.joint_pos_target, task.joint_pos_history,
        )
        self.joint_effort, self.joint_pos_command, self.joint_vel_command = (
            task.joint_effort, task.joint_pos_command, task.joint_vel_command,
        )

        self._episode_step = 0
        self._hook_update: Callable[[], None] | None = None
        self._hook_reset: Callable[[], None] | None = None
        self._hook_substep: Callable[[int], None] | None = None
        self._reset_buffers()
        self._register_components()

    # -- state ------------------------------------------------------------------------------

    @property
    def sim_dt(self) -> float:
        return self.robot.dt

    @property
    def decimation(self) -> int:
        return self.cfg.decimation

    def _reset_buffers(self) -> None:
        self._episode_step = 0
        self.mirror.refresh()
        self.task.reset(joint_pos=self.joint_pos, default_joint_pos=self.default_joint_pos)

    def reset(self) -> torch.Tensor:
        """Back to the ``home`` keyframe; returns the first observations."""
        self.robot.reset()
        self._reset_buffers()
        return self.compute_observations()

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

    # -- evaluation loop --------------------------------------------------------------------

    def register_evaluation_hooks(self, update, reset, evaluate_substep) -> None:
        self._hook_update, self._hook_reset, self._hook_substep = update, reset, evaluate_substep

    def physics_step(self) -> None:
        """One ``mj_step`` with the current effort output, then refresh the mirrored state."""
        self.robot.step_with_ctrl(self.joint_effort.numpy().reshape(-1))
        self.mirror.refresh()

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """One policy step: ``process_actions``; per physics step ``apply_actions``,
        ``evaluate_substep(i)``, ``mj_step``, refresh, ``update()``; reset after the episode."""
        self.process_actions(actions)
        for i in range(self.cfg.decimation):
            self.apply_actions()
            if self._hook_substep is not None:
                self._hook_substep(i)
            self.physics_step()
            if self._hook_update is not None:
                self._hook_update()
        self._episode_step += 1
        done = self._episode_step >= self.cfg.episode_length
        if done:
            self.reset()
            if self._hook_reset is not None:
                self._hook_reset()
            if self._hook_update is not None:
                self._hook_update()
        return self.compute_observations(), done

    # -- export -----------------------------------------------------------------------------

    def prepare_export(self) -> None:
        """Nothing to prepare: the mirrored tensors are registered at construction."""

    def empty_actor_observations(self) -> torch.Tensor:
        return torch.zeros(1, len(self.get_observation_names()))

    def empty_actions(self) -> torch.Tensor:
        return torch.zeros(1, NUM_JOINTS)

    def metadata(self) -> dict[str, str]:
        return env_metadata("exploy_quadruped_mujoco", "exploy.examples.mujoco_quadruped")

    def get_observation_names(self) -> list[str]:
        return observation_names(self.cfg.history_length)

    def observations_reset(self) -> torch.Tensor:
        """Observations of the current state (does not reset it)."""
        return self.compute_observations()


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
