"""The runtime path must import no torch: robots carry onnxruntime + numpy only."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "exploy.exporter.core.session_wrapper",
        "exploy.format",
        "exploy.runtime.policy",
        "exploy.cli.main",
    ],
)
def test_module_imports_no_torch(module):
    code = f"import sys, {module}; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_policy_node_needs_only_the_runtime_dependencies():
    """setup.py's install_requires (numpy, onnx, onnxruntime, PyYAML) run the node: no torch,
    and nothing from the `replay` extra (rosbags, matplotlib, tqdm)."""
    code = (
        "import sys, exploy_ros.policy_node, exploy.cli.inspect; "
        "print(sorted(m for m in ('torch', 'rosbags', 'matplotlib', 'tqdm', 'onnxscript') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
