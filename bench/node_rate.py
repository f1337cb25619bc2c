"""Benchmark: the policy node at 1000 Hz sim rate (decimation 4), fed at sim rate from another process.

The node runs in this process on a SingleThreadedExecutor with its tick thread, exactly as the
``policy_node`` console script runs it; a feeder subprocess publishes every input at the sim
rate. Afterwards the bare ``session.run`` of the same file is timed in this process.

Printed: ticks achieved vs expected, missed ticks, tick compute time p50/p99/max (callback
start to last publish), policy step p50/p99, bare ``session.run`` p50/p99 (once with the
feeder still publishing, once after it stopped).

Usage: ``python bench/node_rate.py [--duration 30] [--rate 1000] [--priority 0] [--policy FILE]``.
Targets: <= 0.1 % missed ticks, tick compute p99 <= 0.25 ms for the tutorial policy.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "test" / "exporter")]


def feed(args: argparse.Namespace) -> int:
    """Feeder process: publish every input topic of the policy at ``args.rate`` Hz."""
    import rclpy
    from std_msgs.msg import Float32MultiArray

    from exploy.format import read_metadata
    from exploy.mapping import build_topic_map

    rclpy.init(domain_id=args.domain)
    node = rclpy.create_node("feeder", namespace=args.ns)
    topic_map = build_topic_map(read_metadata(args.policy))
    pubs, msgs = [], []
    for spec in topic_map.inputs:
        if spec.msg_type != "std_msgs/msg/Float32MultiArray":
            raise SystemExit(f"feeder publishes Float32MultiArray only; {spec.topic} is {spec.msg_type}")
        pubs.append(
            node.create_publisher(
                Float32MultiArray, spec.topic.replace("~", "/" + args.ns.strip("/") + "/policy_node", 1), 10
            )
        )
        msgs.append(Float32MultiArray(data=[0.1] * spec.bindings[0].size))
    period = 1.0 / args.rate
    end = time.monotonic() + args.duration
    deadline = time.monotonic()
    try:
        while time.monotonic() < end and rclpy.ok():
            for pub, msg in zip(pubs, msgs):
                pub.publish(msg)
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    except KeyboardInterrupt:
        pass
    except RuntimeError:  # rclpy's RCLError once a signal shut the context down
        if rclpy.ok():
            raise
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def export(path: pathlib.Path) -> int:
    """Export the tutorial policy (processed actions registered, MLP actor) to ``path``."""
    import torch
    from tutorial_code import Actor
    from tutorial_variants import make_registered

    from exploy.exporter.core.exporter import export_environment_as_onnx

    torch.manual_seed(0)
    env = make_registered()
    actor = Actor(num_obs=env.env.num_obs, num_act=env.env.num_act).eval()
    export_environment_as_onnx(env=env, actor=actor, path=path.parent, filename=path.name)
    return 0


def _percentiles(samples: np.ndarray) -> tuple[float, float, float]:
    return tuple(float(v) * 1e3 for v in (np.percentile(samples, 50), np.percentile(samples, 99), samples.max()))


def bare_session_run(path: pathlib.Path, runs: int = 5000) -> np.ndarray:
    """Durations (s) of ``session.run`` on the file, alternating Default and ProcessActions ticks."""
    from exploy.runtime.policy import Policy

    policy = Policy(path)
    feed_ = {spec.name: np.full(spec.shape, 0.1, dtype=spec.dtype) for spec in policy.inputs}
    feed_.update({spec.input_name: np.zeros(spec.shape, dtype=spec.dtype) for spec in policy.memories})
    names = policy.session.output_names
    out = np.empty(runs)
    for i in range(runs):
        feed_["ctx.step_count"] = np.array(i, dtype=np.int32)
        start = time.perf_counter()
        policy.session.session.run(names, feed_)
        out[i] = time.perf_counter() - start
    return out


def run_node(args: argparse.Namespace, path: pathlib.Path) -> dict:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from exploy_ros.policy_node import PolicyNode, tune_process_for_ticking
    from exploy_ros.timing import LatencyWindow

    domain, ns = args.domain, f"/bench{os.getpid()}"
    rclpy.init(domain_id=domain)
    node = PolicyNode(
        namespace=ns,
        parameter_overrides=[
            Parameter("policy_path", value=str(path)),
            Parameter("sim_rate_hz", value=float(args.rate)),
            Parameter("autostart", value=False),
            Parameter("realtime_priority", value=args.priority),
        ],
    )
    node.trigger_configure()
    tune_process_for_ticking()  # as policy_node's main() does
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain)}
    feeder = subprocess.Popen(
        [sys.executable, __file__, "--feed", "--policy", str(path), "--domain", str(domain), "--ns", ns,
         "--rate", str(args.rate), "--duration", str(args.duration + 5.0)],
        env=env,
    )
    try:
        node.trigger_activate()
        size = int(args.rate * (args.duration + 10))
        end = time.monotonic() + 15.0
        while node.stats.ticks == 0:  # wait for the feeder (discovery, first messages)
            if time.monotonic() > end or feeder.poll() is not None:
                raise SystemExit("the node never ticked: the feeder did not reach it")
            executor.spin_once(timeout_sec=0.05)
        node.stats.tick_time = LatencyWindow(size)
        node.stats.inference_time = LatencyWindow(size)
        ticks0, missed0 = node.stats.ticks, node.stats.missed
        start = time.monotonic()
        end = start + args.duration
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.1)
        elapsed = time.monotonic() - start
        stats = node.stats
        result = {
            "elapsed": elapsed,
            "ticks": stats.ticks - ticks0,
            "missed": stats.missed - missed0,
            "stale": stats.stale,
            "rejected": node.inputs.rejected,
            "policy_steps": stats.policy_steps,
            "tick": stats.tick_time.samples(),
            "step": stats.inference_time.samples(),
        }
        executor.remove_node(node)
        result["bare_loaded"] = bare_session_run(path)  # feeder still publishing, node not spinning
    finally:
        feeder.send_signal(signal.SIGINT)
        feeder.wait(timeout=10)
        node.destroy_node()
        rclpy.try_shutdown()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of measured ticking (default: 30)")
    parser.add_argument("--rate", type=float, default=1000.0, help="sim rate in Hz (default: 1000)")
    parser.add_argument("--policy", type=pathlib.Path, help="policy file (default: export the tutorial policy)")
    parser.add_argument("--priority", type=int, default=0, help="node parameter realtime_priority (default: 0, off)")
    parser.add_argument("--domain", type=int, default=100 + os.getpid() % 100, help="ROS_DOMAIN_ID to use")
    parser.add_argument("--feed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--export", type=pathlib.Path, help=argparse.SUPPRESS)
    parser.add_argument("--ns", default="/bench", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.feed:
        return feed(args)
    if args.export:
        return export(args.export)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.policy
        if path is None:  # export in a subprocess: torch stays out of the node's process, as on a robot
            path = pathlib.Path(tmp) / "policy.onnx"
            subprocess.run([sys.executable, __file__, "--export", str(path)], check=True)
        res = run_node(args, path)
        bare = bare_session_run(path)
    expected = int(res["elapsed"] * args.rate)
    tick_p50, tick_p99, tick_max = _percentiles(res["tick"])
    step_p50, step_p99, _ = _percentiles(res["step"])
    bare_p50, bare_p99, _ = _percentiles(bare)
    loaded_p50, loaded_p99, _ = _percentiles(res["bare_loaded"])
    missed_pct = 100.0 * res["missed"] / max(1, expected)
    rows = [
        ("policy file", path.name if args.policy else "tutorial MLP (decimation 4)"),
        ("sim rate", f"{args.rate:g} Hz for {res['elapsed']:.1f} s, tick thread priority {args.priority or 'normal'}"),
        ("ticks achieved / expected", f"{res['ticks']} / {expected} ({100.0 * res['ticks'] / max(1, expected):.2f} %)"),
        ("missed ticks", f"{res['missed']} ({missed_pct:.3f} %)  [target <= 0.1 %]"),
        ("stale / rejected", f"{res['stale']} / {res['rejected']}"),
        (
            "tick compute p50 / p99 / max",
            f"{tick_p50:.3f} / {tick_p99:.3f} / {tick_max:.3f} ms  [target p99 <= 0.25 ms]",
        ),
        ("policy step p50 / p99", f"{step_p50:.3f} / {step_p99:.3f} ms"),
        ("bare session.run p50 / p99", f"{bare_p50:.3f} / {bare_p99:.3f} ms (idle machine)"),
        ("  same, feeder still running", f"{loaded_p50:.3f} / {loaded_p99:.3f} ms"),
    ]
    width = max(len(k) for k, _ in rows)
    print("\npolicy node rate benchmark")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
