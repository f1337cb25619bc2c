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
