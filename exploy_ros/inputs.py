"""The policy node's input side: last good value per component, freshness and rejections.

No rclpy here: the node hands each received message to :meth:`InputStore.receive` with the
receive time, and asks :meth:`InputStore.missing` / :meth:`InputStore.stale` before a tick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exploy.mapping.cdr import cdr_reader
from exploy.mapping.codec import TopicDecoder
from exploy.mapping.errors import AdapterError
from exploy.mapping.topic_map import TopicSpec

LogFn = Callable[[str], None]


@dataclass
class TopicState:
    """What the node knows about one input topic.

    Attributes:
        spec: The topic and its bindings.
        decode: Reads the bound tensors from a message.
        parse: Reads a serialized message of the topic (raw subscription) into a view the
            decoder reads like the message (:mod:`exploy.mapping.cdr`); None for types taken
            as rclpy messages only.
        last_ns: Receive time of the last accepted message (node clock), or None.
        received: Accepted messages.
        rejected: Rejected messages (wrong size, NaN/Inf, missing joints, ...).
        last_error: Why the last rejected message was rejected.
        stale: True while the topic is older than the timeout (set by :meth:`InputStore.stale`).
        stale_events: Times the topic went stale.
    """

    spec: TopicSpec
    decode: TopicDecoder
    parse: Callable[[bytes], Any] | None = None
    last_ns: int | None = None
    received: int = 0
    rejected: int = 0
    last_error: str = ""
    stale: bool = False
    stale_events: int = 0
    _last_log_ns: int = field(default=-(10**18), repr=False)


class InputStore:
    """Keeps the last good tensor of every input component.

    Args:
        topics: The input topics of the topic map.
        timeout_ns: An input older than this is stale (0 disables the check).
        log_warning: Called with a message for rejections and stale/fresh transitions.
        log_period_ns: Least time between two rejection logs of one topic (throttling).
    """

    def __init__(
        self,
        topics: tuple[TopicSpec, ...],
        *,
        timeout_ns: int,
        log_warning: LogFn,
        log_period_ns: int = 1_000_000_000,
    ) -> None:
        self.topics = {spec.topic: TopicState(spec, TopicDecoder(spec), cdr_reader(spec.adapter)) for spec in topics}
        self.timeout_ns = timeout_ns
        self._log = log_warning
        self._log_period_ns = log_period_ns
        self.all_arrived = not self.topics
        """True once :meth:`missing` found every topic delivered (stays so until :meth:`reset_times`)."""
        self.values: dict[str, np.ndarray] = {}
        """Component name -> last good tensor; handed to the runtime as the feed."""

    @property
    def rejected(self) -> int:
        """Rejected messages over every topic."""
        return sum(t.rejected for t in self.topics.values())

    def receive(self, topic: str, msg: Any, now_ns: int) -> bool:
        """Decode ``msg`` of ``topic`` received at ``now_ns``; keep it if valid.

        The same as :meth:`commit` of :meth:`decode`; a caller sharing the store with a tick
        thread decodes outside its lock and commits under it.

        Returns:
            True when accepted. A rejected message leaves the last good values in place, is
            counted and logged (at most once per ``log_period_ns`` per topic).
        """
        return self.commit(topic, self.decode(topic, msg), now_ns)

    def takes_raw(self, topic: str) -> bool:
        """Whether ``topic``'s messages can be given as their serialized bytes (see :meth:`decode`)."""
        return self.topics[topic].parse is not None

    def decode(self, topic: str, msg: Any) -> dict[str, np.ndarray] | AdapterError:
        """Decode ``msg`` of ``topic`` into fresh arrays, without touching the stored values.

        ``msg`` is a message object (rclpy or rosbags), or, for a topic that :meth:`takes_raw`,
        its serialized CDR bytes as a raw subscription delivers them.

        Safe to run while a tick reads the store (it changes nothing the tick reads), so the
        slow part of taking a message needs no lock.

        Returns:
            The decoded tensors by component name, or the error that rejects the message.
        """
        state = self.topics[topic]
        try:
            if isinstance(msg, bytes):
                if state.parse is None:
                    return AdapterError(f"serialized {state.spec.msg_type} messages cannot be read here")
                msg = state.parse(msg)
            return state.decode(msg)
        except AdapterError as err:
            return err

    def commit(self, topic: str, decoded: dict[str, np.ndarray] | AdapterError, now_ns: int) -> bool:
        """Swap a result of :meth:`decode` into the store at ``now_ns`` (cheap: run it under the lock).

        Returns:
            True when accepted; an :class:`AdapterError` is counted and logged (throttled) instead.
        """
        state = self.topics[topic]
        if isinstance(decoded, AdapterError):
            state.rejected += 1
            state.last_error = str(decoded)
            if now_ns - state._last_log_ns >= self._log_period_ns:
                state._last_log_ns = now_ns
                self._log(
                    f"Rejected message on {topic} ({state.rejected} so far), keeping the last good value: {decoded}"
                )
            return False
        self.values.update(decoded)
        state.last_ns = now_ns
        state.received += 1
        return True

    def missing(self) -> list[str]:
        """Topics that never delivered an accepted message."""
        missing = [name for name, state in self.topics.items() if state.last_ns is None]
        self.all_arrived = not missing
        return missing

    def stale(self, now_ns: int) -> list[str]:
        """Topics whose last accepted message is older than the timeout at ``now_ns``.

        Updates each topic's stale flag and logs transitions (stale, and fresh again).
        """
        if self.timeout_ns <= 0:
            return []
        out = []
        for name, state in self.topics.items():
            if state.last_ns is None:
                continue
            is_stale = now_ns - state.last_ns > self.timeout_ns
            if is_stale != state.stale:
                state.stale = is_stale
                if is_stale:
                    state.stale_events += 1
                    age = (now_ns - state.last_ns) / 1e9
                    self._log(f"Input {name} is stale ({age:.3f} s old): output publishing stopped")
                else:
                    self._log(f"Input {name} is fresh again: output publishing resumes")
            if is_stale:
                out.append(name)
        return out

    def restamp(self, now_ns: int) -> None:
        """Set the receive time of every received topic to ``now_ns``.

        For a clock that starts after messages arrived (``/clock``): what came before the first
        clock message is as fresh as that message.
        """
        for state in self.topics.values():
            if state.last_ns is not None:
                state.last_ns = now_ns

    def reset_times(self) -> None:
        """Forget receive times (the node calls it on deactivation): every input must arrive again
        before :meth:`missing` is empty. The last values stay, but a tick waits for fresh ones."""
        self.all_arrived = not self.topics
        for state in self.topics.values():
            state.last_ns = None
            state.stale = False
