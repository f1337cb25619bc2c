"""Write an exploy bag (rosbag2, MCAP or sqlite3) with rosbags' own CDR serialiser."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final

import numpy as np

from exploy.bag.errors import BagError
from exploy.bag.layout import (
    CLOCK_TOPIC,
    CLOCK_TYPE,
    META_KEY,
    META_TOPIC,
    META_TYPE,
    RESET_TOPIC,
    RESET_TYPE,
    BagMeta,
    expected_topic,
    resolve_topic,
    typestore,
)
from exploy.bag.mcap_checksums import seal
from exploy.bag.stages import StageWriter
from exploy.mapping import TopicEncoder, TopicMap, TopicSpec, build_rosbags_message

STORAGES = ("mcap", "sqlite3")
BAG_VERSION: Final = 9


def _stamp(ns: int) -> tuple[int, int]:
    return ns // 1_000_000_000, ns % 1_000_000_000


class _Topic:
    """One topic of the bag: its connection and the encoder turning tensors into CDR bytes."""

    def __init__(self, writer: Any, store: Any, spec: TopicSpec, name: str) -> None:
        self.spec = spec
        self.name = name
        self.encode = TopicEncoder(spec)
        self.store = store
        self.connection = writer.add_connection(name, spec.msg_type, typestore=store)

    def serialize(self, values: Mapping[str, np.ndarray], stamp_ns: int) -> bytes:
        fields = self.encode(values, stamp=_stamp(stamp_ns), check_finite=False)
        msg = build_rosbags_message(self.store, self.spec.msg_type, fields)
        return bytes(self.store.serialize_cdr(msg, self.spec.msg_type))


class BagWriter:
    """Writes one recording tick by tick; use as a context manager.

    Args:
        path: The bag directory to create (must not exist).
        meta: The recording's metadata (written to ``/exploy/meta`` and ``custom_data``).
        topic_map: The policy node's topics (:func:`exploy.mapping.build_topic_map`).
        storage: ``"mcap"`` (default) or ``"sqlite3"``.

    Raises:
        BagError: for an unknown storage, an existing path, or a write failure.
    """

    def __init__(
        self,
        path: str | pathlib.Path,
        *,
        meta: BagMeta,
        topic_map: TopicMap,
        storage: str = "mcap",
    ) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer, WriterError

        if storage not in STORAGES:
            raise BagError(f"Unknown bag storage {storage!r}; use one of {list(STORAGES)}")
        self.path = pathlib.Path(path)
        self.meta = meta
        self._storage = storage
        self._store = typestore()
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        try:
            self._writer = Writer(self.path, version=BAG_VERSION, storage_plugin=plugin)
            self._writer.set_custom_data(META_KEY, meta.to_json())
            self._writer.open()
        except (WriterError, OSError) as err:
            raise BagError(f"Cannot create bag {self.path}: {err}") from err
        self._open = True
        add = self._writer.add_connection
        self._clock = add(CLOCK_TOPIC, CLOCK_TYPE, typestore=self._store)
        self._meta = add(META_TOPIC, META_TYPE, typestore=self._store)
        self._reset = add(RESET_TOPIC, RESET_TYPE, typestore=self._store)
        self.inputs = [
            _Topic(self._writer, self._store, s, resolve_topic(s.topic, meta.node)) for s in topic_map.inputs
        ]
        self.expected = [
            _Topic(self._writer, self._store, s, expected_topic(resolve_topic(s.topic, meta.node)))
            for s in topic_map.outputs
        ]
        self._clock_cls = self._store.types[CLOCK_TYPE]
        self._time_cls = self._store.types["builtin_interfaces/msg/Time"]
        self._reset_bytes = bytes(self._store.serialize_cdr(self._store.types[RESET_TYPE](), RESET_TYPE))
        self._meta_written = False

    def write_tick(
        self,
        tick: int,
        *,
        inputs: Mapping[str, np.ndarray] | None = None,
        expected: Mapping[str, np.ndarray] | None = None,
        reset: bool = False,
    ) -> None:
        """Write sim tick ``tick``: ``/clock``, then the reset marker, inputs and expected outputs.

        Args:
            tick: Sim tick index (from the start of the recording).
            inputs: Every input component by name (None: no inputs recorded this tick).
            expected: Every mapped output component by name (None: none this tick).
            reset: The environment was reset before this tick.
        """
        stamp = self.meta.stamp(tick)
        write = self._writer.write
        if not self._meta_written:
            msg = self._store.types[META_TYPE](data=self.meta.to_json())
            write(self._meta, stamp, bytes(self._store.serialize_cdr(msg, META_TYPE)))
            self._meta_written = True
        sec, nsec = _stamp(stamp)
        clock = self._clock_cls(clock=self._time_cls(sec=sec, nanosec=nsec))
        write(self._clock, stamp, bytes(self._store.serialize_cdr(clock, CLOCK_TYPE)))
        if reset:
            write(self._reset, stamp, self._reset_bytes)
        for topics, values in ((self.inputs, inputs), (self.expected, expected)):
            if values is None:
                continue
            for topic in topics:
                write(topic.connection, stamp, topic.serialize(values, stamp))

    def stage_writer(self, memory_names: list[str]) -> StageWriter:
        """A writer of the stage topics and the embedded policy (:mod:`exploy.bag.stages`)."""
        return StageWriter(self._writer, self._store, self.meta.stamp, memory_names)

    def close(self) -> None:
        """Finish the bag (writes its index and ``metadata.yaml``, and the MCAP checksums)."""
        if self._open:
            self._open = False
            self._writer.close()
            if self._storage == "mcap":
                seal(self.path)  # rosbags writes no CRCs; readers verify them (mcap_checksums)

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
