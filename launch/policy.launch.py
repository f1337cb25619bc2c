"""Launch the exploy policy node: ``ros2 launch exploy_ros policy.launch.py policy_path:=/path/policy.onnx``.

Arguments: ``params_file`` (default: the installed ``config/policy_node.yaml``), ``namespace``,
and ``policy_path``, ``mapping_file``, ``use_sim_time``. These three are passed to the node only
when given: left out, the params file's values hold (a launch default never overrides them). The
node is a managed (lifecycle) node; with ``autostart: true`` in the params file it configures
and activates itself, otherwise drive it with ``ros2 lifecycle set``.
"""

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.substitutions import FindPackageShare

from exploy_ros.launch_params import node_parameters

PACKAGE = "exploy_ros"
EXECUTABLE = "policy_node"
PARAMS_FILE = "config/policy_node.yaml"


def _node(context: LaunchContext) -> list[LifecycleNode]:
    """The node, with the parameters assembled from the arguments actually given."""
    given = {
        "policy_path": LaunchConfiguration("policy_path").perform(context),
        "mapping_file": LaunchConfiguration("mapping_file").perform(context),
        "use_sim_time": LaunchConfiguration("use_sim_time").perform(context),
    }
    parameters = node_parameters(params_file=LaunchConfiguration("params_file").perform(context), given=given)
    return [
        LifecycleNode(
            package=PACKAGE,
            executable=EXECUTABLE,
            name="policy_node",
            namespace=LaunchConfiguration("namespace").perform(context),
            output="screen",
            parameters=parameters,
        )
    ]


def generate_launch_description() -> LaunchDescription:
    default_params = PathJoinSubstitution([FindPackageShare(PACKAGE), PARAMS_FILE])
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "policy_path", default_value="", description="exploy policy file (.onnx); default: the params file's"
            ),
            DeclareLaunchArgument("params_file", default_value=default_params, description="node parameters (YAML)"),
            DeclareLaunchArgument("namespace", default_value="", description="namespace of the node"),
            DeclareLaunchArgument(
                "mapping_file", default_value="", description="topic mapping file (YAML); default: the params file's"
            ),
            DeclareLaunchArgument(
                "use_sim_time", default_value="", description="true: tick from /clock; default: the params file's"
            ),
            OpaqueFunction(function=_node),
        ]
    )
