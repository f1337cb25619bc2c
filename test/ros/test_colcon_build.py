"""`colcon build` of the exploy_ros package installs the node, launch and config files and the
ament index marker, and the installed node runs from the install tree alone."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
COLCON = shutil.which("colcon", path=str(pathlib.Path(sys.executable).parent))
SOURCES = ("setup.py", "setup.cfg", "package.xml", "resource", "launch", "config", "exploy", "exploy_ros")

pytestmark = pytest.mark.skipif(
    COLCON is None and not os.environ.get("CI"), reason="colcon not installed (requirements-dev.txt pins it)"
)


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> pathlib.Path:
    ws = tmp_path_factory.mktemp("ws")
    pkg = ws / "src" / "exploy_ros"
    pkg.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        src = ROOT / name
        (shutil.copytree(src, pkg / name, ignore=ignore) if src.is_dir() else shutil.copy2(src, pkg / name))
    result = subprocess.run(
        [COLCON, "build", "--base-paths", "src", "--event-handlers", "console_direct-"],
        cwd=ws, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return ws / "install" / "exploy_ros"


def test_colcon_installs_the_node_launch_config_and_ament_marker(install):
    node = install / "lib" / "exploy_ros" / "policy_node"
    assert node.is_file() and os.access(node, os.X_OK)
    share = install / "share" / "exploy_ros"
    assert (share / "launch" / "policy.launch.py").is_file()
    assert (share / "config" / "policy_node.yaml").is_file()
    assert (share / "package.xml").is_file()
    assert (install / "share" / "ament_index" / "resource_index" / "packages" / "exploy_ros").is_file()


def test_installed_node_runs_from_the_install_tree(install, tmp_path):
    site = next((install / "lib").glob("python3*/site-packages"))
    assert (site / "exploy_ros" / "policy_node.py").is_file()
    bad = tmp_path / "policy.onnx"
    bad.write_bytes(b"not onnx")
    env = {**os.environ, "PYTHONPATH": str(site), "ROS_DOMAIN_ID": "230"}
    result = subprocess.run(
        [str(install / "lib" / "exploy_ros" / "policy_node"), "--ros-args", "-p", f"policy_path:={bad}",
         "-p", "sim_rate_hz:=100.0"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "Configure failed" in result.stderr and "Traceback" not in result.stderr
