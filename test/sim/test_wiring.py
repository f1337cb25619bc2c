"""Topics of the simulator from a policy's topic map; joint commands decoded by name."""

from __future__ import annotations

import numpy as np
import pytest

from exploy.sim.errors import SimError
from exploy.sim.wiring import JointCommandDecoder


def test_commands_are_reordered_by_name_and_efforts_win_in_auto_mode() -> None:
    decoder = JointCommandDecoder(["a", "b", "c"])
    cmd = decoder.decode(
        ["c", "x", "a", "b"], position=[3.0, 9.0, 1.0, 2.0], velocity=[], effort=[30.0, 90.0, 10.0, 20.0]
    )
    assert cmd.effort.tolist() == [10.0, 20.0, 30.0] and cmd.pos.tolist() == [1.0, 2.0, 3.0]  # tracking reference
    pos = JointCommandDecoder(["a", "b", "c"], mode="position").decode(
        ["c", "a", "b"], position=[3.0, 1.0, 2.0], velocity=[0.3, 0.1, 0.2], effort=[])
    assert pos.pos.tolist() == [1.0, 2.0, 3.0] and pos.vel.tolist() == [0.1, 0.2, 0.3] and pos.effort is None


@pytest.mark.parametrize(
    ("names", "position", "effort", "match"),
    [
        (["a", "b"], [], [1.0, 2.0], "joint\\(s\\) c"),
        (["a", "b", "c"], [], [1.0, np.nan, 2.0], "NaN"),
        (["a", "b", "c"], [], [1.0, 2.0], "2 values for 3 names"),
        (["a", "b", "c"], [], [], "neither efforts nor positions"),
    ],
)
def test_bad_commands_are_refused_with_the_reason(names, position, effort, match) -> None:
    with pytest.raises(SimError, match=match):
        JointCommandDecoder(["a", "b", "c"]).decode(names, position=position, velocity=[], effort=effort)


def test_the_example_policy_maps_to_joint_state_imu_and_twist_topics(tmp_path) -> None:
    pytest.importorskip("mujoco")
    import torch

    from exploy.examples.mujoco_quadruped import make_mlp_example
    from exploy.exporter.core.exporter import export_environment_as_onnx
    from exploy.format import read_metadata
    from exploy.mapping import build_topic_map
    from exploy.sim.wiring import sim_topics

    torch.set_num_threads(1)
    env, actor = make_mlp_example()
    path = export_environment_as_onnx(env=env, actor=actor, path=tmp_path, filename="policy.onnx")
    topics = sim_topics(build_topic_map(read_metadata(path)), "/robot/policy_node")
    assert topics.joint_state == "/robot/policy_node/input/obj/robot/joints"
    assert topics.imu == "/robot/policy_node/input/obj/robot/base/imu"
    assert topics.twist == "/robot/policy_node/input/cmd/se2_velocity/base_velocity"
    assert topics.odom is None
    assert topics.command == "/robot/policy_node/output/joint_targets/pd"


def test_imu_components_are_read_from_the_sensor_the_file_names_else_their_site_or_body() -> None:
    from exploy.sim.readings import Reading
    from exploy.sim.wiring import reading_for

    meta = {"mujoco_sensor": "robot/imu_ang_vel", "site": "robot/imu"}
    assert reading_for("sensor.imu.robot_imu.ang_vel_b_rt_w_in_b", "angular_velocity", meta) == Reading(
        "sensor", "robot/imu_ang_vel", fallback=Reading("site_ang_vel", "robot/imu"))
    assert reading_for("sensor.imu.imu.lin_vel_b_rt_w_in_b", "linear") == Reading("site_lin_vel", "imu")
    assert reading_for("obj.robot.trunk.w_Q_b", "orientation") == Reading("body_quat", "trunk")
    assert reading_for("my_orientation", "orientation") == Reading("site_quat")  # the robot's IMU site
    with pytest.raises(SimError, match="without a MuJoCo sensor"):
        reading_for("sensor.imu.imu.lin_acc_b", "linear_acceleration")


def test_topics_of_one_kind_can_be_renamed_only_when_there_is_one() -> None:
    from exploy.sim.wiring import IMU, JOINT_STATE, SimTopics, StateTopic

    basic = SimTopics.basic(joint_state="/j", imu="/imu", odom=None, twist=None, command="/cmd", node="/n")
    assert basic.published == ["/j", "/imu"] and basic.imu == "/imu" and basic.odom is None
    assert basic.renamed(JOINT_STATE, "/joints").published == ["/joints", "/imu"]
    two = SimTopics(states=(StateTopic("/a", IMU), StateTopic("/b", IMU)), command="/cmd", node="/n")
    with pytest.raises(SimError, match="2 sensor_msgs/msg/Imu topics"):
        two.renamed(IMU, "/imu")
