"""Default topic rules: upstream exploy names, fallbacks, joint names and shape checks."""

from __future__ import annotations

import pytest

from exploy.format import ComponentKind, ComponentSpec, GroupSpec, PolicyMetadata
from exploy.mapping import FieldBinding, MappingError, build_topic_map

IN, OUT, MEM = ComponentKind.INPUT, ComponentKind.OUTPUT, ComponentKind.MEMORY
JOINTS = ("hip", "knee", "ankle")


def comp(name, kind=IN, size=3, group=None, metadata=None, dtype="float32"):
    return ComponentSpec(name, kind, (1, size), dtype, group, metadata)


def policy(*components, groups=()):
    return PolicyMetadata("0.1.0", 4, 200.0, tuple(components), tuple(groups))


def upstream_policy():
    """Names as the upstream IsaacLab/mjlab exporters write them."""
    return policy(
        ComponentSpec("ctx.step_count", IN, (1,), "int32"),
        comp("obj.robot.joints.pos", group="obj.robot.joints"),
        comp("obj.robot.joints.vel", group="obj.robot.joints"),
        comp("obj.robot.base.w_Q_b", size=4),
        comp("obj.robot.base.ang_vel_b_rt_w_in_b"),
        comp("obj.robot.base.lin_vel_b_rt_w_in_b"),
        comp("cmd.se2_velocity.base_velocity"),
        comp("output.joint_targets.pd.pos", OUT, group="output.joint_targets.pd"),
        comp("output.joint_targets.pd.effort", OUT, group="output.joint_targets.pd"),
        comp("actions", OUT),
        comp("last_actions", MEM),
        groups=(
            GroupSpec("obj.robot.joints", ("obj.robot.joints.pos", "obj.robot.joints.vel"), None,
                      {"joint_names": list(JOINTS)}),
            GroupSpec("output.joint_targets.pd", ("output.joint_targets.pd.pos", "output.joint_targets.pd.effort"),
                      None, {"type": "joint_targets", "names": list(JOINTS)}),
        ),
    )


def test_upstream_names_map_to_typed_topics():
    tmap = build_topic_map(upstream_policy())
    assert [(s.topic, s.msg_type, s.adapter) for s in tmap.inputs] == [
        ("~/input/obj/robot/joints", "sensor_msgs/msg/JointState", "joint_state"),
        ("~/input/obj/robot/base/pose", "geometry_msgs/msg/PoseStamped", "pose_stamped"),
        ("~/input/obj/robot/base/twist", "geometry_msgs/msg/TwistStamped", "twist_stamped"),
        ("~/input/cmd/se2_velocity/base_velocity", "geometry_msgs/msg/Twist", "twist"),
    ]
    assert [(s.topic, s.msg_type) for s in tmap.outputs] == [
        ("~/output/joint_targets/pd", "sensor_msgs/msg/JointState"),
        ("~/output/actions", "std_msgs/msg/Float32MultiArray"),
    ]
    joints = tmap.topic("~/input/obj/robot/joints")
    assert joints.bindings == (
        FieldBinding("obj.robot.joints.pos", "position", JOINTS, (1, 3), "float32"),
        FieldBinding("obj.robot.joints.vel", "velocity", JOINTS, (1, 3), "float32"),
    )
    # no base_names: the base is a body like any other; it needs more than an IMU gives
    assert [(b.component, b.field) for b in tmap.topic("~/input/obj/robot/base/twist").bindings] == [
        ("obj.robot.base.ang_vel_b_rt_w_in_b", "angular"),
        ("obj.robot.base.lin_vel_b_rt_w_in_b", "linear"),
    ]
    assert tmap.binding("cmd.se2_velocity.base_velocity").field == "se2"
    targets = tmap.topic_of("output.joint_targets.pd.effort")
    assert targets.names == JOINTS
    assert [b.field for b in targets.bindings] == ["position", "effort"]


def test_memory_and_step_counter_get_no_topic():
    tmap = build_topic_map(upstream_policy())
    carried = {c for s in tmap.topics for c in s.components}
    assert "last_actions" not in carried and "ctx.step_count" not in carried
    assert tmap.runtime_inputs == ("ctx.step_count",)
    with pytest.raises(KeyError, match="has no topic"):
        tmap.topic_of("last_actions")


def test_every_input_is_fed_once():
    meta = upstream_policy()
    tmap = build_topic_map(meta)
    fed = [c for s in tmap.inputs for c in s.components] + list(tmap.runtime_inputs)
    assert sorted(fed) == sorted(c.name for c in meta.inputs)


