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

from collections.abc import Callable
from dataclasses import dataclass

import torch

from exploy.examples.legged_robot import LstmActor, MlpActor, _seeded
from exploy.examples.mujoco_quadruped_model import EFFORT_LIMITS, quadruped_mjcf, stance, write_mjcf
from exploy.examples.quadruped_sim import JOINT_NAMES, NUM_JOINTS, quat_rotate_inverse
from exploy.exporter.core.actor import add_actor_memory
from exploy.exporter.core.context_manager import Group, Input, Memory, Output
from exploy.exporter.core.exportable_environment import ExportableEnvironment
from exploy.runtime.policy import INITIAL_VALUE_KEY
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

    Attributes:
        robot: The :class:`MujocoRobot` (``robot.model``, ``robot.data``).
        mirror: The float32 tensors the graph reads, refreshed after every ``mj_step``.
    """

    def __init__(self, *, config: MujocoQuadrupedConfig | None = None) -> None:
        super().__init__()
        self.cfg = config if config is not None else MujocoQuadrupedConfig()
        if self.cfg.decimation < 1 or self.cfg.episode_length < 1 or self.cfg.history_length < 1:
            raise ValueError(f"decimation, episode_length and history_length must be >= 1: {self.cfg}")
        self.robot = MujocoRobot.from_xml(quadruped_mjcf(), joint_names=JOINT_NAMES, imu_site="imu", base_body="base")
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
        self._effort_limit = torch.tensor([list(EFFORT_LIMITS) * 4])
        self._gravity_w = torch.tensor([[0.0, 0.0, -1.0]])
        self._command_scale = torch.tensor([self.cfg.command_scale])

        n = NUM_JOINTS
        self.last_actions = torch.zeros(1, n)
        self.joint_pos_target = torch.zeros(1, n)
        self.joint_pos_history = torch.zeros(1, n * self.cfg.history_length)
        self.joint_effort = torch.zeros(1, n)
        self.joint_pos_command = torch.zeros(1, n)

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
        self.last_actions.zero_()
        self.joint_pos_target[:] = self.default_joint_pos
        rel = self.joint_pos - self.default_joint_pos
        self.joint_pos_history[:] = rel.repeat(1, self.cfg.history_length)
        self.joint_effort.zero_()
        self.joint_pos_command[:] = self.joint_pos_target

    def reset(self) -> torch.Tensor:
        """Back to the ``home`` keyframe; returns the first observations."""
        self.robot.reset()
        self._reset_buffers()
        return self.compute_observations()

    def _register_components(self) -> None:
        cm = self.context_manager()
        cm.add_group(
            Group(
                name="obj.robot.joints",
                items=[
                    Input(name="pos", get_from_env_cb=lambda: self.joint_pos),
                    Input(name="vel", get_from_env_cb=lambda: self.joint_vel),
                ],
                metadata={"joint_names": list(JOINT_NAMES)},
            )
        )
        cm.add_group(
            Group(
                name="obj.robot.base",
                items=[
                    Input(name="w_Q_b", get_from_env_cb=lambda: self.base_quat),
                    Input(name="ang_vel_b_rt_w_in_b", get_from_env_cb=lambda: self.base_ang_vel),
                ],
                metadata={"base_names": ["base"], "site": "imu"},
            )
        )
        cm.add_component(
            Input(
                name="cmd.se2_velocity.base_velocity",
                get_from_env_cb=lambda: self.command,
                metadata={"description": "Base velocity command (vx, vy, wz) in the base frame."},
            )
        )
        cm.add_group(
            Group(
                name="output.joint_targets.pd",
                items=[
                    Output(name="effort", get_from_env_cb=lambda: self.joint_effort),
                    Output(name="pos", get_from_env_cb=lambda: self.joint_pos_command),
                ],
                metadata={
                    "names": list(JOINT_NAMES),
                    "stiffness": [self.cfg.kp] * NUM_JOINTS,
                    "damping": [self.cfg.kd] * NUM_JOINTS,
                },
            )
        )
        cm.add_components(
            [
                Memory(name="last_actions", get_from_env_cb=lambda: self.last_actions),
                Memory(
                    name="joint_pos_target",
                    get_from_env_cb=lambda: self.joint_pos_target,
                    metadata={INITIAL_VALUE_KEY: self.joint_pos_target.tolist()},
                ),
                Memory(
                    name="joint_pos_history",
                    get_from_env_cb=lambda: self.joint_pos_history,
                    metadata={INITIAL_VALUE_KEY: self.joint_pos_history.tolist()},
                ),
            ]
        )

    # -- traced -----------------------------------------------------------------------------

    def compute_observations(self) -> torch.Tensor:
        gravity_b = quat_rotate_inverse(self.base_quat, self._gravity_w)
        return torch.cat(
            [
                self.base_ang_vel * self.cfg.ang_vel_scale,
                gravity_b,
                self.command * self._command_scale,
                self.joint_pos - self.default_joint_pos,
                self.joint_vel * self.cfg.joint_vel_scale,
                self.last_actions,
                self.joint_pos_history,
            ],
            dim=-1,
        )

    def process_actions(self, actions: torch.Tensor) -> None:
        self.last_actions[:] = actions
        self.joint_pos_target[:] = self.default_joint_pos + self.cfg.action_scale * actions
        self.joint_pos_history[:] = torch.cat(
            [self.joint_pos_history[:, NUM_JOINTS:], self.joint_pos - self.default_joint_pos], dim=-1
        )

    def apply_actions(self) -> None:
        """PD law at sim rate towards the clamped target; effort clamped to the motor limits."""
        target = torch.minimum(torch.maximum(self.joint_pos_target, self.joint_lower), self.joint_upper)
        effort = self.cfg.kp * (target - self.joint_pos) - self.cfg.kd * self.joint_vel
        self.joint_effort[:] = torch.minimum(torch.maximum(effort, -self._effort_limit), self._effort_limit)
        self.joint_pos_command[:] = target

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
        return {"robot": "exploy_quadruped_mujoco", "example": "exploy.examples.mujoco_quadruped"}

    def get_observation_names(self) -> list[str]:
        names = [f"base_ang_vel_{a}" for a in "xyz"]
        names += [f"projected_gravity_{a}" for a in "xyz"]
        names += ["cmd_vx", "cmd_vy", "cmd_wz"]
        names += [f"joint_pos_rel_{j}" for j in JOINT_NAMES]
        names += [f"joint_vel_{j}" for j in JOINT_NAMES]
        names += [f"last_action_{j}" for j in JOINT_NAMES]
        for lag in range(self.cfg.history_length, 0, -1):
            names += [f"joint_pos_rel_lag{lag}_{j}" for j in JOINT_NAMES]
        return names

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


def make_mlp_example(seed: int = 0) -> tuple[MujocoQuadrupedEnv, MlpActor]:
    """The MuJoCo quadruped with a deterministic MLP that keeps it standing (eval mode)."""
    env = MujocoQuadrupedEnv()
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
