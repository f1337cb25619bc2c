"""Variants of the tutorial environment used across the tests.

- ``RegisteredEnvironment``: processed actions updated in place so they can be registered
  as Memory (the fix the exporter's sim-rate warning asks for).
- ``HookedEnvironment``: calls the evaluation hooks, so evaluation compares every substep.
"""

from __future__ import annotations

import torch
from tutorial_code import DataSource, Environment, ExportableEnv, RNNActor

from exploy.exporter.core.actor import add_actor_memory
from exploy.exporter.core.context_manager import Group, Input, Memory, Output


class RegisteredEnvironment(Environment):
    """The tutorial environment with processed actions kept in one tensor, updated in place."""

    def process_actions(self, actions: torch.Tensor):
        self._actions[:] = actions
        self._processed_action[:] = 3 * actions


class _HookedStep:
    """A step() that calls update / evaluate_substep / reset like a simulator with hooks."""

    hooks = None

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, bool]:
        update, reset, evaluate_substep = self.hooks or (None, None, None)
        self.process_actions(actions)
        for i in range(self._decimation):
            self.apply_actions()
            if evaluate_substep:
                evaluate_substep(i)
            self.data_source.step()
            if update:
                update()
        self._step_count += 1
        done = False
        if self._step_count >= self._reset_after_steps:
            self._step_count = 0
            self._data_source.reset()
            self._actions[:] = 0.0
            self._processed_action = torch.zeros_like(self._actions)
            done = True
            if reset:
                reset()
        return self.compute_obs(), done


class HookedEnvironment(_HookedStep, RegisteredEnvironment):
    """Everything registered, hooks called: parity holds at every substep."""


class HookedTutorialEnvironment(_HookedStep, Environment):
    """The tutorial's unregistered processed actions, with hooks: substeps must diverge."""


class HookedExportableEnv(ExportableEnv):
    """Forwards the evaluation hooks to a HookedEnvironment; knows its sim time step."""

    @property
    def sim_dt(self) -> float:
        return 0.005

    def register_evaluation_hooks(self, update, reset, evaluate_substep):
        self.env.hooks = (update, reset, evaluate_substep)


def register_tutorial_components(exp_env: ExportableEnv, *, processed_as_memory: bool) -> None:
    """The tutorial's components; optionally the processed actions as Memory too."""
    cm = exp_env.context_manager()
    cm.add_components(
        [
            Input(name="foo", get_from_env_cb=lambda: exp_env.env.data_source.foo),
            Output(name="out", get_from_env_cb=lambda: exp_env.env._output),
            Memory(name="actions", get_from_env_cb=lambda: exp_env.env._actions),
        ]
    )
    if processed_as_memory:
        cm.add_component(
            Memory(name="processed_action", get_from_env_cb=lambda: exp_env.env._processed_action)
        )
    cm.add_group(
        Group(
            name="bar_baz_group",
            items=[
                Input(name="bar", get_from_env_cb=lambda: exp_env.env.data_source.bar),
                Input(name="baz", get_from_env_cb=lambda: exp_env.env.data_source.baz),
            ],
        )
    )


def make_registered(env_cls=RegisteredEnvironment, exp_cls=ExportableEnv) -> ExportableEnv:
    """A tutorial-like exportable env with every piece of state registered."""
    exp_env = exp_cls(env=env_cls(DataSource()))
    register_tutorial_components(exp_env, processed_as_memory=True)
    return exp_env


def add_rnn_actor(exp_env: ExportableEnv) -> RNNActor:
    """An LSTM actor initialised and registered as memory (tutorial steps)."""
    actor = RNNActor(num_obs=exp_env.env.num_obs, num_act=exp_env.env.num_act).eval()
    actor(exp_env.empty_actor_observations())
    add_actor_memory(context_manager=exp_env.context_manager(), get_hidden_states_func=actor.get_state)
    return actor
