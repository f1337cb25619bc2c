"""Simulators around exported policies: numpy-state helpers, a MuJoCo robot, closed-loop checks.

No rclpy here: the ROS shell is :mod:`exploy_ros.mujoco_sim_node`. ``mujoco`` is the ``sim``
extra; modules that need it import it themselves, so :mod:`exploy.sim.state` works without it.
"""

from exploy.sim.errors import SimError
from exploy.sim.state import TensorMirror

__all__ = ["SimError", "TensorMirror"]
