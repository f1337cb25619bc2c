"""``exploy record MODULE:FACTORY [--arg K=V] --policy FILE --out BAG``: record a simulation run into a rosbag2."""

from __future__ import annotations

import argparse
import math
import pathlib
import sys
from typing import Any

from exploy.cli.factory import add_factory_arguments, make_env_and_actor, parse_factory_args
from exploy.cli.main import EXIT_OK

MAX_SIM_DT = 10.0
"""Largest --sim-dt accepted, in seconds."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "record",
        help="record an environment run into a rosbag2 for replay against the deployed policy",
        description="Call FACTORY from MODULE with the --arg keyword arguments (it returns "
        "(exportable_env, actor), the pair the policy file was exported from), run it for STEPS "
        "policy steps and record, at sim time, the inputs on the policy node's topics, "
        "the expected outputs on /exploy/expected/... and "
        "/clock. Exit code 0 on success, 2 on bad input.",
    )
    add_factory_arguments(parser)
    parser.add_argument("--policy", required=True, type=pathlib.Path, help="the exported policy file")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="bag directory to create")
    parser.add_argument("--steps", type=int, default=100, help="policy steps to record (default: 100)")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="bag storage (default: mcap)")
    parser.add_argument("--mapping", type=pathlib.Path, help="mapping file the policy node runs with")
    parser.add_argument(
        "--node", default="/policy_node", help="fully qualified name of the policy node (default: /policy_node)"
    )
    parser.add_argument(
        "--sim-dt", type=float, help="sim time step in seconds (default: from the file or the environment)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _load_mapping(path: pathlib.Path | None) -> Any:
    """The mapping file's document (checked as the node checks it), or None."""
    if path is None:
        return None
    from exploy.mapping import MappingError, parse_mapping
    from exploy.mapping.yaml_loader import YamlFileError, load_yaml_file

    try:
        data = load_yaml_file(path, what="mapping file")
    except YamlFileError as err:
        raise MappingError(str(err)) from err
    parse_mapping(data, source=str(path))  # validates; raises MappingError
    return data


def run(args: argparse.Namespace) -> int:
    """Record; bad input raises an ExployError, mapped to exit 2 by ``main``."""
    from exploy.bag.errors import BagError
    from exploy.bag.layout import MAX_TICKS

    if not 1 <= args.steps <= MAX_TICKS:
        raise BagError(f"--steps must be in [1, {MAX_TICKS}] policy steps, got {args.steps}")
    if args.sim_dt is not None and not (math.isfinite(args.sim_dt) and 0 < args.sim_dt <= MAX_SIM_DT):
        raise BagError(f"--sim-dt must be a number of seconds in (0, {MAX_SIM_DT:g}], got {args.sim_dt}")
    kwargs = parse_factory_args(args.factory_args)
    mapping = _load_mapping(args.mapping)
    env, actor = make_env_and_actor(args.factory, kwargs)

    from exploy.bag.recorder import record

    result = record(
        env, actor.eval(), args.policy, args.out,
        num_steps=args.steps, storage=args.storage, mapping=mapping,
        node=args.node, sim_dt=args.sim_dt, progress=not args.quiet,
    )
    meta = result.meta
    print(
        f"exploy record: wrote {args.out} ({meta.num_ticks} ticks = {meta.num_ticks // meta.decimation} policy "
        f"steps, sampling {meta.sampling}, dt {meta.dt_ns * 1e-9:g} s, {args.storage})"
    )
    for warning in result.warnings:
        print(f"exploy record: warning: {warning}", file=sys.stderr)
    return EXIT_OK
