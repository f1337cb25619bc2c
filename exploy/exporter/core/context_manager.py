"""The registry of everything that crosses the exported graph's boundary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from exploy.exporter.core.components import Component, Group, Input, Memory, Output
from exploy.exporter.core.errors import ExportError
from exploy.format import names
from exploy.format.metadata import RESERVED_KEYS, ComponentKind, ComponentSpec, GroupSpec

__all__ = ["ContextManager", "Group", "Input", "Memory", "Output", "Registered"]


@dataclass(frozen=True)
class Registered:
    """A component under its full name, with the group that holds it."""

    name: str
    component: Component
    group: str | None

    @property
    def kind(self) -> ComponentKind:
        return ComponentKind(self.component.kind)

    @property
    def input_name(self) -> str | None:
        """Graph input name (``memory.<name>.in`` for memory), None for outputs."""
        if isinstance(self.component, Memory):
            return names.memory_input_name(self.name)
        return self.name if isinstance(self.component, Input) else None

    @property
    def output_name(self) -> str | None:
        """Graph output name (``memory.<name>.out`` for memory), None for inputs."""
        if isinstance(self.component, Memory):
            return names.memory_output_name(self.name)
        return self.name if isinstance(self.component, Output) else None

    def read(self) -> torch.Tensor:
        return self.component.read()

    def spec(self) -> ComponentSpec:
        """The component's entry in the file's index (shape and dtype of its current value)."""
        value = self.read()
        dtype = str(value.detach().cpu().numpy().dtype)
        return ComponentSpec(
            name=self.name,
            kind=self.kind,
            shape=tuple(value.shape),
            dtype=dtype,
            group=self.group,
            metadata=self.component.metadata,
        )


class ContextManager:
    """Registers inputs, outputs, memory, groups and torch modules of an exportable environment.

    Names are unique across components and groups; the same tensor cannot be registered as
    two inputs/memories (the tracer could not tell them apart).
    """

    def __init__(self) -> None:
        self._registered: list[Registered] = []
        self._groups: list[GroupSpec] = []
        self._modules: list[torch.nn.Module] = []

    # -- registration -----------------------------------------------------------------------

    def add_component(self, component: Component, *, group: str | None = None) -> None:
        """Register one Input, Output or Memory.

        Raises:
            ExportError: for a duplicate name, a tensor already registered under another
                name, or an object that is not a component.
        """
        if not isinstance(component, Component):
            raise ExportError(
                f"Expected Input, Output or Memory, got {type(component).__name__}; "
                "use add_group() for groups"
            )
        full = component.name if group is None else names.group_member_name(group, component.name)
        self._check_name_free(full)
        if not isinstance(component, Memory) and full in (names.STEP_COUNT, names.ACTIONS, names.OBS):
            raise ExportError(f"'{full}' is a reserved graph name in exploy files; rename the component")
        entry = Registered(full, component, group)
        if not isinstance(component, Output):
            self._check_tensor_free(entry)
        self._registered.append(entry)

    def add_components(self, components: Iterable[Component]) -> None:
        """Register several components (see :meth:`add_component`)."""
        for component in components:
            self.add_component(component)

    def add_group(self, group: Group, *, parent: str | None = None) -> None:
        """Register a group and, recursively, its items under ``<group>.<item>`` names."""
        if not isinstance(group, Group):
            raise ExportError(f"add_group() expects a Group, got {type(group).__name__}")
        full = group.name if parent is None else names.group_member_name(parent, group.name)
        self._check_name_free(full)
        members: list[str] = []
        for item in group.items:
            if isinstance(item, Group):
                self.add_group(item, parent=full)
                members.append(names.group_member_name(full, item.name))
            else:
                self.add_component(item, group=full)
                members.append(names.group_member_name(full, item.name))
        self._groups.append(GroupSpec(full, tuple(members), parent, group.metadata))

    def add_module(self, module: torch.nn.Module) -> None:
        """Register a torch module used by the environment so its weights land in the file."""
        if not isinstance(module, torch.nn.Module):
            raise ExportError(f"add_module() expects a torch.nn.Module, got {type(module).__name__}")
        if not any(module is m for m in self._modules):
            self._modules.append(module)

    def _check_name_free(self, name: str) -> None:
        if name in RESERVED_KEYS:
            raise ExportError(f"'{name}' is a reserved metadata key in exploy files; rename it")
        for entry in self._registered:
            if entry.name == name:
                raise ExportError(
                    f"Cannot register '{name}': a {entry.component.kind} named '{name}' is already registered"
                )
        for grp in self._groups:
            if grp.name == name:
                raise ExportError(f"Cannot register '{name}': a group named '{name}' already exists")

    def _check_tensor_free(self, new: Registered) -> None:
        try:
            tensor = new.read()
        except ExportError:
            raise  # the callback returned something that is not a tensor
        except Exception:  # state not built yet: checked again at export
            return
        for entry in self.graph_inputs():
            try:
                other = entry.read()
            except Exception:
                continue
            if other is tensor:
                raise ExportError(
                    f"{new.component.kind} '{new.name}' returns the same tensor as "
                    f"{entry.component.kind} '{entry.name}'; register each tensor once"
                )

    # -- queries ----------------------------------------------------------------------------

    @property
    def components(self) -> tuple[Registered, ...]:
        """All registered components, in registration order."""
        return tuple(self._registered)

    @property
    def groups(self) -> tuple[GroupSpec, ...]:
        return tuple(self._groups)

    @property
    def modules(self) -> tuple[torch.nn.Module, ...]:
        """Registered torch modules."""
        return tuple(self._modules)

    def inputs(self) -> list[Registered]:
        return [e for e in self._registered if isinstance(e.component, Input)]

    def outputs(self) -> list[Registered]:
        return [e for e in self._registered if isinstance(e.component, Output)]

    def memories(self) -> list[Registered]:
        return [e for e in self._registered if isinstance(e.component, Memory)]

    def graph_inputs(self) -> list[Registered]:
        """Inputs then memory: the order of graph inputs (before ``ctx.step_count``)."""
        return self.inputs() + self.memories()

    def graph_outputs(self) -> list[Registered]:
        """Outputs then memory: the order of graph outputs (after ``actions`` and ``obs``)."""
        return self.outputs() + self.memories()

    def get_input_names(self) -> list[str]:
        return [e.input_name for e in self.graph_inputs()]  # type: ignore[misc]  # graph inputs/outputs always have the name

    def get_output_names(self) -> list[str]:
        return [e.output_name for e in self.graph_outputs()]  # type: ignore[misc]  # graph inputs/outputs always have the name

    def get_inputs(self, to_numpy: bool = False) -> dict[str, Any]:
        """Current input and memory values by graph input name."""
        return {e.input_name: _value(e, to_numpy) for e in self.graph_inputs()}  # type: ignore[misc]  # graph inputs/outputs always have the name

    def get_outputs(self, to_numpy: bool = False) -> dict[str, Any]:
        """Current output and memory values by graph output name."""
        return {e.output_name: _value(e, to_numpy) for e in self.graph_outputs()}  # type: ignore[misc]  # graph inputs/outputs always have the name

    def specs(self) -> list[ComponentSpec]:
        """The component index written into the file."""
        return [e.spec() for e in self._registered]

    @property
    def metadata(self) -> dict[str, Any]:
        """Component and group metadata by full name (only those that carry metadata)."""
        meta = {e.name: e.component.metadata for e in self._registered if e.component.metadata is not None}
        meta.update({g.name: g.metadata for g in self._groups if g.metadata is not None})
        return meta


def _value(entry: Registered, to_numpy: bool) -> Any:
    value = entry.read()
    if to_numpy:
        return value.detach().cpu().numpy().copy()
    return value
