"""Stand-ins for mjlab state whose tensors keep their identity, refreshed in place.

mjlab's ``entity.data.*`` properties (``joint_pos``, ``root_link_quat_w``, ...) build a new tensor
on every access, from the simulator's buffers. The exporter matches inputs by tensor identity, so
while tracing an :class:`EntityDataProxy` takes the place of ``entity._data``: its proxied
properties return tensors of its own that :meth:`EntityDataProxy.refresh` overwrites in place from
the live data. The other ``EntityData`` properties are computed from those tensors where they
derive from them (``projected_gravity_b``, ``heading_w``, ...); attributes that are not computed
(``default_joint_pos``, ``joint_pos_target``, ...) are the live ones, so writes from action terms
reach the real buffers. A computed property the proxy does not know is still served from the live
data but recorded in :attr:`EntityDataProxy.unsupported_reads`: the exporter would bake its value
in, so the adapter refuses such an environment with the property's name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from mjlab.entity import Entity, EntityData
from mjlab.utils.lab_api.math import quat_apply, quat_apply_inverse

__all__ = ["PROXIED", "EntityDataProxy", "install_entity_proxies"]

PROXIED: tuple[str, ...] = (
    "joint_pos",
    "joint_vel",
    "root_link_pos_w",
    "root_link_quat_w",
    "root_link_lin_vel_b",
    "root_link_ang_vel_b",
)
"""EntityData properties the proxy keeps as tensors of its own (the candidate graph inputs)."""

_DERIVED = frozenset(
    {
        "joint_pos_biased",
        "projected_gravity_b",
        "heading_w",
        "root_link_pose_w",
        "root_link_lin_vel_w",
        "root_link_ang_vel_w",
        "root_link_vel_w",
    }
)


def _computed_properties() -> frozenset[str]:
    return frozenset(
        name for name in dir(EntityData) if isinstance(getattr(EntityData, name, None), property)
    )


class EntityDataProxy:
    """An ``EntityData`` look-alike whose state tensors keep their identity.

    Args:
        entity: The mjlab entity whose live data this proxy mirrors.
    """

    _COMPUTED = _computed_properties()

    def __init__(self, entity: Entity) -> None:
        live = entity.data
        if isinstance(live, EntityDataProxy):
            raise TypeError("entity data is already proxied")
        self.__dict__["_live"] = live
        self.__dict__["_tensors"] = {name: getattr(live, name).detach().clone() for name in PROXIED}
        self.__dict__["unsupported_reads"] = set()
        self.__dict__["reads"] = set()

    # -- state -------------------------------------------------------------------------------

    @property
    def live(self) -> EntityData:
        """The entity's real ``EntityData``."""
        return self.__dict__["_live"]

    def tensor(self, name: str) -> torch.Tensor:
        """The proxy's own tensor for the proxied property ``name`` (see :data:`PROXIED`)."""
        return self.__dict__["_tensors"][name]

    def _read(self, name: str) -> torch.Tensor:
        # Properties read through here are recorded in `reads`: the adapter registers as
        # Inputs only the tensors the policy path reads.
        self.__dict__["reads"].add(name)
        return self.__dict__["_tensors"][name]

    def tensors(self) -> dict[str, torch.Tensor]:
        """All of the proxy's own tensors by property name."""
        return dict(self.__dict__["_tensors"])

    def refresh(self) -> None:
        """Copy the live values into the proxy's tensors, in place (identity is kept)."""
        live = self.live
        with torch.no_grad():
            for name, tensor in self.__dict__["_tensors"].items():
                tensor.copy_(getattr(live, name))

    # -- proxied and derived properties --------------------------------------------------------

    @property
    def joint_pos(self) -> torch.Tensor:
        return self._read("joint_pos")

    @property
    def joint_vel(self) -> torch.Tensor:
        return self._read("joint_vel")

    @property
    def joint_pos_biased(self) -> torch.Tensor:
        return self.joint_pos + self.live.encoder_bias

    @property
    def root_link_pos_w(self) -> torch.Tensor:
        return self._read("root_link_pos_w")

    @property
    def root_link_quat_w(self) -> torch.Tensor:
        return self._read("root_link_quat_w")

    @property
    def root_link_lin_vel_b(self) -> torch.Tensor:
        return self._read("root_link_lin_vel_b")

    @property
    def root_link_ang_vel_b(self) -> torch.Tensor:
        return self._read("root_link_ang_vel_b")

    @property
    def root_link_pose_w(self) -> torch.Tensor:
        return torch.cat([self.root_link_pos_w, self.root_link_quat_w], dim=-1)

    @property
    def root_link_lin_vel_w(self) -> torch.Tensor:
        return quat_apply(self.root_link_quat_w, self.root_link_lin_vel_b)

    @property
    def root_link_ang_vel_w(self) -> torch.Tensor:
        return quat_apply(self.root_link_quat_w, self.root_link_ang_vel_b)

    @property
    def root_link_vel_w(self) -> torch.Tensor:
        return torch.cat([self.root_link_lin_vel_w, self.root_link_ang_vel_w], dim=-1)

    @property
    def projected_gravity_b(self) -> torch.Tensor:
        return quat_apply_inverse(self.root_link_quat_w, self.live.gravity_vec_w)

    @property
    def heading_w(self) -> torch.Tensor:
        forward_w = quat_apply(self.root_link_quat_w, self.live.forward_vec_b)
        return torch.atan2(forward_w[:, 1], forward_w[:, 0])

    # -- everything else: the live data ---------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        # Only called for names not found on the proxy: plain attributes and computed
        # properties of the live data that the proxy does not mirror.
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self._COMPUTED and name not in PROXIED and name not in _DERIVED:
            self.__dict__["unsupported_reads"].add(name)
        return getattr(self.__dict__["_live"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.live, name, value)


@contextmanager
def install_entity_proxies(entities: dict[str, Entity], proxies: dict[str, EntityDataProxy]) -> Iterator[None]:
    """Put each proxy in place of its entity's data for the duration of the block."""
    swapped: list[tuple[Entity, Any]] = []
    try:
        for name, proxy in proxies.items():
            entity = entities[name]
            swapped.append((entity, entity._data))
            entity._data = proxy
        yield
    finally:
        for entity, original in reversed(swapped):
            entity._data = original
