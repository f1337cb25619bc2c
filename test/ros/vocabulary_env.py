"""A small torch environment whose components use every family of upstream exploy's vocabulary.

Exported through the exporter API, it gives a policy file whose default topics use every typed
adapter (Odometry, PoseStamped, TwistStamped, Imu, Bool, Float32, JointState commands, a height
grid, Twist outputs, JointState targets). Its state is random (seeded), so a recording exercises
every value; the graph mixes every input into the outputs so a wrong field or order shows.
"""

from __future__ import annotations

import json
import math
import pathlib
from collections.abc import Callable

import torch

from exploy.exporter.core.context_manager import Group, Input, Memory, Output
from exploy.exporter.core.exportable_environment import ExportableEnvironment
from exploy.exporter.core.exporter import export_environment_as_onnx

LEGS = ("hip", "knee", "ankle")
ARM = ("a1", "a2", "a3")
GRID = {"pattern_type": "grid_pattern", "resolution": 0.1, "size_x": 0.4, "size_y": 0.2,
        "offset_x": 0.0, "offset_y": 0.0, "articulation_name": "robot"}
GRID_CELLS = 15  # 3 rows (y) x 5 columns (x)
DECIMATION = 2
_VEC3 = ("obj.robot.joints.pos", "obj.robot.joints.vel", "obj.robot.base.pos_b_rt_w_in_w",
         "obj.robot.base.lin_vel_b_rt_w_in_b", "obj.robot.base.ang_vel_b_rt_w_in_b", "obj.robot.hand.pos_b_rt_w_in_w",
         "sensor.imu.chest.ang_vel_b_rt_w_in_b", "sensor.imu.chest.lin_vel_b_rt_w_in_b", "cmd.joint_pos.arm",
         "cmd.se2_velocity.base_velocity")
_QUATS = ("obj.robot.base.w_Q_b", "obj.robot.hand.w_Q_b", "sensor.imu.chest.w_Q_b")


def random_quat(gen: torch.Generator) -> torch.Tensor:
    q = torch.randn(1, 4, generator=gen)
    return q / q.norm()


