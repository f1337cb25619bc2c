"""The interface an environment implements to be exported (see the exporter tutorial)."""

from __future__ import annotations

import abc
import inspect
from collections.abc import Callable, Mapping

import torch

from exploy.exporter.core.context_manager import ContextManager

UpdateHook = Callable[[], None]
ResetHook = Callable[[], None]
SubstepHook = Callable[[int], None]


class ExportableEnvironment(abc.ABC):
    """Adapter between an RL environment and the exporter.

    The exporter traces ``compute_observations() -> actor -> process_actions() ->
    apply_actions()`` (the Default path, run once per policy step) and ``apply_actions()``
    alone (the ProcessActions path, run on the other ``decimation - 1`` sim ticks).

    Evaluation hooks (see :meth:`register_evaluation_hooks`) let :func:`evaluate` compare the
    exported file with the environment at every sim substep instead of once per policy step.
    """

    def __init__(self) -> None:
        self._context_manager = ContextManager()

    def context_manager(self) -> ContextManager:
        """The registry of inputs, outputs, memory and modules of this environment."""
        return self._context_manager

    @property
    def sim_dt(self) -> float | None:
        """Simulation time step in seconds, or None when unknown.

        When known, the file records ``update_rate = 1 / sim_dt`` (Hz), the rate the robot
        must tick the graph at.
        """
        return None

    # -- traced ----------------------------------------------------------------------------

    @abc.abstractmethod
    def compute_observations(self) -> torch.Tensor:
        """Actor observations from the current state, using traceable torch ops only."""

    @abc.abstractmethod
    def process_actions(self, actions: torch.Tensor) -> None:
        """Turn raw actor actions into processed actions (once per policy step)."""

    @abc.abstractmethod
    def apply_actions(self) -> None:
        """Apply processed actions at sim rate (every substep), computing the Outputs."""

    # -- evaluation -------------------------------------------------------------------------

    @abc.abstractmethod
    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """Advance one policy step (``decimation`` sim substeps); return ``(obs, done)``."""

    @property
    @abc.abstractmethod
    def decimation(self) -> int:
        """Sim substeps per policy step."""

    @abc.abstractmethod
    def prepare_export(self) -> None:
        """Called before each trace; put the environment in a traceable state."""

    @abc.abstractmethod
    def empty_actor_observations(self) -> torch.Tensor:
        """A zero tensor shaped like the actor observations."""

    @abc.abstractmethod
    def empty_actions(self) -> torch.Tensor:
        """A zero tensor shaped like the actions."""

    @abc.abstractmethod
    def metadata(self) -> dict:
        """Key/value pairs embedded in the file (values that are not str are stored as JSON)."""

    @abc.abstractmethod
    def register_evaluation_hooks(
        self, update: UpdateHook, reset: ResetHook, evaluate_substep: SubstepHook
    ) -> None:
        """Receive the evaluator's hooks. An environment that uses them must call:

        - ``update()`` whenever the state feeding the Inputs changed (e.g. after each physics
          substep, once the sensors are refreshed);
        - ``evaluate_substep(i)`` right after ``apply_actions()`` of sim substep ``i``
          (``0 <= i < decimation``), before the physics step;
        - ``reset()`` when the environment resets (after its state was re-initialised).

        Environments that call no hooks are compared once per policy step; those that do are
        compared at every substep. Implementing this as ``pass`` is allowed.

        Upstream exploy's current two-hook form, ``register_evaluation_hooks(self, update,
        evaluate_substep)``, is accepted too (see :func:`connect_evaluation_hooks`): such an
        environment reports resets only through the ``done`` flag of :meth:`step`.
        """

    @abc.abstractmethod
    def get_observation_names(self) -> list[str]:
        """One name per observation entry (used in evaluation reports)."""

    @abc.abstractmethod
    def observations_reset(self) -> torch.Tensor:
        """Observations at the start of an evaluation."""


def connect_evaluation_hooks(
    env: ExportableEnvironment, *, update: UpdateHook, reset: ResetHook, evaluate_substep: SubstepHook
) -> bool:
    """Hand the hooks to ``env`` in the form its ``register_evaluation_hooks`` takes.

    The tutorial's three-hook form ``(update, reset, evaluate_substep)`` gets all three,
    positionally; upstream's current two-hook form ``(update, evaluate_substep)`` gets those
    two by keyword.

    Returns:
        True when the environment takes the ``reset`` hook.
    """
    register = env.register_evaluation_hooks
    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(register).parameters
    except (TypeError, ValueError):  # builtins or C callables: assume the tutorial's form
        params = {}
    positional = [
        p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    takes_var = any(p.kind is p.VAR_POSITIONAL for p in params.values())
    if params and "reset" not in params and not takes_var and len(positional) == 2:
        register(update=update, evaluate_substep=evaluate_substep)  # type: ignore[call-arg]  # upstream's two-hook form
        return False
    register(update, reset, evaluate_substep)
    return True
