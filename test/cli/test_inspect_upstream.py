"""`exploy inspect` on upstream-layout files, `--check-upstream`, and malformed files (exit 2, one line)."""

from __future__ import annotations

import json
import pathlib
import sys

import onnx
import pytest

pytest.importorskip("exploy.exporter.core.exporter")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "format"))

from edit_file import REMOVE, with_metadata  # noqa: E402
from upstream_layout import isaaclab_metadata, to_upstream_layout  # noqa: E402

from exploy.cli.main import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, main  # noqa: E402
from exploy.examples.legged_robot import make_mlp_example  # noqa: E402
from exploy.exporter.core.exporter import export_environment_as_onnx  # noqa: E402

MEMORIES = ("last_actions", "joint_pos_target", "joint_pos_history")


@pytest.fixture(scope="module")
def example_file(tmp_path_factory) -> pathlib.Path:
    env, actor = make_mlp_example(seed=2)
    return export_environment_as_onnx(env=env, actor=actor, path=tmp_path_factory.mktemp("inspect_up"))


@pytest.fixture(scope="module")
def tutorial_file(tmp_path_factory) -> pathlib.Path:
    from tutorial_code import Actor
    from tutorial_variants import make_registered

    env = make_registered()
    actor = Actor(num_obs=env.env.num_obs, num_act=env.env.num_act).eval()
    return export_environment_as_onnx(env=env, actor=actor, path=tmp_path_factory.mktemp("tutorial"))


def test_inspect_reads_an_upstream_layout_file(example_file, tmp_path, capsys):
    path = to_upstream_layout(
        example_file, tmp_path / "up.onnx", step_shape=(1,), memories=MEMORIES,
        env_metadata=isaaclab_metadata(decimation=4, sim_dt=0.005, base_names={"robot": "base"}),
    )
    assert main(["inspect", str(path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "sim rate: 200 Hz, decimation 4, policy rate 50 Hz" in out
    assert "obj.robot.joints.pos                     [1, 12]    float32  group obj.robot.joints" in out
    assert "output ~/output/joint_targets/pd  [sensor_msgs/msg/JointState]" in out
    assert "initial: from file" in out  # memory.<m>.in metadata carries the initial value


def test_check_upstream_passes_the_example_robots_file(example_file, capsys):
    assert main(["inspect", "--check-upstream", str(example_file)]) == EXIT_OK
    assert "ok: upstream's controller has everything it reads" in capsys.readouterr().out


def test_check_upstream_passes_an_upstream_layout_file(example_file, tmp_path, capsys):
    path = to_upstream_layout(example_file, tmp_path / "up.onnx", memories=MEMORIES)
    assert main(["inspect", "--check-upstream", str(path)]) == EXIT_OK


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"update_rate": REMOVE}, "MISSING update_rate: absent"),
        ({"update_rate": "0.5"}, "MISSING update_rate: is 0.5"),
        (
            {"exploy_version": json.dumps("dev")},
            "MISSING exploy_version: must be a JSON string starting with MAJOR.MINOR",
        ),
        (
            {"output.joint_targets.pd": json.dumps({"names": ["a"]})},
            "MISSING output.joint_targets.pd: group metadata lacks ['stiffness', 'damping']",
        ),
        (
            {"obj.robot.joints": json.dumps({"names": ["a"]})},
            "MISSING obj.robot.joints: group metadata lacks ['joint_names']",
        ),
        ({"base_names": REMOVE}, "note    base_names: absent"),
    ],
)
def test_check_upstream_names_what_the_file_lacks(example_file, tmp_path, capsys, changes, expected):
    path = with_metadata(example_file, tmp_path / "edited.onnx", changes)
    code = main(["inspect", "--check-upstream", str(path)])
    out = capsys.readouterr().out
    assert expected in out
    assert code == (EXIT_OK if expected.startswith("note") else EXIT_FAILED)


def test_check_upstream_lists_every_tensor_its_controller_would_not_feed(tutorial_file, capsys):
    assert main(["inspect", "--check-upstream", str(tutorial_file)]) == EXIT_FAILED
    out = capsys.readouterr().out
    for name in ("foo", "bar_baz_group.bar", "bar_baz_group.baz", "out"):
        assert f"MISSING {name}: " in out and "matches none of the controller's name patterns" in out
    assert "MISSING update_rate: absent" in out


def test_check_upstream_flags_an_int64_step_counter_and_missing_vel_target(example_file, tmp_path, capsys):
    path = to_upstream_layout(example_file, tmp_path / "up.onnx", step_dtype="int64", memories=MEMORIES)
    model = onnx.load(str(path))
    keep = [o for o in model.graph.output if o.name != "output.joint_targets.pd.vel"]
    del model.graph.output[:]
    model.graph.output.extend(keep)
    onnx.save(model, str(path))
    assert main(["inspect", "--check-upstream", str(path)]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert "MISSING ctx.step_count: is int64; the controller writes it as int32" in out
    assert "lacks outputs ['output.joint_targets.pd.vel']" in out


def _invalid_utf8_file(src: pathlib.Path, dst: pathlib.Path) -> pathlib.Path:
    marker = "MARKERMARKER"
    data = with_metadata(src, dst, {"exploy.components": marker}).read_bytes()
    dst.write_bytes(data.replace(marker.encode(), b"\xff\xfe" * (len(marker) // 2)))
    return dst


BAD_FILES = {
    "components_5": lambda src, dst: with_metadata(src, dst, {"exploy.components": json.dumps({"components": 5})}),
    "components_entry_int": lambda src, dst: with_metadata(
        src, dst, {"exploy.components": json.dumps({"components": [1]})}
    ),
    "deep_json": lambda src, dst: with_metadata(src, dst, {"exploy.components": "[" * 100_000 + "]" * 100_000}),
    "invalid_utf8": _invalid_utf8_file,
    "update_rate_nan": lambda src, dst: with_metadata(src, dst, {"update_rate": "nan"}),
    "update_rate_inf": lambda src, dst: with_metadata(src, dst, {"update_rate": "inf"}),
    "no_version": lambda src, dst: with_metadata(src, dst, {"exploy_version": REMOVE}),
    "binary_garbage": lambda src, dst: dst.write_bytes(bytes(range(256)) * 40) or dst,
    "empty": lambda src, dst: dst.write_bytes(b"") or dst,
}


@pytest.mark.parametrize("check_upstream", [False, True], ids=["inspect", "check_upstream"])
@pytest.mark.parametrize("make", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_inspect_on_a_malformed_file_exits_2_with_one_short_line(example_file, tmp_path, capsys, make, check_upstream):
    path = make(example_file, tmp_path / "bad.onnx")
    argv = ["inspect", *(["--check-upstream"] if check_upstream else []), str(path)]
    assert main(argv) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err.startswith("exploy inspect: ") and "\n" not in err and len(err) < 500, err
