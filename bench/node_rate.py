"""Benchmark: the policy node's tick designs side by side, against the bare ``session.run`` floor.

For every case (a policy file at a sim rate) this prints, in one run:

- ``bare session.run p50 / p99``: the bare call in a tight loop (this process, no ROS);
- ``bare session.run at rate p50 / p99``: the same call once per tick period, sleeping between
  calls (this process, no ROS; 6 s per case, a part before each round of designs). This is the
  floor a node can reach: idle time between calls costs cold caches and CPU wake-ups that a tight loop never pays;
- per tick design (the node's ``tick_mode`` and friends, each in its own process, run as the
  ``policy_node`` console script runs it, inputs fed at the sim rate by a feeder process that
  speaks every adapter's message type): missed ticks, tick compute p50 / p99 / max (tick start
  to last publish), policy step p50 / p99 (``Policy.step``), inference p50 / p99 (the
  ``session.run`` inside the node), input-to-output latency p50 / p99 (receipt of the oldest
  input a tick used to the publish of its outputs) and the node process's CPU use (% of a core).

Default cases: the tutorial MLP at 1 kHz (every design) and the example legged robot
(``exploy.examples.legged_robot``) at 200 Hz and 1 kHz (the default design, ``events``, and the
earlier ``thread`` design). ``--policy FILE`` benchmarks one file instead (at ``--rate``, or the file's rate).

Each design's ``--seconds`` are split into ``--rounds`` runs, interleaved with the other designs',
so that load changes on a shared machine hit every design alike.

Usage: ``python bench/node_rate.py [--seconds 16] [--rounds 2] [--policy FILE --rate HZ] [--designs a,b]``.
Takes about (designs) x (seconds + rounds x 7 s): 10 designs over the 3 default cases, about
4 min (215 s measured) at the defaults. ``events+fifo50`` needs CAP_SYS_NICE (or root); without it the node
warns, runs at normal priority, and the table says so.
Targets (issue 15): node inference p50 <= 1.1x the at-rate bare p50; tick compute p99 <= 1.5x
the at-rate bare p99; missed ticks <= 0.1 % at 1 kHz, 0 at 200 Hz; latency p99 < one period.
"""

from __future__ import annotations

import argparse
import json
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

DESIGNS: dict[str, dict] = {
    "thread": {"tick_mode": "thread"},
    "thread+decode_on_tick": {"tick_mode": "thread", "decode_on_tick": True},
    "executor": {"tick_mode": "executor"},
    "executor+decode_on_tick": {"tick_mode": "executor", "decode_on_tick": True},
    "events": {"tick_mode": "events"},
    "events+messages": {"tick_mode": "events", "raw_inputs": False},
    "executor+spin_wait_100us": {"tick_mode": "executor", "spin_wait_us": 100.0},
    "thread+fifo50": {"tick_mode": "thread", "realtime_priority": 50},
    "events+fifo50": {"tick_mode": "events", "realtime_priority": 50},
}
"""Design label -> node parameters (``--designs`` picks any of them)."""
TUTORIAL_DESIGNS = (
    "thread",
    "executor",
    "executor+decode_on_tick",
    "events",
    "executor+spin_wait_100us",
    "events+fifo50",
)
"""The tutorial's default comparison (thread+decode_on_tick measured worse than thread: the decode
moves into the tick and the GIL hand-off stays)."""
DEFAULT_DESIGN = "events"
ROBOT_DESIGNS = ("thread", DEFAULT_DESIGN)
WARMUP_S = 0.5
FLOOR_S = 6.0
"""Seconds of the bare call at rate per case, split over the rounds (measured before each round)."""


# -- exports (in subprocesses: torch stays out of the measuring processes) --------------------


def export_tutorial(path: pathlib.Path) -> int:
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