class VocabularyEnv(ExportableEnvironment):
    """Random state in upstream's names; a linear actor; outputs mixing every input."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.gen = torch.Generator().manual_seed(seed)
        self.state: dict[str, torch.Tensor] = {n: torch.zeros(1, 3) for n in _VEC3}
        self.state.update({n: torch.tensor([[1.0, 0.0, 0.0, 0.0]]) for n in _QUATS})
        self.state["cmd.se3_pose.target"] = torch.zeros(1, 7)
        self.state["cmd.float.height"] = torch.zeros(1, 1)
        self.state["sensor.ray_caster.scan.height"] = torch.zeros(1, GRID_CELLS)
        self.stand = torch.zeros(1, 1, dtype=torch.bool)
        self.last_actions = torch.zeros(1, 3)
        self.legs_pos = torch.zeros(1, 3)
        self.legs_vel = torch.zeros(1, 3)
        self.arm_pos = torch.zeros(1, 3)
        self.arm_effort = torch.zeros(1, 3)
        self.walk = torch.zeros(1, 3)
        self._hooks: tuple[Callable, ...] | None = None
        self._randomize()
        self._register()

    def _randomize(self) -> None:
        for value in self.state.values():
            value[:] = torch.randn(value.shape, generator=self.gen)
        for name in _QUATS:
            self.state[name][:] = random_quat(self.gen)
        self.state["cmd.se3_pose.target"][:, 3:] = random_quat(self.gen)
        self.stand[:] = torch.rand(1, 1, generator=self.gen) > 0.5

    def _register(self) -> None:
        cm = self.context_manager()
        state = self.state
        by_group: dict[str, list[str]] = {}
        for name in state:
            group, item = name.rsplit(".", 1)
            by_group.setdefault(group, []).append(item)
        metadata = {"obj.robot.joints": {"joint_names": list(LEGS)}, "sensor.ray_caster.scan": dict(GRID)}
        component_metadata = {
            "cmd.joint_pos.arm": {"joint_names": list(ARM)},
            "cmd.float.height": {"range": [-5.0, 5.0]},
        }
        for name in list(state):
            if name in component_metadata or name.startswith("cmd."):
                cm.add_component(Input(name=name, get_from_env_cb=lambda n=name: state[n],
                                       metadata=component_metadata.get(name)))
        cm.add_component(Input(name="cmd.boolean.stand", get_from_env_cb=lambda: self.stand))
        for group, items in by_group.items():
            if group.startswith("cmd"):
                continue
            cm.add_group(Group(name=group, metadata=metadata.get(group), items=[
                Input(name=item, get_from_env_cb=lambda n=f"{group}.{item}": state[n]) for item in items]))
        gains = {"stiffness": [20.0] * 3, "damping": [0.5] * 3}
        cm.add_group(Group(name="output.joint_targets.legs", metadata={"names": list(LEGS), **gains}, items=[
            Output(name="pos", get_from_env_cb=lambda: self.legs_pos),
            Output(name="vel", get_from_env_cb=lambda: self.legs_vel)]))
        cm.add_group(Group(name="output.joint_targets.arm", metadata={"names": list(ARM), **gains}, items=[
            Output(name="pos", get_from_env_cb=lambda: self.arm_pos),
            Output(name="effort", get_from_env_cb=lambda: self.arm_effort)]))
        cm.add_component(Output(name="output.se2_velocity.walk", get_from_env_cb=lambda: self.walk,
                                metadata={"target_frame": "base_link"}))
        cm.add_component(Memory(name="last_actions", get_from_env_cb=lambda: self.last_actions))

    @property
    def sim_dt(self) -> float:
        return 0.005

    @property
    def decimation(self) -> int:
        return DECIMATION

    def compute_observations(self) -> torch.Tensor:
        parts = [self.state[n].reshape(1, -1) for n in sorted(self.state)]
        return torch.cat([*parts, self.stand.float(), self.last_actions], dim=-1)

    def process_actions(self, actions: torch.Tensor) -> None:
        self.last_actions[:] = actions

    def apply_actions(self) -> None:
        s = self.state
        self.legs_pos[:] = s["obj.robot.joints.pos"] + self.last_actions
        self.legs_vel[:] = s["obj.robot.joints.vel"] * 0.5 - self.last_actions
        self.arm_pos[:] = s["cmd.joint_pos.arm"] + s["sensor.ray_caster.scan.height"][:, :3]
        self.arm_effort[:] = s["obj.robot.base.w_Q_b"][:, 1:] * s["cmd.float.height"] + self.stand.float()
        self.walk[:] = s["cmd.se2_velocity.base_velocity"] + s["cmd.se3_pose.target"][:, 4:]

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, bool]:
        self.process_actions(actions)
        for i in range(DECIMATION):
            self.apply_actions()
            if self._hooks:
                self._hooks[2](i)
            self._randomize()
            if self._hooks:
                self._hooks[0]()
        return self.compute_observations(), False

    def prepare_export(self) -> None:
        pass

    def empty_actor_observations(self) -> torch.Tensor:
        return torch.zeros_like(self.compute_observations())

    def empty_actions(self) -> torch.Tensor:
        return torch.zeros(1, 3)

    def metadata(self) -> dict:
        return {"base_names": json.dumps({"robot": "base"})}

    def register_evaluation_hooks(self, update, reset, evaluate_substep) -> None:
        self._hooks = (update, reset, evaluate_substep)

    def get_observation_names(self) -> list[str]:
        return [f"o{i}" for i in range(self.compute_observations().shape[-1])]

    def observations_reset(self) -> torch.Tensor:
        return self.compute_observations()


def make_actor(env: VocabularyEnv, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    actor = torch.nn.Sequential(torch.nn.Linear(env.compute_observations().shape[-1], 3), torch.nn.Tanh())
    return actor.eval()


def export_vocabulary(folder: pathlib.Path, seed: int = 0) -> pathlib.Path:
    """Export the environment with a seeded actor; returns the policy file."""
    env = VocabularyEnv(seed)
    return export_environment_as_onnx(env=env, actor=make_actor(env, seed), path=folder)


assert math.isclose(GRID["size_x"] / GRID["resolution"] + 1, 5) and GRID_CELLS == 15
