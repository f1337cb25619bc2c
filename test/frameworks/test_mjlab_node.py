"""The exported Go1 file deploys in the policy node with the default topic map (inspect shows them,
live replay of a recording matches): JointState (by
joint name), Imu (base orientation; IMU gyro), TwistStamped (IMU linear velocity) and Twist
in, JointState joint targets out, checked tick by tick against a bare onnxruntime loop."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("mjlab", reason="the mjlab extra is not installed")

from geometry_msgs.msg import Twist, TwistStamped  # noqa: E402
from policy_node_rig import Reference, Rig  # noqa: E402
from sensor_msgs.msg import Imu, JointState  # noqa: E402

from exploy.format import read_metadata  # noqa: E402

JOINTS = "~/input/obj/robot/joints"
BASE_IMU = "~/input/obj/robot/trunk/imu"
GYRO = "~/input/sensor/imu/robot_imu"
LIN_VEL = "~/input/sensor/imu/robot_imu/twist"
CMD = "~/input/cmd/se2_velocity/twist"
TARGETS = "policy_node/output/joint_targets/joint_pos"


@pytest.fixture(scope="module")
def go1_file(go1):
    return go1[1]


def _state(rng, joint_names):
    pos, vel = rng.normal(scale=0.3, size=12), rng.normal(size=12)
    quat = rng.normal(size=4)
    quat /= np.linalg.norm(quat)
    gyro, lin_vel, cmd = rng.normal(size=3), rng.normal(size=3), np.array([0.8, -0.1, 0.4])
    order = rng.permutation(12)
    joints = JointState(name=[joint_names[i] for i in order], position=[float(pos[i]) for i in order],
                        velocity=[float(vel[i]) for i in order], effort=[])
    base = Imu()
    base.orientation.w, base.orientation.x, base.orientation.y, base.orientation.z = (float(v) for v in quat)
    imu = Imu()
    imu.orientation.w = 1.0
    imu.angular_velocity.x, imu.angular_velocity.y, imu.angular_velocity.z = (float(v) for v in gyro)
    velocimeter = TwistStamped()
    velocimeter.twist.linear.x, velocimeter.twist.linear.y, velocimeter.twist.linear.z = (float(v) for v in lin_vel)
    twist = Twist()
    twist.linear.x, twist.linear.y, twist.angular.z = (float(v) for v in cmd)
    tensors = {
        "obj.robot.joints.pos": pos, "obj.robot.joints.vel": vel, "obj.robot.trunk.w_Q_b": quat,
        "sensor.imu.robot_imu.ang_vel_b_rt_w_in_b": gyro, "sensor.imu.robot_imu.lin_vel_b_rt_w_in_b": lin_vel,
        "cmd.se2_velocity.twist": cmd,
    }
    msgs = {JOINTS: joints, BASE_IMU: base, GYRO: imu, LIN_VEL: velocimeter, CMD: twist}
    return {k: v.astype(np.float32).reshape(1, -1) for k, v in tensors.items()}, msgs


def test_go1_file_runs_in_the_policy_node_with_default_topics(go1_file):
    meta = read_metadata(go1_file)
    joint_names = meta.group("obj.robot.joints").metadata["joint_names"]
    gains = meta.group("output.joint_targets.joint_pos").metadata
    rng = np.random.default_rng(5)
    ticks = 8  # two policy steps: Default and ProcessActions ticks
    inputs = []
    with Rig(go1_file, params={"input_timeout_s": 0.0, "soft_start_s": 0.0}) as rig:
        outs = rig.collect(TARGETS, JointState)
        for k in range(ticks):
            tensors, msgs = _state(rng, joint_names)
            rig.feed(msgs)
            rig.advance(1, expect_ticks=1)
            rig.spin_until(lambda: len(outs) > k, what=f"joint targets of tick {k}")  # noqa: B023 (waited on before the loop moves on)
            inputs.append(tensors)
    ref = Reference(go1_file)
    for k, (msg, x) in enumerate(zip(outs, inputs)):
        exp = ref.run(x, k)
        assert list(msg.name) == list(gains["names"])
        np.testing.assert_allclose(
            msg.position, exp["output.joint_targets.joint_pos.pos"].reshape(-1), rtol=1e-5, atol=1e-5
        )
        np.testing.assert_allclose(msg.velocity, exp["output.joint_targets.joint_pos.vel"].reshape(-1), atol=1e-6)
        np.testing.assert_allclose(msg.effort, exp["output.joint_targets.joint_pos.effort"].reshape(-1), atol=1e-6)
    # the targets change only on Default ticks (every 4th), and did change between the two steps
    positions = np.array([m.position for m in outs])
    np.testing.assert_allclose(positions[1:4], positions[[0, 0, 0]], atol=1e-6)
    assert not np.allclose(positions[4], positions[0])


def test_inspect_lists_the_default_topics(go1_file, capsys):
    from exploy.cli.main import main

    assert main(["inspect", str(go1_file)]) == 0
    out = capsys.readouterr().out
    for topic, msg in [(JOINTS, "JointState"), (BASE_IMU, "Imu"), (GYRO, "Imu"), (LIN_VEL, "TwistStamped"),
                       (CMD, "Twist"), ("~/output/joint_targets/joint_pos", "JointState")]:
        assert re.search(rf"{re.escape(topic)}\s+\[\w+/msg/{msg}\]", out), topic


def test_recording_replays_live_against_the_policy_node(go1, tmp_path):
    import os

    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter

    from exploy.bag.recorder import record
    from exploy_ros.policy_node import PolicyNode
    from exploy_ros.replay_node import replay_live

    made, path = go1
    bag = tmp_path / "run"
    record(made.env, made.actor, path, bag, num_steps=30)
    context = Context()
    rclpy.init(context=context, domain_id=1 + (os.getpid() * 19 + 57) % 200)
    ns = f"/mj{os.getpid()}"
    node = PolicyNode(namespace=ns, context=context, parameter_overrides=[
        Parameter("policy_path", value=str(path)), Parameter("use_sim_time", value=True)])
    try:
        assert not node.start_failed
        result = replay_live(bag, path, node=f"{ns}/policy_node", context=context, spin_with=[node], timeout=5.0)
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    assert result.ok, result.first_divergence
    assert result.mode == "live" and result.num_ticks == 30 * 4
    assert result.outputs["output.joint_targets.joint_pos.pos"].compared_ticks == 30 * 4
