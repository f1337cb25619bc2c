"""The closed loop behind ``exploy sim2sim``: a policy node and the MuJoCo robot on real topics.

:func:`run_closed_loop` starts ``policy_node`` in its own process (``use_sim_time``), or
attaches to a running one, resets it (``~/reset``: initial memory, step counter 0), runs the
:class:`exploy_ros.mujoco_sim_node.MujocoSimNode` in this process for the requested sim time,
and returns what the simulator recorded.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Literal

import rclpy
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.parameter import Parameter

from exploy.processes import stop_process
from exploy.sim.errors import SimError
from exploy.sim.monitor import Trajectory
from exploy.sim.mujoco_robot import MujocoRobot
from exploy_ros.mujoco_sim_node import MujocoSimNode
from exploy_ros.ticking import build_executor

DISCOVERY_TIMEOUT_S = 30.0
"""Seconds to wait for a freshly started policy node (its start-up imports onnxruntime)."""


@dataclass
class ClosedLoopRun:
    """What one closed-loop run produced."""

    trajectory: Trajectory
    report: dict
    robot: MujocoRobot
    seconds_wall: float


def policy_node_command(policy: pathlib.Path, node: str, *, extra: list[str] | None = None) -> list[str]:
    """The command line that starts ``policy_node`` for ``policy`` under name ``node`` with sim time."""
    script = shutil.which("policy_node", path=str(pathlib.Path(sys.executable).parent))
    base = [script] if script else [sys.executable, "-m", "exploy_ros.policy_node"]
    return base + ["--ros-args", "-r", f"__node:={node.strip('/').rsplit('/', 1)[-1]}",
                   "-p", f"policy_path:={policy}", "-p", "use_sim_time:=true", *(extra or [])]


def run_closed_loop(
    *,
    policy: pathlib.Path,
    mjcf: pathlib.Path,
    seconds: float,
    mode: Literal["lockstep", "realtime"] = "lockstep",
    real_time_factor: float = 1.0,
    node: str | None = None,
    timeout: float = 2.0,
    velocity_command: tuple[float, float, float] = (0.0, 0.0, 0.0),
    imu_site: str = "imu",
    node_log: pathlib.Path | None = None,
    in_process: bool = False,
    domain_id: int | None = None,
    progress: bool = False,
    soft_start_s: float = 0.0,
    forward_after_step: bool = True,
) -> ClosedLoopRun:
    """Run the policy node and the MuJoCo robot in closed loop for ``seconds`` of sim time.

    Args:
        policy: The policy file (its topic map names the topics).
        mjcf: The MuJoCo model.
        seconds: Sim time to run.
        mode: ``lockstep`` or ``realtime``.
        real_time_factor: realtime mode: sim seconds per wall second.
        node: Attach to this running policy node (fully qualified name); None: start one.
        timeout: lockstep: seconds to wait for each tick's command.
        velocity_command: Constant (vx, vy, wz) published when the policy reads a Twist.
        imu_site: The MJCF site published as the IMU.
        node_log: Where the started policy node's output goes (default: discarded).
        in_process: Start the policy node in this process, on its own executor and thread (the
            real node class over real topics; the quickest start, e.g. for tests); False
            (default): in its own process, as on a robot.
        domain_id: ROS domain of the run (default: ``ROS_DOMAIN_ID`` of the environment).
        progress: Show a progress bar.
        soft_start_s: The safety soft start of a policy node started here (0: none, so the
            closed loop can equal the in-process rollout, which has none).
        forward_after_step: Recompute kinematics and sensors after each physics step (see
            :class:`MujocoRobot`); False to read them as a bare ``mj_step`` loop leaves them,
            like the environment the closed loop is compared with.

    Raises:
        SimError: for a bad model or policy, or a policy node that does not answer.
    """
    from tqdm import tqdm

    from exploy.format import PolicyFormatError, read_metadata
    from exploy.mapping import MappingError, build_topic_map
    from exploy.sim.wiring import policy_joint_names, sim_topics

    target = "/" + (node or "/policy_node").strip("/")
    # Check the policy's topics and the model before starting anything.
    try:
        meta = read_metadata(policy)
        topic_map = build_topic_map(meta)
    except (PolicyFormatError, MappingError, OSError) as err:
        raise SimError(f"cannot read the topics of {policy}: {err}") from err
    # the policy's joints, by name (a composed scene may prefix them: robot/FR_hip_joint)
    robot = MujocoRobot.from_file(mjcf, imu_site=imu_site or None, joint_names=policy_joint_names(topic_map),
                                  forward_after_step=forward_after_step)
    topics = sim_topics(topic_map, target, meta=meta)
    proc = None
    policy_node = None
    if node is None and not in_process:
        log = node_log.open("w") if node_log is not None else subprocess.DEVNULL
        env = dict(os.environ)
        if domain_id is not None:
            env["ROS_DOMAIN_ID"] = str(domain_id)
        proc = subprocess.Popen(
            policy_node_command(policy, target, extra=["-p", f"soft_start_s:={float(soft_start_s)}"]),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    context = rclpy.Context()
    if domain_id is None:
        rclpy.init(context=context)
    else:
        rclpy.init(context=context, domain_id=domain_id)
    sim = None
    executor = SingleThreadedExecutor(context=context)
    node_executor = None
    node_thread = None
    try:
        overrides = [
            Parameter("mjcf", value=str(mjcf)), Parameter("policy_path", value=str(policy)),
            Parameter("target_node", value=target), Parameter("mode", value=mode),
            Parameter("real_time_factor", value=float(real_time_factor)), Parameter("timeout_s", value=float(timeout)),
            Parameter("velocity_command", value=[float(v) for v in velocity_command]),
            Parameter("imu_site", value=imu_site),
            # lockstep: the policy node ticks from ~/step; a sparse /clock still serves other nodes
            Parameter("clock_every", value=50 if mode == "lockstep" else 1),
        ]
        sim = MujocoSimNode(robot=robot, topics=topics, policy=(meta, topic_map), context=context,
                            parameter_overrides=overrides)
        executor.add_node(sim)
        if node is None and in_process:
            from exploy_ros.policy_node import PolicyNode

            policy_node = PolicyNode(
                target.strip("/").rsplit("/", 1)[-1],
                context=context,
                parameter_overrides=[
                    Parameter("policy_path", value=str(policy)),
                    Parameter("use_sim_time", value=True),
                    Parameter("soft_start_s", value=float(soft_start_s)),
                ],
            )
            if policy_node.start_failed:
                raise SimError(f"policy_node could not start on {policy} (see the log above)")
            # Its own executor and thread: the simulator's executor keeps only its own entities
            # (one wait set of a few entries per tick instead of both nodes' every entity).
            node_executor = build_executor("events", context=context)
            node_executor.add_node(policy_node)
            stop_thread = threading.Event()
            node_thread = threading.Thread(
                target=_spin, args=(node_executor, stop_thread), name="policy_node", daemon=True
            )
            node_thread.start()
        sim.wait_for_policy_node(executor, DISCOVERY_TIMEOUT_S if proc is not None else 10.0)
        if proc is not None and proc.poll() is not None:
            raise SimError(f"policy_node exited with code {proc.returncode}; see {node_log or 'its output'}")
        sim.reset_policy_node(executor, timeout=max(timeout, 5.0))
        if node_thread is not None and mode == "lockstep":
            # one thread for both nodes from here: the simulator spins the node's executor while
            # it waits for each command (no thread hand-off per message)
            stop_thread.set()
            node_thread.join(timeout=5.0)
            node_thread = None
            sim.peer = node_executor
        ticks = max(1, round(seconds * 1e9 / sim.period_ns))
        start = time.perf_counter()
        with tqdm(total=ticks, desc=f"sim2sim ({mode})", unit="tick", disable=not progress, mininterval=0.5) as bar:
            sim.run(executor, seconds=seconds, progress=lambda _: bar.update(1))
        wall = time.perf_counter() - start
        report = sim.report()
        report["wall_seconds"] = wall
        report["ticks_per_second"] = report["ticks"] / wall if wall > 0 else None
        report["real_time_factor_achieved"] = sim.robot.time / wall if wall > 0 else None
        return ClosedLoopRun(trajectory=sim.trajectory, report=report, robot=sim.robot, seconds_wall=wall)
    finally:
        if node_executor is not None:
            node_executor.shutdown(timeout_sec=2.0)
            if node_thread is not None:
                node_thread.join(timeout=5.0)
        if sim is not None:
            executor.remove_node(sim)
            sim.destroy_node()
        if policy_node is not None:
            policy_node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown(context=context)
        if proc is not None:
            stop_process(proc)


def _spin(executor: Executor, stop: threading.Event) -> None:
    """Spin ``executor`` until ``stop`` is set or it is shut down (the in-process policy node's thread)."""
    try:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.02)
    except Exception:  # shutdown races (context or executor gone) end the thread quietly
        pass
