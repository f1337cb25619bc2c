"""The mapping file: per-component (or per-group) overrides of the default topic rules.

Format (YAML; every key optional)::

    version: 1                    # format version, only 1 exists
    input_prefix: ~/input         # prefix of default input topics
    output_prefix: ~/output       # prefix of default output topics
    components:                   # keys: a component name, or a group name (then only topic /
                                  # adapter / names / joint_order / enabled, applied to its members)
      obj.robot.joints:           {topic: /joint_states}
      cmd.se2_velocity.base:      {topic: /cmd_vel}
      obj.robot.base.w_Q_b:       {topic: /imu, adapter: imu, field: orientation}
      output.joint_targets.pd.pos: {topic: /motor/targets}
      obs:                        {enabled: false}          # outputs only: do not publish
      my.raw.input:               {adapter: joint_state, field: position, names: [j1, j2]}
      output.joint_targets.pd:    {adapter: joint_trajectory, topic: /jtc/joint_trajectory}
      output.joint_targets.pd.pos: {adapter: float64_multi_array, joint_order: [j2, j1]}

The file is checked on load (:func:`load_mapping_file`): unknown keys, adapters or fields and
malformed topic names raise :class:`MappingError`. Whether the named components exist, shapes
match and topics are consistent is checked by :func:`exploy.mapping.build_topic_map`.
"""

from __future__ import annotations

import pathlib
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from types import MappingProxyType
from typing import Any

from exploy.mapping.errors import MappingError
from exploy.mapping.fields import ADAPTERS
from exploy.mapping.yaml_loader import YamlFileError, excerpt, load_yaml_file

FORMAT_VERSION = 1
DEFAULT_INPUT_PREFIX = "~/input"
DEFAULT_OUTPUT_PREFIX = "~/output"

_TOP_KEYS = ("version", "input_prefix", "output_prefix", "components")
_OVERRIDE_KEYS = ("topic", "adapter", "field", "names", "joint_order", "enabled")
GROUP_OVERRIDE_KEYS = ("topic", "adapter", "names", "joint_order", "enabled")
"""Keys allowed when a mapping-file entry names a group rather than a component."""

_TOKEN = r"[A-Za-z_][A-Za-z0-9_]*"
_TOPIC_RE = re.compile(rf"^/?{_TOKEN}(/{_TOKEN})*$|^~(/{_TOKEN})+$")


def is_valid_topic(topic: str) -> bool:
    """True for a ROS 2 topic name: absolute (``/a/b``), relative (``a/b``) or private (``~/a``).

    Tokens are letters, digits and underscores and do not start with a digit.
    """
    return bool(_TOPIC_RE.fullmatch(topic))


@dataclass(frozen=True)
class ComponentOverride:
    """What a mapping file changes for one component or group; None keeps the default.

    Attributes:
        topic: Topic name (absolute, relative or ``~/`` private).
        adapter: Adapter name (see :mod:`exploy.mapping.fields`).
        field: Field of the adapter's message the component is bound to.
        names: Joint names of the policy's joints, in policy order (overrides the metadata).
        joint_order: Joint order of a ``float64_multi_array`` / ``joint_trajectory`` message
            (every one of the policy's joint names, once).
        enabled: False to publish no topic for an output.
    """

    topic: str | None = None
    adapter: str | None = None
    field: str | None = None
    names: tuple[str, ...] | None = None
    joint_order: tuple[str, ...] | None = None
    enabled: bool | None = None


@dataclass(frozen=True)
class MappingConfig:
    """A parsed mapping file.

    Attributes:
        overrides: Component or group name -> its override.
        input_prefix: Prefix of default input topics.
        output_prefix: Prefix of default output topics.
        source: Where the config came from (file path), quoted in error messages.
    """

    overrides: Mapping[str, ComponentOverride] = dataclass_field(default_factory=lambda: MappingProxyType({}))
    input_prefix: str = DEFAULT_INPUT_PREFIX
    output_prefix: str = DEFAULT_OUTPUT_PREFIX
    source: str | None = None

    @property
    def where(self) -> str:
        """``"mapping file <path>"`` or ``"mapping config"``, for error messages."""
        return f"mapping file {self.source}" if self.source else "mapping config"


def _check_topic(value: Any, what: str) -> str:
    if not isinstance(value, str) or not is_valid_topic(value):
        raise MappingError(
            f"{what}: {excerpt(value)} is not a valid ROS topic name. Use tokens of letters, digits and "
            "'_' separated by '/', optionally starting with '/' or '~/' (e.g. /joint_states)."
        )
    return value


