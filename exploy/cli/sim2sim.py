"""``exploy sim2sim``: close the loop between the deployed policy node and a MuJoCo robot.

Two uses:

- ``exploy sim2sim MODULE:FACTORY --policy FILE``: the factory's environment is a MuJoCo one
  (its ``robot`` attribute, see :mod:`exploy.examples.mujoco_quadruped`); the same model runs
  behind the policy node, and the in-process rollout (torch environment and actor) is compared
  with the closed loop tick by tick (joints, base pose). Exit 0 when they agree, 1 when not.
- ``exploy sim2sim --mjcf FILE --policy FILE``: any MJCF (e.g. a robot trained in IsaacLab);
  reports stability (base height, falls, joint-limit hits, command tracking). Exit 0 when the
  robot stood, 1 when it fell.

Both write ``summary.json`` and ``plot.png``. Exit 2 on bad input.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys
from typing import Any

from exploy.cli.main import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK

MAX_SECONDS = 3600.0
"""Longest closed loop (sim seconds): the recorded trajectory stays bounded (about 250 MB at 200 Hz)."""

def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sim2sim",
        help="run the policy node in closed loop with a MuJoCo robot and report (or compare with the sim)",
        description="Start policy_node (or attach with --node) and a MuJoCo robot, run S seconds in closed loop. "
        "With MODULE:FACTORY (a MuJoCo environment) also run the in-process rollout and compare trajectories "
        "tick by tick; with --mjcf only, report stability. Writes summary.json and plot.png. "
        "Exit code 0 ok, 1 divergence or fall, 2 bad input.",
    )
    parser.add_argument("factory", nargs="?", help="MODULE:FACTORY returning (env, actor) of a MuJoCo environment")
    parser.add_argument("--policy", required=True, type=pathlib.Path, help="the exported policy file")
    parser.add_argument("--mjcf", type=pathlib.Path,
                        help="MuJoCo model (default: the factory environment's); for an mjlab task, the "
                        "scene/scene.xml that `exploy export --mjlab` writes")
    parser.add_argument("--seconds", type=float, default=10.0, help="sim seconds to run (default: 10)")
    parser.add_argument(
        "--soft-start",
        type=float,
        default=0.0,
        metavar="S",
        help="soft_start_s of a policy node started here (default: 0, none: the closed loop can equal the rollout)",
    )
    parser.add_argument("--mode", choices=("lockstep", "realtime"), default="lockstep",
                        help="lockstep (deterministic, as fast as possible) or realtime (free-running)")
    parser.add_argument("--rtf", type=float, default=1.0, help="realtime: real-time factor (default: 1)")
    parser.add_argument("--node", help="attach to this running policy node instead of starting one")
    parser.add_argument("--imu-site", default="imu", help="MJCF site published as the IMU (default: imu)")
    parser.add_argument("--command", type=float, nargs=3, default=(0.0, 0.0, 0.0), metavar=("VX", "VY", "WZ"),
                        help="constant velocity command published to the policy (default: 0 0 0)")
    parser.add_argument("--atol", type=float, default=1e-4, help="absolute tolerance of the comparison (default: 1e-4)")
    parser.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance of the comparison (default: 1e-4)")
    parser.add_argument("--timeout", type=float, default=2.0, help="lockstep: seconds to wait for each command")
    parser.add_argument(
        "--out", type=pathlib.Path, help="folder for summary.json and plot.png (default: POLICY_sim2sim)"
    )
    parser.add_argument("--in-process", action="store_true",
                        help="start the policy node in this process instead of its own: both on one thread, the "
                             "quickest lockstep (about 12x real time for the example robot; bench/sim2sim.py)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from exploy.errors import ExployError

    def bad(text: str) -> int:
        print(f"exploy sim2sim: {text}", file=sys.stderr)
        return EXIT_BAD_INPUT

    if args.factory is None and args.mjcf is None:
        return bad("give MODULE:FACTORY (a MuJoCo environment) or --mjcf FILE")
    if not args.policy.is_file():
        return bad(f"policy file {args.policy} does not exist")
    numbers = (args.seconds, args.rtf, args.timeout, args.atol, args.rtol, args.soft_start, *args.command)
    if not all(math.isfinite(v) for v in numbers):
        return bad("--seconds, --rtf, --timeout, --soft-start, the tolerances and --command must be finite numbers")
    if not (0 < args.seconds <= MAX_SECONDS and 0 < args.rtf <= 100 and 0 < args.timeout <= 600):
        return bad(f"--seconds must be in (0, {MAX_SECONDS:g}], --rtf in (0, 100], --timeout in (0, 600]")
    if args.atol < 0 or args.rtol < 0 or args.soft_start < 0:
        return bad("--atol, --rtol and --soft-start must be >= 0")
    out = args.out or args.policy.with_name(args.policy.stem + "_sim2sim")
    try:
        return _run(args, out)
    except ExployError as err:
        return bad(str(err))


def _run(args: argparse.Namespace, out: pathlib.Path) -> int:
    from exploy.sim.closed_loop import compare_trajectories, env_robot, rollout_env, write_reports
    from exploy.sim.monitor import stability

    out.mkdir(parents=True, exist_ok=True)
    env = actor = None
    mjcf = args.mjcf
    forward_after_step = True
    if args.factory is not None:
        from exploy.cli.factory import make_env_and_actor

        env, actor = make_env_and_actor(args.factory)
        robot = env_robot(env)
        forward_after_step = robot.forward_after_step  # read the model as the environment does
        if mjcf is None:
            if robot.path is not None:  # the model's own file: its assets stay relative to it
                mjcf = robot.path
            elif robot.xml is None:
                return _fail_bad("the environment's MujocoRobot has no MJCF text; pass --mjcf")
            else:  # compiled from a string: no file of its own (relative assets resolve from out/)
                mjcf = out / "model.xml"
                mjcf.write_text(robot.xml)
    if mjcf is None or not mjcf.is_file():
        return _fail_bad(f"MJCF file {mjcf} does not exist")

    from exploy_ros.sim2sim import run_closed_loop

    run = run_closed_loop(
        policy=args.policy, mjcf=mjcf, seconds=args.seconds, mode=args.mode, real_time_factor=args.rtf,
        node=args.node, timeout=args.timeout, velocity_command=tuple(args.command), imu_site=args.imu_site,
        node_log=out / "policy_node.log" if args.node is None else None, in_process=args.in_process,
        progress=not args.quiet, soft_start_s=args.soft_start, forward_after_step=forward_after_step,
    )
    robot = run.robot
    stab = stability(run.trajectory, joint_names=robot.joint_names, joint_lower=robot.joint_lower,
                     joint_upper=robot.joint_upper)
    summary: dict = {"policy": str(args.policy), "mjcf": str(mjcf), "closed_loop": run.report,
                     "stability": stab.as_dict()}
    reference = comparison = None
    if env is not None:
        import torch

        torch.set_num_threads(1)
        reference = rollout_env(env, actor, seconds=args.seconds, progress=not args.quiet)
        comparison = compare_trajectories(reference, run.trajectory, atol=args.atol, rtol=args.rtol)
        summary["comparison"] = comparison.__dict__
    summary["ok"] = (comparison.ok if comparison is not None else True) and not stab.fell
    summary_path, plot_path = write_reports(
        out, summary, run.trajectory, reference=reference, joint_names=robot.joint_names,
        title=f"exploy sim2sim: {args.policy.name}, {args.mode}, {args.seconds:g} s",
    )
    rep = run.report
    print(f"exploy sim2sim: {args.mode}, {rep['ticks']} ticks in {rep['wall_seconds']:.2f} s "
          f"({rep['ticks_per_second']:.0f} ticks/s, {rep['real_time_factor_achieved']:.1f}x real time; "
          f"{_where(args)})")
    if args.mode == "realtime":
        age = rep["command_age"]
        print(f"  command age: p50 {_ms(age['p50_ms'])}, p99 {_ms(age['p99_ms'])}, max {_ms(age['max_ms'])}; "
              f"{age['older_than_policy_period']} steps with a command older than one policy period "
              f"({age['policy_period_ms']:.0f} ms), {age['steps_without_command']} without a command")
    print(f"  stability: {stab.describe()}")
    if comparison is not None:
        print(f"  vs in-process rollout: {comparison.describe()}")
    print(f"  summary: {summary_path}, plot: {plot_path}")
    return EXIT_OK if summary["ok"] else EXIT_FAILED


def _where(args: argparse.Namespace) -> str:
    """Where the policy node ran, with the quicker choice for a lockstep run in its own process."""
    if args.node is not None:
        return f"policy node {args.node}, attached"
    if args.in_process:
        return "policy node in this process"
    hint = "; --in-process runs lockstep quicker" if args.mode == "lockstep" else ""
    return f"policy node in its own process{hint}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def _fail_bad(text: str) -> int:
    print(f"exploy sim2sim: {text}", file=sys.stderr)
    return EXIT_BAD_INPUT
