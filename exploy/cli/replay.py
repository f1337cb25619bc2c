"""``exploy replay BAG --policy FILE``: replay a recorded bag against the policy and compare."""

from __future__ import annotations

import argparse
import math
import pathlib
from typing import Any

from exploy.bag.compare import DEFAULT_ATOL, DEFAULT_RTOL, TOLERANCE_RULE
from exploy.cli.main import EXIT_FAILED, EXIT_OK


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay a recorded bag against the deployed policy and compare the outputs",
        description="Offline (default): run the policy file in-process over the bag, tick by tick. "
        "Live (--live): drive a running policy_node (use_sim_time) in lockstep over its topics. "
        "Writes a JSON summary and a PNG plot. An output value matches when "
        f"{TOLERANCE_RULE}. Exit code 0 on match, 1 on divergence, 2 on bad input.",
    )
    parser.add_argument("bag", type=pathlib.Path, help="bag recorded by `exploy record`")
    parser.add_argument("--policy", required=True, type=pathlib.Path, help="the policy file to check")
    parser.add_argument(
        "--atol", type=float, default=DEFAULT_ATOL, help=f"absolute tolerance (default: {DEFAULT_ATOL:g})"
    )
    parser.add_argument(
        "--rtol", type=float, default=DEFAULT_RTOL, help=f"relative tolerance (default: {DEFAULT_RTOL:g})"
    )
    parser.add_argument("--out", type=pathlib.Path, help="folder for summary.json and plot.png (default: BAG_replay)")
    parser.add_argument("--json", type=pathlib.Path, help="JSON summary path (default: OUT/summary.json)")
    parser.add_argument("--plot", type=pathlib.Path, help="PNG plot path (default: OUT/plot.png)")
    parser.add_argument("--no-plot", action="store_true", help="skip the plot")
    parser.add_argument(
        "--allow-policy-mismatch", action="store_true",
        help="compare even if the policy file is not the one the bag was recorded for (e.g. new weights); "
        "the warnings then list what differs (metadata, graph interface, changed weights and by how much)",
    )
    parser.add_argument("--live", action="store_true", help="drive a running policy_node instead of running the file")
    parser.add_argument("--node", help="live: fully qualified name of the policy node (default: the bag's)")
    parser.add_argument(
        "--timeout", type=float, default=2.0, help="live: seconds to wait for each tick's outputs (default: 2)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Replay; bad input raises an ExployError, mapped to exit 2 by ``main``."""
    from exploy.bag.errors import BagError
    from exploy.bag.report import default_report_dir, summary_text, write_reports

    if not (math.isfinite(args.atol) and math.isfinite(args.rtol) and args.atol >= 0 and args.rtol >= 0):
        raise BagError(f"tolerances must be finite and >= 0, got atol {args.atol}, rtol {args.rtol}")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise BagError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.live:
        try:
            from exploy_ros.replay_node import replay_live
        except ImportError as err:
            raise BagError(
                f"--live needs ROS 2 (rclpy) in this Python ({err}); source a ROS install or drop --live"
            ) from err

        result = replay_live(
            args.bag, args.policy, node=args.node, atol=args.atol, rtol=args.rtol, timeout=args.timeout,
            allow_policy_mismatch=args.allow_policy_mismatch, progress=not args.quiet,
        )
    else:
        from exploy.bag.replay import replay_offline

        result = replay_offline(
            args.bag, args.policy, atol=args.atol, rtol=args.rtol,
            allow_policy_mismatch=args.allow_policy_mismatch, progress=not args.quiet,
        )
    summary, plot = write_reports(
        result,
        args.out or default_report_dir(args.bag),
        json_path=args.json,
        plot_path=args.plot,
        plot=not args.no_plot,
    )
    print(summary_text(result))
    print(f"  summary: {summary}" + ("" if plot is None else f", plot: {plot}"))
    return EXIT_OK if result.ok else EXIT_FAILED