def test_joint_names_from_component_metadata():
    meta = policy(
        comp("obj.arm.joints.pos", metadata={"joint_names": ["a", "b", "c"]}),
        comp("output.joint_targets.arm.pos", OUT, metadata={"names": ["a", "b", "c"]}),
    )
    tmap = build_topic_map(meta)
    assert tmap.binding("obj.arm.joints.pos").names == ("a", "b", "c")
    assert tmap.binding("output.joint_targets.arm.pos").names == ("a", "b", "c")


def test_component_names_win_over_group_names():
    meta = policy(
        comp("obj.r.joints.pos", group="obj.r.joints", metadata={"joint_names": ["x", "y", "z"]}),
        groups=(GroupSpec("obj.r.joints", ("obj.r.joints.pos",), None, {"joint_names": list(JOINTS)}),),
    )
    assert build_topic_map(meta).binding("obj.r.joints.pos").names == ("x", "y", "z")


def test_sensor_imu_items_share_one_imu_topic():
    meta = policy(
        comp("sensor.imu.chest.quat", size=4),
        comp("sensor.imu.chest.gyro"),
        comp("sensor.imu.chest.lin_acc"),
        comp("sensor.imu.chest.temperature", size=1),
    )
    tmap = build_topic_map(meta)
    imu = tmap.topic("~/input/sensor/imu/chest")
    assert imu.msg_type == "sensor_msgs/msg/Imu"
    assert [b.field for b in imu.bindings] == ["orientation", "angular_velocity", "linear_acceleration"]
    other = tmap.topic_of("sensor.imu.chest.temperature")
    assert (other.topic, other.adapter) == ("~/input/sensor/imu/chest/temperature", "float32_multi_array")


def test_fallback_topics_and_sanitised_tokens():
    meta = policy(
        comp("a.b"),
        comp("obj.my-robot.2nd.thing"),
        comp("output.debug.value", OUT),
        comp("obs", OUT, size=10),
    )
    tmap = build_topic_map(meta)
    assert [s.topic for s in tmap.inputs] == ["~/input/a/b", "~/input/obj/my_robot/_2nd/thing"]
    assert [s.topic for s in tmap.outputs] == ["~/output/debug/value", "~/output/obs"]
    assert all(s.adapter == "float32_multi_array" and s.bindings[0].field == "data" for s in tmap.topics)


def test_joint_state_without_names_is_an_error():
    meta = policy(comp("obj.robot.joints.pos", group="obj.robot.joints"),
                  groups=(GroupSpec("obj.robot.joints", ("obj.robot.joints.pos",)),))
    with pytest.raises(
        MappingError, match=r"'obj.robot.joints.pos' .* no joint names.*joint_names.*float32_multi_array"
    ):
        build_topic_map(meta)


def test_malformed_joint_names_metadata_is_an_error():
    meta = policy(comp("obj.robot.joints.pos", metadata={"joint_names": "hip,knee,ankle"}))
    with pytest.raises(MappingError, match="must be a list of joint names"):
        build_topic_map(meta)


@pytest.mark.parametrize(
    ("component", "match"),
    [
        (comp("obj.robot.joints.pos", size=4, metadata={"joint_names": list(JOINTS)}),
         r"'obj.robot.joints.pos' has shape \[1, 4\] \(4 values\) but 3 joint names need 3"),
        (comp("obj.robot.base.w_Q_b", size=3), r"'obj.robot.base.w_Q_b' .* field 'orientation' needs 4"),
        (comp("sensor.imu.head.gyro", size=4), r"'sensor.imu.head.gyro' .* field 'angular_velocity' needs 3"),
        (comp("cmd.se2_velocity.base", size=2), r"'cmd.se2_velocity.base' .* field 'se2' needs 3"),
        (comp("output.joint_targets.pd.pos", OUT, size=2, metadata={"names": list(JOINTS)}),
         r"'output.joint_targets.pd.pos' has shape \[1, 2\]"),
    ],
)
def test_shape_mismatch_names_the_component(component, match):
    with pytest.raises(MappingError, match=match):
        build_topic_map(policy(component))


def test_lookup_helpers_and_description():
    tmap = build_topic_map(upstream_policy())
    assert tmap.topic_of("obj.robot.joints.vel").topic == "~/input/obj/robot/joints"
    assert tmap.binding("actions").size == 3
    with pytest.raises(KeyError, match="No topic"):
        tmap.topic("/nope")
    with pytest.raises(KeyError, match="carries no component"):
        tmap.topic("~/output/actions").binding("obs")
    text = tmap.describe()
    assert "~/input/obj/robot/joints  [sensor_msgs/msg/JointState]" in text
    assert "(runtime) ctx.step_count" in text
