"""The actor of an rsl_rl runner (its MLP and observation normaliser) as an exportable actor."""

from __future__ import annotations

import torch

from exploy.exporter.core.actor import ExportableActor
from exploy.frameworks.mjlab.errors import MjlabExportError

__all__ = ["RslRlActor"]


class RslRlActor(ExportableActor):
    """Deterministic output of an rsl_rl ``MLPModel`` for one flat observation group.

    The model's own ``obs_normalizer`` (an identity when the task trains without one) runs in
    the exported graph; the stochastic head is not sampled (its mean is the action).

    Args:
        model: The runner's actor (``runner.alg.actor``), an rsl_rl ``MLPModel``.
        obs_group: The observation group the exported environment produces.
        clip_actions: Clip actions to ``[-clip_actions, clip_actions]`` as mjlab's rsl_rl wrapper
            does before stepping, or None.

    Raises:
        MjlabExportError: for a recurrent model or one that reads other observation groups.
    """

    def __init__(self, model: torch.nn.Module, *, obs_group: str, clip_actions: float | None = None) -> None:
        super().__init__()
        groups = list(getattr(model, "obs_groups", []))
        if groups != [obs_group]:
            raise MjlabExportError(
                f"the actor reads observation groups {groups}; the mjlab adapter exports actors that read "
                f"exactly the group '{obs_group}'"
            )
        if getattr(model, "is_recurrent", False) or hasattr(model, "rnn"):
            raise MjlabExportError("recurrent rsl_rl actors are not supported by the mjlab adapter yet")
        self.model = model.eval()
        self.obs_group = obs_group
        self.clip_actions = clip_actions

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        latent = self.model.obs_normalizer(obs)
        out = self.model.mlp(latent)
        distribution = getattr(self.model, "distribution", None)
        if distribution is not None:
            out = distribution.deterministic_output(out)
        if self.clip_actions is not None:
            out = torch.clamp(out, -self.clip_actions, self.clip_actions)
        return out
