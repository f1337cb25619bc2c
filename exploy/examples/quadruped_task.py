"""The locomotion task both example quadrupeds share, whatever simulates them.

:mod:`exploy.examples.legged_robot` (plain torch) and :mod:`exploy.examples.mujoco_quadruped`
(MuJoCo) differ in where the robot's state comes from; the policy side is the same and lives
here: the observation vector and its names, the action processing (targets and the joint
history), the PD law, and the components registered with upstream exploy's names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import torch

from exploy.examples.quadruped_sim import JOINT_NAMES, NUM_JOINTS, quat_rotate_inverse
from exploy.exporter.core.context_manager import ContextManager, Group, Input, Memory, Output
from exploy.format.names import INITIAL_VALUE_KEY

Getter = Callable[[], torch.Tensor]

GRAVITY_W = (0.0, 0.0, -1.0)
"""World gravity direction; its base-frame image is the ``projected_gravity`` observation."""


@dataclass(frozen=True)
class StateGetters:
    """Callbacks returning the very tensors the simulator updates in place (the graph's inputs)."""

    joint_pos: Getter
    joint_vel: Getter
    base_quat: Getter
    base_ang_vel: Getter
    command: Getter

    @classmethod
    def of(cls, holder: object) -> StateGetters:
        """Getters reading ``holder``'s attributes of the same names when called (so they return
        whatever tensors the holder keeps there, updated in place by its simulator)."""
        return cls(**{f.name: (lambda name=f.name: getattr(holder, name)) for f in fields(cls)})


class QuadrupedTask:
    """Policy-side buffers and traced math of the example task.

    Args:
        history_length: Policy steps of relative joint positions kept in memory.
        action_scale: Joint target = default + action_scale * action (rad).
        kp, kd: PD gains, every joint.
        effort_limits: |effort| bound per joint (Nm), one per joint.
        ang_vel_scale, joint_vel_scale, command_scale: Observation scales.
    """

    def __init__(
        self,
        *,
        history_length: int,
        action_scale: float,
        kp: float,
        kd: float,
        effort_limits: Sequence[float],
        ang_vel_scale: float,
        joint_vel_scale: float,
        command_scale: Sequence[float],
    ) -> None:
        self.history_length = history_length
        self.action_scale = action_scale
        self.kp, self.kd = kp, kd
        self.ang_vel_scale, self.joint_vel_scale = ang_vel_scale, joint_vel_scale
        self.effort_limits = [float(v) for v in effort_limits]
        self.effort_limit = torch.tensor([self.effort_limits])
        self.gravity_w = torch.tensor([GRAVITY_W])
        self.command_scale = torch.tensor([list(command_scale)])
        n = NUM_JOINTS
        # Memory: persists across policy steps inside the exported graph.
        self.last_actions = torch.zeros(1, n)
        self.joint_pos_target = torch.zeros(1, n)
        self.joint_pos_history = torch.zeros(1, n * history_length)
        # Outputs written by apply() at the sim rate.
        self.joint_effort = torch.zeros(1, n)
        self.joint_pos_command = torch.zeros(1, n)
        self.joint_vel_command = torch.zeros(1, n)

    def reset(self, *, joint_pos: torch.Tensor, default_joint_pos: torch.Tensor) -> None:
        """Buffers as after a reset with the robot at ``joint_pos``."""
        self.last_actions.zero_()
        self.joint_pos_target[:] = default_joint_pos
        self.joint_pos_history[:] = (joint_pos - default_joint_pos).repeat(1, self.history_length)
        self.joint_effort.zero_()
        self.joint_pos_command[:] = self.joint_pos_target
        self.joint_vel_command.zero_()

    # -- traced -----------------------------------------------------------------------------

    def observations(self, state: StateGetters, default_joint_pos: torch.Tensor) -> torch.Tensor:
        """The observation vector, in the order of :func:`observation_names`."""
        return torch.cat(
            [
                state.base_ang_vel() * self.ang_vel_scale,
                quat_rotate_inverse(state.base_quat(), self.gravity_w),
                state.command() * self.command_scale,
                state.joint_pos() - default_joint_pos,
                state.joint_vel() * self.joint_vel_scale,
                self.last_actions,
                self.joint_pos_history,
            ],
            dim=-1,
        )

    def process_actions(self, actions: torch.Tensor, joint_pos: torch.Tensor, default_joint_pos: torch.Tensor) -> None:
        """Store the actions, set the joint targets and push the current joints into the history."""
        self.last_actions[:] = actions
        self.joint_pos_target[:] = default_joint_pos + self.action_scale * actions
        self.joint_pos_history[:] = torch.cat(
            [self.joint_pos_history[:, NUM_JOINTS:], joint_pos - default_joint_pos], dim=-1
        )

    def apply(
        self, joint_pos: torch.Tensor, joint_vel: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor
    ) -> None:
        """PD law at sim rate towards the target clamped to ``[lower, upper]``, effort clamped.

        Outputs are derived from expressions, never ``buf[:] = memory_tensor``: torch's
        TorchScript ONNX export drops an earlier in-place write to a Memory tensor that is then
        copied verbatim ("Removing mutation from node aten::copy_ on block input").
        """
        target = torch.minimum(torch.maximum(self.joint_pos_target, lower), upper)
        effort = self.kp * (target - joint_pos) - self.kd * joint_vel
        self.joint_effort[:] = torch.minimum(torch.maximum(effort, -self.effort_limit), self.effort_limit)
        self.joint_pos_command[:] = target
        self.joint_vel_command[:] = torch.zeros_like(target)  # the PD law's velocity target

    # -- registration -----------------------------------------------------------------------

    def register(
        self,
        cm: ContextManager,
        state: StateGetters,
        *,
        position_limits: Sequence[Sequence[float]],
        base_group_metadata: dict | None = None,
    ) -> None:
        """Register inputs, outputs and memory under upstream exploy's names.

        The joint-target group carries what upstream's C++ controller reads (``names``,
        ``stiffness``, ``damping``) and what the node's safety layer clamps to
        (``position_limits``, ``effort_limits``, one entry per joint). Memory that does not start
        at zero carries its reset value, so the runtime starts and resets where the sim does.
        """
        cm.add_group(
            Group(
                name="obj.robot.joints",
                items=[
                    Input(name="pos", get_from_env_cb=state.joint_pos),
                    Input(name="vel", get_from_env_cb=state.joint_vel),
                ],
                metadata={"joint_names": list(JOINT_NAMES)},
            )
        )
        cm.add_group(
            Group(
                name="obj.robot.base",
                items=[
                    Input(name="w_Q_b", get_from_env_cb=state.base_quat),
                    Input(name="ang_vel_b_rt_w_in_b", get_from_env_cb=state.base_ang_vel),
                ],
                metadata=base_group_metadata,
            )
        )
        cm.add_component(
            Input(
                name="cmd.se2_velocity.base_velocity",
                get_from_env_cb=state.command,
                metadata={"description": "Base velocity command (vx, vy, wz) in the base frame."},
            )
        )
        cm.add_group(
            Group(
                name="output.joint_targets.pd",
                items=[
                    Output(name="effort", get_from_env_cb=lambda: self.joint_effort),
                    Output(name="pos", get_from_env_cb=lambda: self.joint_pos_command),
                    Output(name="vel", get_from_env_cb=lambda: self.joint_vel_command),
                ],
                metadata={
                    "type": "joint_targets",
                    "names": list(JOINT_NAMES),
                    "stiffness": [self.kp] * NUM_JOINTS,
                    "damping": [self.kd] * NUM_JOINTS,
                    "position_limits": [list(pair) for pair in position_limits],
                    "effort_limits": list(self.effort_limits),
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


def observation_names(history_length: int) -> list[str]:
    """Names of the observation entries (history oldest first)."""
    names = [f"base_ang_vel_{a}" for a in "xyz"]
    names += [f"projected_gravity_{a}" for a in "xyz"]
    names += ["cmd_vx", "cmd_vy", "cmd_wz"]
    names += [f"joint_pos_rel_{j}" for j in JOINT_NAMES]
    names += [f"joint_vel_{j}" for j in JOINT_NAMES]
    names += [f"last_action_{j}" for j in JOINT_NAMES]
    for lag in range(history_length, 0, -1):
        names += [f"joint_pos_rel_lag{lag}_{j}" for j in JOINT_NAMES]
    return names


def env_metadata(robot: str, example: str) -> dict[str, str]:
    """Environment metadata; ``base_names`` (``{articulation: base body}``) is read by upstream's
    controller to tell the floating base's ``obj.<art>.<base>.*`` inputs from other bodies."""
    return {"robot": robot, "example": example, "base_names": json.dumps({"robot": "base"})}
