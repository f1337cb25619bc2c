"""Simulators around exported policies: numpy-state helpers, a MuJoCo robot, closed-loop checks.

No rclpy here: the ROS shell is :mod:`exploy_ros.mujoco_sim_node`. ``mujoco`` is the ``sim``
extra and torch the ``export`` extra; each module imports what it needs, and the names below are
loaded on first use, so the simulator node (``mujoco`` + numpy) never imports torch.

- :class:`TensorMirror` (:mod:`exploy.sim.state`): torch tensors refreshed in place from numpy.
- :class:`MujocoRobot` (:mod:`exploy.sim.mujoco_robot`): joints, IMU site, base, commands.
- :mod:`exploy.sim.readings`: bodies, sites and named MuJoCo sensors read for the IMU and
  velocity topics a policy reads.
- :mod:`exploy.sim.wiring`, :mod:`exploy.sim.monitor`, :mod:`exploy.sim.closed_loop`: topics,
  measurements and the sim-to-sim comparison.
"""

from __future__ import annotations

import importlib
from typing import Any

from exploy.sim.errors import SimError

__all__ = ["MujocoRobot", "SimError", "TensorMirror"]

_LAZY = {"TensorMirror": "exploy.sim.state", "MujocoRobot": "exploy.sim.mujoco_robot"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'exploy.sim' has no attribute {name!r}")