def _parse_override(key: str, entry: Any, where: str) -> ComponentOverride:
    what = f"{where}, components.{key}"
    if entry is None:
        entry = {}
    if not isinstance(entry, Mapping):
        raise MappingError(f"{what}: expected a mapping like {{topic: /name}}, got {excerpt(entry)}")
    unknown = sorted(set(entry) - set(_OVERRIDE_KEYS))
    if unknown:
        raise MappingError(f"{what}: unknown key(s) {excerpt(unknown)}. Allowed keys: {list(_OVERRIDE_KEYS)}")
    topic = None if entry.get("topic") is None else _check_topic(entry["topic"], f"{what}.topic")
    adapter = entry.get("adapter")
    if adapter is not None and adapter not in ADAPTERS:
        raise MappingError(f"{what}.adapter: unknown adapter {excerpt(adapter)}. Known adapters: {list(ADAPTERS)}")
    fld = entry.get("field")
    if fld is not None:
        allowed = (
            list(ADAPTERS[adapter].fields) if adapter else sorted({f for a in ADAPTERS.values() for f in a.fields})
        )
        if fld not in allowed:
            scope = f"adapter '{adapter}'" if adapter else "any adapter"
            raise MappingError(f"{what}.field: unknown field {excerpt(fld)} for {scope}. Known fields: {allowed}")
    names = _joint_list(entry.get("names"), f"{what}.names")
    joint_order = _joint_list(entry.get("joint_order"), f"{what}.joint_order")
    enabled = entry.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise MappingError(f"{what}.enabled: expected true or false, got {excerpt(enabled)}")
    return ComponentOverride(
        topic=topic, adapter=adapter, field=fld, names=names, joint_order=joint_order, enabled=enabled
    )


def _joint_list(names: Any, what: str) -> tuple[str, ...] | None:
    """A list of distinct non-empty joint names, as a tuple (None stays None)."""
    if names is None:
        return None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise MappingError(f"{what}: expected a non-empty list of joint names, got {excerpt(names)}")
    dups = sorted(n for n, count in Counter(names).items() if count > 1)
    if dups:
        raise MappingError(f"{what}: joint names {excerpt(dups)} appear more than once")
    return tuple(names)


def parse_mapping(data: Any, *, source: str | None = None) -> MappingConfig:
    """Check and convert the loaded YAML of a mapping file.

    Args:
        data: The YAML document (None for an empty file).
        source: Where it came from, quoted in error messages.

    Raises:
        MappingError: on unknown keys, adapters or fields, or malformed values.
    """
    where = f"mapping file {source}" if source else "mapping config"
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise MappingError(f"{where}: expected a mapping with keys {list(_TOP_KEYS)}, got {type(data).__name__}")
    unknown = sorted(str(k) for k in set(data) - set(_TOP_KEYS))
    if unknown:
        raise MappingError(f"{where}: unknown top-level key(s) {excerpt(unknown)}. Allowed keys: {list(_TOP_KEYS)}")
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise MappingError(
            f"{where}: unsupported version {excerpt(version)}; this exploy reads version {FORMAT_VERSION}"
        )
    prefixes = {
        key: _check_topic(data.get(key, default), f"{where}, {key}")
        for key, default in (("input_prefix", DEFAULT_INPUT_PREFIX), ("output_prefix", DEFAULT_OUTPUT_PREFIX))
    }
    components = data.get("components") or {}
    if not isinstance(components, Mapping):
        raise MappingError(f"{where}, components: expected a mapping of component name -> override")
    overrides = {str(k): _parse_override(str(k), v, where) for k, v in components.items()}
    return MappingConfig(
        overrides=MappingProxyType(overrides),
        input_prefix=prefixes["input_prefix"],
        output_prefix=prefixes["output_prefix"],
        source=source,
    )


def load_mapping_file(path: str | pathlib.Path) -> MappingConfig:
    """Read and check the mapping file at ``path``.

    Raises:
        MappingError: when the file is missing, too large, binary, not YAML (or beyond the
            bounds of :func:`exploy.mapping.yaml_loader.load_yaml_file`), or not a valid
            mapping file. Messages are one line and quote bounded excerpts.
    """
    path = pathlib.Path(path)
    try:
        data = load_yaml_file(path, what="mapping file")
    except YamlFileError as err:
        raise MappingError(str(err)) from err
    return parse_mapping(data, source=str(path))
