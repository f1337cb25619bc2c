"""Closed loop through the real policy node and the MuJoCo robot: lockstep equals the in-process
rollout, real time reports command ages, a falling robot is reported."""

from __future__ import annotations

import json
import pathlib

import pytest
import torch

pytest.importorskip("mujoco")

from policy_node_rig import unique_domain  # noqa: E402

from exploy.cli.main import main as exploy_main  # noqa: E402
from exploy.examples.mujoco_quadruped import (  # noqa: E402
    MujocoQuadrupedConfig,
    MujocoQuadrupedEnv,
    make_mlp_example,
    write_mjcf,
)
from exploy.exporter.core.exporter import export_environment_as_onnx  # noqa: E402
from exploy_ros.sim2sim import run_closed_loop  # noqa: E402

FACTORY = "exploy.examples.mujoco_quadruped:make_mlp_example"


def _export(folder: pathlib.Path, env=None, actor=None) -> pathlib.Path:
    torch.set_num_threads(1)
    if env is None:
        env, actor = make_mlp_example()
    return pathlib.Path(export_environment_as_onnx(env=env, actor=actor, path=folder, filename="policy.onnx"))


def test_lockstep_closed_loop_equals_the_in_process_rollout(tmp_path: pathlib.Path, monkeypatch) -> None:
    policy = _export(tmp_path)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(unique_domain()))
    out = tmp_path / "sim2sim"
    code = exploy_main(["sim2sim", FACTORY, "--policy", str(policy), "--seconds", "1.5", "--out", str(out), "--quiet"])
    summary = json.loads((out / "summary.json").read_text())
    assert code == 0, summary
    comparison = summary["comparison"]
    assert comparison["ok"] and comparison["ticks_compared"] == 300
    # torch env + actor vs onnxruntime through ROS: float32 rounding only
    assert max(comparison["max_abs_error"].values()) < 1e-6
    assert summary["closed_loop"]["ticks"] == 300 and not summary["stability"]["fell"]
    assert (out / "plot.png").stat().st_size > 10_000


def test_realtime_mode_reports_the_age_of_the_applied_commands(tmp_path: pathlib.Path) -> None:
    policy = _export(tmp_path)
    mjcf = write_mjcf(tmp_path / "model.xml")
    run = run_closed_loop(policy=policy, mjcf=mjcf, seconds=1.0, mode="realtime", real_time_factor=1.0,
                          domain_id=unique_domain(), node_log=tmp_path / "node.log")
    ages = run.report["command_age"]
    assert run.report["mode"] == "realtime" and ages["steps"] == 200
    assert ages["steps_without_command"] < 200, "no command ever reached the simulator"
    applied = ages["steps"] - ages["steps_without_command"]
    assert 0 <= ages["older_than_policy_period"] <= applied
    assert 0.0 <= ages["p50_ms"] <= ages["p99_ms"] <= ages["max_ms"]
    # stamps are sim times of 5 ms ticks: every age is a whole number of ticks
    assert ages["max_ms"] / 5.0 == pytest.approx(round(ages["max_ms"] / 5.0), abs=1e-6)
    assert 0.5 < run.report["real_time_factor_achieved"] < 1.5


def test_a_robot_that_falls_is_reported_with_exit_code_1(tmp_path: pathlib.Path, monkeypatch) -> None:
    weak = MujocoQuadrupedEnv(config=MujocoQuadrupedConfig(kp=2.0, kd=0.1))  # PD too weak to carry the body
    _, actor = make_mlp_example()
    policy = _export(tmp_path, weak, actor)
    mjcf = write_mjcf(tmp_path / "model.xml")
    monkeypatch.setenv("ROS_DOMAIN_ID", str(unique_domain()))
    out = tmp_path / "fall"
    code = exploy_main(["sim2sim", "--mjcf", str(mjcf), "--policy", str(policy), "--seconds", "1",
                        "--in-process", "--out", str(out), "--quiet"])
    summary = json.loads((out / "summary.json").read_text())
    assert code == 1
    assert summary["stability"]["fell"] and summary["stability"]["base_height_min"] < 0.1
    assert 0.0 < summary["stability"]["fall_time_s"] < 0.5
    assert "comparison" not in summary


def test_bad_input_exits_2(tmp_path: pathlib.Path, capsys) -> None:
    assert exploy_main(["sim2sim", "--policy", str(tmp_path / "missing.onnx"), "--mjcf", "x.xml"]) == 2
    assert "does not exist" in capsys.readouterr().err
    policy = _export(tmp_path)
    assert exploy_main(["sim2sim", "--policy", str(policy)]) == 2
    assert exploy_main(["sim2sim", "--policy", str(policy), "--mjcf", str(tmp_path / "nope.xml")]) == 2
    capsys.readouterr()
    garbage = tmp_path / "garbage.xml"
    garbage.write_text("<mujoco><worldbody>")
    out = tmp_path / "garbage_run"
    assert exploy_main(["sim2sim", "--policy", str(policy), "--mjcf", str(garbage), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "does not compile" in err and err.count("\n") == 1  # one line
    assert not (out / "policy_node.log").exists()  # refused before any node was started
    plain = "exploy.examples.legged_robot:make_mlp_example"
    assert exploy_main(["sim2sim", plain, "--policy", str(policy), "--out", str(out)]) == 2
    assert "no 'robot' attribute" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra", [["--seconds", "inf"], ["--seconds", "1e9"], ["--timeout", "nan"], ["--soft-start", "-1"], ["--rtf", "0"]]
)
def test_unbounded_or_non_finite_numbers_exit_2_with_one_line(tmp_path: pathlib.Path, capsys, extra) -> None:
    policy = tmp_path / "policy.onnx"
    policy.write_bytes(b"not checked before the numbers")
    assert exploy_main(["sim2sim", "--policy", str(policy), "--mjcf", "x.xml", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("exploy sim2sim: ") and err.count("\n") == 1


FACTORY_WITH_FILE = '''
import pathlib

from exploy.examples.mujoco_quadruped import make_mlp_example


def make():
    return make_mlp_example(mjcf=pathlib.Path(__file__).parent / "model" / "robot.xml")
'''


def test_factory_model_keeps_its_own_path_so_relative_assets_resolve(tmp_path: pathlib.Path, monkeypatch) -> None:
    from exploy.examples.mujoco_quadruped_model import quadruped_mjcf

    # The factory's model includes a file by a path relative to the model: a copy of the MJCF
    # text written elsewhere (out/model.xml) could not find it.
    model = tmp_path / "model" / "robot.xml"
    (model.parent / "parts").mkdir(parents=True)
    (model.parent / "parts" / "visual.xml").write_text('<mujoco><visual><global offwidth="800"/></visual></mujoco>')
    text = quadruped_mjcf()
    head_end = text.index(">", text.index("<mujoco")) + 1
    model.write_text(text[:head_end] + '\n  <include file="parts/visual.xml"/>' + text[head_end:])
    (tmp_path / "relative_asset_factory.py").write_text(FACTORY_WITH_FILE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("ROS_DOMAIN_ID", str(unique_domain()))
    policy = _export(tmp_path / "policy")
    out = tmp_path / "out"
    code = exploy_main(["sim2sim", "relative_asset_factory:make", "--policy", str(policy), "--seconds", "0.2",
                        "--out", str(out), "--quiet", "--in-process"])
    summary = json.loads((out / "summary.json").read_text())
    assert code == 0, summary
    assert summary["mjcf"] == str(model.resolve()) and not (out / "model.xml").exists()
    assert summary["comparison"]["ok"] and summary["comparison"]["ticks_compared"] == 40
