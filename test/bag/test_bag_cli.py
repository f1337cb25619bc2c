"""The `exploy record` CLI and the `replay_node` console script's argument handling."""

from __future__ import annotations

import pytest
from bag_helpers import export_variant, read_all

from exploy.cli.main import main


def test_record_then_replay_from_the_command_line(tmp_path, capsys):
    exported = export_variant("mlp", tmp_path / "policy")
    bag = tmp_path / "bag"
    args = ["record", "bag_helpers:mlp_factory", "--policy", str(exported.policy), "--out", str(bag)]
    assert main([*args, "--steps", "7", "--storage", "sqlite3", "--node", "/robot/brain", "--quiet"]) == 0
    assert "wrote" in capsys.readouterr().out
    types, msgs, _ = read_all(bag)
    assert "/robot/brain/input/foo" in types and "/exploy/expected/robot/brain/output/out" in types
    assert sum(1 for t, _, _ in msgs if t == "/clock") == 28
    assert main(["replay", str(bag), "--policy", str(exported.policy), "--quiet", "--no-plot"]) == 0


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("no_colon", "expected MODULE:FACTORY"),
        ("bag_helpers:nothing", "no callable"),
        ("bag_helpers:read_all", "raised TypeError"),
    ],
)
def test_record_rejects_bad_factories(tmp_path, capsys, factory, message):
    code = main(["record", factory, "--policy", str(tmp_path / "p.onnx"), "--out", str(tmp_path / "bag"), "--quiet"])
    assert code == 2
    assert message in capsys.readouterr().err


def test_record_rejects_a_missing_policy_file(tmp_path, capsys):
    code = main(
        [
            "record",
            "bag_helpers:mlp_factory",
            "--policy",
            str(tmp_path / "p.onnx"),
            "--out",
            str(tmp_path / "bag"),
            "--quiet",
        ]
    )
    assert code == 2
    assert "Policy file not found" in capsys.readouterr().err


def test_replay_node_needs_bag_and_policy(capsys):
    pytest.importorskip("rclpy")
    from exploy_ros.replay_node import main as replay_node_main

    assert replay_node_main(["--ros-args", "-p", "bag:=/nonexistent"]) == 2
    assert "set parameters bag:=<bag> and policy_path:=<policy.onnx>" in capsys.readouterr().err
