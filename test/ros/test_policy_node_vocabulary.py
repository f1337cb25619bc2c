"""Every default adapter of upstream's vocabulary over real topics in the running node, the
ros2_control output adapters, and record -> offline replay of such a policy.

Messages are built by hand here (quaternions reordered by hand); the node's outputs are checked
against a bare onnxruntime loop (:class:`policy_node_rig.Reference`).
"""

from __future__ import annotations

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry
from policy_node_rig import Reference, Rig
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, Float32, Float32MultiArray, Float64MultiArray, MultiArrayDimension
from trajectory_msgs.msg import JointTrajectory
from vocabulary_env import ARM, LEGS, VocabularyEnv, export_vocabulary, make_actor

from exploy.bag.recorder import record
from exploy.bag.replay import replay_offline

IN = "~/input/"


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    return export_vocabulary(tmp_path_factory.mktemp("vocab"))


def _unit(rng):
    q = rng.normal(size=4)
    return q / np.linalg.norm(q)


def _set_quat(target, wxyz):
    target.w, target.x, target.y, target.z = (float(v) for v in wxyz)


def _set_vec(target, xyz):
    target.x, target.y, target.z = (float(v) for v in xyz)


def _inputs(rng):
    """Policy tensors (policy order, w-first quaternions) and the ROS messages carrying them."""
    t = {name: rng.normal(size=3) for name in (
        "obj.robot.joints.pos", "obj.robot.joints.vel", "obj.robot.base.pos_b_rt_w_in_w",
        "obj.robot.base.lin_vel_b_rt_w_in_b", "obj.robot.base.ang_vel_b_rt_w_in_b", "obj.robot.hand.pos_b_rt_w_in_w",
        "sensor.imu.chest.ang_vel_b_rt_w_in_b", "sensor.imu.chest.lin_vel_b_rt_w_in_b", "cmd.joint_pos.arm",
        "cmd.se2_velocity.base_velocity")}
    for name in ("obj.robot.base.w_Q_b", "obj.robot.hand.w_Q_b", "sensor.imu.chest.w_Q_b"):
        t[name] = _unit(rng)
    t["cmd.se3_pose.target"] = np.concatenate([rng.normal(size=3), _unit(rng)])
    t["cmd.float.height"] = rng.normal(size=1)
    t["sensor.ray_caster.scan.height"] = rng.normal(size=15)
    stand = bool(rng.random() > 0.5)

    odom = Odometry()
    _set_vec(odom.pose.pose.position, t["obj.robot.base.pos_b_rt_w_in_w"])
    _set_quat(odom.pose.pose.orientation, t["obj.robot.base.w_Q_b"])
    _set_vec(odom.twist.twist.linear, t["obj.robot.base.lin_vel_b_rt_w_in_b"])
    _set_vec(odom.twist.twist.angular, t["obj.robot.base.ang_vel_b_rt_w_in_b"])
    hand = PoseStamped()
    _set_vec(hand.pose.position, t["obj.robot.hand.pos_b_rt_w_in_w"])
    _set_quat(hand.pose.orientation, t["obj.robot.hand.w_Q_b"])
    imu = Imu()
    _set_quat(imu.orientation, t["sensor.imu.chest.w_Q_b"])
    _set_vec(imu.angular_velocity, t["sensor.imu.chest.ang_vel_b_rt_w_in_b"])
    imu_twist = TwistStamped()
    _set_vec(imu_twist.twist.linear, t["sensor.imu.chest.lin_vel_b_rt_w_in_b"])
    target = PoseStamped()
    _set_vec(target.pose.position, t["cmd.se3_pose.target"][:3])
    _set_quat(target.pose.orientation, t["cmd.se3_pose.target"][3:])
    cmd = Twist()
    cmd.linear.x, cmd.linear.y, cmd.angular.z = (float(v) for v in t["cmd.se2_velocity.base_velocity"])
    legs, arm = t["obj.robot.joints.pos"], t["cmd.joint_pos.arm"]
    joints = JointState(name=["ankle", "extra", "hip", "knee"],
                        position=[float(legs[2]), 9.0, float(legs[0]), float(legs[1])],
                        velocity=[float(t["obj.robot.joints.vel"][i]) for i in (2, 0, 0, 1)])
    joints.velocity[1] = 9.0
    arm_cmd = JointState(name=["a2", "a3", "a1"], position=[float(arm[1]), float(arm[2]), float(arm[0])])
    scan = Float32MultiArray(data=[float(v) for v in t["sensor.ray_caster.scan.height"]])
    scan.layout.dim = [
        MultiArrayDimension(label="y", size=3, stride=15),
        MultiArrayDimension(label="x", size=5, stride=5),
    ]
    msgs = {
        IN + "obj/robot/base/odom": odom,
        IN + "obj/robot/hand/pose": hand,
        IN + "sensor/imu/chest": imu,
        IN + "sensor/imu/chest/twist": imu_twist,
        IN + "cmd/se3_pose/target": target,
        IN + "cmd/se2_velocity/base_velocity": cmd,
        IN + "obj/robot/joints": joints,
        IN + "cmd/joint_pos/arm": arm_cmd,
        IN + "cmd/float/height": Float32(data=float(t["cmd.float.height"][0])),
        IN + "cmd/boolean/stand": Bool(data=stand),
        IN + "sensor/ray_caster/scan/height": scan,
    }
    tensors = {k: np.asarray(v, dtype=np.float32).reshape(1, -1) for k, v in t.items()}
    tensors["cmd.boolean.stand"] = np.array([[stand]])
    return tensors, msgs


