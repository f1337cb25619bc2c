"""The end-to-end demo behind ``make demo``: export → inspect → record → run the node → live
replay → sim-to-sim closed loop.

The robot is the MuJoCo quadruped (:mod:`exploy.examples.mujoco_quadruped`); without MuJoCo
installed the plain-torch example runs instead and the closed-loop step is skipped. Each step is
the command a user would type; the demo prints it, runs it, and times it.
Usage: ``python -m exploy.demo [--out build/demo] [--steps 100] [--sim-seconds 10] [--png FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import time
from importlib.util import find_spec

from exploy.processes import stop_process

MUJOCO_FACTORY = "exploy.examples.mujoco_quadruped:make_mlp_example"
TORCH_FACTORY = "exploy.examples.legged_robot:make_mlp_example"
DEFAULT_FACTORY = MUJOCO_FACTORY if find_spec("mujoco") is not None else TORCH_FACTORY
NODE_NAME = "policy_node"


class DemoError(RuntimeError):
    """A demo step failed; the message names the step and its output."""


def _tool(name: str) -> list[str]:
    """The installed console script next to this python, or its ``python -m`` form."""
    script = shutil.which(name, path=str(pathlib.Path(sys.executable).parent))
    if script:
        return [script]
    return [sys.executable, "-m", {"exploy": "exploy", "policy_node": "exploy_ros.policy_node"}[name]]


def _banner(step: int, title: str, argv: list[str]) -> None:
    shown = " ".join(shlex.quote(pathlib.Path(a).name if i == 0 else a) for i, a in enumerate(argv))
    print(f"\n[{step}] {title}\n    $ {shown}", flush=True)


def _run(step: int, title: str, argv: list[str], env: dict[str, str], ok_codes=(0,)) -> int:
    _banner(step, title, argv)
    start = time.monotonic()
    result = subprocess.run(argv, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for line in result.stdout.splitlines():
        if "\r" not in line:  # progress bars are for terminals
            print("    " + line)
    print(f"    ({time.monotonic() - start:.1f} s, exit {result.returncode})", flush=True)
    if result.returncode not in ok_codes:
        raise DemoError(f"step {step} ({title}) failed with exit code {result.returncode}")
    return result.returncode


def _start_node(step: int, policy: pathlib.Path, env: dict[str, str], log: pathlib.Path) -> subprocess.Popen:
    argv = _tool("policy_node") + [
        "--ros-args", "-r", f"__node:={NODE_NAME}", "-p", f"policy_path:={policy}", "-p", "use_sim_time:=true",
    ]
    _banner(step, "start the policy node in its own process (sim time: it ticks on /clock)", argv)
    handle = log.open("w")
    proc = subprocess.Popen(argv, env=env, stdout=handle, stderr=subprocess.STDOUT, text=True)
    print(f"    pid {proc.pid}, log {log}", flush=True)
    return proc


def run_demo(out: pathlib.Path, factory: str, steps: int, *, sim_seconds: float = 10.0,
             png: pathlib.Path | None = None) -> int:
    """Run the whole tour into ``out``; return 0 when the deployed node matches the simulation.

    With a MuJoCo factory the last step closes the loop through the running node for
    ``sim_seconds``; its plot is also copied to ``png`` when given.
    """
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    env = dict(os.environ)
    env.setdefault("ROS_DOMAIN_ID", str(150 + os.getpid() % 80))
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    policy = out / "policy.onnx"
    bag = out / "sim_run"
    report = out / "replay"
    closed = out / "sim2sim"
    mujoco_robot = factory.split(":")[0].endswith("mujoco_quadruped") and find_spec("mujoco") is not None
    exploy = _tool("exploy")
    started = time.monotonic()

    _run(1, "export the example robot and check parity against the torch env",
         exploy + ["export", factory, "--out", str(out), "--evaluate", str(steps), "--quiet"], env)
    _run(2, "inspect the file: components, rates, and the topics the node will use",
         exploy + ["inspect", str(policy)], env)
    _run(3, "record the simulation to a rosbag2 (MCAP)",
         exploy + ["record", factory, "--policy", str(policy), "--out", str(bag), "--steps", str(steps),
                   "--node", f"/{NODE_NAME}", "--quiet"], env)
    node = _start_node(4, policy, env, out / "policy_node.log")
    try:
        code = _run(5, "replay the bag live against the running node, tick by tick",
                    exploy + ["replay", str(bag), "--policy", str(policy), "--live", "--out", str(report),
                              "--quiet"], env, ok_codes=(0, 1))
        loop_code = 0
        if mujoco_robot:
            loop_code = _run(6, "close the loop: the MuJoCo robot driven by the running node, vs the in-process sim",
                             exploy + ["sim2sim", factory, "--policy", str(policy), "--node", f"/{NODE_NAME}",
                                       "--seconds", f"{sim_seconds:g}", "--out", str(closed), "--quiet"],
                             env, ok_codes=(0, 1))
    finally:
        stop_process(node)
    summary = json.loads((report / "summary.json").read_text())
    code = code or loop_code
    verdict = "MATCH: the robot runs exactly what the simulator ran" if code == 0 else "DIVERGED"
    print(f"\nexploy demo: {verdict} ({summary['num_ticks']} sim ticks compared, "
          f"{time.monotonic() - started:.0f} s)")
    print(
        f"  policy : {policy}\n  bag    : {bag}\n  plot   : {report / 'plot.png'}\n  report : {report / 'summary.json'}"
    )
    if mujoco_robot:
        print(f"  closed loop: {closed / 'summary.json'}, plot {closed / 'plot.png'}")
        if png is not None:
            png.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(closed / "plot.png", png)
            print(f"  plot copied to {png}")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exploy.demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=pathlib.Path, default=pathlib.Path("build/demo"), help="output folder (recreated)"
    )
    parser.add_argument("--factory", default=DEFAULT_FACTORY, help="MODULE:FACTORY returning (env, actor)")
    parser.add_argument("--steps", type=int, default=100, help="policy steps to evaluate and record")
    parser.add_argument("--sim-seconds", type=float, default=10.0, help="sim seconds of the closed loop (MuJoCo)")
    parser.add_argument(
        "--png", type=pathlib.Path, help="also copy the closed-loop plot here (e.g. docs/demo_sim2sim.png)"
    )
    args = parser.parse_args(argv)
    try:
        return run_demo(args.out, args.factory, args.steps, sim_seconds=args.sim_seconds, png=args.png)
    except DemoError as err:
        print(f"exploy demo: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
