"""What a bag records beyond the node's topics: the simulator's intermediate stages and the file.

So that a replay can say *where* a deployment first went wrong, not only which output moved,
``exploy record`` also writes, on the first tick of every policy step (``std_msgs/Float64MultiArray``,
flattened values):

- ``/exploy/stage/obs``: the observations the simulator's actor got;
- ``/exploy/stage/actions``: the actions it returned;
- ``/exploy/stage/memory/<name>``: each memory as it entered the policy step (the value the
  file's Default tick must receive as ``memory.<name>.in``);

and once, on tick 0, the policy file itself on ``/exploy/policy`` (``std_msgs/UInt8MultiArray``,
up to :data:`MAX_EMBEDDED_POLICY_BYTES`), so that a replay against another file can say what
changed. Bags without these topics still replay; they are then compared on outputs only.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exploy.bag.errors import BagError

STAGE_PREFIX = "/exploy/stage"
OBS_TOPIC = f"{STAGE_PREFIX}/obs"
ACTIONS_TOPIC = f"{STAGE_PREFIX}/actions"
MEMORY_PREFIX = f"{STAGE_PREFIX}/memory/"
STAGE_TYPE = "std_msgs/msg/Float64MultiArray"
POLICY_TOPIC = "/exploy/policy"
POLICY_TYPE = "std_msgs/msg/UInt8MultiArray"
MAX_EMBEDDED_POLICY_BYTES = 64 * 1024 * 1024
"""Policy files larger than this are not embedded (a replay then only knows their hash)."""

OBS = "obs"
ACTIONS = "actions"


def memory_topic(name: str) -> str:
    """Topic of memory ``name`` (dots become slashes: topic names allow no dots)."""
    return MEMORY_PREFIX + name.replace(".", "/")


def stage_topics(memory_names: list[str]) -> dict[str, str]:
    """Stage key (``obs``, ``actions``, ``memory.<name>``) -> topic."""
    topics = {OBS: OBS_TOPIC, ACTIONS: ACTIONS_TOPIC}
    topics.update({f"memory.{n}": memory_topic(n) for n in memory_names})
    return topics


class StageWriter:
    """Adds the stage topics and the embedded policy file to an open rosbags writer.

    Args:
        writer: An open ``rosbags.rosbag2.Writer``.
        store: Its typestore.
        stamp: Tick -> timestamp (ns).
        memory_names: The policy's memory names.
    """

    def __init__(self, writer: Any, store: Any, stamp: Any, memory_names: list[str]) -> None:
        self._writer = writer
        self._store = store
        self._stamp = stamp
        self._cls = store.types[STAGE_TYPE]
        self._layout = store.types["std_msgs/msg/MultiArrayLayout"]
        self._conns = {
            key: writer.add_connection(topic, STAGE_TYPE, typestore=store)
            for key, topic in stage_topics(memory_names).items()
        }

    def write(self, tick: int, values: dict[str, np.ndarray]) -> None:
        """Write the stage ``values`` (by stage key) at ``tick``."""
        for key, value in values.items():
            msg = self._cls(layout=self._layout(dim=[], data_offset=0),
                            data=np.asarray(value, dtype=np.float64).reshape(-1))
            self._writer.write(self._conns[key], self._stamp(tick), bytes(self._store.serialize_cdr(msg, STAGE_TYPE)))

    def write_policy(self, policy: pathlib.Path) -> bool:
        """Embed the policy file (tick 0); False when it is too large to embed."""
        if policy.stat().st_size > MAX_EMBEDDED_POLICY_BYTES:
            return False
        conn = self._writer.add_connection(POLICY_TOPIC, POLICY_TYPE, typestore=self._store)
        msg = self._store.types[POLICY_TYPE](
            layout=self._layout(dim=[], data_offset=0), data=np.frombuffer(policy.read_bytes(), dtype=np.uint8)
        )
        self._writer.write(conn, self._stamp(0), bytes(self._store.serialize_cdr(msg, POLICY_TYPE)))
        return True


@dataclass
class Stages:
    """The stage values a bag carries, over its ticks.

    Attributes:
        values: Stage key -> ``(num_ticks, size)`` values (zeros where absent).
        ticks: Stage key -> True for ticks carrying a value.
        policy_bytes: The embedded policy file, or None.
    """

    values: dict[str, np.ndarray] = field(default_factory=dict)
    ticks: dict[str, np.ndarray] = field(default_factory=dict)
    policy_bytes: bytes | None = None

    @property
    def present(self) -> bool:
        return bool(self.values)


def read_stages(path: str | pathlib.Path, num_ticks: int, t0_ns: int, dt_ns: int, memory_names: list[str]) -> Stages:
    """Read the stage topics and the embedded policy of the bag at ``path`` (all optional).

    Raises:
        BagError: for an unreadable bag or corrupt stage messages.
    """
    from rosbags.rosbag2 import Reader

    from exploy.bag.writer import typestore

    topics = {topic: key for key, topic in stage_topics(memory_names).items()}
    stages = Stages()
    try:
        reader = Reader(pathlib.Path(path))
        reader.open()
    except Exception as err:
        raise BagError(f"{path} is not a readable rosbag2 bag (corrupt or truncated?): {err}") from err
    try:
        conns = [c for c in reader.connections if c.topic in topics or c.topic == POLICY_TOPIC]
        store = typestore()
        for conn, stamp, raw in reader.messages(connections=conns):
            tick, rem = divmod(stamp - t0_ns, dt_ns)
            if rem or not 0 <= tick < num_ticks:
                raise BagError(f"{path}: message on {conn.topic} at {stamp} ns is off the recording's tick grid")
            if conn.topic == POLICY_TOPIC:
                msg: Any = store.deserialize_cdr(raw, conn.msgtype)  # rosbags types messages as object
                stages.policy_bytes = bytes(np.asarray(msg.data, dtype=np.uint8))
                continue
            key = topics[conn.topic]
            data = _float64_array(raw)
            if data is None:
                decoded: Any = store.deserialize_cdr(raw, conn.msgtype)  # rosbags types messages as object
                data = np.asarray(decoded.data, dtype=np.float64)
            if key not in stages.values:
                stages.values[key] = np.zeros((num_ticks, data.size))
                stages.ticks[key] = np.zeros(num_ticks, dtype=bool)
            if data.size != stages.values[key].shape[1]:
                raise BagError(f"{path}: {conn.topic} changes size at tick {tick}; re-record the bag")
            stages.values[key][tick] = data
            stages.ticks[key][tick] = True
    except BagError:
        raise
    except Exception as err:
        raise BagError(f"{path}: reading the stage topics failed ({err}); the bag is corrupt") from err
    finally:
        reader.close()
    return stages


def _float64_array(raw: bytes) -> np.ndarray | None:
    """The data of a little-endian CDR ``Float64MultiArray`` without layout dims (as written
    here), parsed directly; None for any other layout (then rosbags deserialises it)."""
    if len(raw) < 16 or raw[:2] != b"\x00\x01" or raw[4:8] != b"\x00\x00\x00\x00":
        return None
    count = int.from_bytes(raw[12:16], "little")
    if len(raw) < 20 + 8 * count:
        return None
    return np.frombuffer(raw, dtype="<f8", count=count, offset=20).copy()
