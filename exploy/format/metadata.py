"""Metadata of an exploy policy file: keys, the component index, and a typed reader.

The exporter writes string key/value pairs into the ONNX ``metadata_props``:

- ``exploy_version``: JSON string of the exporter version.
- ``decimation``: sim ticks per policy step (int, as text).
- ``update_rate``: sim rate in Hz (float, as text), when the sim time step is known.
- ``exploy.components``: JSON index of every component (see :class:`ComponentSpec`), so a
  runtime never has to guess kinds or groups from names.
- ``exploy.observation_names``: JSON list naming each observation entry.
- one key per component and group that carries metadata, holding that metadata as JSON.
- the environment's own ``metadata()`` entries, verbatim.
"""

from __future__ import annotations

import enum
import math
import json
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exploy.format import names
from exploy.format.errors import PolicyFormatError

KEY_EXPLOY_VERSION = "exploy_version"
KEY_DECIMATION = "decimation"
KEY_UPDATE_RATE = "update_rate"
KEY_COMPONENTS = "exploy.components"
KEY_OBSERVATION_NAMES = "exploy.observation_names"
KEY_MODEL_SOURCE = "model_source"
KEY_DATE_EXPORTED = "date_exported (YYMMDD.HHMMSS)"

RESERVED_KEYS = frozenset(
    {
        KEY_EXPLOY_VERSION,
        KEY_DECIMATION,
        KEY_UPDATE_RATE,
        KEY_COMPONENTS,
        KEY_OBSERVATION_NAMES,
        KEY_MODEL_SOURCE,
        KEY_DATE_EXPORTED,
    }
)

INDEX_FORMAT_VERSION = 1


class ComponentKind(str, enum.Enum):
    """How a component crosses the graph boundary."""

    INPUT = "input"
    OUTPUT = "output"
    MEMORY = "memory"


@dataclass(frozen=True)
class ComponentSpec:
    """One registered component of a policy file.

    Attributes:
        name: Full component name (group members are ``<group>.<item>``; memory is the bare
            memory name, its graph names are ``memory.<name>.in`` / ``memory.<name>.out``).
        kind: Input, output or memory.
        shape: Tensor shape, batch dimension included (e.g. ``(1, 4)``).
        dtype: numpy dtype name, e.g. ``"float32"``.
        group: Name of the innermost group holding the component, or None.
        metadata: The component's JSON metadata, or None.
    """

    name: str
    kind: ComponentKind
    shape: tuple[int, ...]
    dtype: str
    group: str | None = None
    metadata: dict[str, Any] | None = None

    @property
    def input_name(self) -> str | None:
        """Graph input name, or None for outputs."""
        if self.kind is ComponentKind.MEMORY:
            return names.memory_input_name(self.name)
        return self.name if self.kind is ComponentKind.INPUT else None

    @property
    def output_name(self) -> str | None:
        """Graph output name, or None for inputs."""
        if self.kind is ComponentKind.MEMORY:
            return names.memory_output_name(self.name)
        return self.name if self.kind is ComponentKind.OUTPUT else None

    @property
    def size(self) -> int:
        """Number of elements in the tensor."""
        return math.prod(self.shape)

    def to_json(self) -> dict[str, Any]:
        """The component's entry in the ``exploy.components`` index."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "group": self.group,
        }


@dataclass(frozen=True)
class GroupSpec:
    """A named group of components (members are ``<group>.<item>``)."""

    name: str
    members: tuple[str, ...]
    parent: str | None = None
    metadata: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "members": list(self.members), "parent": self.parent}


@dataclass(frozen=True)
class PolicyMetadata:
    """Typed view of an exploy policy file's metadata."""

    exploy_version: str
    decimation: int
    update_rate: float | None
    components: tuple[ComponentSpec, ...]
    groups: tuple[GroupSpec, ...] = ()
    observation_names: tuple[str, ...] = ()
    env_metadata: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def inputs(self) -> tuple[ComponentSpec, ...]:
        """External inputs (the ones a robot must feed)."""
        return tuple(c for c in self.components if c.kind is ComponentKind.INPUT)

    @property
    def outputs(self) -> tuple[ComponentSpec, ...]:
        """External outputs (the ones a robot consumes)."""
        return tuple(c for c in self.components if c.kind is ComponentKind.OUTPUT)

    @property
    def memories(self) -> tuple[ComponentSpec, ...]:
        """Memory kept inside the runtime between ticks."""
        return tuple(c for c in self.components if c.kind is ComponentKind.MEMORY)

    @property
    def policy_rate(self) -> float | None:
        """Policy rate in Hz (``update_rate / decimation``), when the sim rate is known."""
        return None if self.update_rate is None else self.update_rate / self.decimation

    def component(self, name: str) -> ComponentSpec:
        """Look up a component by full name.

        Raises:
            KeyError: naming the known components when ``name`` is unknown.
        """
        for comp in self.components:
            if comp.name == name:
                return comp
        known = ", ".join(c.name for c in self.components)
        raise KeyError(f"No component named '{name}'. Known components: {known}")

    def group(self, name: str) -> GroupSpec:
        """Look up a group by full name (KeyError when unknown)."""
        for grp in self.groups:
            if grp.name == name:
                return grp
        raise KeyError(f"No group named '{name}'. Known groups: {[g.name for g in self.groups]}")


