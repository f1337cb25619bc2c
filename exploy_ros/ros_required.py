"""A missing ROS 2 is one line, not a ``ModuleNotFoundError`` traceback.

``pip install exploy_ros[export,replay]`` gives the exporter and the bag tools without ROS; the
``policy_node`` and ``replay_node`` console scripts need rclpy. Their modules import this one
before rclpy (``import exploy_ros.ros_required``), which checks at import: run as one of
:data:`PROGRAMS`, a missing rclpy prints one line saying how to get ROS and exits 1; imported by
other code, it raises ``ImportError`` with the same advice.
"""

from __future__ import annotations

import pathlib
import sys

HOW_TO_GET_ROS = (
    "install ROS 2 from PyPI with `pip install 'exploy_ros[ros]'` (Kilted; or the `ros-jazzy` extra), "
    "or source a ROS 2 install (`source /opt/ros/<distro>/setup.bash`); see docs/install.md"
)


PROGRAMS = ("policy_node", "replay_node")
"""Console scripts that need rclpy."""


def require_rclpy() -> None:
    """Make sure rclpy imports.

    Raises:
        SystemExit: (code 1, one line on stderr) when rclpy is missing and the running program
            is one of :data:`PROGRAMS`.
        ImportError: when rclpy is missing and the caller is other code.
    """
    try:
        import rclpy  # noqa: F401
    except ImportError as err:
        program = pathlib.Path(sys.argv[0] if sys.argv else "").stem
        reason = " ".join(str(err).split())[:200]
        who = program if program in PROGRAMS else "exploy_ros"
        message = f"{who} needs ROS 2 (rclpy), which this Python cannot import ({reason}): {HOW_TO_GET_ROS}"
        if program in PROGRAMS:
            raise SystemExit(message) from None
        raise ImportError(message) from err


require_rclpy()
