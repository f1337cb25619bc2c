"""Wall-clock tick designs of the policy node (without ``use_sim_time``; the ``/clock`` path is
untouched): parameters, the executor-thread ticker, deferred decoding, and the executor to spin.

Parameters (declared with descriptions; read once at configure):

- ``tick_mode`` (string, ``events``):
  ``executor`` ticks on the executor's own thread from a steady-clock timer at absolute
  deadlines (the executor sleeps in its wait set until the next deadline or message; messages
  and ticks never run at the same time, so there is no GIL hand-off and no lock wait);
  ``events`` is the same node side, and ``main()`` spins rclpy's C++ ``EventsExecutor`` (with
  ``spin_once``: its ``spin()`` hangs on Kilted; a SingleThreadedExecutor where rclpy has
  none, e.g. Jazzy before rclpy 7.1.4) - the least CPU per message, so the most headroom on a shared core;
  ``thread`` is the earlier design: a dedicated tick thread (:class:`exploy_ros.timing.TickThread`)
  next to the executor thread.
- ``decode_on_tick`` (bool, false): input callbacks only queue the undecoded message with its receipt
  time (bounded by ``qos_depth`` per topic); the tick decodes the queue, in arrival order,
  before it looks at the inputs. Same values, same rejections, same freshness as decoding in
  the callback.
- ``raw_inputs`` (bool, true; also with ``use_sim_time``): subscribe to JointState, Imu, Twist,
  TwistStamped, Odometry, Float32MultiArray and Float64MultiArray inputs raw and read their CDR
  bytes with :mod:`exploy.mapping.cdr` (no rclpy message objects); other types are taken as messages.
- ``spin_wait_us`` (double, 0): wake this long before each deadline and busy-wait to it. Costs
  that much CPU per tick (e.g. 200 us at 1 kHz = 20 % of a core).
- ``cpu_affinity`` (string, ""): pin the tick (thread mode: the tick thread; executor modes: the
  thread that activates the node, i.e. the executor thread of ``main()``) to these CPUs, e.g. ``"1"``.

The tick logic itself stays in the node; everything here only decides *when* it runs.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.timer import Timer

from exploy_ros.parameters import SettingsError
from exploy_ros.timing import NS_PER_S, DeadlineSchedule, TickThread, busy_wait_until, parse_cpu_list, pin_this_thread

TickMode = Literal["executor", "events", "thread"]
TICK_MODES: tuple[str, ...] = ("executor", "events", "thread")
DEFAULT_TICK_MODE: TickMode = "events"

TICK_PARAMETERS: dict[str, tuple[Any, str]] = {
    "tick_mode": (
        DEFAULT_TICK_MODE,
        "Wall-clock tick design: 'events' (tick on the executor thread from a steady timer at absolute "
        "deadlines, main() spinning rclpy's EventsExecutor), 'executor' (the same on a SingleThreadedExecutor), "
        "'thread' (a dedicated tick thread). "
        "Ignored with use_sim_time (ticks follow /clock).",
    ),
    "decode_on_tick": (
        False,
        "Input callbacks only queue undecoded messages (at most qos_depth per topic); the tick decodes them in "
        "arrival order before it runs.",
    ),
    "raw_inputs": (
        True,
        "Take JointState, Imu, Twist, TwistStamped, Odometry, Float32MultiArray and Float64MultiArray inputs as "
        "their serialized bytes and read them without building rclpy message objects (same values, same "
        "rejections, less CPU per message). false: take rclpy messages. Also with use_sim_time.",
    ),
    "spin_wait_us": (
        0.0,
        "Busy-wait this long (us) before each wall-clock deadline instead of sleeping to it: lower wake-up "
        "jitter for that much CPU per tick. 0: off.",
    ),
    "cpu_affinity": (
        "",
        "Pin the tick to these CPUs, e.g. '1' or '2-3' (thread mode: the tick thread; executor modes: the "
        "executor thread). Empty: no pinning.",
    ),
}
"""Name -> (default, description) of the parameters this module declares."""


@dataclass(frozen=True)
class TickSettings:
    """The validated tick parameters.

    Attributes:
        mode: The wall-clock tick design.
        decode_on_tick: Queue undecoded messages, decode on the tick.
        raw_inputs: Take the supported input types as serialized bytes.
        spin_ns: Busy-wait before each deadline (ns).
        cpus: CPUs to pin the tick to (empty: none).
    """

    mode: TickMode = DEFAULT_TICK_MODE
    decode_on_tick: bool = False
    raw_inputs: bool = True
    spin_ns: int = 0
    cpus: frozenset[int] = frozenset()


def declare_tick_parameters(node: Node) -> None:
    """Declare :data:`TICK_PARAMETERS` on ``node``, dynamically typed: an override of the wrong
    type (``tick_mode:=3``) is taken here and refused in one line by :func:`read_tick_settings`
    at configure, instead of failing the node's construction."""
    for name, (default, description) in TICK_PARAMETERS.items():
        descriptor = ParameterDescriptor(description=description, dynamic_typing=True)
        node.declare_parameter(name, default, descriptor)


