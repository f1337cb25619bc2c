"""launch/policy.launch.py and config/policy_node.yaml: what they name exists and matches the node.

launch and launch_ros are not installable here, so the launch file is compiled and read (AST),
not run; the params file is loaded by a real node.
"""

from __future__ import annotations

import ast
import pathlib
import re

import rclpy
import yaml
from rclpy.context import Context

from exploy_ros.parameters import PARAMETERS
from exploy_ros.policy_node import PolicyNode

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch" / "policy.launch.py"
CONFIG = ROOT / "config" / "policy_node.yaml"


def _tree() -> ast.Module:
    return ast.parse(compile(LAUNCH.read_text(), str(LAUNCH), "exec", flags=ast.PyCF_ONLY_AST))


def _constants(tree: ast.Module) -> dict[str, str]:
    return {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.targets[0], ast.Name)
    }


def _string_args(tree: ast.Module, func: str) -> set[str]:
    return {
        call.args[0].value
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == func and call.args
        and isinstance(call.args[0], ast.Constant)
    }


def test_launch_file_compiles_and_names_the_installed_executable_and_params_file():
    compile(LAUNCH.read_text(), str(LAUNCH), "exec")
    consts = _constants(_tree())
    assert f"<name>{consts['PACKAGE']}</name>" in (ROOT / "package.xml").read_text()
    setup = (ROOT / "setup.py").read_text()
    assert re.search(rf'"{consts["EXECUTABLE"]} = exploy_ros\.policy_node:main"', setup)
    assert (ROOT / consts["PARAMS_FILE"]).is_file()
    assert 'glob("launch/*.launch.py")' in setup and 'glob("config/*.yaml")' in setup
    assert "script_dir=$base/lib/exploy_ros" in (ROOT / "setup.cfg").read_text()


def test_launch_arguments_are_declared_and_parameters_exist_on_the_node():
    tree = _tree()
    assert _string_args(tree, "LaunchConfiguration") == _string_args(tree, "DeclareLaunchArgument")
    keys = {
        key.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key in node.keys
        if isinstance(key, ast.Constant)
    }
    assert keys and keys <= set(PARAMETERS) | {"use_sim_time"}


def test_params_file_keys_match_the_declared_parameters():
    doc = yaml.safe_load(CONFIG.read_text())
    params = doc["/**"]["ros__parameters"]
    assert set(params) == set(PARAMETERS) | {"use_sim_time"}
    for name, info in PARAMETERS.items():
        assert params[name] == info.default and type(params[name]) is type(info.default), name


def test_params_file_loads_into_a_real_node():
    context = Context()
    rclpy.init(context=context, domain_id=231)
    try:
        node = PolicyNode(
            namespace="/params_file_test",
            context=context,
            cli_args=["--ros-args", "--params-file", str(CONFIG), "-p", "autostart:=false", "-p", "qos_depth:=7"],
        )
        assert node.get_parameter("qos_depth").value == 7
        assert node.get_parameter("input_timeout_s").value == 0.5
        assert node.get_parameter("qos_reliability").value == "reliable"
        assert node.lifecycle_state == "unconfigured"
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
