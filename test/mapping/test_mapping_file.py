"""Mapping files: loading, overrides, and every error a user can make."""

from __future__ import annotations

import textwrap

import pytest

from exploy.format import ComponentKind, ComponentSpec, GroupSpec, PolicyMetadata
from exploy.mapping import MappingError, build_topic_map, load_mapping_file, parse_mapping

IN, OUT, MEM = ComponentKind.INPUT, ComponentKind.OUTPUT, ComponentKind.MEMORY
JOINTS = ["hip", "knee", "ankle"]


def comp(name, kind=IN, size=3, group=None, metadata=None):
    return ComponentSpec(name, kind, (1, size), "float32", group, metadata)


def legged_policy():
    return PolicyMetadata(
        "0.1.0", 4, 200.0,
        (
            ComponentSpec("ctx.step_count", IN, (1,), "int32"),
            comp("obj.robot.joints.pos", group="obj.robot.joints"),
            comp("obj.robot.joints.vel", group="obj.robot.joints"),
            comp("obj.robot.base.w_Q_b", size=4, group="obj.robot.base"),
            comp("obj.robot.base.ang_vel_b_rt_w_in_b", group="obj.robot.base"),
            comp("cmd.se2_velocity.base_velocity"),
            comp("raw.encoders", size=2),
            comp("output.joint_targets.pd.pos", OUT, group="output.joint_targets.pd"),
            comp("actions", OUT),
            comp("obs", OUT, size=8),
            comp("last_actions", MEM),
        ),
        (
            GroupSpec("obj.robot.joints", ("obj.robot.joints.pos", "obj.robot.joints.vel"), None,
                      {"joint_names": JOINTS}),
            GroupSpec("obj.robot.base", ("obj.robot.base.w_Q_b", "obj.robot.base.ang_vel_b_rt_w_in_b")),
            GroupSpec("output.joint_targets.pd", ("output.joint_targets.pd.pos",), None, {"names": JOINTS}),
        ),
    )


def write(tmp_path, text):
    path = tmp_path / "mapping.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def build(tmp_path, text):
    return build_topic_map(legged_policy(), load_mapping_file(write(tmp_path, text)))


def test_mapping_file_renames_topics(tmp_path):
    tmap = build(tmp_path, """
        version: 1
        components:
          obj.robot.joints: {topic: /joint_states}
          obj.robot.base: {topic: /imu/data}
          cmd.se2_velocity.base_velocity: {topic: /cmd_vel}
          output.joint_targets.pd.pos: {topic: /motor/targets}
          obs: {enabled: false}
    """)
    assert [(s.topic, s.components) for s in tmap.inputs] == [
        ("/joint_states", ("obj.robot.joints.pos", "obj.robot.joints.vel")),
        ("/imu/data", ("obj.robot.base.w_Q_b", "obj.robot.base.ang_vel_b_rt_w_in_b")),
        ("/cmd_vel", ("cmd.se2_velocity.base_velocity",)),
        ("~/input/raw/encoders", ("raw.encoders",)),
    ]
    assert [s.topic for s in tmap.outputs] == ["/motor/targets", "~/output/actions"]
    assert tmap.disabled_outputs == ("obs",)


def test_component_override_wins_over_group_override(tmp_path):
    tmap = build(tmp_path, """
        components:
          obj.robot.joints: {topic: /joint_states}
          obj.robot.joints.vel: {topic: /joint_velocities}
    """)
    assert tmap.topic_of("obj.robot.joints.pos").topic == "/joint_states"
    assert tmap.topic_of("obj.robot.joints.vel").topic == "/joint_velocities"


def test_prefixes_move_default_topics(tmp_path):
    tmap = build(tmp_path, """
        input_prefix: /robot/in
        output_prefix: policy/out
    """)
    assert tmap.topic_of("obj.robot.joints.pos").topic == "/robot/in/obj/robot/joints"
    assert tmap.topic_of("actions").topic == "policy/out/actions"


def test_adapter_override_with_names_makes_a_joint_state(tmp_path):
    tmap = build(tmp_path, """
        components:
          raw.encoders: {topic: /encoders, adapter: joint_state, field: position, names: [left, right]}
    """)
    spec = tmap.topic("/encoders")
    assert (spec.msg_type, spec.bindings[0].field, spec.bindings[0].names) == (
        "sensor_msgs/msg/JointState", "position", ("left", "right"))


