"""What a simulator reads from a MuJoCo model to fill one message field, and reading it.

A :class:`Reading` names a quantity (a body's or a site's orientation or velocity, or a MuJoCo
sensor by name); :func:`bind_reading` looks its names up once in a :class:`MujocoRobot` and
returns a function giving the current value as a numpy array. No rclpy.

Frames follow upstream exploy's names: ``w_Q_b`` is the orientation (w, x, y, z) of the frame
w.r.t. the world, ``*_vel_b_rt_w_in_b`` a velocity w.r.t. the world expressed in the frame itself
(what MuJoCo's ``gyro`` and ``velocimeter`` sensors measure at a site).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from exploy.sim.errors import SimError

if TYPE_CHECKING:
    from exploy.sim.mujoco_robot import MujocoRobot

__all__ = ["Reading", "ReadingKind", "bind_reading"]

ReadingKind = Literal["body_quat", "body_ang_vel", "body_lin_vel", "body_pos", "site_quat", "site_ang_vel",
                      "site_lin_vel", "sensor"]


@dataclass(frozen=True)
class Reading:
    """One quantity of the model.

    Attributes:
        kind: What is read (``body_*`` of body ``name``, ``site_*`` of site ``name``, or the
            MuJoCo sensor ``name``).
        name: The body, site or sensor; None for a site: the robot's IMU site.
        fallback: Read instead when the model has no element ``name`` (e.g. a sensor named in
            the policy file, computed from its site in a model without that sensor).
    """

    kind: ReadingKind
    name: str | None = None
    fallback: Reading | None = None


def _missing(reading: Reading) -> str:
    what = reading.kind.split("_")[0]
    return f"the MJCF has no {what} named '{reading.name}' (the policy reads it); check the name against the model"


def bind_reading(robot: MujocoRobot, reading: Reading) -> Callable[[], np.ndarray]:
    """A function returning ``reading``'s current value in ``robot`` (names looked up now).

    A body's orientation and angular velocity are read at the robot's IMU site when that site
    is on the body with its axes aligned to the body's (the same quantities, measured as a
    robot measures them); else from the body frame itself.

    Raises:
        SimError: for a name the model does not have (after trying ``fallback``).
    """
    import mujoco  # the sim extra; Reading itself (for the wiring) needs no MuJoCo

    from exploy.sim.mujoco_robot import find_id

    model, data = robot.model, robot.data
    kind = reading.kind
    if kind == "sensor":
        sid = find_id(model, mujoco.mjtObj.mjOBJ_SENSOR, reading.name or "")
        if sid < 0:
            if reading.fallback is not None:
                return bind_reading(robot, reading.fallback)
            raise SimError(_missing(reading))
        adr, dim = int(model.sensor_adr[sid]), int(model.sensor_dim[sid])
        return lambda: data.sensordata[adr : adr + dim].copy()
    if kind.startswith("site_"):
        if reading.name is None:
            if not robot.has_imu:
                raise SimError("the policy reads an IMU but the model has no IMU site; name one with imu_site")
            site = int(robot._site_id)  # type: ignore[arg-type]  # has_imu checked
        else:
            site = find_id(model, mujoco.mjtObj.mjOBJ_SITE, reading.name)
        if site < 0:
            if reading.fallback is not None:
                return bind_reading(robot, reading.fallback)
            raise SimError(_missing(reading))
        return _frame(model, data, mujoco.mjtObj.mjOBJ_SITE, site, kind.split("_", 1)[1])
    body = find_id(model, mujoco.mjtObj.mjOBJ_BODY, reading.name or "")
    if body < 0:
        if reading.fallback is not None:
            return bind_reading(robot, reading.fallback)
        raise SimError(_missing(reading))
    item = kind.split("_", 1)[1]
    imu = robot._site_id
    aligned = (imu is not None and int(model.site_bodyid[imu]) == body
               and np.allclose(model.site_quat[imu], [1.0, 0.0, 0.0, 0.0]))
    if aligned and item in ("quat", "ang_vel"):
        return robot.imu_quat if item == "quat" else robot.imu_ang_vel
    return _frame(model, data, mujoco.mjtObj.mjOBJ_BODY, body, item)


def _frame(model: Any, data: Any, obj: Any, index: int, item: str) -> Callable[[], np.ndarray]:
    """Orientation, position or local velocity of a body or site frame."""
    import mujoco

    is_site = obj == mujoco.mjtObj.mjOBJ_SITE
    if item == "quat":
        if not is_site:
            return lambda: data.xquat[index].copy()
        quat = np.zeros(4)

        def site_quat() -> np.ndarray:
            mujoco.mju_mat2Quat(quat, data.site_xmat[index])
            return quat.copy()

        return site_quat
    if item == "pos":
        return lambda: (data.site_xpos if is_site else data.xpos)[index].copy()
    vel6 = np.zeros(6)
    part = slice(0, 3) if item == "ang_vel" else slice(3, 6)

    def velocity() -> np.ndarray:
        mujoco.mj_objectVelocity(model, data, obj, index, vel6, 1)  # 1: in the frame's own axes
        return vel6[part].copy()

    return velocity
