"""Default topics for every family of upstream exploy's naming vocabulary, and the ros2_control
output adapters chosen in a mapping file."""

from __future__ import annotations

import pytest
from vocabulary_messages import ARM, LEGS, comp, vocabulary

from exploy.format import ComponentKind, GroupSpec, PolicyMetadata
from exploy.mapping import MappingError, build_topic_map, parse_mapping

IN, OUT = ComponentKind.INPUT, ComponentKind.OUTPUT
def topics(tmap):
    return {s.topic: (s.msg_type, [(b.component, b.field) for b in s.bindings]) for s in tmap.topics}


def test_base_named_in_base_names_is_one_odometry_topic():
    got = topics(build_topic_map(vocabulary({"robot": "base"})))
    assert got["~/input/obj/robot/base/odom"] == ("nav_msgs/msg/Odometry", [
        ("obj.robot.base.pos_b_rt_w_in_w", "position"),
        ("obj.robot.base.w_Q_b", "orientation"),
        ("obj.robot.base.lin_vel_b_rt_w_in_b", "linear_velocity"),
        ("obj.robot.base.ang_vel_b_rt_w_in_b", "angular_velocity"),
    ])


def test_other_bodies_get_pose_and_twist_and_imu_only_bodies_stay_on_imu():
    got = topics(build_topic_map(vocabulary({"robot": "base"})))
    assert got["~/input/obj/robot/hand/pose"] == ("geometry_msgs/msg/PoseStamped", [
        ("obj.robot.hand.pos_b_rt_w_in_w", "position"), ("obj.robot.hand.w_Q_b", "orientation")])
    assert got["~/input/obj/robot/hand/twist"] == ("geometry_msgs/msg/TwistStamped", [
        ("obj.robot.hand.lin_vel_b_rt_w_in_b", "linear")])
    assert got["~/input/obj/box/lid/imu"] == ("sensor_msgs/msg/Imu", [
        ("obj.box.lid.w_Q_b", "orientation"), ("obj.box.lid.ang_vel_b_rt_w_in_b", "angular_velocity")])


def test_without_base_names_the_base_is_a_body_like_any_other():
    got = topics(build_topic_map(vocabulary()))
    assert "~/input/obj/robot/base/odom" not in got
    assert got["~/input/obj/robot/base/pose"][0] == "geometry_msgs/msg/PoseStamped"
    assert got["~/input/obj/robot/base/twist"][1] == [
        ("obj.robot.base.lin_vel_b_rt_w_in_b", "linear"), ("obj.robot.base.ang_vel_b_rt_w_in_b", "angular")]


def test_commands_sensors_and_outputs_get_standard_messages():
    tmap = build_topic_map(vocabulary({"robot": "base"}))
    got = topics(tmap)
    assert got["~/input/sensor/imu/chest"] == ("sensor_msgs/msg/Imu", [
        ("sensor.imu.chest.w_Q_b", "orientation"), ("sensor.imu.chest.ang_vel_b_rt_w_in_b", "angular_velocity")])
    assert got["~/input/sensor/imu/chest/twist"] == ("geometry_msgs/msg/TwistStamped", [
        ("sensor.imu.chest.lin_vel_b_rt_w_in_b", "linear")])
    assert got["~/input/cmd/se3_pose/target"] == ("geometry_msgs/msg/PoseStamped", [("cmd.se3_pose.target", "pose")])
    assert got["~/input/cmd/boolean/stand"] == ("std_msgs/msg/Bool", [("cmd.boolean.stand", "data")])
    assert got["~/input/cmd/float/height"] == ("std_msgs/msg/Float32", [("cmd.float.height", "data")])
    assert got["~/input/cmd/joint_pos/arm"] == ("sensor_msgs/msg/JointState", [("cmd.joint_pos.arm", "position")])
    assert tmap.binding("cmd.joint_pos.arm").names == ARM
    assert got["~/input/cmd/se2_velocity/base_velocity"][0] == "geometry_msgs/msg/Twist"
    assert got["~/output/se2_velocity/walk"] == ("geometry_msgs/msg/Twist", [("output.se2_velocity.walk", "se2")])
    assert tmap.binding("output.se2_velocity.walk").frame_id == "base_link"
    assert got["~/output/joint_targets/legs"][0] == "sensor_msgs/msg/JointState"
    assert "memory.h.in" not in {c for s in tmap.topics for c in s.components}


def test_height_scan_is_a_rows_by_cols_grid():
    tmap = build_topic_map(vocabulary())
    spec = tmap.topic("~/input/sensor/ray_caster/scan/height")
    assert spec.msg_type == "std_msgs/msg/Float32MultiArray"
    # size_y 0.2 / 0.1 -> 3 rows along y; size_x 0.4 / 0.1 -> 5 columns along x
    assert spec.bindings[0].grid == (3, 5)
    assert "grid 3x5" in tmap.describe()


def test_height_scan_without_matching_metadata_is_a_flat_array():
    meta = PolicyMetadata("0.1.0", 4, 200.0, (comp("sensor.ray_caster.s.height", size=7, group="sensor.ray_caster.s"),),
                          (GroupSpec("sensor.ray_caster.s", ("sensor.ray_caster.s.height",), None,
                                     {"resolution": 0.1, "size_x": 0.4, "size_y": 0.2}),))
    assert build_topic_map(meta).binding("sensor.ray_caster.s.height").grid is None


def test_bad_base_names_is_a_mapping_error():
    with pytest.raises(MappingError, match="'base_names' must be a JSON object"):
        build_topic_map(PolicyMetadata("0.1.0", 4, 200.0, (comp("obj.r.b.pos_b_rt_w_in_w"),),
                                       env_metadata={"base_names": "[1, 2]"}))


