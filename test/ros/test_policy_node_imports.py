"""The node's import path carries no torch: a robot has onnxruntime + numpy + rclpy only."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["exploy_ros.policy_node", "exploy.cli.inspect"])
def test_importing_the_node_imports_no_torch(module):
    code = f"import sys, {module}; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def _without_ros(args: list[str], cwd) -> subprocess.CompletedProcess:
    """Run this Python without site-packages (so without rclpy), the repository on the path."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-S", *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd)


@pytest.mark.parametrize("program", ["policy_node", "replay_node"])
def test_console_script_without_rclpy_prints_one_line_on_how_to_get_ros(program, tmp_path):
    script = tmp_path / program  # what pip writes for a console script
    script.write_text(f"import sys\nfrom exploy_ros.{program} import main\nsys.exit(main())\n")
    result = _without_ros([str(script), "--ros-args", "-p", "policy_path:=x.onnx"], tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"{program} needs ROS 2 (rclpy)") and "pip install 'exploy_ros[ros]'" in lines[0]
    assert "docs/install.md" in lines[0]


def test_importing_the_node_without_rclpy_raises_import_error_with_the_advice(tmp_path):
    code = (
        "try:\n    import exploy_ros.policy_node\nexcept ImportError as err:\n    print(type(err).__name__, err)\n"
    )
    result = _without_ros(["-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ImportError exploy_ros needs ROS 2 (rclpy)")
