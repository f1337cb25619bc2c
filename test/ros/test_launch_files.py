"""launch/policy.launch.py and config/policy_node.yaml: what they name exists and matches the node.

launch and launch_ros are not installable here, so the launch file is compiled and read (AST),
not run; its parameter assembly (exploy_ros.launch_params) is run, and its result is handed to a
real node the way launch_ros hands it (one --params-file per entry, in order).
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest
import rclpy
import yaml
from rclpy.context import Context

from exploy_ros.launch_params import LaunchArgumentError, node_parameters
from exploy_ros.parameters import PARAMETERS
from exploy_ros.policy_node import PolicyNode
from exploy_ros.safety_io import SAFETY_PARAMETERS
from exploy_ros.ticking import TICK_PARAMETERS

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch" / "policy.launch.py"
CONFIG = ROOT / "config" / "policy_node.yaml"


def _tree() -> ast.Module:
    return ast.parse(compile(LAUNCH.read_text(), str(LAUNCH), "exec", flags=ast.PyCF_ONLY_AST))


def _constants(tree: ast.Module) -> dict[str, str]:
    return {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.targets[0], ast.Name)
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
    assert set(params) == set(PARAMETERS) | set(SAFETY_PARAMETERS) | set(TICK_PARAMETERS) | {"use_sim_time"}
    for name, info in (*PARAMETERS.items(), *SAFETY_PARAMETERS.items()):
        assert params[name] == info.default and type(params[name]) is type(info.default), name
    for name, (default, _) in TICK_PARAMETERS.items():
        assert params[name] == default and type(params[name]) is type(default), name


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


# -- the parameter assembly of the launch file (exploy_ros.launch_params) ---------------------


def _as_launch_ros_would(parameters: list, tmp_path: pathlib.Path) -> list[str]:
    """The node's command-line arguments for a launch ``parameters`` list, as launch_ros makes
    them: each entry in order as a ``--params-file`` (a dict is written to a YAML file first);
    rcl applies them in order, a later file winning."""
    args = ["--ros-args"]
    for k, entry in enumerate(parameters):
        if isinstance(entry, dict):
            path = tmp_path / f"launch_params_{k}.yaml"
            path.write_text(yaml.safe_dump({"/**": {"ros__parameters": entry}}))
            entry = str(path)
        args += ["--params-file", entry]
    return args


def _node_with(cli_args: list[str]) -> dict:
    context = Context()
    rclpy.init(context=context, domain_id=231)
    try:
        node = PolicyNode(namespace="/launch_params_test", context=context, cli_args=cli_args)
        values = {name: node.get_parameter(name).value for name in (*PARAMETERS, "use_sim_time")}
        node.destroy_node()
        return values
    finally:
        rclpy.try_shutdown(context=context)


def test_launch_arguments_not_given_leave_the_params_file_values(tmp_path):
    params = tmp_path / "robot.yaml"
    params.write_text(
        "/**:\n  ros__parameters:\n    autostart: false\n    mapping_file: /robot/mapping.yaml\n"
        "    use_sim_time: true\n    policy_path: /robot/policy.onnx\n"
    )
    parameters = node_parameters(
        params_file=str(params), given={"policy_path": "", "mapping_file": "", "use_sim_time": ""}
    )
    assert parameters == [str(params)]
    values = _node_with(_as_launch_ros_would(parameters, tmp_path))
    assert values["mapping_file"] == "/robot/mapping.yaml"
    assert values["use_sim_time"] is True
    assert values["policy_path"] == "/robot/policy.onnx"


def test_launch_arguments_given_override_the_params_file(tmp_path):
    params = tmp_path / "robot.yaml"
    params.write_text(
        "/**:\n  ros__parameters:\n    autostart: false\n"
        "    mapping_file: /robot/mapping.yaml\n    use_sim_time: true\n"
    )
    parameters = node_parameters(
        params_file=str(params), given={"policy_path": "/x/p.onnx", "mapping_file": "", "use_sim_time": "False"}
    )
    assert parameters == [str(params), {"policy_path": "/x/p.onnx", "use_sim_time": False}]
    values = _node_with(_as_launch_ros_would(parameters, tmp_path))
    assert values["use_sim_time"] is False and values["policy_path"] == "/x/p.onnx"
    assert values["mapping_file"] == "/robot/mapping.yaml"  # not given: the file's value holds


def test_launch_rejects_a_use_sim_time_that_is_not_a_boolean():
    with pytest.raises(LaunchArgumentError, match="use_sim_time:='maybe' is not a boolean"):
        node_parameters(params_file="p.yaml", given={"use_sim_time": "maybe"})


def test_launch_file_assembles_the_parameters_with_node_parameters():
    tree = _tree()
    calls = {getattr(c.func, "id", None) for c in ast.walk(tree) if isinstance(c, ast.Call)}
    assert {"node_parameters", "OpaqueFunction"} <= calls
    defaults = {
        call.args[0].value: next(
            (
                kw.value.value
                for kw in call.keywords
                if kw.arg == "default_value" and isinstance(kw.value, ast.Constant)
            ),
            None,
        )
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "DeclareLaunchArgument"
    }
    # an argument with a non-empty default would always override the params file
    assert defaults["policy_path"] == defaults["mapping_file"] == defaults["use_sim_time"] == ""