def legs_policy(metadata_key="names"):
    return PolicyMetadata(
        "0.1.0", 4, 200.0,
        (comp("obj.robot.joints.pos", group="obj.robot.joints"),
         comp("output.joint_targets.legs.pos", OUT, group="output.joint_targets.legs"),
         comp("output.joint_targets.legs.vel", OUT, group="output.joint_targets.legs")),
        (GroupSpec("obj.robot.joints", ("obj.robot.joints.pos",), None, {metadata_key: list(LEGS)}),
         GroupSpec("output.joint_targets.legs", ("output.joint_targets.legs.pos", "output.joint_targets.legs.vel"),
                   None, {metadata_key: list(LEGS)})),
    )


@pytest.mark.parametrize("key", ["names", "joint_names"])
def test_inputs_and_outputs_accept_both_joint_name_keys(key):
    tmap = build_topic_map(legs_policy(key))
    assert tmap.binding("obj.robot.joints.pos").names == LEGS
    assert tmap.binding("output.joint_targets.legs.pos").names == LEGS


def test_float64_multi_array_output_in_the_mapping_files_joint_order():
    config = parse_mapping({"components": {
        "output.joint_targets.legs.pos": {"topic": "/forward_position_controller/commands",
                                          "adapter": "float64_multi_array", "joint_order": ["ankle", "hip", "knee"]},
        "output.joint_targets.legs.vel": {"enabled": False},
    }})
    tmap = build_topic_map(legs_policy(), config)
    spec = tmap.topic("/forward_position_controller/commands")
    assert (spec.msg_type, spec.adapter, spec.names) == (
        "std_msgs/msg/Float64MultiArray", "float64_multi_array", ("ankle", "hip", "knee"))
    assert spec.bindings[0].names == LEGS and spec.bindings[0].field == "data"
    assert tmap.disabled_outputs == ("output.joint_targets.legs.vel",)


def test_joint_trajectory_set_on_the_group_keeps_members_on_one_topic():
    config = parse_mapping({"components": {"output.joint_targets.legs": {
        "adapter": "joint_trajectory", "topic": "/jtc/joint_trajectory", "joint_order": ["knee", "hip", "ankle"]}}})
    spec = build_topic_map(legs_policy(), config).topic("/jtc/joint_trajectory")
    assert spec.msg_type == "trajectory_msgs/msg/JointTrajectory"
    assert [b.field for b in spec.bindings] == ["positions", "velocities"]
    assert spec.names == ("knee", "hip", "ankle")


def test_group_adapter_without_topic_uses_the_groups_default_topic():
    config = parse_mapping({"components": {"output.joint_targets.legs": {"adapter": "joint_trajectory"}}})
    tmap = build_topic_map(legs_policy(), config)
    assert tmap.topic("~/output/joint_targets/legs").adapter == "joint_trajectory"


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ({"adapter": "float64_multi_array", "joint_order": ["hip", "knee"]}, r"missing joint\(s\) \['ankle'\]"),
        ({"adapter": "float64_multi_array", "joint_order": ["hip", "knee", "toe"]}, r"unknown joint\(s\) \['toe'\]"),
        ({"joint_order": ["hip", "knee", "ankle"]}, "'joint_order' only applies to adapters"),
    ],
)
def test_bad_joint_order_is_rejected(entry, match):
    config = parse_mapping({"components": {"output.joint_targets.legs.pos": entry}})
    with pytest.raises(MappingError, match=match):
        build_topic_map(legs_policy(), config)


def test_joint_order_with_duplicates_is_rejected_on_load():
    with pytest.raises(MappingError, match=r"joint_order: joint names \['hip'\] appear more than once"):
        parse_mapping({"components": {"x": {"joint_order": ["hip", "hip"]}}})


def test_example_ros2_control_mapping_file_fits_the_example_robot():
    import pathlib

    from exploy.examples.legged_robot import JOINT_NAMES
    from exploy.mapping import load_mapping_file

    # the example's components and metadata (see exploy/examples/legged_robot.py)
    meta = PolicyMetadata("0.1.0", 4, 200.0, (
        comp("obj.robot.joints.pos", size=12, group="obj.robot.joints"),
        comp("obj.robot.joints.vel", size=12, group="obj.robot.joints"),
        comp("obj.robot.base.w_Q_b", size=4, group="obj.robot.base"),
        comp("obj.robot.base.ang_vel_b_rt_w_in_b", group="obj.robot.base"),
        comp("cmd.se2_velocity.base_velocity"),
        comp("output.joint_targets.pd.effort", OUT, size=12, group="output.joint_targets.pd"),
        comp("output.joint_targets.pd.pos", OUT, size=12, group="output.joint_targets.pd"),
    ), (
        GroupSpec("obj.robot.joints", ("obj.robot.joints.pos", "obj.robot.joints.vel"), None,
                  {"joint_names": list(JOINT_NAMES)}),
        GroupSpec("obj.robot.base", ("obj.robot.base.w_Q_b", "obj.robot.base.ang_vel_b_rt_w_in_b")),
        GroupSpec("output.joint_targets.pd", ("output.joint_targets.pd.effort", "output.joint_targets.pd.pos"), None,
                  {"names": list(JOINT_NAMES)}),
    ))
    path = pathlib.Path(__file__).parents[2] / "config" / "ros2_control_mapping.yaml"
    tmap = build_topic_map(meta, load_mapping_file(path))
    assert tmap.topic("/leg_effort_controller/commands").msg_type == "std_msgs/msg/Float64MultiArray"
    jtc = tmap.topic("/leg_trajectory_controller/joint_trajectory")
    assert jtc.msg_type == "trajectory_msgs/msg/JointTrajectory" and jtc.names[0] == "RR_hip"
    assert tmap.topic("/imu/data").adapter == "imu"
