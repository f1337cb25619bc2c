"""Launch the exploy policy node: ``ros2 launch exploy_ros policy.launch.py policy_path:=/path/policy.onnx``.

Arguments: ``policy_path`` (required), ``params_file`` (default: the installed
``config/policy_node.yaml``), ``namespace``, ``mapping_file``, ``use_sim_time``. The node is a
managed (lifecycle) node; with ``autostart: true`` in the params file it configures and
activates itself, otherwise drive it with ``ros2 lifecycle set``.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = "exploy_ros"
EXECUTABLE = "policy_node"
PARAMS_FILE = "config/policy_node.yaml"


def generate_launch_description() -> LaunchDescription:
    default_params = PathJoinSubstitution([FindPackageShare(PACKAGE), PARAMS_FILE])
    node = LifecycleNode(
        package=PACKAGE,
        executable=EXECUTABLE,
        name="policy_node",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "policy_path": LaunchConfiguration("policy_path"),
                "mapping_file": LaunchConfiguration("mapping_file"),
                "use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool),
            },
        ],
    )
    return LaunchDescription(
        [
            DeclareLaunchArgument("policy_path", description="exploy policy file (.onnx)"),
            DeclareLaunchArgument("params_file", default_value=default_params, description="node parameters (YAML)"),
            DeclareLaunchArgument("namespace", default_value="", description="namespace of the node"),
            DeclareLaunchArgument("mapping_file", default_value="", description="optional topic mapping file (YAML)"),
            DeclareLaunchArgument("use_sim_time", default_value="false", description="tick from /clock"),
            node,
        ]
    )
