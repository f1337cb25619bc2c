"""Typed adapters in the running node: JointState by joint names, Imu quaternion order, Twist,
JointState outputs, and a mapping file renaming topics."""

from __future__ import annotations

import numpy as np
import pytest
from geometry_msgs.msg import Twist
from policy_node_rig import Reference, Rig
from sensor_msgs.msg import Imu, JointState

from exploy.examples.legged_robot import JOINT_NAMES, make_mlp_example
from exploy.exporter.core.exporter import export_environment_as_onnx

JOINTS = "~/input/obj/robot/joints"
IMU = "~/input/obj/robot/base/imu"
CMD = "~/input/cmd/se2_velocity/base_velocity"
TARGETS = "policy_node/output/joint_targets/pd"


@pytest.fixture(scope="module")
def legged_file(tmp_path_factory):
    env, actor = make_mlp_example(seed=4)
    return export_environment_as_onnx(env=env, actor=actor, path=tmp_path_factory.mktemp("legged"))


def _robot_state(rng):
    """Policy-order tensors and the ROS messages carrying them (joints shuffled, one extra)."""
    pos = rng.normal(scale=0.3, size=12)
    vel = rng.normal(size=12)
    quat_wxyz = np.array([0.9, 0.1, -0.3, 0.2])
    quat_wxyz /= np.linalg.norm(quat_wxyz)
    ang_vel = rng.normal(size=3)
    cmd = np.array([0.5, -0.2, 0.3])
    order = rng.permutation(12)
    joints = JointState(
        name=["extra_joint"] + [JOINT_NAMES[i] for i in order],
        position=[9.0] + [float(pos[i]) for i in order],
        velocity=[9.0] + [float(vel[i]) for i in order],
        effort=[],
    )
    imu = Imu()
    imu.orientation.w, imu.orientation.x, imu.orientation.y, imu.orientation.z = (float(v) for v in quat_wxyz)
    imu.angular_velocity.x, imu.angular_velocity.y, imu.angular_velocity.z = (float(v) for v in ang_vel)
    twist = Twist()
    twist.linear.x, twist.linear.y, twist.angular.z = (float(v) for v in cmd)
    tensors = {
        "obj.robot.joints.pos": pos,
        "obj.robot.joints.vel": vel,
        "obj.robot.base.w_Q_b": quat_wxyz,
        "obj.robot.base.ang_vel_b_rt_w_in_b": ang_vel,
        "cmd.se2_velocity.base_velocity": cmd,
    }
    tensors = {k: v.astype(np.float32).reshape(1, -1) for k, v in tensors.items()}
    return tensors, joints, imu, twist


def _run(rig, topics, steps):
    outs = rig.collect(topics.get("targets", TARGETS), JointState)
    rng = np.random.default_rng(11)
    expected_inputs = []
    for k in range(steps):
        tensors, joints, imu, twist = _robot_state(rng)
        rig.feed({topics["joints"]: joints, topics["imu"]: imu, topics["cmd"]: twist})
        rig.advance(1, expect_ticks=1)
        rig.spin_until(lambda: len(outs) > k, what=f"joint targets of tick {k}")  # noqa: B023 (waited on before the loop moves on)
        expected_inputs.append(tensors)
    return outs, expected_inputs


def test_typed_adapters_map_joint_names_quaternion_order_and_twist(legged_file):
    with Rig(legged_file, params={"input_timeout_s": 0.0, "soft_start_s": 0.0}) as rig:  # exact outputs: no blend
        outs, inputs = _run(rig, {"joints": JOINTS, "imu": IMU, "cmd": CMD}, steps=6)
        expected_stamps = [rig.sim_ns - (5 - k) * 5_000_000 for k in range(6)]
    ref = Reference(legged_file)
    for k, (msg, x) in enumerate(zip(outs, inputs)):
        exp = ref.run(x, k)
        assert list(msg.name) == list(JOINT_NAMES)
        np.testing.assert_allclose(msg.effort, exp["output.joint_targets.pd.effort"].reshape(-1), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(msg.position, exp["output.joint_targets.pd.pos"].reshape(-1), rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(
            msg.velocity, exp["output.joint_targets.pd.vel"].reshape(-1)
        )  # zeros: the PD velocity target
        assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == expected_stamps[k]


def test_swapped_quaternion_order_changes_the_outputs(legged_file):
    """Guards the test above: feeding w,x,y,z into ROS x,y,z,w slots must not give the same result."""
    rng = np.random.default_rng(11)
    tensors, *_ = _robot_state(rng)
    swapped = dict(tensors)
    swapped["obj.robot.base.w_Q_b"] = np.roll(tensors["obj.robot.base.w_Q_b"], -1, axis=-1)
    ref = Reference(legged_file)
    a = ref.run(tensors, 0, keep_memory=False)["output.joint_targets.pd.effort"]
    b = ref.run(swapped, 0, keep_memory=False)["output.joint_targets.pd.effort"]
    assert not np.allclose(a, b, atol=1e-4)


def test_joint_state_missing_a_joint_is_rejected(legged_file):
    rng = np.random.default_rng(12)
    tensors, joints, imu, twist = _robot_state(rng)
    with Rig(legged_file, params={"input_timeout_s": 0.0}) as rig:
        rig.feed({JOINTS: joints, IMU: imu, CMD: twist})
        partial = JointState(
            name=list(joints.name[:-1]), position=list(joints.position[:-1]), velocity=list(joints.velocity[:-1])
        )
        rig.feed({JOINTS: partial})
        state = rig.node.inputs.topics[JOINTS]
        assert state.rejected == 1 and "lacks joint" in state.last_error
        np.testing.assert_allclose(rig.node.inputs.values["obj.robot.joints.pos"], tensors["obj.robot.joints.pos"])


def test_mapping_file_renames_topics(legged_file, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "components:\n"
        "  obj.robot.joints: {topic: joint_states}\n"
        "  obj.robot.base.w_Q_b: {topic: imu/data}\n"
        "  obj.robot.base.ang_vel_b_rt_w_in_b: {topic: imu/data}\n"
        "  cmd.se2_velocity.base_velocity: {topic: cmd_vel}\n"
        "  output.joint_targets.pd: {topic: motor/targets}\n"
    )
    with Rig(legged_file, params={"input_timeout_s": 0.0, "soft_start_s": 0.0, "mapping_file": str(mapping)}) as rig:
        topics = {"joints": "joint_states", "imu": "imu/data", "cmd": "cmd_vel", "targets": "motor/targets"}
        outs, inputs = _run(rig, topics, steps=2)
    ref = Reference(legged_file)
    for k, (msg, x) in enumerate(zip(outs, inputs)):
        np.testing.assert_allclose(
            msg.effort, ref.run(x, k)["output.joint_targets.pd.effort"].reshape(-1), rtol=1e-5, atol=1e-5
        )


def test_bad_mapping_file_fails_configure(legged_file, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("components:\n  no.such.component: {topic: x}\n")
    with Rig(legged_file, sim_time=False, params={"mapping_file": str(mapping)}) as rig:
        assert rig.node.start_failed and rig.node.lifecycle_state == "unconfigured"