def read_tick_settings(node: Node) -> TickSettings:
    """Read and validate the tick parameters of ``node``.

    Raises:
        SettingsError: naming the parameter with a bad value.
    """
    mode = str(node.get_parameter("tick_mode").value)
    if mode not in TICK_MODES:
        raise SettingsError(f"Parameter 'tick_mode' must be one of {list(TICK_MODES)}, got {mode!r}")
    spin = node.get_parameter("spin_wait_us").value
    if isinstance(spin, bool) or not isinstance(spin, (int, float)) or not 0.0 <= spin <= 1e6:
        raise SettingsError(f"Parameter 'spin_wait_us' must be a number of microseconds in 0..1e6, got {spin!r}")
    try:
        cpus = parse_cpu_list(str(node.get_parameter("cpu_affinity").value))
    except ValueError as err:
        raise SettingsError(f"Parameter 'cpu_affinity': {err}; use e.g. '1', '0,1' or '2-3', or '' for none") from err
    decode = node.get_parameter("decode_on_tick").value
    if not isinstance(decode, bool):
        raise SettingsError(f"Parameter 'decode_on_tick' must be true or false, got {decode!r}")
    raw = node.get_parameter("raw_inputs").value
    if not isinstance(raw, bool):
        raise SettingsError(f"Parameter 'raw_inputs' must be true or false, got {raw!r}")
    return TickSettings(
        mode=mode, decode_on_tick=decode, raw_inputs=raw, spin_ns=round(spin * 1000), cpus=cpus  # type: ignore[arg-type]
    )


class ExecutorTicker:
    """Ticks on the executor's thread: a steady-clock timer wakes the executor at each deadline.

    The timer fires ``spin_ns`` before the deadline (its origin is that much earlier); the
    callback busy-waits to the deadline, takes it from a :class:`DeadlineSchedule` (whole late
    periods skipped and counted in :attr:`missed`) and calls ``tick(now_ns)``.

    Args:
        node: The node that owns the timer.
        period_ns: Tick period.
        tick: Called with the monotonic time of each tick.
        spin_ns: Busy-wait before each deadline (ns).
        cpus: Pin the thread calling :meth:`start` (the executor thread of ``main()``) to these CPUs.
        priority: 1..99 runs that thread under ``SCHED_FIFO`` at this priority (message callbacks
            included); 0 keeps normal scheduling.
    """

    def __init__(
        self,
        node: Node,
        *,
        period_ns: int,
        tick: Callable[[int], None],
        spin_ns: int = 0,
        cpus: frozenset[int] = frozenset(),
        priority: int = 0,
    ) -> None:
        self._node = node
        self.priority = priority
        self.period_ns = period_ns
        self.spin_ns = max(0, min(spin_ns, period_ns // 2))
        self.cpus = cpus
        self._tick = tick
        self._timer: Timer | None = None
        self._schedule: DeadlineSchedule | None = None

    @property
    def missed(self) -> int:
        """Deadlines skipped because a whole period passed without a tick."""
        return self._schedule.missed if self._schedule is not None else 0

    def start(self) -> str | None:
        """Create the timer; return why pinning or the priority failed, or None."""
        problems = [pin_this_thread(self.cpus)]
        if self.priority > 0:
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.priority))  # 0: this thread
            except (AttributeError, OSError) as err:
                problems.append(f"cannot run the executor thread at SCHED_FIFO priority {self.priority}: {err}")
        self._timer = self._node.create_timer(
            self.period_ns / NS_PER_S, self._on_timer, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )
        # the timer's origin is at or before now: deadline k = now + spin + k * period is never before its k-th call
        self._schedule = DeadlineSchedule(period_ns=self.period_ns, origin_ns=time.monotonic_ns() + self.spin_ns)
        return "; ".join(p for p in problems if p) or None

    def stop(self) -> None:
        """Destroy the timer (no further ticks)."""
        timer, self._timer = self._timer, None
        if timer is not None:
            self._node.destroy_timer(timer)

    def _on_timer(self) -> None:
        schedule = self._schedule
        if schedule is None or self._timer is None:
            return
        now = time.monotonic_ns()
        if now < schedule.next_ns:
            if schedule.next_ns - now > self.spin_ns + self.period_ns // 2:
                return  # not this deadline's call (cannot happen with an aligned timer): wait for the next
            now = busy_wait_until(schedule.next_ns)
        if schedule.take(now) is not None:
            self._tick(now)


