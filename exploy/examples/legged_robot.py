"""A small quadruped-like environment and two policies, in plain torch (no simulator).

The example mirrors what a real legged-robot policy export needs: 12 named joints driven by a
PD law at the sim rate (200 Hz), a floating base with an IMU (orientation quaternion and angular
velocity), a velocity command, and observations built the way locomotion policies build them
(projected gravity, scaled velocities, joint positions relative to defaults, last actions and a
short joint-position history kept in memory).

Component names follow the upstream exploy conventions, so the ROS node picks its typed adapters:

- ``obj.robot.joints.pos`` / ``obj.robot.joints.vel`` (group metadata ``joint_names``)
- ``obj.robot.base.w_Q_b`` (quaternion w, x, y, z) / ``obj.robot.base.ang_vel_b_rt_w_in_b``
- ``cmd.se2_velocity.base_velocity`` (vx, vy, wz)
- ``output.joint_targets.pd.effort`` / ``.pos`` / ``.vel`` (group metadata ``names``,
  ``stiffness`` and ``damping``: the PD gains of :meth:`LeggedRobotEnv.pd_effort`)

The file also carries what upstream's C++ controller reads: ``exploy_version``, ``update_rate``
(200 Hz) and ``base_names`` (``{"robot": "base"}``). ``effort`` is the full PD torque computed
in the graph and ``pos`` / ``vel`` its targets: a driver that adds its own PD with the stated gains
on top of ``effort`` (as upstream's controller asks of a robot) would apply the PD twice; drive
these joints either by ``effort`` alone or by ``pos`` / ``vel`` with the gains (docs/file_format.md).

Factories for the CLI: :func:`make_mlp_example` and :func:`make_lstm_example`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch

from exploy.examples.quadruped_env import QuadrupedEnvironment
from exploy.examples.quadruped_sim import (
    JOINT_NAMES,
    NUM_JOINTS,
    QuadrupedSim,
    SimConfig,
    quat_rotate_inverse,
)
from exploy.examples.quadruped_task import StateGetters
from exploy.exporter.core.actor import ExportableActor, add_actor_memory

__all__ = [
    "JOINT_NAMES",
    "LeggedRobotConfig",
    "LeggedRobotEnv",
    "LstmActor",
    "MlpActor",
    "make_lstm_example",
    "make_mlp_example",
]


@dataclass(frozen=True)
class LeggedRobotConfig:
    """Policy-side settings of the legged-robot example.

    Attributes:
        decimation: Sim ticks per policy step (200 Hz sim / 4 = 50 Hz policy).
        episode_length: Policy steps after which the episode resets.
        history_length: Policy steps of joint positions kept in the history observation.
        action_scale: Joint target = default + action_scale * action (rad).
        kp: PD stiffness (Nm/rad), same for every joint.
        kd: PD damping (Nm s/rad), same for every joint.
        effort_limits: Per-joint |effort| bound (Nm) for hip, thigh, calf, repeated per leg.
        ang_vel_scale: Scale of the base angular velocity observation.
        joint_vel_scale: Scale of the joint velocity observation.
        command_scale: Scale of (vx, vy, wz) in the observation.
    """

    decimation: int = 4
    episode_length: int = 50
    history_length: int = 3
    action_scale: float = 0.25
    kp: float = 25.0
    kd: float = 0.6
    effort_limits: tuple[float, float, float] = (23.7, 23.7, 35.5)
    ang_vel_scale: float = 0.25
    joint_vel_scale: float = 0.05
    command_scale: tuple[float, float, float] = (2.0, 2.0, 0.25)


class LeggedRobotEnv(QuadrupedEnvironment):
    """Exportable quadruped environment: PD-controlled joints, IMU base, velocity command.

    Args:
        sim_config: Settings of the simulated robot (time step, joint dynamics, commands).
        config: Policy-side settings (decimation, scales, PD gains, episode length).

    All inputs, outputs and memory are registered on :meth:`context_manager` in the
    constructor. State tensors are updated in place, so the registered callbacks always return
    the very tensors the observation and action code reads. The evaluation loop and the export
    methods are :class:`~exploy.examples.quadruped_env.QuadrupedEnvironment`'s.
    """

    ROBOT = "exploy_quadruped"
    EXAMPLE = "exploy.examples.legged_robot"

    def __init__(
        self,
        *,
        sim_config: SimConfig | None = None,
        config: LeggedRobotConfig | None = None,
    ) -> None:
        super().__init__()
        cfg = config if config is not None else LeggedRobotConfig()
        self.sim = sim = QuadrupedSim(sim_config if sim_config is not None else SimConfig())
        self._set_up_task(cfg, effort_limits=list(cfg.effort_limits) * 4, state=StateGetters.of(sim))
        self._reset_buffers()
        self._register_components()

    # -- state ------------------------------------------------------------------------------

    @property
    def sim_dt(self) -> float:
        """Sim time step in seconds (the exported ``update_rate`` is ``1 / sim_dt``)."""
        return self.sim.cfg.dt

    def _reset_buffers(self) -> None:
        self._episode_step = 0
        self.task.reset(joint_pos=self.sim.joint_pos, default_joint_pos=self.sim.default_joint_pos)

    def reset_physics(self) -> None:
        self.sim.reset()

    def physics_step(self) -> None:
        self.sim.step(self.joint_effort)

    def _register_components(self) -> None:
        position_limits = [list(pair) for pair in self.sim.cfg.joint_pos_limits] * 4
        self.task.register(self.context_manager(), self._state, position_limits=position_limits)

    # -- traced: observations and actions ---------------------------------------------------

    def projected_gravity(self) -> torch.Tensor:
        """World gravity direction (0, 0, -1) expressed in the base frame, shape (1, 3)."""
        return quat_rotate_inverse(self.sim.base_quat, self.task.gravity_w)

    def compute_observations(self) -> torch.Tensor:
        return self.task.observations(self._state, self.sim.default_joint_pos)

    def process_actions(self, actions: torch.Tensor) -> None:
        """Store the actions, set the joint targets and push the current joints into the history."""
        self.task.process_actions(actions, self.sim.joint_pos, self.sim.default_joint_pos)

    def clamped_target(self) -> torch.Tensor:
        """The joint position targets clamped to the joint position limits."""
        lower, upper = self.sim.joint_pos_lower, self.sim.joint_pos_upper
        return torch.minimum(torch.maximum(self.joint_pos_target, lower), upper)

    def pd_effort(self, target: torch.Tensor) -> torch.Tensor:
        """PD effort towards ``target`` from the current joint state, clamped to the effort limits."""
        sim, task = self.sim, self.task
        effort = task.kp * (target - sim.joint_pos) - task.kd * sim.joint_vel
        return torch.minimum(torch.maximum(effort, -task.effort_limit), task.effort_limit)

    def apply_actions(self) -> None:
        """PD law at sim rate: reads the target Memory and the current joint state."""
        sim = self.sim
        self.task.apply(sim.joint_pos, sim.joint_vel, sim.joint_pos_lower, sim.joint_pos_upper)


class MlpActor(ExportableActor):
    """Feed-forward policy: ELU MLP from observations to joint actions."""

    def __init__(self, num_obs: int, num_act: int, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        dim = num_obs
        for width in hidden:
            layers += [torch.nn.Linear(dim, width), torch.nn.ELU()]
            dim = width
        layers.append(torch.nn.Linear(dim, num_act))
        self.net = torch.nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)


class LstmActor(ExportableActor):
    """Recurrent policy: one LSTM layer then an MLP head; the (h, c) state persists."""

    def __init__(self, num_obs: int, num_act: int, hidden_size: int = 32) -> None:
        super().__init__()
        self.rnn = torch.nn.LSTM(input_size=num_obs, hidden_size=hidden_size, num_layers=1)
        self.head = MlpActor(hidden_size, num_act, hidden=(32,))
        self._state: tuple[torch.Tensor, torch.Tensor] | None = None

    def reset(self, dones: torch.Tensor) -> None:
        """Zero the hidden state of the batch entries flagged in ``dones`` (shape (batch,))."""
        if self._state is None:
            return
        for state in self._state:
            state[:, dones, :] = 0.0

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        rnn_out, self._state = self.rnn(obs.unsqueeze(dim=0), self._state)
        return self.head(rnn_out.squeeze(dim=0))

    def get_state(self) -> tuple[torch.Tensor, ...] | None:
        return self._state


_M = TypeVar("_M", bound=torch.nn.Module)


def _seeded(seed: int, build: Callable[[], _M]) -> _M:
    """Build a module under ``torch.manual_seed(seed)`` without disturbing the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def make_mlp_example(seed: int = 0) -> tuple[LeggedRobotEnv, MlpActor]:
    """The legged-robot environment with a deterministic MLP policy (eval mode)."""
    env = LeggedRobotEnv()
    num_obs = env.empty_actor_observations().shape[-1]
    actor = _seeded(seed, lambda: MlpActor(num_obs, NUM_JOINTS)).eval()
    return env, actor


def make_lstm_example(seed: int = 0) -> tuple[LeggedRobotEnv, LstmActor]:
    """The legged-robot environment with a deterministic LSTM policy, its state registered as memory."""
    env = LeggedRobotEnv()
    num_obs = env.empty_actor_observations().shape[-1]
    actor = _seeded(seed, lambda: LstmActor(num_obs, NUM_JOINTS)).eval()
    with torch.no_grad():
        actor(env.empty_actor_observations())  # creates the (h, c) state tensors
    add_actor_memory(context_manager=env.context_manager(), get_hidden_states_func=actor.get_state)
    return env, actor
