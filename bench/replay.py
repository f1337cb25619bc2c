"""Benchmark: offline and live replay throughput (sim ticks/s) of a 10,000-tick tutorial bag.

Records the tutorial environment (processed actions registered, MLP actor) for 2,500 policy
steps = 10,000 sim ticks, then times

- offline: ``exploy.bag.replay_offline`` (bag read + decode, policy run, comparison), and the
  policy loop alone;
- live: ``exploy_ros.replay_node.replay_live`` against an in-process ``policy_node`` in lockstep
  (inputs acknowledged, /clock, outputs and ~/tick awaited per tick), on its own ROS domain.

Usage: ``python bench/replay.py [--ticks N] [--live-ticks N]``. Target: >= 20,000 ticks/s offline.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "test" / "exporter"), str(ROOT / "test" / "bag")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=10_000, help="sim ticks in the bag (default: 10000)")
    parser.add_argument("--live-ticks", type=int, default=10_000, help="ticks of the live run (0: skip)")
    args = parser.parse_args()
    from bag_helpers import DECIMATION, export_variant

    from exploy.bag.replay import replay_offline

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = pathlib.Path(tmp)
        exported = export_variant("mlp", tmp_path / "policy")
        bag = tmp_path / "bag"
        start = time.perf_counter()
        exported.record(bag, num_steps=args.ticks // DECIMATION)
        print(f"record:  {args.ticks} ticks in {time.perf_counter() - start:.2f} s")

        start = time.perf_counter()
        result = replay_offline(bag, exported.policy)
        total = time.perf_counter() - start
        assert result.ok, result.first_divergence
        print(
            f"offline: {result.num_ticks / total:,.0f} ticks/s end to end (read + run + compare, {total:.2f} s); "
            f"policy loop alone {result.ticks_per_second:,.0f} ticks/s"
        )
        if args.live_ticks:
            live(exported, tmp_path, args.live_ticks)
    return 0


def live(exported, tmp_path: pathlib.Path, ticks: int) -> None:
    import rclpy
    from bag_helpers import DECIMATION
    from rclpy.context import Context
    from rclpy.parameter import Parameter

    from exploy_ros.policy_node import PolicyNode
    from exploy_ros.replay_node import replay_live

    bag = tmp_path / "live_bag"
    exported.record(bag, num_steps=ticks // DECIMATION)
    context = Context()
    rclpy.init(context=context, domain_id=1 + os.getpid() % 200)
    ns = f"/bench{os.getpid()}"
    params = {"policy_path": str(exported.policy), "use_sim_time": True, "sim_rate_hz": 200.0}
    node = PolicyNode(
        namespace=ns, context=context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()]
    )
    try:
        start = time.perf_counter()
        result = replay_live(
            bag, exported.policy, node=f"{ns}/policy_node", context=context, spin_with=[node], timeout=5.0
        )
        total = time.perf_counter() - start
        assert result.ok, result.first_divergence
        print(
            f"live:    {result.ticks_per_second:,.0f} ticks/s in lockstep ({result.num_ticks} ticks, "
            f"{result.seconds:.2f} s; {total:.2f} s with bag read and discovery)"
        )
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


if __name__ == "__main__":
    sys.exit(main())
