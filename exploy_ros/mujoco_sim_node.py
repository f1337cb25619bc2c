"""The MuJoCo simulator as a ROS 2 node: a physics robot for the policy node, closed loop.

Loads any MJCF (parameter ``mjcf``) and, every physics step, publishes

- ``sensor_msgs/JointState`` of the driven joints, by name (position, velocity, effort);
- ``sensor_msgs/Imu`` and ``geometry_msgs/TwistStamped`` topics, one per topic the policy reads,
  each field from a body, a site or a named MuJoCo sensor (:mod:`exploy.sim.readings`); without
  a policy file, one Imu of a named site (orientation w.r.t. the world, angular velocity in the
  site frame);
- optionally ``nav_msgs/Odometry`` of the floating base and a constant ``geometry_msgs/Twist``
  velocity command;
- ``/clock`` (sim time after the step);

and applies the joint commands it receives (``sensor_msgs/JointState`` by name: efforts, or
position targets tracked with per-joint ``kp``/``kd``, or written to MuJoCo position actuators
that hold their own gains) at every physics step. Topic names, joints, gains (the file's
``stiffness``/``damping``) and the tick rate (the file's ``update_rate``) come from the policy
file (parameter ``policy_path`` and ``target_node``) unless given.

Modes (parameter ``mode``):

- ``lockstep``: for each tick, publish the state, then ``<target>/step`` ``[sim_time_ns,
  inputs]`` (:data:`exploy_ros.lockstep.STEP_TOPIC`), wait (bounded) for the command that tick
  produced, apply it, step. Deterministic: the same run every time.
- ``realtime``: free-running at ``real_time_factor``; the latest command is applied, and the
  age of the command applied at each step (sim time minus the command's header stamp) is
  reported: percentiles and the number of steps whose command is older than one policy period.

The logic lives in :mod:`exploy.sim` (robot, wiring, monitor); this module only moves messages.
Console script ``mujoco_sim_node``; :func:`exploy.cli.sim2sim` runs it in-process.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import rclpy
from geometry_msgs.msg import Twist
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import UInt64MultiArray

from exploy.errors import ExployError
from exploy.format import PolicyMetadata
from exploy.mapping.cdr import JointStateReader
from exploy.mapping.cdr_writers import UInt64ArrayWriter
from exploy.mapping.errors import AdapterError
from exploy.mapping.topic_map import TopicMap
from exploy.sim.errors import SimError
from exploy.sim.monitor import CommandAges, Trajectory
from exploy.sim.mujoco_robot import MujocoRobot
from exploy.sim.wiring import CommandMode, JointCommandDecoder, SimTopics, policy_gains, policy_joint_names
from exploy_ros.lockstep import STEP_QOS, STEP_TOPIC
from exploy_ros.mujoco_sim_parameters import (
    PARAMETERS,
    apply_gains,
    node_topics,
    per_joint,
    policy_period,
    read_policy,
    servo_command_mode,
    tick_rate,
)
from exploy_ros.parameters import declare_table
from exploy_ros.serialized import read_serialized
from exploy_ros.sim_loops import run_lockstep, run_realtime, spin_until
from exploy_ros.sim_messages import state_outputs

NS_PER_S = 1_000_000_000
NODE_NAME = "mujoco_sim"

MAX_TRAJECTORY_ROWS = 120_000
"""Steps the node keeps for its report (the newest; about 40 MB), so a node run until shut down stays bounded."""


class MujocoSimNode(Node):
    """Publishes a MuJoCo robot's state and applies joint commands (see the module docstring).

    Args:
        robot: The robot; default: built from the ``mjcf``/``joints``/``imu_site`` parameters.
        topics: Topic names; default: from the parameters and ``policy_path``'s topic map.
        policy: ``policy_path``'s (metadata, topic map) when the caller has read them already.
        **kwargs: Passed to :class:`rclpy.node.Node` (``parameter_overrides``, ``context``, ...).

    Raises:
        ExployError: for a bad parameter, model or policy file (the message says which).
    """

    def __init__(
        self,
        *,
        robot: MujocoRobot | None = None,
        topics: SimTopics | None = None,
        policy: tuple[PolicyMetadata, TopicMap] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(kwargs.pop("node_name", NODE_NAME), **kwargs)
        p = declare_table(self, PARAMETERS)  # ints for doubles (kp:=[30, 30, ...]); a wrong type is one line
        self.mode = str(p["mode"])
        if self.mode not in ("lockstep", "realtime"):
            raise SimError(f"mode '{self.mode}' is not lockstep or realtime")
        if policy is None:
            policy = read_policy(p["policy_path"])
        if robot is None:
            if not p["mjcf"]:
                raise SimError("set parameter mjcf:=<model.xml>")
            # the policy's joints by default: a model's names may carry a prefix (robot/FR_hip_joint)
            joints = [j for j in p["joints"] if j] or (policy_joint_names(policy[1]) if policy else None)
            robot = MujocoRobot.from_file(p["mjcf"], joint_names=joints, imu_site=p["imu_site"] or None,
                                          forward_after_step=bool(p["forward_after_step"]))
        self.robot = robot
        self.topics = topics if topics is not None else node_topics(p, robot, policy)
        rate, source = tick_rate(float(p["rate_hz"]), robot.dt, policy)
        substeps = round(1.0 / (rate * robot.dt))
        if substeps < 1 or abs(substeps * robot.dt * rate - 1.0) > 1e-6:
            raise SimError(f"tick rate {rate:g} Hz ({source}) is not the MJCF's physics rate {1 / robot.dt:g} Hz "
                           "divided by an integer: give the model the time step the policy was trained with")
        self.substeps = substeps
        self.period_ns = round(NS_PER_S / rate)
        self.rtf = float(p["real_time_factor"])
        if not self.rtf > 0.0:
            raise SimError(f"real_time_factor must be > 0, got {self.rtf}")
        self.timeout = float(p["timeout_s"])
        self.duration_s = float(p["duration_s"])
        self.publish_clock = bool(p["publish_clock"])
        self.clock_every = max(1, int(p["clock_every"]))
        self.twist_period_ns = max(0, round(float(p["twist_period_s"]) * NS_PER_S))
        n = len(robot.joint_names)
        self.kp = per_joint(p["kp"], n, "kp")
        self.kd = per_joint(p["kd"], n, "kd")
        file_gains = policy_gains(policy[0], policy[1], robot.joint_names) if policy else None
        for note in apply_gains(self, file_gains):
            self.get_logger().warning(note)
        mode = servo_command_mode(str(p["command_mode"]), robot)
        # The decoder checks the value at run time (one-line SimError for anything else).
        self.decoder = JointCommandDecoder(robot.joint_names, mode=cast(CommandMode, mode))
        self.ages = CommandAges(policy_period_s=policy_period(float(p["policy_period_s"]), rate, policy))
        # bounded: a node that runs until shut down keeps the newest steps only (about 40 MB)
        self.trajectory = Trajectory(n, capacity=4096, max_rows=MAX_TRAJECTORY_ROWS)
        self.rejected = 0
        self._command_msg: bytes | None = None  # serialized: read by self._read_command
        self._read_command = JointStateReader()
        self._command_stamp_ns: int | None = None
        self._received = 0
        self._target: np.ndarray | None = None
        self._tick_count = 0  # ticks simulated since start

        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        t = self.topics
        self._twist = Twist()
        vx, vy, wz = (list(p["velocity_command"]) + [0.0, 0.0, 0.0])[:3]
        self._twist.linear.x, self._twist.linear.y, self._twist.angular.z = float(vx), float(vy), float(wz)
        self._states = state_outputs(self, robot, t, qos, twist=self._twist, twist_period_ns=self.twist_period_ns)
        self._clock_pub = self.create_publisher(Clock, "/clock", qos)
        self._step_pub = self.create_publisher(UInt64MultiArray, f"{t.node}/{STEP_TOPIC}", STEP_QOS)
        # raw: the command is read from its bytes (exploy.mapping.cdr), no rclpy message object
        self._command_sub = self.create_subscription(JointState, t.command, self._on_command, qos, raw=True)
        self._wait_set: Any = None  # lockstep fast path: a wait set holding only the command subscription
        self.peer: Executor | None = None  # the executor of a policy node in this process, spun by the lockstep loop
        self._clock_msg = Clock()  # not self._clock: that is rclpy Node's ROS clock (get_clock())
        self._step = UInt64ArrayWriter(2)  # [sim_time_ns, inputs], serialized

    # -- messages ---------------------------------------------------------------------------

    def _on_command(self, msg: bytes) -> None:
        self._command_msg = msg
        self._received += 1

    def _take_command(self) -> None:
        """Decode the latest command, if any, and hold it; a bad one is counted and dropped."""
        raw, self._command_msg = self._command_msg, None
        if raw is None:
            return
        try:
            msg = read_serialized(raw, self._read_command, JointState)
            cmd = self.decoder.decode(msg.name, position=msg.position, velocity=msg.velocity, effort=msg.effort)
        except (SimError, AdapterError) as err:
            self.rejected += 1
            if self.rejected <= 3 or self.rejected % 1000 == 0:
                self.get_logger().error(f"Command rejected ({self.rejected} so far): {err}")
            return
        if cmd.effort is not None:
            self.robot.set_command(effort=cmd.effort)
            self._target = cmd.pos  # the policy's position target, if sent: tracking reference
        else:
            self.robot.set_command(pos=cmd.pos, vel=cmd.vel, kp=self.kp, kd=self.kd)
            self._target = cmd.pos
        self._command_stamp_ns = msg.header.stamp.sec * NS_PER_S + msg.header.stamp.nanosec

    def sim_time_ns(self) -> int:
        """Sim time in integer ns, counted in ticks (``mj_data.time`` sums float steps and drifts:
        a clock a nanosecond short of a period would not make the policy node tick)."""
        return self._tick_count * self.period_ns

    def publish_state(self) -> int:
        """Publish the robot's state at the current sim time; return the number of input messages."""
        now = self.sim_time_ns()
        sec, nsec = divmod(now, NS_PER_S)
        count = 0
        for state in self._states:
            msg = state.due(now, sec, nsec)
            if msg is not None:
                state.pub.publish(msg)
                count += 1
        return count

    def _publish_clock(self, tick: int = 0) -> None:
        if self.publish_clock and tick % self.clock_every == 0:
            clock = self._clock_msg.clock
            clock.sec, clock.nanosec = divmod(self.sim_time_ns(), NS_PER_S)
            self._clock_pub.publish(self._clock_msg)

    def _physics(self) -> None:
        """Apply the held command for one tick (``substeps`` physics steps), recording each."""
        robot = self.robot
        self._tick_count += 1
        for _ in range(self.substeps):
            effort = robot.control()
            robot.step()
            self.trajectory.add(
                time=robot.time, joint_pos=robot.joint_pos(),
                base_pos=robot.base_pos() if robot.has_base else np.full(3, np.nan),
                base_quat=robot.base_quat() if robot.has_base else np.full(4, np.nan),
                effort=effort, target=self._target,
            )

    # -- loops ------------------------------------------------------------------------------

    def wait_for_policy_node(self, executor: SingleThreadedExecutor, timeout: float = 10.0) -> None:
        """Wait until the policy node subscribes to the published inputs and the step topic.

        Raises:
            SimError: naming what did not appear within ``timeout`` seconds.
        """
        pubs = [state.pub for state in self._states]
        if self.mode == "lockstep":
            pubs.append(self._step_pub)
        for pub in pubs:
            # mypy cannot type a lambda whose defaults bind loop values
            spin_until(executor, lambda p=pub: p.get_subscription_count() > 0, timeout,  # type: ignore[misc]
                        f"nobody subscribes to {pub.topic_name} after {timeout:g} s: is policy node "
                        f"{self.topics.node} running and active with use_sim_time:=true (same ROS_DOMAIN_ID)?")
        spin_until(executor, lambda: self.count_publishers(self.topics.command) > 0, timeout,
                    f"nobody publishes {self.topics.command} after {timeout:g} s")

    def run(self, executor: SingleThreadedExecutor, *, seconds: float,
            progress: Callable[[int], None] | None = None) -> None:
        """Run ``seconds`` of sim time in the configured mode (lockstep or realtime).

        Raises:
            SimError: lockstep only, when a tick's command does not come within ``timeout_s``.
        """
        ticks = max(1, round(seconds * NS_PER_S / self.period_ns))
        if self.mode == "lockstep":
            run_lockstep(self, executor, ticks, progress)
        else:
            run_realtime(self, executor, ticks, progress)

    def reset_policy_node(self, executor: SingleThreadedExecutor, *, timeout: float = 5.0) -> None:
        """Call the policy node's ``~/reset`` (initial memory, step counter 0) and wait for it.

        Raises:
            SimError: when the service is absent, silent or refuses.
        """
        from std_srvs.srv import Trigger

        target = self.topics.node
        client: Any = self.create_client(Trigger, f"{target}/reset")
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise SimError(f"service {target}/reset not available after {timeout:g} s")
            future = client.call_async(Trigger.Request())
            spin_until(executor, future.done, timeout, f"{target}/reset did not answer within {timeout:g} s")
            response = future.result()
            if response is None or not response.success:
                raise SimError(f"{target}/reset failed: {getattr(response, 'message', 'no response')}")
        finally:
            self.destroy_client(client)

    def report(self) -> dict:
        """Mode, steps, command ages and rejected commands (JSON-friendly)."""
        return {"mode": self.mode, "ticks": self.trajectory.total // self.substeps,
                "sim_seconds": self.robot.time, "command_age": self.ages.summary(),
                "rejected_commands": self.rejected}


def main(args: list[str] | None = None) -> int:
    """Console script ``mujoco_sim_node``: run until shut down (or ``duration_s``), print the report."""
    rclpy.init(args=args)
    node = None
    try:
        try:
            node = MujocoSimNode()
        except (TypeError, ValueError, OverflowError) as err:  # a parameter of the wrong kind (e.g. rate_hz:=fast)
            if isinstance(err, ExployError):
                raise
            raise SimError(f"bad parameter value: {type(err).__name__}: {str(err)[:200]}") from err
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        node.wait_for_policy_node(executor)
        if node.mode == "lockstep":
            node.reset_policy_node(executor)  # deterministic: start from the initial memory
        seconds = node.duration_s if node.duration_s > 0 else float("inf")
        chunk = 1.0
        done = 0.0
        while done < seconds:
            node.run(executor, seconds=min(chunk, seconds - done))
            done += min(chunk, seconds - done)
            if node.mode == "realtime":
                node.get_logger().info(f"command age: {json.dumps(node.ages.summary())}")
        print(json.dumps(node.report()))
        return 0
    except ExployError as err:
        print(f"mujoco_sim_node: {err}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
