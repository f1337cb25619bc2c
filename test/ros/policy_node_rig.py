"""Test rig for the policy node: export policies, run the node and a peer node in one process.

Each rig has its own rclpy Context on its own ROS_DOMAIN_ID (derived from the pid and a counter)
and its own namespace, so tests running concurrently on this machine do not hear each other.
Waits are bounded: :meth:`Rig.spin_until` raises on timeout.
"""

from __future__ import annotations

import itertools
import os
import pathlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import rclpy
import torch
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from std_msgs.msg import Float32MultiArray, UInt64
from tutorial_code import Actor
from tutorial_variants import add_rnn_actor, make_registered

from exploy.exporter.core.exporter import export_environment_as_onnx
from exploy.runtime.session import SessionWrapper
from exploy_ros.policy_node import PolicyNode

_COUNTER = itertools.count()
TIMEOUT_S = 20.0
TUTORIAL_INPUTS = {"foo": 4, "bar_baz_group.bar": 2, "bar_baz_group.baz": 2}


def unique_domain() -> int:
    """A ROS domain id for one rig (1..200), distinct across rigs of this process."""
    return 1 + (os.getpid() * 13 + next(_COUNTER) * 7) % 200


def export_tutorial(
    folder: pathlib.Path, *, rnn: bool = False, seed: int = 0, name: str = "policy.onnx"
) -> pathlib.Path:
    """Export the tutorial environment (processed actions registered) with an MLP or LSTM actor."""
    torch.manual_seed(seed)
    env = make_registered()
    actor = add_rnn_actor(env) if rnn else Actor(num_obs=env.env.num_obs, num_act=env.env.num_act).eval()
    return export_environment_as_onnx(env=env, actor=actor, path=folder, filename=name)


class Reference:
    """An independent run of a policy file: a bare SessionWrapper with memory fed back by hand."""

    def __init__(self, path: pathlib.Path) -> None:
        self.session = SessionWrapper(path.parent, path.name, optimize=False)
        meta = self.session.policy_metadata
        self.memories = meta.memories
        self.reset()

    def reset(self) -> None:
        """Memory as the file says it starts: its ``initial_value`` metadata, else zeros."""
        self.memory = {
            m.input_name: np.asarray((m.metadata or {}).get("initial_value", np.zeros(m.shape)), np.float32).reshape(
                m.shape
            )
            for m in self.memories
        }

    def run(
        self, inputs: Mapping[str, np.ndarray], step_count: int, *, keep_memory: bool = True
    ) -> dict[str, np.ndarray]:
        feed = {**inputs, **self.memory, "ctx.step_count": np.array(step_count, dtype=np.int32)}
        out = self.session.run(feed)
        if keep_memory:
            self.memory = {m.input_name: out[m.output_name] for m in self.memories}
        return out


def tutorial_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random tutorial inputs by component name."""
    return {name: rng.normal(size=(1, size)).astype(np.float32) for name, size in TUTORIAL_INPUTS.items()}


def array_msg(value: Iterable[float]) -> Float32MultiArray:
    return Float32MultiArray(data=[float(v) for v in np.asarray(value).reshape(-1)])


class Rig:
    """A policy node plus a peer node (publishers, subscriptions, /clock) on one executor.

    Args:
        policy_path: The policy file.
        sim_time: Drive the node from /clock published by the peer.
        params: Further node parameters.
        node_class: The node class (a PolicyNode subclass injecting a fault, say).
    """

    def __init__(
        self,
        policy_path: pathlib.Path | str,
        *,
        sim_time: bool = True,
        params: Mapping[str, Any] | None = None,
        node_class: type[PolicyNode] = PolicyNode,
    ) -> None:
        self.domain = unique_domain()
        self.ns = f"/t{os.getpid()}_{next(_COUNTER)}"
        self.context = Context()
        rclpy.init(context=self.context, domain_id=self.domain)
        overrides = {"policy_path": str(policy_path), "use_sim_time": sim_time, **(params or {})}
        self.node = node_class(
            namespace=self.ns,
            context=self.context,
            parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()],
        )
        self.peer = rclpy.create_node("peer", namespace=self.ns, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.peer)
        self.clock_pub = self.peer.create_publisher(Clock, "/clock", 10)
        self.ticks = self.collect("policy_node/tick", UInt64)
        self._pubs: dict[str, Any] = {}
        self.sim_ns = 1_000_000_000

    def topic(self, name: str) -> str:
        """Absolute name of a node-private topic: ``~/input/foo`` -> ``/<ns>/policy_node/input/foo``."""
        return f"{self.ns}/policy_node/{name[2:]}" if name.startswith("~/") else name

    def collect(self, topic: str, msg_type: type) -> list:
        """A list receiving every message on ``topic`` (relative to the namespace)."""
        got: list = []
        self.peer.create_subscription(msg_type, topic, got.append, 100)
        return got

    def publish(self, topic: str, msg: Any) -> None:
        """Publish ``msg`` on ``topic`` (a ``~/`` name of the node, or relative/absolute)."""
        name = self.topic(topic)
        if name not in self._pubs:
            self._pubs[name] = self.peer.create_publisher(type(msg), name, 100)
            self.spin_until(lambda: self._pubs[name].get_subscription_count() > 0, what=f"subscriber on {name}")
        self._pubs[name].publish(msg)

    def peer_publisher(self, topic: str) -> Any:
        """The peer's publisher on ``topic`` (created by :meth:`publish`)."""
        return self._pubs[self.topic(topic)]

    def spin_until(self, predicate: Callable[[], bool], *, timeout: float = TIMEOUT_S, what: str = "condition") -> None:
        """Spin both nodes until ``predicate()``; raise AssertionError after ``timeout`` seconds."""
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                raise AssertionError(f"Timed out after {timeout} s waiting for {what}")
            self.executor.spin_once(timeout_sec=0.005)

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.005)

    def feed(self, msgs: Mapping[str, Any]) -> None:
        """Publish one message per input topic and wait until the node has taken each of them."""
        store = self.node.inputs
        before = {t: store.topics[t].received + store.topics[t].rejected for t in msgs}
        for topic, msg in msgs.items():
            self.publish(topic, msg)
        self.spin_until(
            lambda: all(store.topics[t].received + store.topics[t].rejected > before[t] for t in msgs),
            what=f"node to receive {list(msgs)}",
        )

    def advance(self, periods: int = 1, *, expect_ticks: int | None = None) -> None:
        """Advance /clock by ``periods`` sim periods; wait for ``expect_ticks`` new ~/tick messages."""
        before = len(self.ticks)
        self.sim_ns += periods * round(1e9 / self.node.rate_hz)
        sec, nsec = divmod(self.sim_ns, 1_000_000_000)
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = sec, nsec
        self.spin_until(lambda: self.clock_pub.get_subscription_count() > 0, what="/clock subscriber")
        self.clock_pub.publish(msg)
        if expect_ticks:
            self.spin_until(lambda: len(self.ticks) >= before + expect_ticks, what=f"{expect_ticks} tick(s)")
        else:
            self.spin_for(0.1)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        self.peer.destroy_node()
        rclpy.try_shutdown(context=self.context)

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
