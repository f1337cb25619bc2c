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

Files without ``exploy.components`` / ``decimation`` (upstream exploy's) are read too: the index
is derived from the graph (:mod:`exploy.format.index`), the decimation from its ``Mod`` on
``ctx.step_count`` (:mod:`exploy.format.graph`). docs/file_format.md describes every key.
"""

from __future__ import annotations

import enum
import json
import math
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from exploy.format import names
from exploy.format.errors import PolicyFormatError, excerpt

if TYPE_CHECKING:
    from exploy.format.graph import GraphSignature

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


MAX_UPDATE_RATE = 100_000.0
"""Highest ``update_rate`` (Hz) a file may carry; above it the tick period is absurd."""

MAX_DECIMATION = 100_000
"""Largest decimation a file may carry."""

KEY_SIM_DT = "sim_dt"
"""Sim time step (s) upstream's IsaacLab/mjlab exporters write next to ``update_rate``."""


def _decimation(props: Mapping[str, str], graph: GraphSignature | None) -> int:
    from_meta = None
    if KEY_DECIMATION in props:
        raw = props[KEY_DECIMATION]
        try:
            from_meta = int(str(raw).strip())
        except ValueError as err:
            raise PolicyFormatError(f"Metadata 'decimation' is not an integer: {excerpt(raw)}") from err
    from_graph = graph.decimation if graph is not None else None
    if from_meta is not None and from_graph is not None and from_meta != from_graph:
        raise PolicyFormatError(
            f"Metadata 'decimation' is {from_meta} but the graph switches paths every {from_graph} ticks "
            "(the Mod on ctx.step_count); the file is inconsistent, re-export it"
        )
    decimation = from_meta if from_meta is not None else from_graph
    if decimation is None:
        raise PolicyFormatError(
            "Cannot tell the policy's decimation: the file has no metadata 'decimation' and its graph "
            "no Mod on ctx.step_count; add the metadata key 'decimation' (sim ticks per policy step)"
        )
    if not 1 <= decimation <= MAX_DECIMATION:
        raise PolicyFormatError(f"Decimation must be 1..{MAX_DECIMATION}, the file says {decimation}")
    return decimation


def _update_rate(props: Mapping[str, str]) -> float | None:
    key = KEY_UPDATE_RATE if props.get(KEY_UPDATE_RATE) else KEY_SIM_DT if props.get(KEY_SIM_DT) else None
    if key is None:
        return None
    raw = props[key]
    try:
        value = float(str(raw).strip())
    except ValueError as err:
        raise PolicyFormatError(f"Metadata '{key}' is not a number: {excerpt(raw)}") from err
    if key == KEY_SIM_DT:
        if not (math.isfinite(value) and value > 0.0):
            raise PolicyFormatError(f"Metadata 'sim_dt' must be a positive number of seconds, got {excerpt(raw)}")
        value = 1.0 / value
    if not (math.isfinite(value) and 0.0 < value <= MAX_UPDATE_RATE):
        raise PolicyFormatError(
            f"Metadata 'update_rate' must be a finite sim rate in (0, {MAX_UPDATE_RATE:g}] Hz, got {excerpt(raw)}; "
            "set it to 1 / sim_dt when exporting"
        )
    return value


def _version(props: Mapping[str, str]) -> str:
    from exploy.format.index import load_json

    version = load_json(props, KEY_EXPLOY_VERSION)
    if isinstance(version, (dict, list)) or version is None:
        raise PolicyFormatError(
            f"Metadata 'exploy_version' must be a JSON string, got {excerpt(props[KEY_EXPLOY_VERSION])}"
        )
    return str(version)


def parse_metadata(props: Mapping[str, str], graph: GraphSignature | None = None) -> PolicyMetadata:
    """Parse the string metadata of a policy file, checked against its graph.

    Our own index (``exploy.components``) is used when present and checked against ``graph``;
    without it (upstream's files) the index is derived from ``graph`` (see
    :mod:`exploy.format.index`). The decimation comes from the metadata key ``decimation`` or
    the graph's ``Mod`` on ``ctx.step_count``; when both exist they must agree.

    Args:
        props: The ONNX ``metadata_props`` as a mapping (e.g. onnxruntime's
            ``custom_metadata_map``).
        graph: The file's graph boundary (:func:`exploy.format.graph.graph_signature`). Without
            it only a file with our index can be read, and nothing is cross-checked.

    Raises:
        PolicyFormatError: with a one-line reason when the file is not an exploy policy, its
            metadata is malformed, or the metadata and the graph disagree.
    """
    from exploy.format.index import check_index, derive_index, load_json, metadata_keys_of, parse_index

    if not isinstance(props, Mapping):
        raise PolicyFormatError(f"Metadata must be a mapping of strings, got {type(props).__name__}")
    props = {str(k): str(v) for k, v in props.items()}
    needed = [KEY_EXPLOY_VERSION] + ([] if graph is not None else [KEY_DECIMATION, KEY_COMPONENTS])
    missing = [k for k in needed if k not in props]
    if missing:
        raise PolicyFormatError(
            f"Not an exploy policy file: metadata lacks {missing}. "
            "Export it with exploy.exporter.core.exporter.export_environment_as_onnx."
        )
    version = _version(props)
    decimation = _decimation(props, graph)
    update_rate = _update_rate(props)
    if graph is None:  # KEY_COMPONENTS is present: checked above
        components, groups = parse_index(props)
    elif KEY_COMPONENTS in props:
        components, groups = parse_index(props)
        check_index(components, graph)
    else:
        components, groups = derive_index(props, graph)
    obs_names: tuple[str, ...] = ()
    if KEY_OBSERVATION_NAMES in props:
        raw_names = load_json(props, KEY_OBSERVATION_NAMES)
        if not isinstance(raw_names, list) or not all(isinstance(n, str) for n in raw_names):
            raise PolicyFormatError(f"Metadata '{KEY_OBSERVATION_NAMES}' must be a JSON list of strings")
        obs_names = tuple(raw_names)
    used = set(RESERVED_KEYS) | {g.name for g in groups}
    for comp in components:
        used.update(metadata_keys_of(comp))
    env_metadata = {k: v for k, v in props.items() if k not in used}
    return PolicyMetadata(
        exploy_version=version,
        decimation=decimation,
        update_rate=update_rate,
        components=components,
        groups=groups,
        observation_names=obs_names,
        env_metadata=env_metadata,
        raw=dict(props),
    )


def load_model(path: str | pathlib.Path) -> Any:
    """The ONNX ``ModelProto`` at ``path`` (external data not loaded).

    Raises:
        PolicyFormatError: when the file is missing or not a readable ONNX file.
    """
    import onnx  # local: keeps `import exploy.format` cheap

    path = pathlib.Path(path)
    if not path.is_file():
        raise PolicyFormatError(f"Policy file not found: {path}")
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as err:  # onnx raises DecodeError, UnicodeDecodeError and friends
        raise PolicyFormatError(f"{path} is not a readable ONNX file: {excerpt(str(err))}") from err


def read_metadata(path: str | pathlib.Path) -> PolicyMetadata:
    """Read and parse the metadata of the policy file at ``path``, checked against its graph.

    Reads our files and upstream exploy's (which carry no ``exploy.components`` index).

    Raises:
        PolicyFormatError: when the file is missing, not ONNX, or not an exploy policy.
    """
    from exploy.format.graph import graph_signature

    model = load_model(path)
    return parse_metadata({p.key: p.value for p in model.metadata_props}, graph_signature(model))
