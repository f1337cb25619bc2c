"""Live replay: drive a running ``policy_node`` in lockstep with a recorded bag and compare.

For every sim tick ``k`` of the bag the driver

1. calls the node's ``~/reset`` service where the bag marks a reset (and before tick 0);
2. publishes the tick's inputs on the node's input topics, then ``~/step`` ``[sim_time_ns,
   inputs]`` (:data:`exploy_ros.lockstep.STEP_TOPIC`): the node ticks once it has taken those
   inputs (DDS does not order messages across topics), so one round trip per tick;
3. waits (bounded) for one message on every output topic and the node's ``~/tick``, whose
   ``ctx.step_count`` must be the one the bag implies.

Before the first tick the driver sets the node's ``soft_start_s`` to 0 (and restores it after),
so the safety layer's soft start cannot make the comparison lie; the result's warnings say so.

The produced outputs go through :func:`exploy.bag.compare.compare_outputs`, like the offline
replay. Console script ``replay_node`` (parameters ``bag``, ``policy_path``, ``target_node``,
``atol``, ``rtol``, ``timeout_s``, ``out_dir``); also ``exploy replay --live``.
"""

from __future__ import annotations

import pathlib
import sys
import time
from collections.abc import Sequence

import exploy_ros.ros_required  # noqa: F401  (first: without rclpy, one line instead of a traceback)

import rclpy
from rclpy.context import Context
from rclpy.executors import Executor, ExternalShutdownException
from rclpy.node import Node

from exploy.bag.checks import check_expected_complete
from exploy.bag.compare import DEFAULT_ATOL, DEFAULT_RTOL, ReplayResult, compare_outputs
from exploy.bag.errors import BagError
from exploy.bag.reader import check_policy, read_bag, read_meta, topic_map_for
from exploy.cli.main import error_line
from exploy.errors import ExployError
from exploy.format import PolicyFormatError, read_metadata
from exploy_ros.parameters import declare_table
from exploy_ros.replay_driver import DISCOVERY_TIMEOUT_S, ReplayDriver
from exploy_ros.safety_io import disable_soft_start
from exploy_ros.ticking import build_executor


def replay_live(
    bag: str | pathlib.Path,
    policy_path: str | pathlib.Path,
    *,
    node: str | None = None,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    timeout: float = 2.0,
    allow_policy_mismatch: bool = False,
    progress: bool = False,
    context: Context | None = None,
    spin_with: Sequence[Node] = (),
    discovery_timeout: float = DISCOVERY_TIMEOUT_S,
) -> ReplayResult:
    """Replay ``bag`` against a running policy node in lockstep and compare every expected output.

    Args:
        bag: The bag recorded by ``exploy record``.
        policy_path: The policy file the node runs (read for its topics and checked against the bag).
        node: Fully qualified name of the policy node (default: the one the bag was recorded for).
        atol: Absolute tolerance.
        rtol: Relative tolerance.
        timeout: Seconds to wait for each tick's outputs.
        allow_policy_mismatch: Compare even when the file's hash differs from the bag's.
        progress: Show a progress bar.
        context: rclpy context (initialised by the caller); default: the global one, initialised
            here when needed and shut down afterwards.
        spin_with: Further nodes to spin on the driver's executor (e.g. an in-process policy node).
        discovery_timeout: Seconds to wait for the node's topics and reset service to appear.

    Raises:
        BagError: for bad input; :class:`LiveReplayError` when the node is absent or silent.
    """
    meta = read_meta(bag)
    try:
        warnings = list(meta.notes) + check_policy(meta, policy_path, allow_mismatch=allow_policy_mismatch)
        policy_meta = read_metadata(policy_path)
    except (PolicyFormatError, OSError) as err:
        raise BagError(f"Cannot load policy file {policy_path}: {err}") from err
    recording = read_bag(bag, policy_meta, progress=progress)
    check_expected_complete(recording, str(bag))
    topic_map = topic_map_for(policy_meta, meta.mapping)
    own_init = context is None and not rclpy.ok()
    if own_init:
        rclpy.init()
    driver: ReplayDriver | None = None
    # rclpy's EventsExecutor (a SingleThreadedExecutor where rclpy has none): its per-message cost
    # does not grow with the entities spun as a rebuilt wait set's does; live replay against a node
    # in its own process 844-878 against 730-751 ticks/s (the demo's bag, five alternations), with
    # an in-process node 2,166-2,181 against 747-776 (bench/replay.py)
    executor: Executor = build_executor("events", context=context)
    try:
        driver = ReplayDriver(
            recording=recording, topic_map=topic_map, target=node or meta.node, timeout=timeout, context=context
        )
        driver.file_rate = policy_meta.update_rate
        for other in (driver, *spin_with):
            executor.add_node(other)
        driver.wait_for_policy_node(executor, discovery_timeout)
        note, restore = disable_soft_start(driver, executor, driver.target, timeout=discovery_timeout)
        warnings.append(note)
        try:
            start = time.perf_counter()
            actual, timing = driver.run(executor, progress=progress)
            seconds = time.perf_counter() - start
        finally:
            restore()
    finally:
        for started in (driver, *spin_with):
            if started is not None:
                executor.remove_node(started)
        if driver is not None:
            driver.destroy_node()
        executor.shutdown()
        if own_init:
            rclpy.try_shutdown()
    result = compare_outputs(
        recording, actual, mode="live", bag=str(bag), policy=str(policy_path),
        atol=atol, rtol=rtol, warnings=warnings, seconds=seconds,
    )
    if timing:
        result.warnings.append(
            f"{len(timing)} tick(s) ran with an unexpected step count (first: tick {timing[0].tick})"
        )
        if result.first_divergence is None or timing[0].tick <= result.first_divergence.tick:
            result.first_divergence = timing[0]
    return result


_PARAMETERS = {
    "bag": ("", "Bag recorded by `exploy record`. Required."),
    "policy_path": ("", "The policy file the policy node runs. Required."),
    "target_node": ("", "Fully qualified name of the policy node; empty: the one the bag was recorded for."),
    "atol": (DEFAULT_ATOL, "Absolute tolerance."),
    "rtol": (DEFAULT_RTOL, "Relative tolerance."),
    "timeout_s": (2.0, "Seconds to wait for each tick's outputs."),
    "out_dir": ("", "Folder for summary.json and plot.png; empty: <bag>_replay."),
    "allow_policy_mismatch": (False, "Compare even if the policy file is not the one the bag was recorded for."),
}


def main(args: list[str] | None = None) -> int:
    """Console script ``replay_node``: one live replay, exit code 0 match / 1 divergence / 2 bad input."""
    from exploy.bag.report import default_report_dir, summary_text, write_reports

    rclpy.init(args=args)
    try:
        params = rclpy.create_node("exploy_replay_params")
        try:
            value = declare_table(params, _PARAMETERS)
        finally:
            params.destroy_node()
        if not value["bag"] or not value["policy_path"]:
            print("replay_node: set parameters bag:=<bag> and policy_path:=<policy.onnx>", file=sys.stderr)
            return 2
        bag = pathlib.Path(value["bag"])
        result = replay_live(
            bag, value["policy_path"], node=value["target_node"] or None, atol=value["atol"],
            rtol=value["rtol"], timeout=value["timeout_s"],
            allow_policy_mismatch=value["allow_policy_mismatch"], progress=True,
        )
        write_reports(result, value["out_dir"] or default_report_dir(bag))
        print(summary_text(result))
        return 0 if result.ok else 1
    except (ExployError, OSError) as err:  # bad input: one bounded line, exit 2
        print(error_line("replay_node", err), file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        return 130
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
