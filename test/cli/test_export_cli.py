"""`exploy export`: exports, evaluates, and fails clearly on bad factories."""

from __future__ import annotations

import subprocess
import sys

import pytest

from exploy.format import read_metadata


def _exploy(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "exploy", *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_export_and_evaluate_example_robot(tmp_path):
    result = _exploy("export", "exploy.examples.legged_robot:make_mlp_example", "--out", str(tmp_path),
                     "--evaluate", "60", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "exploy evaluate: OK" in result.stdout
    assert "every sim substep" in result.stdout
    assert "sim rate 200 Hz, decimation 4, policy rate 50 Hz" in result.stdout
    meta = read_metadata(tmp_path / "policy.onnx")
    assert "obj.robot.joints.pos" in {c.name for c in meta.inputs}


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("no_colon_here", "expected MODULE:FACTORY"),
        ("exploy.nope:make", "cannot import module 'exploy.nope'"),
        ("exploy.examples.legged_robot:missing", "has no callable 'missing'"),
        ("json:dumps", "json:dumps() raised TypeError"),
        ("builtins:dict", "must return (ExportableEnvironment, torch.nn.Module)"),
    ],
)
def test_bad_factory_exits_2(tmp_path, factory, message):
    result = _exploy("export", factory, "--out", str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr


def test_help():
    result = _exploy("export", "--help")
    assert result.returncode == 0 and "MODULE:FACTORY" in result.stdout