def export_robot(path: pathlib.Path) -> None:
    """Export the example legged robot (MLP) to ``path`` with the ``exploy export`` command."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from exploy.cli.main import main; sys.exit(main())",
            "export",
            "exploy.examples.legged_robot:make_mlp_example",
            "--out",
            str(path.parent),
            "--filename",
            path.name,
            "--quiet",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


# -- the bare floor (this process, no ROS) ----------------------------------------------------


class _TimedSession:
    """Wraps an onnxruntime session: ``run`` is timed into ``samples`` (used inside the node)."""

    def __init__(self, session, samples: list) -> None:
        self._session, self.samples = session, samples

    def run(self, names, feed):
        start = time.perf_counter()
        out = self._session.run(names, feed)
        self.samples.append(time.perf_counter() - start)
        return out

    def __getattr__(self, name):
        return getattr(self._session, name)


def _bare_feed(path: pathlib.Path):
    from exploy.runtime.policy import Policy

    policy = Policy(path)
    feed_ = {spec.name: np.full(spec.shape, 0.1, dtype=spec.dtype) for spec in policy.inputs}
    feed_.update({spec.input_name: np.zeros(spec.shape, dtype=spec.dtype) for spec in policy.memories})
    return policy.session.session, policy.session.output_names, feed_


def bare_session_run(path: pathlib.Path, *, runs: int, rate_hz: float | None = None) -> np.ndarray:
    """Durations (s) of ``session.run`` on the file, alternating step counts; with ``rate_hz``,
    one call per period at absolute deadlines (sleeping between calls), else back to back."""
    session, names, feed_ = _bare_feed(path)
    out = np.empty(runs)
    period = 1.0 / rate_hz if rate_hz else 0.0
    deadline = time.monotonic()
    for i in range(runs):
        if period:
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        feed_["ctx.step_count"] = np.array(i, dtype=np.int32)
        start = time.perf_counter()
        session.run(names, feed_)
        out[i] = time.perf_counter() - start
    return out


# -- one node run (its own process) -----------------------------------------------------------


def run_node(args: argparse.Namespace) -> int:
    """Node process: run the node with ``args.params`` for ``args.duration`` s; print a JSON result."""
    import rclpy
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from exploy_ros.policy_node import PolicyNode, tune_process_for_ticking
    from exploy_ros.ticking import build_executor
    from exploy_ros.timing import LatencyWindow

    params = json.loads(args.params)
    domain, ns = args.domain, f"/bench{os.getpid()}"
    rclpy.init(domain_id=domain)
    overrides = {"policy_path": str(args.policy), "sim_rate_hz": float(args.rate), "autostart": False,
                 "input_timeout_s": 0.5, **params}
    node = PolicyNode(namespace=ns, parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
    if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
        raise SystemExit("configure failed (see the log above)")
    inference: list[float] = []
    node.policy.session.session = _TimedSession(node.policy.session.session, inference)
    tune_process_for_ticking()  # as policy_node's main() does
    node.trigger_activate()  # before the executor exists, as in main() (autostart): its threads inherit SCHED_FIFO
    executor = build_executor(node.tick_settings.mode)
    executor.add_node(node)
    feeder = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "feeder.py"), "--policy", str(args.policy), "--domain", str(domain),
         "--ns", ns, "--rate", str(args.rate), "--duration", str(args.duration + WARMUP_S + 20.0)],
        env={**os.environ, "ROS_DOMAIN_ID": str(domain)},
    )
    try:
        ticker = node._tick_thread
        fifo_refused = bool(params.get("realtime_priority")) and (
            ticker is None or (hasattr(ticker, "_priority_error") and ticker._priority_error is not None)
            or (not hasattr(ticker, "_priority_error") and os.sched_getscheduler(0) != os.SCHED_FIFO)
        )
        end = time.monotonic() + 20.0
        while node.stats.ticks == 0:  # wait for the feeder (discovery, first messages)
            if time.monotonic() > end or feeder.poll() is not None:
                raise SystemExit("the node never ticked: the feeder did not reach it")
            executor.spin_once(timeout_sec=0.05)
        end = time.monotonic() + WARMUP_S
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.1)
        size = int(args.rate * (args.duration + 5))
        stats = node.stats
        stats.tick_time, stats.inference_time, stats.latency = (
            LatencyWindow(size),
            LatencyWindow(size),
            LatencyWindow(size),
        )
        inference.clear()
        ticks0, missed0, stale0, waiting0 = stats.ticks, stats.missed, stats.stale, stats.waiting
        cpu0, start = time.process_time(), time.monotonic()
        end = start + args.duration
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.1)
        elapsed = time.monotonic() - start
        cpu = time.process_time() - cpu0
        stats.missed = node._tick_thread.missed if node._tick_thread is not None else stats.missed
        result = {
            "elapsed": elapsed,
            "ticks": stats.ticks - ticks0,
            "missed": stats.missed - missed0,
            "stale": stats.stale - stale0,
            "waiting": stats.waiting - waiting0,
            "rejected": node.inputs.rejected,
            "cpu_pct": 100.0 * cpu / elapsed,
            "cpu_s": cpu,
            "fifo_refused": fifo_refused,
            "tick": _us(stats.tick_time.samples()),
            "step": _us(stats.inference_time.samples()),
            "inference": _us(np.asarray(inference)),
            "latency": _us(stats.latency.samples()),
        }
    finally:
        feeder.send_signal(signal.SIGINT)
        feeder.wait(timeout=10)
        node.destroy_node()
        rclpy.try_shutdown()
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def _us(samples: np.ndarray) -> list[float]:
    """Samples (s) as whole microseconds, for the JSON hand-back."""
    return np.round(np.asarray(samples) * 1e6).astype(int).tolist()


def merge(runs: list[dict]) -> dict:
    """One result from the rounds of one design: counts summed, samples pooled, CPU over the total time."""
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    out = {
        key: sum(r[key] for r in good)
        for key in ("elapsed", "ticks", "missed", "stale", "waiting", "rejected", "cpu_s")
    }
    out["cpu_pct"] = 100.0 * out["cpu_s"] / out["elapsed"]
    for key in ("tick", "step", "inference", "latency"):
        out[key] = _pcts(np.concatenate([np.asarray(r[key], dtype=float) for r in good]) * 1e-6)
    out["rounds"] = f"{len(good)} of {len(runs)}"
    out["fifo_refused"] = any(r.get("fifo_refused") for r in good)
    return out


def _pcts(samples: np.ndarray) -> list[float]:
    """p50, p99, max in ms (NaN when empty)."""
    if samples.size == 0:
        return [float("nan")] * 3
    return [
        float(np.percentile(samples, 50)) * 1e3,
        float(np.percentile(samples, 99)) * 1e3,
        float(samples.max()) * 1e3,
    ]


def node_result(args: argparse.Namespace, path: pathlib.Path, rate: float, params: dict) -> dict:
    """Run one design in a node process; its JSON result."""
    proc = subprocess.run(
        [sys.executable, __file__, "--run-node", "--policy", str(path), "--rate", str(rate),
         "--seconds", str(args.seconds / args.rounds), "--domain", str(args.domain), "--params", json.dumps(params)],
        capture_output=True, text=True, timeout=args.seconds / args.rounds + 120,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit code {proc.returncode}"}


# -- the report -------------------------------------------------------------------------------


def _f(values: list[float], n: int = 2) -> str:
    return " / ".join(f"{v:.3f}" for v in values[:n])


def report_case(
    title: str, rate: float, bare: np.ndarray, at_rate: np.ndarray, results: dict[str, dict], seconds: float
) -> list[str]:
    """Printed lines of one case: the floor, then one block per design and a markdown table."""
    tight = _pcts(bare)
    floor = _pcts(at_rate)
    lines = [f"\n{title} at {rate:g} Hz ({seconds:g} s per design in interleaved rounds, normal priority)",
             f"  {'bare session.run p50 / p99':<38} {_f(tight)} ms (tight loop)",
             f"  {'bare session.run at rate p50 / p99':<38} {_f(floor)} ms (one call per period: the floor)"]
    table = [
        "| design | missed ticks | tick compute p50 / p99 / max (ms) | policy step p50 / p99 (ms) | "
        "inference p50 / p99 (ms) | inference p50 / floor p50 | tick p99 / floor p99 | latency p50 / p99 (ms) | "
        "CPU (% core) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for design, res in results.items():
        if "error" in res:
            lines.append(f"  [{design}] failed: {res['error']}")
            table.append(f"| {design} | failed | | | | | | | |")
            continue
        if res.get("fifo_refused"):
            design += " (SCHED_FIFO refused: ran at normal priority)"
        expected = max(1, int(res["elapsed"] * rate))
        missed = f"{res['missed']} ({100.0 * res['missed'] / expected:.3f} %)"
        row = {
            "ticks achieved / expected": f"{res['ticks']} / {expected} ({100.0 * res['ticks'] / expected:.2f} %)",
            "missed ticks": missed,
            "stale / waiting / rejected": f"{res['stale']} / {res['waiting']} / {res['rejected']}",
            "tick compute p50 / p99 / max": f"{_f(res['tick'], 3)} ms",
            "policy step p50 / p99": f"{_f(res['step'])} ms",
            "inference p50 / p99": f"{_f(res['inference'])} ms",
            "input-to-output latency p50 / p99": f"{_f(res['latency'])} ms (period {1e3 / rate:.3f} ms)",
            "CPU": f"{res['cpu_pct']:.0f} % of a core",
        }
        lines.append(f"  [{design}]")
        lines += [f"    {k:<36} {v}" for k, v in row.items()]
        ratio_inf = res["inference"][0] / floor[0]
        ratio_tick = res["tick"][1] / floor[1]
        table.append(
            f"| {design} | {missed} | {_f(res['tick'], 3)} | {_f(res['step'])} | {_f(res['inference'])} | "
            f"{ratio_inf:.2f}× | {ratio_tick:.2f}× | {_f(res['latency'])} | {res['cpu_pct']:.0f} |"
        )
    return lines + ["", *table]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", "--duration", dest="seconds", type=float, default=16.0,
                        help="seconds of measured ticking per design (default: 16)")
    parser.add_argument("--rate", type=float, help="sim rate in Hz for --policy (default: the file's update_rate)")
    parser.add_argument(
        "--policy", type=pathlib.Path, help="benchmark this file only (default: tutorial MLP and example robot)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="split each design's seconds into this many interleaved runs (default: 2)"
    )
    parser.add_argument(
        "--designs", help=f"comma-separated designs (default: all for the tutorial); from {list(DESIGNS)}"
    )
    parser.add_argument("--domain", type=int, default=100 + os.getpid() % 100, help="ROS_DOMAIN_ID to use")
    parser.add_argument("--run-node", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--export", type=pathlib.Path, help=argparse.SUPPRESS)
    parser.add_argument("--ns", default="/bench", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.duration = args.seconds
    if args.seconds <= 0 or args.rounds < 1:
        print("error: --seconds must be > 0 and --rounds >= 1", file=sys.stderr)
        return 2
    if args.run_node:
        return run_node(args)
    if args.export:
        return export_tutorial(args.export)
    chosen = args.designs.split(",") if args.designs else None
    unknown = [d for d in chosen or () if d not in DESIGNS]
    if unknown:
        print(f"error: unknown design(s) {unknown}; choose from {list(DESIGNS)}", file=sys.stderr)
        return 2
    if args.policy is not None and not args.policy.is_file():
        print(f"error: policy file {args.policy} not found", file=sys.stderr)
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        cases = []
        if args.policy is not None:
            from exploy.format import read_metadata

            rate = args.rate or read_metadata(args.policy).update_rate
            if not rate:
                print(f"error: {args.policy.name} has no update_rate: pass --rate", file=sys.stderr)
                return 2
            cases.append((args.policy.name, args.policy.resolve(), rate, chosen or list(DESIGNS)))
        else:
            tutorial = pathlib.Path(tmp) / "tutorial.onnx"
            subprocess.run([sys.executable, __file__, "--export", str(tutorial)], check=True)
            robot = pathlib.Path(tmp) / "robot.onnx"
            export_robot(robot)
            cases.append(("tutorial MLP (decimation 4)", tutorial, 1000.0, chosen or list(TUTORIAL_DESIGNS)))
            cases.append(("example legged robot (decimation 4)", robot, 200.0, chosen or list(ROBOT_DESIGNS)))
            cases.append(("example legged robot (decimation 4)", robot, 1000.0, chosen or list(ROBOT_DESIGNS)))
        out = []
        for title, path, rate, designs in cases:
            bare = bare_session_run(path, runs=5000)
            floor_runs = []
            runs: dict[str, list[dict]] = {design: [] for design in designs}
            for k in range(args.rounds):  # designs interleaved: load changes on a shared machine hit them alike
                floor_runs.append(bare_session_run(path, runs=int(FLOOR_S / args.rounds * rate), rate_hz=rate))
                for design in designs:
                    print(
                        f"  {title} at {rate:g} Hz, round {k + 1}/{args.rounds}, design {design} ...",
                        file=sys.stderr,
                        flush=True,
                    )
                    runs[design].append(node_result(args, path, rate, DESIGNS[design]))
            results = {design: merge(r) for design, r in runs.items()}
            at_rate = np.concatenate(floor_runs)
            out += report_case(title, rate, bare, at_rate, results, args.seconds)
    print("\npolicy node rate benchmark (" + f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
          f"{time.monotonic() - started:.0f} s)")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
