"""What both example quadrupeds share around a :class:`QuadrupedTask`: the task and its buffers
under the environment's names, the evaluation loop, and the export methods.

A subclass builds its simulator, then calls :meth:`QuadrupedEnvironment._set_up_task`, and
provides the physics (:meth:`physics_step`, :meth:`reset_physics`), the buffer reset
(``_reset_buffers``) and the traced methods reading its own state tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from exploy.examples.quadruped_sim import NUM_JOINTS
from exploy.examples.quadruped_task import QuadrupedTask, StateGetters, env_metadata, observation_names
from exploy.exporter.core.exportable_environment import ExportableEnvironment

__all__ = ["QuadrupedEnvironment"]


class QuadrupedEnvironment(ExportableEnvironment):
    """The shared part of the example quadruped environments (see the module docstring).

    Class attributes ``ROBOT`` and ``EXAMPLE`` name the robot and the example module in the
    file's metadata.
    """

    ROBOT = ""
    EXAMPLE = ""
    cfg: Any  # the subclass's config: decimation, episode_length, history_length, scales, gains

    def _set_up_task(self, cfg: Any, *, effort_limits: Sequence[float], state: StateGetters) -> None:
        """Check ``cfg``, build the task, and expose its buffers under the environment's names.

        Raises:
            ValueError: when decimation, episode length or history length is below 1.
        """
        if cfg.decimation < 1 or cfg.episode_length < 1 or cfg.history_length < 1:
            raise ValueError(f"decimation, episode_length and history_length must be >= 1: {cfg}")
        self.cfg = cfg
        self.task = task = QuadrupedTask(
            history_length=cfg.history_length,
            action_scale=cfg.action_scale,
            kp=cfg.kp,
            kd=cfg.kd,
            effort_limits=list(effort_limits),
            ang_vel_scale=cfg.ang_vel_scale,
            joint_vel_scale=cfg.joint_vel_scale,
            command_scale=cfg.command_scale,
        )
        self._state = state
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

    # -- to provide -------------------------------------------------------------------------

    def physics_step(self) -> None:
        """One physics step with the current ``joint_effort``."""
        raise NotImplementedError

    def reset_physics(self) -> None:
        """The simulator back to its initial state."""
        raise NotImplementedError

    def _reset_buffers(self) -> None:
        raise NotImplementedError

    # -- state ------------------------------------------------------------------------------

    @property
    def decimation(self) -> int:
        return self.cfg.decimation

    @property
    def episode_step(self) -> int:
        """Policy steps taken since the last reset."""
        return self._episode_step

    def reset(self) -> torch.Tensor:
        """Restore the initial state of robot and buffers; returns the first observations."""
        self.reset_physics()
        self._reset_buffers()
        return self.compute_observations()

    # -- evaluation loop --------------------------------------------------------------------

    def register_evaluation_hooks(
        self,
        update: Callable[[], None],
        reset: Callable[[], None],
        evaluate_substep: Callable[[int], None],
    ) -> None:
        """Store the evaluator's callbacks; :meth:`step` calls them (see there for the order)."""
        self._hook_update = update
        self._hook_reset = reset
        self._hook_substep = evaluate_substep

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """Advance one policy step.

        Order: ``process_actions(actions)``; then per sim tick ``i``: ``apply_actions()``,
        ``evaluate_substep(i)``, physics tick, ``update()``. After ``episode_length`` policy steps
        the state is reset and ``reset()`` is called, followed by ``update()``.

        Returns:
            The next observations and whether the episode was reset.
        """
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
            self.reset_physics()
            self._reset_buffers()
            if self._hook_reset is not None:
                self._hook_reset()
            if self._hook_update is not None:
                self._hook_update()
        return self.compute_observations(), done

    # -- export -----------------------------------------------------------------------------

    def prepare_export(self) -> None:
        """Nothing to prepare: every tensor the graph reads is registered at construction."""

    def empty_actor_observations(self) -> torch.Tensor:
        return torch.zeros(1, len(self.get_observation_names()))

    def empty_actions(self) -> torch.Tensor:
        return torch.zeros(1, NUM_JOINTS)

    def metadata(self) -> dict[str, str]:
        return env_metadata(self.ROBOT, self.EXAMPLE)

    def get_observation_names(self) -> list[str]:
        return observation_names(self.cfg.history_length)

    def observations_reset(self) -> torch.Tensor:
        """Observations of the current state, without resetting it.

        The evaluator reads the memory before calling this, so it must not change the state;
        call :meth:`reset` to restore the initial state.
        """
        return self.compute_observations()