def encode_index(
    components: list[ComponentSpec], groups: list[GroupSpec]
) -> str:
    """JSON text of the ``exploy.components`` index."""
    return json.dumps(
        {
            "format": INDEX_FORMAT_VERSION,
            "components": [c.to_json() for c in components],
            "groups": [g.to_json() for g in groups],
        }
    )


def _load_json(props: Mapping[str, str], key: str) -> Any:
    try:
        return json.loads(props[key])
    except json.JSONDecodeError as err:
        raise PolicyFormatError(f"Metadata entry '{key}' is not valid JSON: {err}") from err


def _parse_component(entry: Any, props: Mapping[str, str]) -> ComponentSpec:
    try:
        name = str(entry["name"])
        kind = ComponentKind(entry["kind"])
        shape = tuple(int(d) for d in entry["shape"])
        dtype = str(entry["dtype"])
        group = entry.get("group")
    except (KeyError, TypeError, ValueError) as err:
        raise PolicyFormatError(
            f"Malformed entry in '{KEY_COMPONENTS}': {entry!r} ({err}). Re-export the policy."
        ) from err
    metadata = _load_json(props, name) if name in props else None
    return ComponentSpec(name, kind, shape, dtype, group, metadata)


def _parse_group(entry: Any, props: Mapping[str, str]) -> GroupSpec:
    try:
        name = str(entry["name"])
        members = tuple(str(m) for m in entry["members"])
        parent = entry.get("parent")
    except (KeyError, TypeError, ValueError) as err:
        raise PolicyFormatError(f"Malformed group entry in '{KEY_COMPONENTS}': {entry!r}") from err
    metadata = _load_json(props, name) if name in props else None
    return GroupSpec(name, members, parent, metadata)


def parse_metadata(props: Mapping[str, str]) -> PolicyMetadata:
    """Parse the string metadata of a policy file.

    Args:
        props: The ONNX ``metadata_props`` as a mapping (e.g. onnxruntime's
            ``custom_metadata_map``).

    Raises:
        PolicyFormatError: when the file carries no exploy metadata or it is malformed.
    """
    missing = [k for k in (KEY_EXPLOY_VERSION, KEY_DECIMATION, KEY_COMPONENTS) if k not in props]
    if missing:
        raise PolicyFormatError(
            f"Not an exploy policy file: metadata lacks {missing}. "
            "Export it with exploy.exporter.core.exporter.export_environment_as_onnx."
        )
    version = _load_json(props, KEY_EXPLOY_VERSION)
    try:
        decimation = int(props[KEY_DECIMATION])
    except ValueError as err:
        raise PolicyFormatError(f"Metadata 'decimation' is not an integer: {props[KEY_DECIMATION]!r}") from err
    if decimation < 1:
        raise PolicyFormatError(f"Metadata 'decimation' must be >= 1, got {decimation}")
    update_rate = None
    if props.get(KEY_UPDATE_RATE):
        try:
            update_rate = float(props[KEY_UPDATE_RATE])
        except ValueError as err:
            raise PolicyFormatError(f"Metadata 'update_rate' is not a number: {props[KEY_UPDATE_RATE]!r}") from err
    index = _load_json(props, KEY_COMPONENTS)
    if not isinstance(index, dict) or "components" not in index:
        raise PolicyFormatError(f"Metadata '{KEY_COMPONENTS}' has no component list")
    components = tuple(_parse_component(e, props) for e in index["components"])
    groups = tuple(_parse_group(e, props) for e in index.get("groups", []))
    obs_names: tuple[str, ...] = ()
    if KEY_OBSERVATION_NAMES in props:
        obs_names = tuple(str(n) for n in _load_json(props, KEY_OBSERVATION_NAMES))
    used = RESERVED_KEYS | {c.name for c in components} | {g.name for g in groups}
    env_metadata = {k: v for k, v in props.items() if k not in used}
    return PolicyMetadata(
        exploy_version=str(version),
        decimation=decimation,
        update_rate=update_rate,
        components=components,
        groups=groups,
        observation_names=obs_names,
        env_metadata=env_metadata,
        raw=dict(props),
    )


def read_metadata(path: str | pathlib.Path) -> PolicyMetadata:
    """Read and parse the metadata of the policy file at ``path``.

    Raises:
        PolicyFormatError: when the file is missing, not ONNX, or not an exploy policy.
    """
    import onnx  # local: keeps `import exploy.format` cheap

    path = pathlib.Path(path)
    if not path.is_file():
        raise PolicyFormatError(f"Policy file not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # onnx raises DecodeError and friends
        raise PolicyFormatError(f"{path} is not a readable ONNX file: {err}") from err
    return parse_metadata({p.key: p.value for p in model.metadata_props})