WallTicker = ExecutorTicker | TickThread


def make_wall_ticker(
    node: Node, settings: TickSettings, *, period_ns: int, tick: Callable[[int], None], priority: int
) -> WallTicker:
    """The wall-clock ticker of ``settings.mode`` (not started)."""
    if settings.mode == "thread":
        return TickThread(
            period_ns=period_ns, tick=tick, priority=priority, spin_ns=settings.spin_ns, cpus=settings.cpus
        )
    return ExecutorTicker(
        node, period_ns=period_ns, tick=tick, spin_ns=settings.spin_ns, cpus=settings.cpus, priority=priority
    )


class RawInbox:
    """Raw input messages waiting for the tick: per topic, at most ``depth`` (oldest dropped).

    ``put`` is called by subscription callbacks, ``drain`` by the tick; both on one thread in the
    executor designs, and ``deque`` appends and pops are atomic under the GIL in the thread design.

    Args:
        topics: The input topic names.
        depth: Messages kept per topic (the subscription's history depth).
    """

    def __init__(self, topics: Iterable[str], *, depth: int) -> None:
        self._queues: dict[str, deque] = {topic: deque(maxlen=max(1, depth)) for topic in topics}

    def put(self, topic: str, msg: Any, received_ns: int) -> None:
        """Queue ``msg`` of ``topic`` received at ``received_ns``."""
        self._queues[topic].append((msg, received_ns))

    def drain(self) -> Iterator[tuple[str, Any, int]]:
        """Yield (topic, message, receipt time) of every queued message, per topic in arrival order."""
        for topic, queue in self._queues.items():
            while queue:
                msg, received_ns = queue.popleft()
                yield topic, msg, received_ns


def build_executor(mode: str, *, context: Any = None, log_warning: Callable[[str], None] | None = None) -> Executor:
    """The executor ``main()`` spins for tick mode ``mode``: rclpy's EventsExecutor for ``events``
    (a SingleThreadedExecutor, with a warning, where rclpy has none: Jazzy before 7.1.4), else a
    SingleThreadedExecutor."""
    if mode == "events":
        try:
            from rclpy.experimental import EventsExecutor
        except ImportError as err:
            if log_warning is not None:
                log_warning(
                    f"tick_mode 'events': this rclpy has no EventsExecutor ({err}); spinning a SingleThreadedExecutor"
                )
        else:
            return EventsExecutor(context=context)
    return SingleThreadedExecutor(context=context)


def spin_forever(executor: Executor, *, context: Any = None) -> None:
    """Spin until the context shuts down, with ``spin_once`` (``EventsExecutor.spin()`` hangs on Kilted)."""
    ok = (lambda: context.ok()) if context is not None else rclpy.ok
    while ok():
        executor.spin_once(timeout_sec=0.1)


def tune_process_for_ticking() -> None:
    """Process-wide settings for a 1 kHz tick: no GC pauses over start-up objects, and a short
    GIL switch interval so the tick thread gets the interpreter promptly while the executor
    thread runs callbacks (default 5 ms)."""
    gc.freeze()
    sys.setswitchinterval(2e-5)
