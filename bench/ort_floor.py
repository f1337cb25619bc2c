"""Benchmark: what lowers the floor of one ``session.run`` called once per tick period (no ROS).

Each variant calls the policy file's graph at the tick rate (absolute deadlines, sleeping
between calls, as the node does) and reports p50 / p99 of the call and the process's CPU use:

- ``session.run``: the plain call with a numpy feed (what ``Policy.step`` does);
- ``run_with_ort_values``: inputs as pre-made ``OrtValue`` views of numpy arrays;
- ``IOBinding``: inputs bound once (numpy views), outputs bound to pre-allocated buffers;
- ``IOBinding + copies``: what ``Policy.step`` would pay with a binding (its feed is fresh arrays
  every tick, its results must outlive the next tick): inputs copied into the bound buffers,
  outputs copied out;
- ``no arena``: ``enable_cpu_mem_arena`` and ``enable_mem_pattern`` off;
- ``spin N us``: sleep until N us before each deadline, then busy-wait to it (keeps the core
  awake; costs N us of CPU per tick);
- with ``--cpu K``: every variant pinned to CPU K.

Variants run interleaved over ``--rounds`` rounds so that load changes on a shared machine hit
them alike. Usage: ``python bench/ort_floor.py [--policy FILE] [--rate 1000] [--seconds 3]``
(default: the tutorial MLP at 1 kHz and the example robot at 200 Hz).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np
import onnxruntime as ort

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]


def _session(path: pathlib.Path, *, arena: bool = True) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = arena
    options.enable_mem_pattern = arena
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _caller(path: pathlib.Path, kind: str) -> Callable[[int], None]:
    """A function running tick ``i`` of the file with the ``kind`` of call."""
    from exploy.runtime.policy import Policy

    policy = Policy(path)
    feed = {spec.name: np.full(spec.shape, 0.1, dtype=spec.dtype) for spec in policy.inputs}
    feed.update({spec.input_name: np.zeros(spec.shape, dtype=spec.dtype) for spec in policy.memories})
    feed["ctx.step_count"] = np.zeros((), dtype=np.int32)
    names = policy.session.output_names
    session = _session(path, arena=kind != "no arena")
    step = feed["ctx.step_count"]
    if kind == "run_with_ort_values":
        values = {name: ort.OrtValue.ortvalue_from_numpy(array) for name, array in feed.items()}

        def call(i: int) -> None:
            step[...] = i
            session.run_with_ort_values(names, values)
    elif kind == "IOBinding + copies":  # what Policy.step would pay: its feed is fresh arrays each tick
        binding = session.io_binding()
        bound = {name: array.copy() for name, array in feed.items()}
        for name, array in bound.items():
            binding.bind_cpu_input(name, array)
        outputs = [np.empty_like(result) for result in session.run(names, feed)]
        for name, buffer in zip(names, outputs):
            binding.bind_ortvalue_output(name, ort.OrtValue.ortvalue_from_numpy(buffer))
        fresh = {name: array.copy() for name, array in feed.items()}

        def call(i: int) -> None:
            fresh["ctx.step_count"] = np.array(i, dtype=np.int32)
            for name, buffer in bound.items():
                np.copyto(buffer, fresh[name])
            session.run_with_iobinding(binding)
            [buffer.copy() for buffer in outputs]
    elif kind == "IOBinding":
        binding = session.io_binding()
        for name, array in feed.items():
            binding.bind_cpu_input(name, array)
        for name, result in zip(names, session.run(names, feed)):
            binding.bind_ortvalue_output(name, ort.OrtValue.ortvalue_from_numpy(np.empty_like(result)))

        def call(i: int) -> None:
            step[...] = i
            session.run_with_iobinding(binding)
    else:

        def call(i: int) -> None:
            step[...] = i
            session.run(names, feed)
    return call


def at_rate(call: Callable[[int], None], *, rate_hz: float, runs: int, spin_ns: int = 0) -> tuple[np.ndarray, float]:
    """Durations (s) of ``runs`` calls at ``rate_hz``, and the CPU use (% of a core) meanwhile."""
    for i in range(100):
        call(i)
    period = round(1e9 / rate_hz)
    out = np.empty(runs)
    cpu0, wall0 = time.process_time(), time.monotonic()
    deadline = time.monotonic_ns()
    for i in range(runs):
        deadline += period
        wake = deadline - spin_ns
        now = time.monotonic_ns()
        if now < wake:
            time.sleep((wake - now) / 1e9)
        while time.monotonic_ns() < deadline:
            pass
        start = time.perf_counter()
        call(i)
        out[i] = time.perf_counter() - start
    return out, 100.0 * (time.process_time() - cpu0) / (time.monotonic() - wall0)


VARIANTS: dict[str, tuple[str, int]] = {
    "session.run": ("session.run", 0),
    "run_with_ort_values": ("run_with_ort_values", 0),
    "IOBinding": ("IOBinding", 0),
    "IOBinding + copies": ("IOBinding + copies", 0),
    "no arena": ("no arena", 0),
    "spin 100 us": ("session.run", 100_000),
    "spin 300 us": ("session.run", 300_000),
}


def bench_case(path: pathlib.Path, rate: float, *, seconds: float, rounds: int) -> list[str]:
    runs = max(100, int(seconds * rate / rounds))
    samples: dict[str, list[np.ndarray]] = {name: [] for name in VARIANTS}
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    callers = {name: _caller(path, kind) for name, (kind, _) in VARIANTS.items()}
    for _ in range(rounds):
        for name, (_, spin_ns) in VARIANTS.items():
            durations, use = at_rate(callers[name], rate_hz=rate, runs=runs, spin_ns=spin_ns)
            samples[name].append(durations)
            cpu[name].append(use)
    lines = ["| variant | p50 / p99 (ms) | vs session.run p50 | CPU (% core) |", "|---|---|---|---|"]
    base = float(np.percentile(np.concatenate(samples["session.run"]), 50))
    for name in VARIANTS:
        all_ = np.concatenate(samples[name]) * 1e3
        p50, p99 = np.percentile(all_, 50), np.percentile(all_, 99)
        lines.append(f"| {name} | {p50:.3f} / {p99:.3f} | {p50 / (base * 1e3):.2f}× | {np.mean(cpu[name]):.0f} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=pathlib.Path, help="policy file (default: tutorial MLP and example robot)")
    parser.add_argument("--rate", type=float, default=1000.0, help="call rate in Hz for --policy (default: 1000)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per variant (default: 3)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default: 3)")
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    args = parser.parse_args()
    if args.policy is not None and not args.policy.is_file():
        print(f"error: policy file {args.policy} not found", file=sys.stderr)
        return 2
    if args.cpu is not None:
        try:
            os.sched_setaffinity(0, {args.cpu})
        except (OSError, ValueError) as err:
            print(f"error: cannot pin to CPU {args.cpu}: {err}", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory() as tmp:
        if args.policy is not None:
            cases = [(args.policy.name, args.policy, args.rate)]
        else:
            tutorial, robot = pathlib.Path(tmp) / "tutorial.onnx", pathlib.Path(tmp) / "robot.onnx"
            subprocess.run(
                [sys.executable, str(ROOT / "bench" / "node_rate.py"), "--export", str(tutorial)], check=True
            )
            subprocess.run(
                [sys.executable, "-c", "import sys; from exploy.cli.main import main; sys.exit(main())", "export",
                 "exploy.examples.legged_robot:make_mlp_example", "--out", tmp, "--filename", "robot.onnx", "--quiet"],
                check=True, stdout=subprocess.DEVNULL,
            )
            cases = [("tutorial MLP", tutorial, 1000.0), ("example legged robot", robot, 200.0)]
        for title, path, rate in cases:
            pinned = f", pinned to CPU {args.cpu}" if args.cpu is not None else ""
            print(
                f"\n{title}: one session.run per period at {rate:g} Hz{pinned} (load average {os.getloadavg()[0]:.1f})"
            )
            print("\n".join(bench_case(path, rate, seconds=args.seconds, rounds=args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
