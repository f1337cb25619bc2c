"""The MJCF of the example quadruped, built from primitives (no downloaded assets).

A box base with an ``imu`` site and a free joint; four legs of hip (x axis), thigh and calf
(y axis) hinges named ``FL_hip`` ... ``RR_calf``; one motor per joint with the effort limits as
``ctrlrange``; spherical feet (the only geoms, with the base, that touch the floor); a keyframe
``home`` in the nominal stance. Physics at 200 Hz.
"""

from __future__ import annotations

import math
import pathlib

from exploy.examples.quadruped_sim import JOINT_NAMES

__all__ = ["EFFORT_LIMITS", "JOINT_RANGES", "STANCE", "quadruped_mjcf", "stance", "write_mjcf"]

STANCE = (0.1, 0.8, -1.5)
"""Nominal hip, thigh, calf angles (rad); left hips +0.1, right hips -0.1."""
JOINT_RANGES = ((-0.8, 0.8), (-1.0, 3.5), (-2.7, -0.9))
EFFORT_LIMITS = (23.7, 23.7, 35.5)
LINK = 0.2
"""Thigh and calf length (m)."""
FOOT_RADIUS = 0.022
HIPS = {"FL": (0.18, 0.06, 1.0), "FR": (0.18, -0.06, -1.0), "RL": (-0.18, 0.06, 1.0), "RR": (-0.18, -0.06, -1.0)}


def stance() -> list[float]:
    """The 12 nominal joint angles, order :data:`JOINT_NAMES`."""
    hip, thigh, calf = STANCE
    return [v for leg in HIPS for v in (HIPS[leg][2] * hip, thigh, calf)]


def _standing_height() -> float:
    hip, thigh, calf = STANCE
    drop = LINK * math.cos(thigh) + LINK * math.cos(thigh + calf)
    return drop * math.cos(hip) + FOOT_RADIUS + 0.005


def quadruped_mjcf(*, timestep: float = 0.005) -> str:
    """The MJCF of the example quadruped (a string; compile with ``mujoco.MjModel.from_xml_string``)."""
    legs = []
    for leg, (x, y, side) in HIPS.items():
        legs.append(f"""
      <body name="{leg}_hip_link" pos="{x} {y} 0">
        <joint name="{leg}_hip" axis="1 0 0" range="{JOINT_RANGES[0][0]} {JOINT_RANGES[0][1]}"/>
        <geom type="cylinder" size="0.03 0.02" euler="90 0 0" mass="0.5"/>
        <body name="{leg}_thigh_link" pos="0 {side * 0.07} 0">
          <joint name="{leg}_thigh" axis="0 1 0" range="{JOINT_RANGES[1][0]} {JOINT_RANGES[1][1]}"/>
          <geom type="capsule" fromto="0 0 0 0 0 -{LINK}" size="0.02" mass="0.6"/>
          <body name="{leg}_calf_link" pos="0 0 -{LINK}">
            <joint name="{leg}_calf" axis="0 1 0" range="{JOINT_RANGES[2][0]} {JOINT_RANGES[2][1]}"/>
            <geom type="capsule" fromto="0 0 0 0 0 -{LINK}" size="0.015" mass="0.2"/>
            <geom name="{leg}_foot" class="contact" type="sphere" pos="0 0 -{LINK}" size="{FOOT_RADIUS}" mass="0.05"/>
          </body>
        </body>
      </body>""")
    motors = "\n".join(
        f'    <motor name="{name}" joint="{name}" ctrlrange="-{EFFORT_LIMITS[i % 3]} {EFFORT_LIMITS[i % 3]}"/>'
        for i, name in enumerate(JOINT_NAMES)
    )
    qpos = " ".join(f"{v:g}" for v in [0.0, 0.0, _standing_height(), 1.0, 0.0, 0.0, 0.0, *stance()])
    return f"""<mujoco model="exploy_quadruped">
  <compiler angle="radian"/>
  <option timestep="{timestep}"/>
  <default>
    <joint damping="0.05" armature="0.01" limited="true"/>
    <geom contype="0" conaffinity="0" rgba="0.8 0.5 0.2 1"/>
    <motor ctrllimited="true"/>
    <default class="contact"><geom contype="1" conaffinity="0" friction="1.0 0.02 0.01"/></default>
  </default>
  <worldbody>
    <light pos="0 0 3" dir="0 0 -1"/>
    <geom name="floor" type="plane" size="20 20 0.1" contype="1" conaffinity="1" rgba="0.3 0.3 0.35 1"/>
    <body name="base" pos="0 0 {_standing_height():.4f}">
      <freejoint name="base"/>
      <geom name="base" class="contact" type="box" size="0.22 0.09 0.05" mass="5.0"/>
      <site name="imu" pos="0 0 0" size="0.01"/>{"".join(legs)}
    </body>
  </worldbody>
  <actuator>
{motors}
  </actuator>
  <keyframe>
    <key name="home" qpos="{qpos}"/>
  </keyframe>
</mujoco>
"""


def write_mjcf(path: str | pathlib.Path) -> pathlib.Path:
    """Write :func:`quadruped_mjcf` to ``path`` (for ``mujoco_sim_node``); returns the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(quadruped_mjcf())
    return path
