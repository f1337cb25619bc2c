"""A small hooked robot environment with classic sim-to-real bugs that can be switched on.

The robot: a base whose orientation ``obj.robot.base.w_Q_b`` is integrated from its body-frame
angular velocity ``obj.robot.base.ang_vel_b_rt_w_in_b`` at every physics substep, a velocity
command ``cmd.se2_velocity.base`` and two joints driven by a P law whose efforts are the output
``output.joint_targets.pd.effort`` (group metadata ``names`` = the joint names). The last
actions and the processed targets are Memory. ``Bugs`` seeds one bug at a time; all off is the
correct twin.
"""

from __future__ import annotations

import pathlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from exploy.exporter.core.context_manager import Group, Input, Memory, Output
from exploy.exporter.core.exportable_environment import ExportableEnvironment
from exploy.exporter.core.exporter import export_environment_as_onnx

DECIMATION = 4
SIM_DT = 0.01
JOINTS = ["hip", "knee"]
EPISODE = 8


@dataclass
class Bugs:
    """Which bug the environment carries (all False/None: the correct twin)."""

    real_substeps: int | None = None  # physics substeps step() really runs (None: DECIMATION)
    rescale_command: bool = False  # step() rescales the command in place after the substeps
    quaternion_xyzw: bool = False  # the orientation tensor holds x, y, z, w
    command_float64: bool = False  # the command tensor is float64 (actor is float32)
    reset_actions_to: float = 0.0  # value last_actions is reset to (the file says 0 by default)
    declare_initial_actions: bool = False  # put reset_actions_to into the Memory's initial_value
    actor_noise: bool = False  # actor adds torch.randn_like noise (random op in the graph)
    numpy_noise: bool = False  # compute_observations adds numpy noise (baked in as a constant)


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ])


def _exp(omega: np.ndarray, dt: float) -> np.ndarray:
    angle = float(np.linalg.norm(omega)) * dt
    axis = omega / max(float(np.linalg.norm(omega)), 1e-12)
    return np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])


class RobotEnv(ExportableEnvironment):
    """The robot, exportable, calling the tutorial's three evaluation hooks."""

    def __init__(self, bugs: Bugs | None = None) -> None:
        super().__init__()
        self.bugs = bugs or Bugs()
        cmd_dtype = torch.float64 if self.bugs.command_float64 else torch.float32
        self.cmd = torch.tensor([[0.5, -0.2, 0.3]], dtype=cmd_dtype)
        self.quat = torch.zeros(1, 4)
        self.ang_vel = torch.zeros(1, 3)
        self.joint_pos = torch.zeros(1, 2)
        self.last_actions = torch.zeros(1, 2)
        self.targets = torch.zeros(1, 2)
        self.effort = torch.zeros(1, 2)
        self.hooks: tuple[Callable, Callable, Callable] | None = None
        self._q = np.array([1.0, 0.0, 0.0, 0.0])
        self._t = 0
        self._episode_step = 0
        self._rng = np.random.default_rng(0)
        self._reset_state()
        self._register()

    # -- registration ------------------------------------------------------------------------

    def _register(self) -> None:
        cm = self.context_manager()
        initial = {"initial_value": [[self.bugs.reset_actions_to] * 2]} if self.bugs.declare_initial_actions else None
        cm.add_components([
            Input(name="cmd.se2_velocity.base", get_from_env_cb=lambda: self.cmd),
            Memory(name="last_actions", get_from_env_cb=lambda: self.last_actions, metadata=initial),
            Memory(name="targets", get_from_env_cb=lambda: self.targets),
        ])
        cm.add_group(Group(name="obj.robot.base", items=[
            Input(name="w_Q_b", get_from_env_cb=lambda: self.quat),
            Input(name="ang_vel_b_rt_w_in_b", get_from_env_cb=lambda: self.ang_vel),
        ]))
        cm.add_group(Group(name="obj.robot.joints", items=[Input(name="pos", get_from_env_cb=lambda: self.joint_pos)],
                           metadata={"joint_names": JOINTS}))
        cm.add_group(
            Group(
                name="output.joint_targets.pd",
                items=[Output(name="effort", get_from_env_cb=lambda: self.effort)],
                metadata={"names": JOINTS, "stiffness": [20.0, 20.0], "damping": [0.0, 0.0]},
            )
        )

    # -- simulation ---------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self._q = np.array([1.0, 0.0, 0.0, 0.0])
        self._t = 0
        self.joint_pos[:] = torch.tensor([[0.1, -0.2]])
        self.last_actions[:] = self.bugs.reset_actions_to
        self.targets[:] = 0.0
        self._write_sensors()

    def _omega(self) -> np.ndarray:
        t = self._t * SIM_DT
        return np.array([0.8 + 0.2 * np.sin(t), -0.5, 1.2 + 0.3 * np.cos(2 * t)])

    def _write_sensors(self) -> None:
        q = self._q / np.linalg.norm(self._q)
        stored = q[[1, 2, 3, 0]] if self.bugs.quaternion_xyzw else q
        self.quat[:] = torch.tensor(stored, dtype=torch.float32)
        self.ang_vel[:] = torch.tensor(self._omega(), dtype=torch.float32)

    def _physics(self) -> None:
        omega = self._omega()
        self._q = _quat_mul(self._q, _exp(omega, SIM_DT))
        self.joint_pos += SIM_DT * 0.05 * self.effort
        self._t += 1
        self._write_sensors()

    # -- the exported path -------------------------------------------------------------------

    def compute_observations(self) -> torch.Tensor:
        obs = torch.cat([self.cmd, self.quat, self.ang_vel, self.joint_pos, self.last_actions], dim=-1)
        if self.bugs.numpy_noise:
            obs = obs + torch.from_numpy(self._rng.normal(size=obs.shape).astype(np.float32))
        return obs

    def process_actions(self, actions: torch.Tensor) -> None:
        self.last_actions[:] = actions
        self.targets[:] = 0.5 * actions

    def apply_actions(self) -> None:
        self.effort[:] = 20.0 * (self.targets - self.joint_pos)

    # -- stepping ----------------------------------------------------------------------------

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, bool]:
        update, reset, substep = self.hooks or (None, None, None)
        self.process_actions(actions)
        for i in range(self.bugs.real_substeps or DECIMATION):
            self.apply_actions()
            if substep:
                substep(i)
            self._physics()
            if update:
                update()
        if self.bugs.rescale_command:
            self.cmd[:] = self.cmd * 0.9  # a sim-only command curriculum, outside the exported path
        self._episode_step += 1
        done = self._episode_step >= EPISODE
        if done:
            self._episode_step = 0
            self._reset_state()
            if reset:
                reset()
        return self.compute_observations(), done

    @property
    def decimation(self) -> int:
        return DECIMATION

    @property
    def sim_dt(self) -> float:
        return SIM_DT

    def prepare_export(self) -> None:
        pass

    def empty_actor_observations(self) -> torch.Tensor:
        return torch.zeros(1, 14)

    def empty_actions(self) -> torch.Tensor:
        return torch.zeros(1, 2)

    def metadata(self) -> dict:
        return {"robot": "two-joint test robot"}

    def register_evaluation_hooks(self, update, reset, evaluate_substep) -> None:
        self.hooks = (update, reset, evaluate_substep)

    def get_observation_names(self) -> list[str]:
        return (["cmd_vx", "cmd_vy", "cmd_wz", "quat_w", "quat_x", "quat_y", "quat_z", "gyro_x", "gyro_y",
                 "gyro_z"] + [f"pos_{j}" for j in JOINTS] + [f"last_action_{j}" for j in JOINTS])

    def observations_reset(self) -> torch.Tensor:
        return self.compute_observations()


