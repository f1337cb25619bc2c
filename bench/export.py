"""Benchmark: export time and session.run time for the three tutorial scenarios.

Usage: python bench/export.py [--exports N] [--runs N]

Prints one table. Times are wall-clock on a shared machine: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "test" / "exporter"))

from tutorial_code import (  # noqa: E402
    Actor,
    DataSource,
    Environment,
    EnvironmentWithTorchModule,
    ExportableEnv,
    RNNActor,
)
from tutorial_variants import register_tutorial_components  # noqa: E402

from exploy.exporter.core.actor import add_actor_memory  # noqa: E402
from exploy.exporter.core.exporter import export_environment_as_onnx  # noqa: E402
from exploy.exporter.core.session_wrapper import SessionWrapper  # noqa: E402
from exploy.format import names  # noqa: E402


def _mlp():
    exp_env = ExportableEnv(env=Environment(DataSource()))
    return exp_env, Actor(exp_env.env.num_obs, exp_env.env.num_act).eval()


def _module():
    exp_env = ExportableEnv(env=EnvironmentWithTorchModule(DataSource()))
    exp_env.context_manager().add_module(exp_env.env.module)
    return exp_env, Actor(exp_env.env.num_obs, exp_env.env.num_act).eval()


def _rnn():
    exp_env = ExportableEnv(env=EnvironmentWithTorchModule(DataSource()))
    exp_env.context_manager().add_module(exp_env.env.module)
    actor = RNNActor(exp_env.env.num_obs, exp_env.env.num_act).eval()
    actor(exp_env.empty_actor_observations())
    add_actor_memory(context_manager=exp_env.context_manager(), get_hidden_states_func=actor.get_state)
    return exp_env, actor


SCENARIOS = {"mlp": _mlp, "torch module + mlp": _module, "torch module + lstm": _rnn}


def _percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def bench(name: str, factory, exports: int, runs: int) -> dict[str, float]:
    export_times = []
    for _ in range(exports):
        exp_env, actor = factory()
        register_tutorial_components(exp_env, processed_as_memory=False)
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            export_environment_as_onnx(env=exp_env, actor=actor, path=tmp)
            export_times.append(time.perf_counter() - start)
            session = SessionWrapper(tmp, "policy.onnx", optimize=False)
            feed = exp_env.context_manager().get_inputs(to_numpy=True)
    timings = {}
    for label, tick in (("default", 0), ("process_actions", 1)):
        feed[names.STEP_COUNT] = np.array(tick, dtype=np.int32)
        raw = session.session
        out_names = session.output_names
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            raw.run(out_names, feed)
            samples.append(time.perf_counter() - start)
        timings[label] = samples
    eager = []
    with torch.inference_mode():
        for _ in range(min(runs, 500)):
            start = time.perf_counter()
            obs = exp_env.compute_observations()
            exp_env.process_actions(actor(obs))
            exp_env.apply_actions()
            eager.append(time.perf_counter() - start)
    return {
        "export_s": statistics.median(export_times),
        "default_p50_us": _percentile(timings["default"], 50) * 1e6,
        "default_p99_us": _percentile(timings["default"], 99) * 1e6,
        "pa_p50_us": _percentile(timings["process_actions"], 50) * 1e6,
        "pa_p99_us": _percentile(timings["process_actions"], 99) * 1e6,
        "torch_p50_us": _percentile(eager, 50) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", type=int, default=5, help="exports per scenario (median reported)")
    parser.add_argument("--runs", type=int, default=5000, help="session.run calls per path")
    args = parser.parse_args()
    torch.set_num_threads(1)
    header = (
        f"| {'scenario':<20} | export (s) | Default run p50/p99 (µs) | ProcessActions run p50/p99 (µs) "
        f"| torch eager tick p50 (µs) | eager / ONNX |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for name, factory in SCENARIOS.items():
        r = bench(name, factory, args.exports, args.runs)
        print(
            f"| {name:<20} | {r['export_s']:10.3f} | {r['default_p50_us']:8.1f} / {r['default_p99_us']:<13.1f} "
            f"| {r['pa_p50_us']:12.1f} / {r['pa_p99_us']:<16.1f} | {r['torch_p50_us']:25.1f} "
            f"| {r['torch_p50_us'] / r['default_p50_us']:12.1f} |"
        )


if __name__ == "__main__":
    main()
