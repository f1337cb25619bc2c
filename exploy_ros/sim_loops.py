"""The loops of :class:`exploy_ros.mujoco_sim_node.MujocoSimNode`: lockstep and real time.

Plain functions taking the node (its state stays on the node):

- :func:`run_lockstep`: per tick, publish the state, then ``<target>/step`` ``[sim_time_ns,
  inputs]``, wait (bounded) for the command that tick produced, apply it, step;
- :func:`run_realtime`: free-running at the real-time factor, applying the latest command and
  recording its age.

While waiting for a command the simulator takes it straight from its subscription: on a wait
set of its own (policy node in another process) or by spinning the in-process policy node's
executor on this thread (:attr:`MujocoSimNode.peer`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rclpy.executors import Executor

from exploy.sim.errors import SimError
from exploy_ros import lockstep

if TYPE_CHECKING:
    from exploy_ros.mujoco_sim_node import MujocoSimNode

NS_PER_S = 1_000_000_000
PEER_SPIN_S = 0.001
"""Longest single wait on an in-process policy node's executor while its command is due."""


def spin_until(executor: Executor, done: Callable[[], bool], timeout: float, what: str) -> None:
    """Spin ``executor`` until ``done()``.

    Raises:
        SimError: ``what``, after ``timeout`` seconds.
    """
    lockstep.spin_until(executor, done, timeout, what, error=SimError)


def run_lockstep(node: MujocoSimNode, executor: Executor, ticks: int, progress: Callable[[int], None] | None) -> None:
    """``ticks`` lockstep ticks (see the module docstring).

    Raises:
        SimError: when a tick's command does not come within the node's ``timeout_s``.
    """
    step = node._step
    fast = len(executor.get_nodes()) == 1  # nothing else to spin: wait on the command alone
    for tick in range(ticks):
        now = node.sim_time_ns()
        inputs = node.publish_state()
        expected = node._received + 1
        node._step_pub.publish(step.write(now, inputs))
        what = (
            f"policy node {node.topics.node} sent no command on {node.topics.command} for tick {tick} "
            f"(sim time {now / NS_PER_S:.3f} s) within {node.timeout:g} s: is it active with "
            "use_sim_time:=true and all its inputs mapped to this simulator's topics?"
        )
        if node.peer is not None or fast:
            if not wait_command(node, node.timeout):
                raise SimError(what)
        else:
            spin_until(executor, lambda: node._received >= expected, node.timeout, what)  # noqa: B023 (used at once)
        node._take_command()
        node.ages.add(0.0)
        node._physics()
        node._publish_clock(tick)
        if progress is not None:
            progress(tick)


def run_realtime(node: MujocoSimNode, executor: Executor, ticks: int, progress: Callable[[int], None] | None) -> None:
    """``ticks`` free-running ticks at the node's real-time factor, recording each command's age."""
    wall_period = node.period_ns / NS_PER_S / node.rtf
    node.publish_state()
    node._publish_clock()
    deadline = time.monotonic()
    for tick in range(ticks):
        deadline += wall_period
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            executor.spin_once(timeout_sec=left)
        node._take_command()
        stamp = node._command_stamp_ns
        node.ages.add(None if stamp is None else (node.sim_time_ns() - stamp) / NS_PER_S)
        node._physics()
        node.publish_state()
        node._publish_clock()
        if progress is not None:
            progress(tick)


def wait_command(node: MujocoSimNode, timeout: float) -> bool:
    """Wait for the next command, taking it straight from the command subscription.

    The executor would rebuild a wait set of every entity of every node it spins for each
    message. With the policy node in another process nothing else needs spinning here, so this
    waits on a wait set holding the command subscription alone (as ``rclpy.wait_for_message``
    does); with the policy node in this process (``node.peer``) it spins that node's executor on
    this thread instead (no thread hand-off, no wake-up: messages between the two nodes are
    delivered within the process). Returns False on timeout.
    """
    sub = node._command_sub
    deadline = time.monotonic() + timeout
    while True:
        taken = sub.handle.take_message(sub.msg_type, sub.raw)
        if taken is not None:
            node._on_command(taken[0])
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if node.peer is not None:
            node.peer.spin_once(timeout_sec=min(left, PEER_SPIN_S))
        else:
            _wait_on_command(node, min(left, 0.1))


def _wait_on_command(node: MujocoSimNode, seconds: float) -> None:
    """Block until the command subscription has a message or ``seconds`` pass."""
    from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
    from rclpy.utilities import timeout_sec_to_nsec

    if node._wait_set is None:
        node._wait_set = _rclpy.WaitSet(1, 0, 0, 0, 0, 0, node.context.handle)  # type: ignore[arg-type]  # a live node has a context
    ws = node._wait_set
    ws.clear_entities()
    ws.add_subscription(node._command_sub.handle)
    ws.wait(timeout_sec_to_nsec(seconds))