def test_adapter_override_moves_component_to_its_own_topic(tmp_path):
    tmap = build(tmp_path, """
        components:
          obj.robot.joints.pos: {adapter: float32_multi_array}
    """)
    assert tmap.topic_of("obj.robot.joints.pos").topic == "~/input/obj/robot/joints/pos"
    assert tmap.binding("obj.robot.joints.pos").names is None
    assert tmap.topic_of("obj.robot.joints.vel").topic == "~/input/obj/robot/joints"


def test_adapter_override_infers_field_from_item_name(tmp_path):
    meta = PolicyMetadata("0.1.0", 1, None, (comp("my.body.gyro"), comp("my.arm.vel", metadata={"names": JOINTS})))
    config = parse_mapping({"components": {"my.body.gyro": {"adapter": "imu"},
                                           "my.arm.vel": {"adapter": "joint_state"}}})
    tmap = build_topic_map(meta, config)
    assert tmap.binding("my.body.gyro").field == "angular_velocity"
    assert tmap.binding("my.arm.vel").field == "velocity"


def test_names_override_fixes_missing_joint_names(tmp_path):
    meta = PolicyMetadata("0.1.0", 1, None, (comp("obj.r.joints.pos"),))
    config = parse_mapping({"components": {"obj.r.joints.pos": {"names": ["a", "b", "c"]}}})
    assert build_topic_map(meta, config).binding("obj.r.joints.pos").names == ("a", "b", "c")


def test_empty_file_keeps_defaults(tmp_path):
    assert build(tmp_path, "") == build_topic_map(legged_policy())


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("topics: {}\n", r"unknown top-level key\(s\) \['topics'\]"),
        ("version: 2\n", "unsupported version 2"),
        ("- a\n- b\n", "expected a mapping"),
        ("components: [a]\n", "components: expected a mapping"),
        ("components: {actions: /x}\n", r"components.actions: expected a mapping like \{topic: /name\}"),
        ("components: {actions: {topik: /x}}\n", r"unknown key\(s\) \['topik'\]"),
        ("components: {actions: {adapter: pose}}\n", "unknown adapter 'pose'"),
        ("components: {actions: {adapter: imu, field: position}}\n", "unknown field 'position' for adapter 'imu'"),
        ("components: {actions: {field: positon}}\n", "unknown field 'positon' for any adapter"),
        ("components: {actions: {topic: /bad topic}}\n", "'/bad topic' is not a valid ROS topic name"),
        ("components: {actions: {topic: /2fast}}\n", "not a valid ROS topic name"),
        ("components: {actions: {topic: ~x}}\n", "not a valid ROS topic name"),
        ("input_prefix: /in/\n", "input_prefix: '/in/' is not a valid ROS topic name"),
        ("components: {actions: {names: hip}}\n", "names: expected a non-empty list"),
        ("components: {actions: {names: [a, b, a]}}\n", r"joint names \['a'\] appear more than once"),
        ("components: {actions: {enabled: 'no'}}\n", "enabled: expected true or false"),
        ("components: {actions: {topic: [\n", "is not valid YAML"),
    ],
)
def test_malformed_mapping_file_is_rejected(tmp_path, text, match):
    with pytest.raises(MappingError, match=match):
        load_mapping_file(write(tmp_path, text))


