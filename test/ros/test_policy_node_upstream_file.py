"""The installed policy_node, in its own process, runs a file in upstream exploy's layout (no index,
reordered inputs, ctx.step_count (1,) first, IsaacLab-style metadata) with upstream's step-counter
convention (first_step 1) and a CUDA-first provider list that falls back to CPU."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort
import pytest
import rclpy
from geometry_msgs.msg import Twist
from policy_node_rig import unique_domain
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Imu, JointState

from exploy.examples.legged_robot import JOINT_NAMES, make_mlp_example
from exploy.exporter.core.exporter import export_environment_as_onnx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "format"))
from upstream_layout import BareLoop, isaaclab_metadata, to_upstream_layout  # noqa: E402

SCRIPT = shutil.which("policy_node", path=str(pathlib.Path(sys.executable).parent))
MEMORIES = ("last_actions", "joint_pos_target", "joint_pos_history")
pytestmark = pytest.mark.skipif(
    SCRIPT is None and not os.environ.get("CI"), reason="console script policy_node not installed (`make venv`)"
)


def _messages() -> tuple[dict[str, np.ndarray], JointState, Imu, Twist]:
    rng = np.random.default_rng(3)
    pos, vel, ang = rng.normal(scale=0.3, size=12), rng.normal(size=12), rng.normal(size=3)
    quat = np.array([0.95, 0.05, -0.2, 0.1])
    quat /= np.linalg.norm(quat)
    cmd = np.array([0.4, -0.1, 0.2])
    joints = JointState(name=list(JOINT_NAMES), position=[float(v) for v in pos], velocity=[float(v) for v in vel])
    imu = Imu()
    imu.orientation.w, imu.orientation.x, imu.orientation.y, imu.orientation.z = (float(v) for v in quat)
    imu.angular_velocity.x, imu.angular_velocity.y, imu.angular_velocity.z = (float(v) for v in ang)
    twist = Twist()
    twist.linear.x, twist.linear.y, twist.angular.z = (float(v) for v in cmd)
    tensors = {
        "obj.robot.joints.pos": pos, "obj.robot.joints.vel": vel, "obj.robot.base.w_Q_b": quat,
        "obj.robot.base.ang_vel_b_rt_w_in_b": ang, "cmd.se2_velocity.base_velocity": cmd,
    }
    return {k: v.astype(np.float32).reshape(1, -1) for k, v in tensors.items()}, joints, imu, twist


def test_node_process_runs_an_upstream_layout_file_tick_by_tick(tmp_path):
    env, actor = make_mlp_example(seed=6)
    initial = {name: getattr(env, name).numpy().copy() for name in MEMORIES}
    ours = export_environment_as_onnx(env=env, actor=actor, path=tmp_path / "ours")
    path = to_upstream_layout(
        ours, tmp_path / "upstream" / "policy.onnx", step_shape=(1,), memories=MEMORIES,
        env_metadata=isaaclab_metadata(decimation=4, sim_dt=0.005, base_names={"robot": "base"}),
    )
    domain, ns = unique_domain(), f"/up{os.getpid()}"
    proc = subprocess.Popen(
        [
            SCRIPT,
            "--ros-args",
            "-p",
            f"policy_path:={path}",
            "-p",
            "first_step:=1",
            "-p",
            "execution_providers:=[CUDA,CPU]",
            "-p",
            "input_timeout_s:=0.0",
            "-p",
            "soft_start_s:=0.0",
            "-r",
            f"__ns:={ns}",
        ],
        env={**os.environ, "ROS_DOMAIN_ID": str(domain), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    tensors, joints, imu, twist = _messages()
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    try:
        peer = rclpy.create_node("peer", namespace=ns, context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(peer)
        outs: list[JointState] = []
        peer.create_subscription(JointState, "policy_node/output/joint_targets/pd", outs.append, 1000)
        pubs = [
            (peer.create_publisher(JointState, "policy_node/input/obj/robot/joints", 10), joints),
            (peer.create_publisher(Imu, "policy_node/input/obj/robot/base/imu", 10), imu),
            (peer.create_publisher(Twist, "policy_node/input/cmd/se2_velocity/base_velocity", 10), twist),
        ]
        end = time.monotonic() + 60
        while len(outs) < 12:
            assert time.monotonic() < end and proc.poll() is None, "no joint targets from the node process"
            for pub, msg in pubs:
                pub.publish(msg)
            executor.spin_once(timeout_sec=0.005)
        bare = BareLoop(path, initial)
        for k, msg in enumerate(outs[:12]):
            want = bare.run(tensors, k + 1)  # upstream's counter: 1, 2, 3, ...
            assert list(msg.name) == list(JOINT_NAMES)
            np.testing.assert_allclose(
                msg.effort, want["output.joint_targets.pd.effort"].reshape(-1), rtol=1e-5, atol=1e-5
            )
            np.testing.assert_allclose(
                msg.position, want["output.joint_targets.pd.pos"].reshape(-1), rtol=1e-5, atol=1e-5
            )
            np.testing.assert_allclose(msg.velocity, want["output.joint_targets.pd.vel"].reshape(-1), atol=0)
        peer.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "decimation 4" in err
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert "CUDAExecutionProvider is not available" in err
