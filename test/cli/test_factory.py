"""MODULE:FACTORY as a user types it: imported from the current directory, keyword arguments from
``--arg``, the user's own exceptions reported as theirs (exit 2, one line), evaluation by default."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from exploy.cli.factory import FactoryError, parse_factory_args
from exploy.cli.main import main

USER_MODULE = '''
from exploy.examples.legged_robot import make_mlp_example


def make(seed=0, ckpt="none", scale=1.0):
    print(f"factory got {seed!r} {ckpt!r} {scale!r}")
    return make_mlp_example(seed=seed)


def broken(**kwargs):
    raise ValueError("checkpoint runs/a.pt is missing")
'''

EXPLOY = pathlib.Path(sys.executable).parent / "exploy"


def _console(*args, cwd):
    """The installed ``exploy`` script (not ``python -m``, which would add the cwd by itself)."""
    return subprocess.run([str(EXPLOY), *args], capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture
def user_dir(tmp_path):
    (tmp_path / "my_robot.py").write_text(USER_MODULE)
    (tmp_path / "needs_missing.py").write_text("import package_that_is_not_installed\n")
    (tmp_path / "syntax_error.py").write_text("def make(:\n")
    return tmp_path


def test_export_imports_from_the_current_directory_and_passes_args(user_dir):
    out = user_dir / "out"
    result = _console("export", "my_robot:make", "--arg", "seed=3", "--arg", "ckpt=runs/a.pt",
                      "--arg", "scale=0.5", "--out", str(out), "--quiet", cwd=user_dir)
    assert result.returncode == 0, result.stderr
    assert "factory got 3 'runs/a.pt' 0.5" in result.stdout
    # evaluation runs by default, for a short while
    assert "exploy evaluate: OK — 20 policy steps" in result.stdout
    assert (out / "policy.onnx").is_file()


def test_no_evaluate_skips_the_parity_check(user_dir):
    result = _console("export", "my_robot:make", "--out", str(user_dir / "out"), "--no-evaluate", cwd=user_dir)
    assert result.returncode == 0, result.stderr
    assert "exploy evaluate" not in result.stdout


@pytest.mark.parametrize(
    ("spec", "args", "message"),
    [
        ("my_robot:broken", [], "exploy export: my_robot:broken() raised ValueError (at my_robot.py:11): "
         "checkpoint runs/a.pt is missing; this error comes from your code"),
        ("my_robot:make", ["--arg", "colour=red"], "my_robot:make(colour='red') raised TypeError"),
        ("needs_missing:make", [], "importing module 'needs_missing' raised ModuleNotFoundError "
         "(at needs_missing.py:1): No module named 'package_that_is_not_installed'"),
        ("syntax_error:make", [], "importing module 'syntax_error' raised SyntaxError"),
        ("not_here:make", [], "cannot import module 'not_here': no such module in the current directory ("),
        ("my_robot:make", ["--arg", "no_equals"], "--arg expects KEY=VALUE"),
    ],
    ids=["factory-raises", "unknown-kwarg", "import-raises", "syntax-error", "no-module", "bad-arg"],
)
def test_bad_factories_exit_2_with_one_line(user_dir, spec, args, message):
    result = _console("export", spec, *args, "--out", str(user_dir / "out"), cwd=user_dir)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_record_reports_the_users_value_error_as_theirs(user_dir, monkeypatch, capsys):
    monkeypatch.chdir(user_dir)
    code = main(
        ["record", "my_robot:broken", "--policy", str(user_dir / "p.onnx"), "--out", str(user_dir / "bag"), "--quiet"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err == (
        "exploy record: my_robot:broken() raised ValueError (at my_robot.py:11): checkpoint runs/a.pt is missing; "
        "this error comes from your code\n"
    )
    sys.modules.pop("my_robot", None)


def test_parse_factory_args_reads_literals_and_falls_back_to_text():
    parsed = parse_factory_args(
        ["seed=3", "lr=1e-3", "flag=True", "none=None", "ckpt=runs/a.pt", "name='3'", "dims=[1, 2]", "empty=", "eq=a=b"]
    )
    assert parsed == {
        "seed": 3, "lr": 1e-3, "flag": True, "none": None, "ckpt": "runs/a.pt", "name": "3", "dims": [1, 2],
        "empty": "", "eq": "a=b",
    }
    assert parse_factory_args(None) == {}


@pytest.mark.parametrize(
    ("pairs", "match"), [(["x"], "KEY=VALUE"), (["1a=2"], "KEY=VALUE"), (["a=1", "a=2"], "more than once")]
)
def test_parse_factory_args_rejects_bad_pairs(pairs, match):
    with pytest.raises(FactoryError, match=match):
        parse_factory_args(pairs)