class Actor(torch.nn.Module):
    """A fixed small MLP; with ``noise`` it samples like a training-mode stochastic policy."""

    def __init__(self, noise: bool = False) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.net = torch.nn.Sequential(torch.nn.Linear(14, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
        self.noise = noise

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        out = self.net(obs)
        return out + 0.1 * torch.randn_like(out) if self.noise else out


@dataclass
class Made:
    env: RobotEnv
    actor: Actor
    policy: pathlib.Path | None = None
    notes: list[str] = field(default_factory=list)


def make(bugs: Bugs | None = None, folder: pathlib.Path | None = None, **export_kwargs) -> Made:
    """A fresh environment and actor; exported into ``folder`` when given."""
    bugs = bugs or Bugs()
    made = Made(RobotEnv(bugs), Actor(noise=bugs.actor_noise).eval())
    if folder is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            made.policy = export_environment_as_onnx(env=made.env, actor=made.actor, path=folder, **export_kwargs)
    return made


@dataclass
class Capture:
    """What an independent hook recorder saw, per sim tick."""

    inputs: list[dict[str, np.ndarray]] = field(default_factory=list)  # at the tick (after the last update)
    outputs: list[dict[str, np.ndarray]] = field(default_factory=list)  # right after apply_actions
    obs: list[np.ndarray] = field(default_factory=list)  # the simulator's obs per policy step
    update_inputs: list[dict[str, np.ndarray]] = field(default_factory=list)  # last update() of each step


def capture(env: RobotEnv, actor: torch.nn.Module, steps: int) -> Capture:
    """Run ``env`` with ``actor`` and record, with hooks of this test module (not exploy's),
    the inputs and outputs of every sim tick the environment really ran."""
    cap = Capture()
    names = {"cmd.se2_velocity.base": env.cmd, "obj.robot.base.w_Q_b": env.quat,
             "obj.robot.base.ang_vel_b_rt_w_in_b": env.ang_vel, "obj.robot.joints.pos": env.joint_pos}
    read = lambda: {k: v.detach().numpy().astype(np.float32).copy() for k, v in names.items()}  # noqa: E731
    latest: dict = {}

    def on_update() -> None:
        latest["inputs"] = read()

    def on_substep(i: int) -> None:
        if i > 0:
            cap.inputs.append(latest["inputs"])
        cap.outputs.append({"output.joint_targets.pd.effort": env.effort.numpy().copy()})

    env.hooks = (on_update, lambda: None, on_substep)
    obs = env.observations_reset()
    with torch.no_grad():
        for _ in range(steps):
            cap.inputs.append(read())
            cap.obs.append(obs.numpy().copy())
            obs, _ = env.step(actor(obs.float()))
            cap.update_inputs.append(latest["inputs"])
    env.hooks = None
    return cap


def twin_factory() -> tuple[RobotEnv, Actor]:
    """``exploy record`` factory: the correct robot."""
    return RobotEnv(Bugs()), Actor().eval()


def decimation_bug_factory() -> tuple[RobotEnv, Actor]:
    """``exploy record`` factory: the robot that really runs 2 substeps per policy step."""
    return RobotEnv(Bugs(real_substeps=2)), Actor().eval()
