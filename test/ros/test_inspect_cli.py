"""`exploy inspect`: inputs, outputs, rates, metadata and the topic map of a policy file."""

from __future__ import annotations

import json

import pytest

from exploy.cli.main import EXIT_BAD_INPUT, EXIT_OK, main
from exploy.examples.legged_robot import make_lstm_example
from exploy.exporter.core.exporter import export_environment_as_onnx


@pytest.fixture(scope="module")
def legged_file(tmp_path_factory):
    env, actor = make_lstm_example(seed=1)
    return export_environment_as_onnx(env=env, actor=actor, path=tmp_path_factory.mktemp("inspect"))


def test_inspect_prints_components_rates_metadata_and_topics(legged_file, capsys):
    assert main(["inspect", str(legged_file)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "sim rate: 200 Hz, decimation 4, policy rate 50 Hz" in out
    assert "obj.robot.joints.pos                     [1, 12]    float32  group obj.robot.joints" in out
    assert '"joint_names": ["FL_hip"' in out
    assert "memory.0.in" not in out and "input  ~/input/obj/robot/joints  [sensor_msgs/msg/JointState]" in out
    assert "output ~/output/joint_targets/pd  [sensor_msgs/msg/JointState]" in out
    assert "input  ~/input/obj/robot/base/imu  [sensor_msgs/msg/Imu]" in out
    assert "robot: exploy_quadruped" in out
    assert "node   ~/tick" in out


def test_inspect_applies_the_mapping_file_and_prints_json(legged_file, tmp_path, capsys):
    mapping = tmp_path / "map.yaml"
    mapping.write_text("components:\n  obj.robot.joints: {topic: /joint_states}\n")
    assert main(["inspect", str(legged_file), "--mapping", str(mapping), "--json"]) == EXIT_OK
    doc = json.loads(capsys.readouterr().out)
    topics = {t["topic"]: t for t in doc["topics"]}
    assert topics["/joint_states"]["msg_type"] == "sensor_msgs/msg/JointState"
    assert [b["component"] for b in topics["/joint_states"]["bindings"]] == [
        "obj.robot.joints.pos",
        "obj.robot.joints.vel",
    ]
    assert doc["decimation"] == 4 and doc["update_rate"] == 200.0
    assert doc["runtime_inputs"] == [] and len(doc["memory"]) == 5  # 3 env buffers + LSTM h, c


@pytest.mark.parametrize("case", ["missing", "corrupt", "bad-mapping"])
def test_inspect_reports_bad_input_with_exit_code_2(legged_file, tmp_path, capsys, case):
    path, extra = legged_file, []
    if case == "missing":
        path = tmp_path / "nope.onnx"
    elif case == "corrupt":
        path = tmp_path / "bad.onnx"
        path.write_bytes(b"not an onnx file at all")
    else:
        mapping = tmp_path / "map.yaml"
        mapping.write_text("components:\n  nope: {topic: /x}\n")
        extra = ["--mapping", str(mapping)]
    assert main(["inspect", str(path), *extra]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("exploy inspect: ") and "Traceback" not in err
