"""The actor of an rsl_rl runner (its MLP and observation normaliser) as an exportable actor."""

from __future__ import annotations

from typing import Any

import torch

from exploy.exporter.core.actor import ExportableActor
from exploy.frameworks.mjlab.errors import MjlabExportError

__all__ = ["RslRlActor"]


class RslRlActor(ExportableActor):
    """Deterministic output of an rsl_rl ``MLPModel`` or ``RNNModel`` for one flat observation group.

    The model's own ``obs_normalizer`` (an identity when the task trains without one) runs in
    the exported graph; the stochastic head is not sampled (its mean is the action). A
    recurrent model's hidden state (LSTM ``(h, c)`` or GRU ``h``) is exposed by
    :meth:`get_state` for :func:`~exploy.exporter.core.actor.add_actor_memory`.

    Args:
        model: The runner's actor (``runner.alg.actor``), an rsl_rl ``MLPModel`` or ``RNNModel``.
        obs_group: The observation group the exported environment produces.
        clip_actions: Clip actions to ``[-clip_actions, clip_actions]`` as mjlab's rsl_rl wrapper
            does before stepping, or None.

    Raises:
        MjlabExportError: for a model that reads other observation groups or has a CNN encoder.
    """

    def __init__(self, model: torch.nn.Module, *, obs_group: str, clip_actions: float | None = None) -> None:
        super().__init__()
        groups = list(getattr(model, "obs_groups", []))
        if groups != [obs_group]:
            raise MjlabExportError(
                f"the actor reads observation groups {groups}; the mjlab adapter exports actors that read "
                f"exactly the group '{obs_group}'"
            )
        if hasattr(model, "cnn") or hasattr(model, "cnns"):
            raise MjlabExportError("rsl_rl actors with a CNN encoder are not supported by the mjlab adapter")
        self.model: Any = model.eval()  # an rsl_rl actor model: its parts are looked up by name
        self.recurrent = hasattr(model, "rnn") and hasattr(model, "get_hidden_state")
        self.obs_group = obs_group
        self.clip_actions = clip_actions

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        latent = self.model.obs_normalizer(obs)
        if self.recurrent:
            latent = self.model.rnn(latent).squeeze(0)  # rollout mode: the model keeps its state
        out = self.model.mlp(latent)
        distribution = getattr(self.model, "distribution", None)
        if distribution is not None:
            out = distribution.deterministic_output(out)
        if self.clip_actions is not None:
            out = torch.clamp(out, -self.clip_actions, self.clip_actions)
        return out

    def reset(self, dones: torch.Tensor) -> None:
        """Zero the recurrent state of the environments flagged in ``dones``."""
        if self.recurrent:
            self.model.reset(dones)

    def get_state(self) -> tuple[torch.Tensor, ...] | None:
        """The recurrent state as a tuple of tensors (None for an MLP or before the first call)."""
        if not self.recurrent:
            return None
        state = self.model.get_hidden_state()
        if state is None:
            return None
        return tuple(state) if isinstance(state, (tuple, list)) else (state,)
