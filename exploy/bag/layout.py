"""Where an exploy bag puts things: topics, the tick grid, and the recording's metadata.

A bag holds one recording. Sim tick ``k`` (counted from the start of the recording, across
resets) is stamped ``t0_ns + k * dt_ns``; every message of a tick has that timestamp:

- ``/clock`` (``rosgraph_msgs/msg/Clock``): every tick.
- each input topic of the policy node (same mapping rules as the node, ``~`` resolved against
  :attr:`BagMeta.node`), on the message type the node subscribes to: every tick when the
  environment calls the evaluation hooks, else on the first tick of each policy step.
- ``/exploy/expected<output topic>``: the outputs the environment computed for that tick, on the
  output's message type: every tick with hooks, else on the last tick of each policy step.
- ``/exploy/reset`` (``std_msgs/msg/Empty``): the environment was reset before this tick.
- ``/exploy/meta`` (``std_msgs/msg/String``, once, first tick): :class:`BagMeta` as JSON; also
  stored in the bag's ``custom_data`` under ``exploy.meta``.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from exploy.bag.errors import BagError

if TYPE_CHECKING:
    from rosbags.typesys.store import Typestore

FORMAT_VERSION = 1

CLOCK_TOPIC = "/clock"
CLOCK_TYPE = "rosgraph_msgs/msg/Clock"
META_TOPIC = "/exploy/meta"
META_TYPE = "std_msgs/msg/String"
META_KEY = "exploy.meta"
RESET_TOPIC = "/exploy/reset"
RESET_TYPE = "std_msgs/msg/Empty"
EXPECTED_PREFIX = "/exploy/expected"

DEFAULT_NODE = "/policy_node"
DEFAULT_T0_NS = 1_000_000_000
"""Tick 0 is stamped 1 s: ROS treats a sim time of 0 as "no clock yet"."""

DEFAULT_SIM_DT = 0.005
"""Sim step used when neither the file (``update_rate``) nor the environment knows one."""

SAMPLING_SUBSTEP = "substep"
SAMPLING_POLICY_STEP = "policy_step"


def typestore() -> Typestore:
    """The rosbags typestore exploy bags are written and read with (ROS 2 Kilted)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


def resolve_topic(topic: str, node: str) -> str:
    """The absolute name of ``topic`` for the node with fully qualified name ``node``.

    ``~/a`` becomes ``<node>/a``; a relative ``a/b`` becomes ``<namespace of node>/a/b``;
    an absolute name stays as it is.
    """
    node = "/" + node.strip("/")
    if topic.startswith("~"):
        return node.rstrip("/") + topic[1:]
    if topic.startswith("/"):
        return topic
    namespace = node.rsplit("/", 1)[0]
    return f"{namespace}/{topic}"


def expected_topic(output_topic: str) -> str:
    """The topic carrying the expected values of the (absolute) ``output_topic``."""
    return EXPECTED_PREFIX + output_topic


@dataclass(frozen=True)
class BagMeta:
    """What a bag records and for which policy file.

    Attributes:
        policy_sha256: SHA-256 of the policy file the bag was recorded for.
        policy_file: Its file name (informational).
        exploy_version: Version of exploy that wrote the bag.
        decimation: Sim ticks per policy step.
        dt_ns: Sim time step in nanoseconds.
        t0_ns: Timestamp of tick 0.
        num_ticks: Sim ticks recorded.
        sampling: ``"substep"`` (hooks: inputs and expected outputs every tick) or
            ``"policy_step"`` (inputs on the first, expected outputs on the last tick of each
            policy step).
        node: Fully qualified name of the policy node the ``~`` topics were resolved for.
        mapping: The mapping file's YAML document (None: default rules).
        inputs: Absolute input topic -> message type.
        expected: Absolute expected topic -> message type.
        notes: Warnings found while recording (e.g. non-zero memory after a reset).
    """

    policy_sha256: str
    policy_file: str
    exploy_version: str
    decimation: int
    dt_ns: int
    t0_ns: int
    num_ticks: int
    sampling: str
    node: str = DEFAULT_NODE
    mapping: Any = None
    inputs: dict[str, str] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    format: int = FORMAT_VERSION

    def stamp(self, tick: int) -> int:
        """Timestamp (ns) of sim tick ``tick``."""
        return self.t0_ns + tick * self.dt_ns

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BagMeta:
        """Parse :meth:`to_json` output, checking every field's type and range.

        Raises:
            BagError: when the text is not the metadata of an exploy bag (one line, naming the
                first bad field).
        """
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError, TypeError) as err:
            raise BagError(f"The bag's exploy metadata is not JSON ({_short(err)}); re-record the bag") from err
        if not isinstance(data, dict):
            raise BagError(f"The bag's exploy metadata is not a JSON object: {_short(text)}; re-record the bag")
        if data.get("format") != FORMAT_VERSION:
            raise BagError(
                f"exploy bag format {_short(data.get('format'))} is not supported (this exploy reads "
                f"{FORMAT_VERSION}); re-record the bag"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        missing = sorted(
            f.name for f in fields(cls) if f.name not in data and f.default is MISSING and f.default_factory is MISSING
        )
        if unknown or missing:
            raise BagError(
                f"The bag's exploy metadata has unknown field(s) {_short(unknown)} / lacks {_short(missing)}; "
                "re-record the bag"
            )
        for name, check, rule in _FIELD_RULES:
            if name in data and not check(data[name]):
                raise BagError(
                    f"The bag's exploy metadata is corrupt: {name} is {_short(data[name])}, expected {rule}; "
                    "re-record the bag"
                )
        meta = cls(**data)
        if meta.t0_ns + meta.num_ticks * meta.dt_ns >= 2**63:
            raise BagError(
                f"The bag's exploy metadata is corrupt: {meta.num_ticks} ticks of {meta.dt_ns} ns from "
                f"{meta.t0_ns} ns overflow a ROS time stamp; re-record the bag"
            )
        return meta


MAX_TICKS = 2**31 - 1
"""``ctx.step_count`` is an int32: no recording has more ticks."""


def _short(value: Any, limit: int = 80) -> str:
    text = " ".join(repr(value).split()) if not isinstance(value, BaseException) else " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


_FIELD_RULES: tuple[tuple[str, Any, str], ...] = (
    ("policy_sha256", lambda v: isinstance(v, str), "a string"),
    ("policy_file", lambda v: isinstance(v, str), "a string"),
    ("exploy_version", lambda v: isinstance(v, str), "a string"),
    ("decimation", lambda v: _is_int(v, 1, 2**31 - 1), "an integer >= 1"),
    ("dt_ns", lambda v: _is_int(v, 1, 2**62), "an integer number of nanoseconds > 0"),
    ("t0_ns", lambda v: _is_int(v, 0, 2**62), "an integer number of nanoseconds >= 0"),
    ("num_ticks", lambda v: _is_int(v, 0, MAX_TICKS), f"an integer in [0, {MAX_TICKS}]"),
    (
        "sampling",
        lambda v: v in (SAMPLING_SUBSTEP, SAMPLING_POLICY_STEP),
        f"'{SAMPLING_SUBSTEP}' or '{SAMPLING_POLICY_STEP}'",
    ),
    ("node", lambda v: isinstance(v, str), "a node name"),
    ("mapping", lambda v: v is None or isinstance(v, dict), "a mapping document or null"),
    ("inputs", _is_str_map, "an object of topic -> message type"),
    ("expected", _is_str_map, "an object of topic -> message type"),
    ("notes", lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v), "a list of strings"),
)
