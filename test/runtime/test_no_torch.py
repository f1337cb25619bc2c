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
