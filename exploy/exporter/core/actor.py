"""Actors (policy networks) and their recurrent memory."""

from __future__ import annotations

import abc
from collections.abc import Callable

import torch

from exploy.exporter.core.components import Memory
from exploy.exporter.core.context_manager import ContextManager
from exploy.exporter.core.errors import ExportError

ACTOR_STATE_PREFIX = "actor_hidden_state_"


class ExportableActor(torch.nn.Module, abc.ABC):
    """A policy network the exporter can trace."""

    @abc.abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Actions for a batch of observations ``x`` shaped ``(batch, num_obs)``."""

    def reset(self, dones: torch.Tensor) -> None:
        """Reset internal state (e.g. RNN hidden state) of the environments flagged in ``dones``."""

    def get_state(self) -> tuple[torch.Tensor, ...] | None:
        """Internal state tensors, or None for a stateless actor."""
        return None


def make_exportable_actor(actor: torch.nn.Module) -> ExportableActor:
    """Wrap a plain stateless ``torch.nn.Module`` as an :class:`ExportableActor`."""

    class _Wrapped(ExportableActor):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x)

    return _Wrapped(actor)


def add_actor_memory(
    context_manager: ContextManager,
    get_hidden_states_func: Callable[[], tuple[torch.Tensor, ...] | None],
) -> list[str]:
    """Register each hidden-state tensor of a recurrent actor as Memory.

    Call it after one forward pass so the state exists. The tensors become graph inputs
    ``memory.actor_hidden_state_<i>.in`` and outputs ``memory.actor_hidden_state_<i>.out``.

    Returns:
        The registered memory names (empty for a stateless actor).

    Raises:
        ExportError: when the state is not a tuple of tensors.
    """
    state = get_hidden_states_func()
    if state is None:
        return []
    if not isinstance(state, tuple) or not all(isinstance(t, torch.Tensor) for t in state):
        raise ExportError(
            "get_hidden_states_func must return a tuple of tensors (or None); got "
            f"{type(state).__name__}. Run one forward pass before add_actor_memory()."
        )
    registered = []
    for index in range(len(state)):
        name = f"{ACTOR_STATE_PREFIX}{index}"

        def getter(_i: int = index) -> torch.Tensor:
            current = get_hidden_states_func()
            if current is None:
                raise ExportError("The actor's hidden state is None; run a forward pass first")
            return current[_i]

        context_manager.add_component(Memory(name=name, get_from_env_cb=getter))
        registered.append(name)
    return registered
