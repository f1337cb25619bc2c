"""Components that cross the boundary of the exported graph: inputs, outputs, memory, groups."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import torch

from exploy.exporter.core.errors import ExportError

TensorGetter = Callable[[], torch.Tensor]


def _check_metadata(name: str, metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise ExportError(f"Metadata of '{name}' must be a dict, got {type(metadata).__name__}")
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as err:
        raise ExportError(
            f"Metadata of '{name}' is not JSON-serialisable ({err}); use str, numbers, lists, dicts."
        ) from err
    return metadata


class Component:
    """A named tensor of the environment that the exported graph reads or writes.

    Args:
        name: Component name; inside a group the full name becomes ``<group>.<name>``.
        get_from_env_cb: Returns the environment's tensor. For inputs and memory it must be
            the very tensor object the environment's code reads (the exporter maps graph
            inputs to it by identity while tracing), updated in place by the environment.
        metadata: Optional JSON-serialisable dict embedded in the file under the full name.
    """

    kind: str = "component"

    def __init__(
        self,
        name: str,
        get_from_env_cb: TensorGetter,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name or name != name.strip():
            raise ExportError(f"Component name must be a non-empty string without spaces, got {name!r}")
        if not callable(get_from_env_cb):
            raise ExportError(f"get_from_env_cb of '{name}' must be callable")
        self.name = name
        self.get_from_env_cb = get_from_env_cb
        self.metadata = _check_metadata(name, metadata)

    def read(self) -> torch.Tensor:
        """Current value from the environment, checked to be a tensor."""
        value = self.get_from_env_cb()
        if not isinstance(value, torch.Tensor):
            raise ExportError(
                f"get_from_env_cb of {self.kind} '{self.name}' returned {type(value).__name__}, "
                "expected a torch.Tensor"
            )
        return value

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Input(Component):
    """State read from the robot/simulator and fed into the graph."""

    kind = "input"


class Output(Component):
    """A value computed by the environment (typically in ``apply_actions``) sent to the robot."""

    kind = "output"


class Memory(Component):
    """State that persists across ticks: graph input ``memory.<name>.in``, output ``memory.<name>.out``."""

    kind = "memory"


class Group:
    """A named set of components (and nested groups); members are named ``<group>.<item>``.

    Args:
        name: Group name.
        items: Inputs, outputs, memory or nested groups.
        metadata: Optional JSON-serialisable dict embedded in the file under the group's full name.
    """

    def __init__(
        self,
        name: str,
        items: Sequence[Component | Group],
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ExportError(f"Group name must be a non-empty string, got {name!r}")
        for item in items:
            if not isinstance(item, (Component, Group)):
                raise ExportError(
                    f"Group '{name}' holds {type(item).__name__}; expected Input, Output, Memory or Group"
                )
        self.name = name
        self.items = list(items)
        self.metadata = _check_metadata(name, metadata)

    def __repr__(self) -> str:
        return f"Group(name={self.name!r}, items={self.items!r})"