def test_missing_mapping_file_is_rejected(tmp_path):
    with pytest.raises(MappingError, match="Cannot read mapping file"):
        load_mapping_file(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "components: {obj.robot.joint.pos: {topic: /j}}\n",
            r"'obj.robot.joint.pos' is neither a component nor a group of this policy\. Inputs/outputs: \[",
        ),
        ("components: {last_actions: {topic: /m}}\n", "'last_actions' is a memory component"),
        ("components: {ctx.step_count: {topic: /c}}\n", "'ctx.step_count' is fed by the runtime"),
        ("components: {obj.robot.joints: {field: position}}\n", r"'obj.robot.joints' is a group; .* not \['field'\]"),
        (
            "components: {obj.robot.joints: {adapter: float32_multi_array}}\n",
            "'obj.robot.joints.pos' and 'obj.robot.joints.vel' are both bound to field 'data'",
        ),
        (
            "components: {obj.robot.joints.vel: {field: position}}\n",
            "Components 'obj.robot.joints.pos' and 'obj.robot.joints.vel' are both bound to field 'position' "
            "of topic '~/input/obj/robot/joints'",
        ),
        (
            "components: {cmd.se2_velocity.base_velocity: {topic: ~/input/obj/robot/joints}}\n",
            "would carry two message types: 'obj.robot.joints.pos' as sensor_msgs/msg/JointState and "
            "'cmd.se2_velocity.base_velocity' as geometry_msgs/msg/Twist",
        ),
        (
            "components: {actions: {topic: ~/input/raw/encoders}}\n",
            r"both subscribed \(input 'raw.encoders'\) and published \(output 'actions'\)",
        ),
        (
            "components: {cmd.se2_velocity.base_velocity: {field: position}}\n",
            "field 'position' does not exist for adapter 'twist'",
        ),
        (
            "components: {actions: {names: [a, b, c]}}\n",
            r"'names' only applies to adapters \['joint_state', 'joint_trajectory', 'float64_multi_array'\]",
        ),
        (
            "components: {raw.encoders: {adapter: imu}}\n",
            r"cannot tell which field of adapter 'imu' .* add 'field: <one of \['orientation'",
        ),
        (
            "components: {raw.encoders: {adapter: joint_state, field: position}}\n",
            "'raw.encoders' is bound to JointState field 'position' but has no joint names",
        ),
        ("components: {raw.encoders: {enabled: false}}\n", "'enabled: false' is only allowed for outputs"),
        (
            "components: {obj.robot.base.w_Q_b: {topic: /imu, field: angular_velocity}}\n",
            r"'obj.robot.base.w_Q_b' has shape \[1, 4\] \(4 values\) but .* needs 3",
        ),
    ],
)
def test_inconsistent_mapping_is_rejected_at_build(tmp_path, text, match):
    with pytest.raises(MappingError, match=match):
        build(tmp_path, text)


def test_two_articulations_can_read_one_joint_states_topic():
    meta = PolicyMetadata("0.1.0", 1, None, (
        comp("obj.arm.joints.pos", metadata={"joint_names": ["a1", "a2", "a3"]}),
        comp("obj.leg.joints.pos", metadata={"joint_names": ["l1", "l2", "l3"]}),
    ))
    config = parse_mapping({"components": {"obj.arm.joints.pos": {"topic": "/joint_states"},
                                           "obj.leg.joints.pos": {"topic": "/joint_states"}}})
    spec = build_topic_map(meta, config).topic("/joint_states")
    assert [(b.field, b.names) for b in spec.bindings] == [("position", ("a1", "a2", "a3")),
                                                          ("position", ("l1", "l2", "l3"))]


def test_published_joint_states_sharing_a_topic_need_one_name_list(tmp_path):
    meta = PolicyMetadata("0.1.0", 1, None, (
        comp("output.joint_targets.a.pos", OUT, metadata={"names": ["x", "y", "z"]}),
        comp("output.joint_targets.b.vel", OUT, metadata={"names": ["z", "y", "x"]}),
    ))
    config = parse_mapping({"components": {"output.joint_targets.b.vel": {"topic": "~/output/joint_targets/a"}}})
    with pytest.raises(MappingError, match="share JointState topic .* different joint names"):
        build_topic_map(meta, config)


def test_published_twist_cannot_mix_se2_with_linear(tmp_path):
    meta = PolicyMetadata("0.1.0", 1, None, (comp("out.a", OUT), comp("out.b", OUT)))
    config = parse_mapping({"components": {
        "out.a": {"topic": "/cmd", "adapter": "twist", "field": "se2"},
        "out.b": {"topic": "/cmd", "adapter": "twist", "field": "linear"},
    }})
    with pytest.raises(MappingError, match="field 'se2' of 'out.a' overlaps"):
        build_topic_map(meta, config)


def test_error_messages_name_the_file(tmp_path):
    path = write(tmp_path, "components: {nope: {topic: /x}}\n")
    with pytest.raises(MappingError, match=f"mapping file {path}"):
        build_topic_map(legged_policy(), load_mapping_file(path))
