"""Read an exploy bag back into per-tick arrays, checking it against its policy file."""

from __future__ import annotations

import hashlib
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from exploy.bag.errors import BagError
from exploy.bag.layout import (
    CLOCK_TOPIC,
    CLOCK_TYPE,
    META_KEY,
    META_TOPIC,
    RESET_TOPIC,
    BagMeta,
    expected_topic,
    resolve_topic,
    typestore,
)
from exploy.bag.mcap_checksums import verify as verify_checksums
from exploy.format import PolicyMetadata
from exploy.mapping import AdapterError, MappingError, TopicDecoder, TopicMap, build_topic_map, parse_mapping

if TYPE_CHECKING:
    from rosbags.interfaces import Connection
    from rosbags.rosbag2 import Reader


def file_sha256(path: str | pathlib.Path) -> str:
    """SHA-256 (hex) of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def topic_map_for(policy_meta: PolicyMetadata, mapping: Any) -> TopicMap:
    """The topic map a bag was recorded with: the policy's metadata plus the stored mapping.

    Raises:
        BagError: when the stored mapping no longer applies to the policy.
    """
    try:
        config = parse_mapping(mapping, source="stored in the bag") if mapping is not None else None
        return build_topic_map(policy_meta, config)
    except MappingError as err:
        raise BagError(f"The bag's topic mapping does not fit the policy file: {err}") from err


@dataclass
class Recording:
    """A bag's content as arrays over sim ticks ``0 .. num_ticks - 1``.

    Attributes:
        meta: The recording's metadata.
        inputs: Input component -> values per tick, shape ``(num_ticks, *shape)``; ticks without
            an input message hold the previous message's values (as a node would).
        input_ticks: True for ticks carrying input messages.
        expected: Output component -> expected values per tick, shape ``(num_ticks, size)``.
        expected_ticks: Output component -> True for ticks carrying an expected message.
        resets: True for ticks the environment was reset before.
        missing_ticks: Ticks absent from the bag (no ``/clock`` message).
        incomplete_ticks: Ticks carrying some but not all input topics.
    """

    meta: BagMeta
    inputs: dict[str, np.ndarray]
    input_ticks: np.ndarray
    expected: dict[str, np.ndarray]
    expected_ticks: dict[str, np.ndarray]
    resets: np.ndarray
    missing_ticks: list[int] = field(default_factory=list)
    incomplete_ticks: list[int] = field(default_factory=list)

    @property
    def num_ticks(self) -> int:
        return self.meta.num_ticks


def _open_reader(path: pathlib.Path) -> Reader:
    from rosbags.rosbag2 import Reader

    if not path.exists():
        raise BagError(f"Bag not found: {path}")
    verify_checksums(path)
    try:
        reader = Reader(path)
        reader.open()
    except Exception as err:  # rosbags raises ReaderError, yaml and storage errors
        raise BagError(f"{path} is not a readable rosbag2 bag (corrupt or truncated?): {err}") from err
    return reader


def _raw_messages(
    reader: Reader, path: pathlib.Path, connections: list[Connection]
) -> Iterator[tuple[Connection, int, bytes]]:
    try:
        yield from reader.messages(connections=connections)
    except Exception as err:  # a truncated file fails mid-iteration in the storage plugin
        raise BagError(f"{path} is corrupt or truncated: reading its messages failed ({err})") from err


def read_meta(path: str | pathlib.Path) -> BagMeta:
    """Only the exploy metadata of the bag at ``path``.

    Raises:
        BagError: when the bag is unreadable or was not written by exploy.
    """
    path = pathlib.Path(path)
    reader = _open_reader(path)
    try:
        return _meta_of(reader, path)
    finally:
        reader.close()


def _meta_of(reader: Reader, path: pathlib.Path) -> BagMeta:
    conns = [c for c in reader.connections if c.topic == META_TOPIC]
    for conn, _, raw in _raw_messages(reader, path, conns) if conns else ():
        try:
            decoded: Any = typestore().deserialize_cdr(raw, conn.msgtype)  # rosbags types messages as object
            text = decoded.data
        except Exception as err:
            raise BagError(f"{path}: the {META_TOPIC} message is corrupt ({err})") from err
        return BagMeta.from_json(text)
    custom = getattr(reader.storage.metadata, "custom", None) or {}
    if META_KEY in custom:
        return BagMeta.from_json(custom[META_KEY])
    raise BagError(
        f"{path} is not an exploy bag: it has no {META_TOPIC} topic and no '{META_KEY}' custom data. "
        "Record it with `exploy record`."
    )


def check_policy(meta: BagMeta, policy_path: str | pathlib.Path, *, allow_mismatch: bool = False) -> list[str]:
    """Check that the bag was recorded for the policy file at ``policy_path``.

    Returns:
        Warnings (a hash mismatch that ``allow_mismatch`` let through).

    Raises:
        BagError: when the file's hash differs from the bag's and ``allow_mismatch`` is False.
    """
    digest = file_sha256(policy_path)
    if digest == meta.policy_sha256:
        return []
    text = (
        f"The bag was recorded for policy file '{meta.policy_file}' (sha256 {meta.policy_sha256[:12]}…), "
        f"but {policy_path} has sha256 {digest[:12]}…"
    )
    if not allow_mismatch:
        raise BagError(
            f"{text}. Replay it against the file it was recorded with, re-record the bag, or pass "
            "--allow-policy-mismatch to compare another export (e.g. new weights) with it."
        )
    return [text + " (allowed)"]


def _check_topics(reader: Reader, path: pathlib.Path, wanted: dict[str, str]) -> dict[str, Any]:
    found = {c.topic: c for c in reader.connections}
    missing = [t for t in wanted if t not in found]
    if missing:
        raise BagError(
            f"{path} lacks topic(s) {missing} the policy needs (it has {sorted(found)}); was it recorded "
            "for this policy and mapping file?"
        )
    for topic, msg_type in wanted.items():
        if found[topic].msgtype != msg_type:
            raise BagError(f"{path}: topic {topic} has message type {found[topic].msgtype}, expected {msg_type}")
    return {t: found[t] for t in wanted}


def read_bag(
    path: str | pathlib.Path,
    policy_meta: PolicyMetadata,
    *,
    progress: bool = False,
) -> Recording:
    """Read the bag at ``path`` for the policy described by ``policy_meta``.

    Args:
        path: Bag directory (or a single ``.mcap`` / ``.db3`` file).
        policy_meta: Metadata of the policy file (checked against the bag's topics).
        progress: Show a progress bar.

    Raises:
        BagError: for an unreadable, corrupt or truncated bag, missing topics, wrong message
            types, messages off the tick grid or undecodable messages.
    """
    from tqdm import tqdm

    path = pathlib.Path(path)
    reader = _open_reader(path)
    try:
        meta = _meta_of(reader, path)
        if meta.decimation != policy_meta.decimation:
            raise BagError(
                f"The bag was recorded with decimation {meta.decimation}, the policy file has "
                f"{policy_meta.decimation}: it was recorded for another policy"
            )
        tmap = topic_map_for(policy_meta, meta.mapping)
        in_specs = {resolve_topic(s.topic, meta.node): s for s in tmap.inputs}
        exp_specs = {expected_topic(resolve_topic(s.topic, meta.node)): s for s in tmap.outputs}
        wanted = {CLOCK_TOPIC: CLOCK_TYPE, **{t: s.msg_type for t, s in {**in_specs, **exp_specs}.items()}}
        conns = _check_topics(reader, path, wanted)
        clocks = conns[CLOCK_TOPIC].msgcount
        if meta.num_ticks > 2 * clocks + 10:
            raise BagError(
                f"{path}: its exploy metadata claims {meta.num_ticks} ticks but it holds {clocks} {CLOCK_TOPIC} "
                "messages (more than half the ticks missing): the metadata or the bag is corrupt; re-record the bag"
            )
        resets = [c for c in reader.connections if c.topic == RESET_TOPIC]
        store = typestore()
        decoders = {t: TopicDecoder(s) for t, s in {**in_specs, **exp_specs}.items()}
        n = meta.num_ticks
        clock = np.zeros(n, dtype=bool)
        reset = np.zeros(n, dtype=bool)
        topic_ticks = {t: np.zeros(n, dtype=bool) for t in decoders}
        values: dict[str, np.ndarray] = {}
        for spec in (*tmap.inputs, *tmap.outputs):
            for bnd in spec.bindings:
                values[bnd.component] = np.zeros((n, bnd.size), dtype=np.dtype(bnd.dtype))
        selected = [*conns.values(), *resets]
        total = sum(c.msgcount for c in selected)
        messages = _raw_messages(reader, path, selected)
        for conn, stamp, raw in tqdm(messages, total=total, desc="read bag", unit="msg", disable=not progress):
            tick, rem = divmod(stamp - meta.t0_ns, meta.dt_ns)
            if rem or not 0 <= tick < n:
                raise BagError(
                    f"{path}: message on {conn.topic} at {stamp} ns is off the recording's tick grid "
                    f"(t0 {meta.t0_ns} ns, dt {meta.dt_ns} ns, {n} ticks)"
                )
            topic = conn.topic
            if topic == CLOCK_TOPIC:
                clock[tick] = True
                continue
            if topic == RESET_TOPIC:
                reset[tick] = True
                continue
            try:
                msg = store.deserialize_cdr(raw, conn.msgtype)
                decoded = decoders[topic](msg)
            except AdapterError as err:
                raise BagError(f"{path}: message on {topic} at tick {tick} does not fit the policy: {err}") from err
            except Exception as err:  # rosbags' deserialiser on corrupt bytes
                raise BagError(f"{path}: message on {topic} at tick {tick} is corrupt ({err})") from err
            topic_ticks[topic][tick] = True
            for name, value in decoded.items():
                values[name][tick] = value.reshape(-1)
    finally:
        reader.close()
    return _assemble(meta, tmap, in_specs, exp_specs, values, topic_ticks, clock, reset, path)


def _assemble(
    meta: BagMeta,
    tmap: TopicMap,
    in_specs: dict[str, Any],
    exp_specs: dict[str, Any],
    values: dict[str, np.ndarray],
    topic_ticks: dict[str, np.ndarray],
    clock: np.ndarray,
    reset: np.ndarray,
    path: pathlib.Path,
) -> Recording:
    n = meta.num_ticks
    any_input = np.zeros(n, dtype=bool)
    all_input = np.ones(n, dtype=bool)
    for topic in in_specs:
        any_input |= topic_ticks[topic]
        all_input &= topic_ticks[topic]
    absent = [t for t in in_specs if n and not topic_ticks[t][0]]
    if n and clock[0] and absent:
        raise BagError(f"{path}: no input on {absent} at tick 0; the replay cannot start. Re-record the bag.")
    inputs: dict[str, np.ndarray] = {}
    for topic, spec in in_specs.items():
        held = _hold(topic_ticks[topic])
        for bnd in spec.bindings:
            inputs[bnd.component] = values[bnd.component][held].reshape((n, *bnd.shape))
    expected = {}
    expected_ticks = {}
    for topic, spec in exp_specs.items():
        for bnd in spec.bindings:
            expected[bnd.component] = values[bnd.component]
            expected_ticks[bnd.component] = topic_ticks[topic]
    return Recording(
        meta=meta,
        inputs=inputs,
        input_ticks=any_input,
        expected=expected,
        expected_ticks=expected_ticks,
        resets=reset,
        missing_ticks=np.flatnonzero(~clock).tolist(),
        incomplete_ticks=np.flatnonzero(any_input & ~all_input).tolist(),
    )


def _hold(present: np.ndarray) -> np.ndarray:
    """For each tick, the index of the latest tick at or before it where ``present`` is True."""
    index = np.where(present, np.arange(present.size), 0)
    return np.maximum.accumulate(index)