def _drive(rig, outputs, ticks):
    """Feed fresh inputs before each tick; returns the inputs fed, one dict per tick."""
    rng = np.random.default_rng(5)
    fed = []
    for k in range(ticks):
        tensors, msgs = _inputs(rng)
        rig.feed(msgs)
        rig.advance(1, expect_ticks=1)
        rig.spin_until(lambda: all(len(got) > k for got in outputs), what=f"outputs of tick {k}")  # noqa: B023 (waited on before the loop moves on)
        fed.append(tensors)
    return fed


def test_every_default_adapter_feeds_the_running_node(vocab_file):
    with Rig(vocab_file, params={"input_timeout_s": 0.0, "soft_start_s": 0.0}) as rig:
        legs = rig.collect("policy_node/output/joint_targets/legs", JointState)
        arm = rig.collect("policy_node/output/joint_targets/arm", JointState)
        walk = rig.collect("policy_node/output/se2_velocity/walk", Twist)
        fed = _drive(rig, [legs, arm, walk], ticks=4)
        assert rig.node.inputs.rejected == 0
    ref = Reference(vocab_file)
    for k, x in enumerate(fed):
        exp = ref.run(x, k)
        assert list(legs[k].name) == list(LEGS) and list(arm[k].name) == list(ARM)
        np.testing.assert_allclose(legs[k].position, exp["output.joint_targets.legs.pos"][0], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(legs[k].velocity, exp["output.joint_targets.legs.vel"][0], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(arm[k].effort, exp["output.joint_targets.arm.effort"][0], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(arm[k].position, exp["output.joint_targets.arm.pos"][0], rtol=1e-5, atol=1e-5)
        se2 = exp["output.se2_velocity.walk"][0]
        got = (walk[k].linear.x, walk[k].linear.y, walk[k].angular.z)
        np.testing.assert_allclose(got, se2, rtol=1e-5, atol=1e-5)


def test_ros2_control_adapters_publish_in_the_mapping_files_joint_order(vocab_file, tmp_path):
    mapping = tmp_path / "ros2_control.yaml"
    mapping.write_text(
        "components:\n"
        "  output.joint_targets.legs.pos:\n"
        "    {topic: fwd/commands, adapter: float64_multi_array, joint_order: [knee, ankle, hip]}\n"
        "  output.joint_targets.legs.vel: {enabled: false}\n"
        "  output.joint_targets.arm:\n"
        "    {topic: jtc/joint_trajectory, adapter: joint_trajectory, joint_order: [a3, a1, a2]}\n"
    )
    with Rig(vocab_file, params={"input_timeout_s": 0.0, "soft_start_s": 0.0, "mapping_file": str(mapping)}) as rig:
        fwd = rig.collect("fwd/commands", Float64MultiArray)
        jtc = rig.collect("jtc/joint_trajectory", JointTrajectory)
        fed = _drive(rig, [fwd, jtc], ticks=2)
    ref = Reference(vocab_file)
    for k, x in enumerate(fed):
        exp = ref.run(x, k)
        legs_pos, arm_pos = exp["output.joint_targets.legs.pos"][0], exp["output.joint_targets.arm.pos"][0]
        np.testing.assert_allclose(fwd[k].data, legs_pos[[1, 2, 0]], rtol=1e-5, atol=1e-5)  # knee, ankle, hip
        assert list(jtc[k].joint_names) == ["a3", "a1", "a2"] and len(jtc[k].points) == 1
        np.testing.assert_allclose(jtc[k].points[0].positions, arm_pos[[2, 0, 1]], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(jtc[k].points[0].effort, exp["output.joint_targets.arm.effort"][0][[2, 0, 1]],
                                   rtol=1e-5, atol=1e-5)
        assert len(jtc[k].points[0].velocities) == 0


def test_non_unit_odometry_quaternion_is_rejected_by_the_node(vocab_file):
    rng = np.random.default_rng(3)
    tensors, msgs = _inputs(rng)
    with Rig(vocab_file, params={"input_timeout_s": 0.0, "soft_start_s": 0.0}) as rig:
        rig.feed(msgs)
        bad = Odometry()
        bad.pose.pose.orientation.w = 2.0
        topic = IN + "obj/robot/base/odom"
        rig.feed({topic: bad})
        state = rig.node.inputs.topics[topic]
        assert state.rejected == 1 and "not a unit quaternion" in state.last_error
        np.testing.assert_allclose(rig.node.inputs.values["obj.robot.base.w_Q_b"], tensors["obj.robot.base.w_Q_b"])


def test_recording_and_offline_replay_cover_every_adapter(vocab_file, tmp_path):
    env = VocabularyEnv(0)
    bag = tmp_path / "bag"
    record(env, make_actor(env, 0), vocab_file, bag, num_steps=6)
    result = replay_offline(bag, vocab_file)
    assert result.ok, result
    from rosbags.rosbag2 import Reader

    with Reader(bag) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
    assert "nav_msgs/msg/Odometry" in types.values() and "std_msgs/msg/Bool" in types.values()
    assert "geometry_msgs/msg/TwistStamped" in types.values() and "std_msgs/msg/Float32" in types.values()


def test_inspect_lists_the_typed_topics(vocab_file, tmp_path, capsys):
    from exploy.cli.main import EXIT_OK, main

    assert main(["inspect", str(vocab_file)]) == EXIT_OK
    out = capsys.readouterr().out
    for line in (
        "input  ~/input/obj/robot/base/odom  [nav_msgs/msg/Odometry]",
        "input  ~/input/obj/robot/hand/pose  [geometry_msgs/msg/PoseStamped]",
        "input  ~/input/sensor/imu/chest/twist  [geometry_msgs/msg/TwistStamped]",
        "input  ~/input/cmd/boolean/stand  [std_msgs/msg/Bool]",
        "input  ~/input/cmd/float/height  [std_msgs/msg/Float32]",
        "grid 3x5 (rows y, cols x, x fastest)",
        "output ~/output/se2_velocity/walk  [geometry_msgs/msg/Twist]",
    ):
        assert line in out
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "components:\n  output.joint_targets.arm: {adapter: joint_trajectory, joint_order: [a3, a1, a2]}\n"
    )
    assert main(["inspect", str(vocab_file), "--mapping", str(mapping)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "output ~/output/joint_targets/arm  [trajectory_msgs/msg/JointTrajectory]" in out
    assert "message order ['a3', 'a1', 'a2']" in out


def test_live_replay_drives_every_adapter_over_real_topics(vocab_file, tmp_path):
    import os

    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter

    from exploy_ros.policy_node import PolicyNode
    from exploy_ros.replay_node import replay_live

    env = VocabularyEnv(1)
    bag = tmp_path / "bag"
    record(env, make_actor(env, 0), vocab_file, bag, num_steps=4)
    context = Context()
    rclpy.init(context=context, domain_id=1 + (os.getpid() * 19 + 57) % 200)
    ns = f"/vocab{os.getpid()}"
    params = {"policy_path": str(vocab_file), "use_sim_time": True, "sim_rate_hz": 200.0, "soft_start_s": 0.0}
    node = PolicyNode(
        namespace=ns, context=context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()]
    )
    try:
        assert not node.start_failed
        result = replay_live(bag, vocab_file, node=f"{ns}/policy_node", context=context, spin_with=[node], timeout=5.0)
        assert node.inputs.rejected == 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    assert result.ok, result.first_divergence
    assert result.outputs["output.se2_velocity.walk"].compared_ticks == 8
