"""``exploy export MODULE:FACTORY [--arg K=V] --out DIR`` or ``exploy export --mjlab TASK_ID``: export and check
an environment and its actor."""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Any

from exploy.cli.factory import FactoryError, add_factory_arguments, make_env_and_actor, parse_factory_args
from exploy.cli.main import EXIT_FAILED, EXIT_OK

DEFAULT_EVALUATE_STEPS = 20
"""Policy steps of the parity check run after every export unless ``--no-evaluate``."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export an environment and its actor to one ONNX file",
        description="Call FACTORY from MODULE with the --arg keyword arguments (it returns "
        "(exportable_env, actor)), export both into OUT/FILENAME, evaluate the file against the "
        f"environment ({DEFAULT_EVALUATE_STEPS} policy steps unless --no-evaluate) and print a summary. "
        "Exit code 0 on success, 1 when the parity check fails, 2 on bad input.",
    )
    add_factory_arguments(parser, optional=True)
    parser.add_argument("--out", required=True, type=pathlib.Path, help="output folder")
    parser.add_argument("--filename", default="policy.onnx", help="policy file name (default: policy.onnx)")
    parser.add_argument(
        "--evaluate", type=int, default=DEFAULT_EVALUATE_STEPS, metavar="N",
        help=f"policy steps of parity check after export (default: {DEFAULT_EVALUATE_STEPS})",
    )
    parser.add_argument("--no-evaluate", action="store_true", help="skip the parity check")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    # mjlab tasks (the `mjlab` extra): exploy.frameworks.mjlab builds the task and its actor.
    parser.add_argument(
        "--mjlab",
        metavar="TASK_ID",
        default=None,
        help="export a registered mjlab task instead of MODULE:FACTORY, e.g. Mjlab-Velocity-Flat-Unitree-Go1",
    )
    parser.add_argument("--checkpoint", type=pathlib.Path, default=None,
                        help="with --mjlab: rsl_rl checkpoint of the task (without one: a deterministic random actor)")
    parser.add_argument(
        "--seed", type=int, default=0, help="with --mjlab: seed of the random actor and of mjlab (default: 0)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export (and evaluate); bad input raises an ExployError, mapped to exit 2 by ``main``."""
    if args.evaluate < 0:
        raise FactoryError(f"--evaluate must be >= 0 policy steps, got {args.evaluate}")
    if (args.mjlab is None) == (args.factory is None):
        raise FactoryError("give either MODULE:FACTORY or --mjlab TASK_ID")
    if args.mjlab is not None:
        if args.factory_args:
            raise FactoryError("--arg goes with MODULE:FACTORY, not with --mjlab")
        env, actor = _make_mjlab(args)
    else:
        if args.checkpoint is not None:
            raise FactoryError("--checkpoint goes with --mjlab")
        env, actor = make_env_and_actor(args.factory, parse_factory_args(args.factory_args))

    import torch

    from exploy.exporter.core.errors import EvaluationError
    from exploy.exporter.core.evaluator import run_evaluation
    from exploy.exporter.core.exporter import export_environment_as_onnx
    from exploy.exporter.core.session_wrapper import SessionWrapper
    from exploy.format import read_metadata

    path = export_environment_as_onnx(env=env, actor=actor, path=args.out, filename=args.filename)
    meta = read_metadata(path)
    _print_summary(path, meta)
    if args.mjlab is not None:  # the task's MuJoCo model, for `exploy sim2sim --mjcf`
        from exploy.frameworks.mjlab.scene import write_scene

        scene = write_scene(env.env, pathlib.Path(args.out) / "scene")
        print(f"  scene   {scene} (the task's MuJoCo model, meshes in assets/): "
              f"exploy sim2sim --mjcf {scene} --policy {path}")
    if args.no_evaluate or args.evaluate == 0:
        return EXIT_OK
    session = SessionWrapper(args.out, args.filename, actor=actor, optimize=False)
    try:
        with torch.inference_mode():
            report = run_evaluation(env, env.context_manager(), session, args.evaluate, verbose=not args.quiet)
    except EvaluationError as err:
        print(f"exploy export: evaluation failed: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(report.summary())
    return EXIT_OK if report.ok else EXIT_FAILED


def _make_mjlab(args: argparse.Namespace) -> tuple[Any, Any]:
    """Build ``--mjlab TASK_ID`` and its actor; FactoryError (exit 2) says why it cannot be built."""
    try:
        from exploy.frameworks.mjlab import MjlabExportError, make_task_export
    except ImportError as err:
        raise FactoryError(
            f"--mjlab needs mjlab ({err}); install the extra: pip install 'exploy_ros[mjlab]'"
        ) from err
    try:
        made = make_task_export(args.mjlab, checkpoint=args.checkpoint, seed=args.seed)
    except MjlabExportError:
        raise
    except Exception as err:  # mjlab, warp or rsl_rl failing inside the task's own code
        raise FactoryError(f"building mjlab task '{args.mjlab}' failed: {type(err).__name__}: {err}") from err
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
