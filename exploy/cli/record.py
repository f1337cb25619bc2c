"""``exploy record MODULE:FACTORY --policy FILE --out BAG``: record a simulation run into a rosbag2."""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Any

from exploy.cli.main import EXIT_BAD_INPUT, EXIT_OK


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "record",
        help="record an environment run into a rosbag2 for replay against the deployed policy",
        description="Call FACTORY from MODULE (it returns (exportable_env, actor), the pair the "
        "policy file was exported from), run it for STEPS policy steps and record, at sim time, "
        "the inputs on the policy node's topics, the expected outputs on /exploy/expected/... and "
        "/clock. Exit code 0 on success, 2 on bad input.",
    )
    parser.add_argument("factory", metavar="MODULE:FACTORY", help="e.g. exploy.examples.legged_robot:make_mlp_example")
    parser.add_argument("--policy", required=True, type=pathlib.Path, help="the exported policy file")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="bag directory to create")
    parser.add_argument("--steps", type=int, default=100, help="policy steps to record (default: 100)")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="bag storage (default: mcap)")
    parser.add_argument("--mapping", type=pathlib.Path, help="mapping file the policy node runs with")
    parser.add_argument("--node", default="/policy_node", help="fully qualified name of the policy node (default: /policy_node)")
    parser.add_argument("--sim-dt", type=float, help="sim time step in seconds (default: from the file or the environment)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _load_mapping(path: pathlib.Path | None) -> Any:
    if path is None:
        return None
    import yaml

    from exploy.mapping import load_mapping_file

    load_mapping_file(path)  # validates; raises MappingError
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def run(args: argparse.Namespace) -> int:
    import torch

    from exploy.bag.errors import BagError
    from exploy.bag.recorder import record
    from exploy.cli.export import load_factory
    from exploy.exporter.core.exportable_environment import ExportableEnvironment
    from exploy.mapping import MappingError

    try:
        factory = load_factory(args.factory)
        made = factory()
    except ValueError as err:
        print(f"exploy record: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as err:  # the user's factory: report, don't traceback
        print(f"exploy record: {args.factory}() raised {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not (
        isinstance(made, tuple)
        and len(made) == 2
        and isinstance(made[0], ExportableEnvironment)
        and isinstance(made[1], torch.nn.Module)
    ):
        print(f"exploy record: {args.factory} must return (ExportableEnvironment, torch.nn.Module)", file=sys.stderr)
        return EXIT_BAD_INPUT
    env, actor = made
    try:
        result = record(
            env, actor.eval(), args.policy, args.out,
            num_steps=args.steps, storage=args.storage, mapping=_load_mapping(args.mapping),
            node=args.node, sim_dt=args.sim_dt, progress=not args.quiet,
        )
    except (BagError, MappingError, OSError) as err:
        print(f"exploy record: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    meta = result.meta
    print(
        f"exploy record: wrote {args.out} ({meta.num_ticks} ticks = {meta.num_ticks // meta.decimation} policy "
        f"steps, sampling {meta.sampling}, dt {meta.dt_ns * 1e-9:g} s, {args.storage})"
    )
    for warning in result.warnings:
        print(f"exploy record: warning: {warning}", file=sys.stderr)
    return EXIT_OK
