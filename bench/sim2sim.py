"""Benchmark: sim-to-sim closed loop and live replay (ticks/s) beside the in-process rollout.

Exports the MuJoCo quadruped (MLP) and times, on its own ROS domain:

- rollout: the in-process torch environment + actor + MuJoCo (``exploy.sim.closed_loop.rollout_env``);
- sim2sim lockstep: ``policy_node`` in its own process and ``mujoco_sim_node`` in this one,
  one ``~/step`` round trip per tick (``exploy_ros.sim2sim.run_closed_loop``);
- sim2sim lockstep with the policy node in this process (``--in-process``: the simulator spins
  the node's EventsExecutor on its own thread while it waits for each command);
- live replay: a recorded bag of the same robot against an in-process ``policy_node``
  (``exploy replay --live``'s driver, ``~/step`` handshake, one EventsExecutor for both).

A 200 Hz robot needs 2,000 ticks/s for 10x real time; the table marks the target for the
in-process lockstep and the live replay (the node in its own process costs two process wake-ups
per tick and is shown for comparison). Usage: ``python bench/sim2sim.py [--seconds S]``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="sim seconds per run (default: 10)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from exploy.examples.mujoco_quadruped import make_mlp_example, write_mjcf
    from exploy.exporter.core.exporter import export_environment_as_onnx
    from exploy.sim.closed_loop import env_robot, rollout_env
    from exploy_ros.sim2sim import run_closed_loop

    domain = 1 + (os.getpid() * 7) % 200
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = pathlib.Path(tmp)
        env, actor = make_mlp_example()
        policy = pathlib.Path(export_environment_as_onnx(env=env, actor=actor, path=tmp_path, filename="policy.onnx"))
        mjcf = write_mjcf(tmp_path / "model.xml")
        ticks = round(args.seconds / env.sim_dt)

        rate_hz = 1.0 / env.sim_dt
        rows: list[tuple[str, float, bool]] = []  # (loop, ticks/s, held to the 10x target)
        start = time.perf_counter()
        traj = rollout_env(env, actor, seconds=args.seconds)
        rows.append(("in-process rollout (torch env + MuJoCo)", len(traj) / (time.perf_counter() - start), False))
        for label, in_process in (
            ("sim2sim lockstep, policy_node in its own process", False),
            ("sim2sim lockstep, policy_node in this process (--in-process)", True),
        ):
            run = run_closed_loop(
                policy=policy, mjcf=mjcf, seconds=args.seconds, domain_id=domain, in_process=in_process,
                forward_after_step=env_robot(env).forward_after_step,  # read the model as the rollout does
            )
            rows.append((label, run.report["ticks_per_second"], in_process))
        env, actor = make_mlp_example()  # a fresh environment: the recording starts at the initial state
        rows.append(("live replay (exploy replay --live driver, in-process node)",
                     live_replay(env, actor, policy, tmp_path, ticks, domain), True))
    print_table(rows, rate_hz, ticks)
    return 0


def print_table(rows: list[tuple[str, float, bool]], rate_hz: float, ticks: int) -> None:
    """One line per loop: ticks/s, times real time, and the 10x target where it applies."""
    print(f"\n{ticks} ticks of a {rate_hz:g} Hz robot; 10x real time = {10 * rate_hz:,.0f} ticks/s\n")
    print("| loop | ticks/s | x real time | 10x target |")
    print("|---|---|---|---|")
    for label, rate, target in rows:
        verdict = ("met" if rate >= 10 * rate_hz else "NOT met") if target else "-"
        print(f"| {label} | {rate:,.0f} | {rate / rate_hz:.1f} | {verdict} |")


def live_replay(env, actor, policy: pathlib.Path, tmp_path: pathlib.Path, ticks: int, domain: int) -> float:
    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter

    from exploy.bag.recorder import record
    from exploy_ros.policy_node import PolicyNode
    from exploy_ros.replay_node import replay_live

    bag = tmp_path / "bag"
    ns = f"/bench{os.getpid()}"
    record(env, actor, policy, bag, num_steps=ticks // env.decimation, node=f"{ns}/policy_node")
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    params = {"policy_path": str(policy), "use_sim_time": True}
    node = PolicyNode(
        namespace=ns, context=context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()]
    )
    try:
        result = replay_live(bag, policy, node=f"{ns}/policy_node", context=context, spin_with=[node], timeout=5.0)
        if not result.ok:
            print(f"live replay DIVERGED: {result.first_divergence}")
        return result.ticks_per_second
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


if __name__ == "__main__":
    sys.exit(main())
