"""``exploy export MODULE:FACTORY --out DIR``: export (and check) an environment and its actor."""

from __future__ import annotations

import argparse
import importlib
import pathlib
import sys
from typing import Any

from exploy.cli.main import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export an environment and its actor to one ONNX file",
        description="Call FACTORY from MODULE (it returns (exportable_env, actor)), export both "
        "into OUT/FILENAME, optionally evaluate the file against the environment, and print a "
        "summary. Exit code 0 on success, 1 when the parity check fails, 2 on bad input.",
    )
    parser.add_argument("factory", metavar="MODULE:FACTORY", nargs="?", default=None,
                        help="e.g. exploy.examples.legged_robot:make_mlp_example (or use --mjlab)")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="output folder")
    parser.add_argument("--filename", default="policy.onnx", help="policy file name (default: policy.onnx)")
    parser.add_argument("--evaluate", type=int, default=0, metavar="N", help="policy steps of parity check after export (default: 0, none)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    # mjlab tasks (the `mjlab` extra): exploy.frameworks.mjlab builds the task and its actor.
    parser.add_argument("--mjlab", metavar="TASK_ID", default=None,
                        help="export a registered mjlab task instead of MODULE:FACTORY, e.g. Mjlab-Velocity-Flat-Unitree-Go1")
    parser.add_argument("--checkpoint", type=pathlib.Path, default=None,
                        help="with --mjlab: rsl_rl checkpoint of the task (without one: a deterministic random actor)")
    parser.add_argument("--seed", type=int, default=0, help="with --mjlab: seed of the random actor and of mjlab (default: 0)")
    parser.set_defaults(func=run)


def load_factory(spec: str) -> Any:
    """Resolve ``MODULE:FACTORY`` to a callable; ValueError says what is wrong."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected MODULE:FACTORY, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"cannot import module '{module_name}': {err}") from err
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"module '{module_name}' has no callable '{attr}'")
    return factory


def run(args: argparse.Namespace) -> int:
    import torch

    from exploy.exporter.core.errors import ExportError
    from exploy.exporter.core.evaluator import run_evaluation
    from exploy.exporter.core.exportable_environment import ExportableEnvironment
    from exploy.exporter.core.exporter import export_environment_as_onnx
    from exploy.exporter.core.session_wrapper import SessionWrapper
    from exploy.format import read_metadata

    if (args.mjlab is None) == (args.factory is None):
        print("exploy export: give either MODULE:FACTORY or --mjlab TASK_ID", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.mjlab is not None:
        made = _make_mjlab(args)
        if made is None:
            return EXIT_BAD_INPUT
    else:
        if args.checkpoint is not None:
            print("exploy export: --checkpoint goes with --mjlab", file=sys.stderr)
            return EXIT_BAD_INPUT
        try:
            factory = load_factory(args.factory)
        except ValueError as err:
            print(f"exploy export: {err}", file=sys.stderr)
            return EXIT_BAD_INPUT
        try:
            made = factory()
        except Exception as err:  # the user's factory: report, don't traceback
            print(f"exploy export: {args.factory}() raised {type(err).__name__}: {err}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if (
        not isinstance(made, tuple)
        or len(made) != 2
        or not isinstance(made[0], ExportableEnvironment)
        or not isinstance(made[1], torch.nn.Module)
    ):
        print(
            f"exploy export: {args.factory} must return (ExportableEnvironment, torch.nn.Module), "
            f"got {type(made).__name__}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    env, actor = made
    try:
        path = export_environment_as_onnx(env=env, actor=actor, path=args.out, filename=args.filename)
    except ExportError as err:
        print(f"exploy export: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    meta = read_metadata(path)
    _print_summary(path, meta)
    if args.evaluate <= 0:
        return EXIT_OK
    session = SessionWrapper(args.out, args.filename, actor=actor, optimize=False)
    with torch.inference_mode():
        report = run_evaluation(env, env.context_manager(), session, args.evaluate, verbose=not args.quiet)
    print(report.summary())
    return EXIT_OK if report.ok else EXIT_FAILED


def _make_mjlab(args: argparse.Namespace) -> tuple[Any, Any] | None:
    """Build ``--mjlab TASK_ID`` (and its actor); None after printing why it cannot be built."""
    try:
        from exploy.frameworks.mjlab import MjlabExportError, make_task_export
    except ImportError as err:
        print(f"exploy export: --mjlab needs mjlab ({err}); install the extra: pip install 'exploy_ros[mjlab]'",
              file=sys.stderr)
        return None
    try:
        made = make_task_export(args.mjlab, checkpoint=args.checkpoint, seed=args.seed)
    except MjlabExportError as err:
        print(f"exploy export: {err}", file=sys.stderr)
        return None
    except Exception as err:  # mjlab, warp or rsl_rl failing inside the task's own code
        print(f"exploy export: building mjlab task '{args.mjlab}' failed: {type(err).__name__}: {err}",
              file=sys.stderr)
        return None
    if made.trained:
        print(f"mjlab task {made.task_id}: trained actor from {args.checkpoint}")
    else:
        print(f"mjlab task {made.task_id}: NO checkpoint given, exporting a deterministic RANDOM actor "
              f"(seed {args.seed}); pass --checkpoint model.pt for the trained policy")
    for note in made.notes:
        print(f"  note: {note}")
    return made.env, made.actor


def _size(path: pathlib.Path) -> str:
    return f"{path.stat().st_size / 1024:.1f} KiB"


def _print_summary(path: pathlib.Path, meta: Any) -> None:
    rate = "unknown (env has no sim_dt)" if meta.update_rate is None else f"{meta.update_rate:g} Hz"
    policy = "" if meta.policy_rate is None else f", policy rate {meta.policy_rate:g} Hz"
    print(f"exported {path} ({_size(path)})")
    print(f"  sim rate {rate}, decimation {meta.decimation}{policy}")
    for comp in meta.components:
        print(f"  {comp.kind.value:<7} {comp.name:<44} {list(comp.shape)} {comp.dtype}")
    for debug in sorted((path.parent / "debug").glob(f"{path.stem}_*.onnx")):
        print(f"  debug   {debug} ({_size(debug)})")
