"""A MuJoCo robot seen the way a policy sees it: named joints, an IMU site, a floating base.

Follows the ``mujoco`` bindings' idiom: one ``MjModel``/``MjData``, names looked up once with
``mj_name2id`` and kept as index arrays, ``mj_step`` to advance. The same class serves the
exportable example environment (:mod:`exploy.examples.mujoco_quadruped`), the ROS shell
(:mod:`exploy_ros.mujoco_sim_node`) and the in-process closed loop (:mod:`exploy.sim.closed_loop`),
so they read and actuate the model identically.

Commands (:meth:`MujocoRobot.set_command`) are per-joint efforts, or position targets tracked by
a PD law ``kp * (q* - q) + kd * (qd* - qd) + effort`` recomputed at every physics step; the
result goes to the joint's motor actuator (MuJoCo clips it to the actuator's ``ctrlrange``).
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import mujoco
import numpy as np

from exploy.sim.errors import SimError

__all__ = ["MujocoRobot"]


def _one_line(err: Exception, limit: int = 300) -> str:
    """MuJoCo's multi-line compiler message as one bounded line."""
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _name2id(model: mujoco.MjModel, kind: mujoco.mjtObj, name: str, what: str) -> int:
    index = mujoco.mj_name2id(model, kind, name)
    if index < 0:
        raise SimError(f"the MJCF has no {what} named '{name}'; check the name against the model")
    return index


class MujocoRobot:
    """Named joints, their motors, an IMU site and the floating base of one MuJoCo model.

    Args:
        model: The compiled model.
        joint_names: Joints the policy drives, in its order; default: every hinge/slide joint
            that has a motor actuator, in model order.
        imu_site: Site whose orientation and angular velocity are the IMU; default: a site
            named ``imu`` if there is one, else none.
        base_body: Body with the free joint (the base); default: the first free joint's body.

    Raises:
        SimError: for unknown names or a joint without a motor actuator.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        *,
        joint_names: Sequence[str] | None = None,
        imu_site: str | None = None,
        base_body: str | None = None,
    ) -> None:
        self.model = model
        self.data = mujoco.MjData(model)
        self.xml: str | None = None
        """The MJCF text the model was compiled from (set by :meth:`from_xml`/:meth:`from_file`)."""
        motor_of: dict[int, int] = {}
        for act in range(model.nu):
            if model.actuator_trntype[act] == mujoco.mjtTrn.mjTRN_JOINT:
                motor_of.setdefault(int(model.actuator_trnid[act, 0]), act)
        if joint_names is None:
            joint_ids = [j for j in range(model.njnt) if j in motor_of]
            joint_names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in joint_ids]
        else:
            joint_ids = [_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n, "joint") for n in joint_names]
        if not joint_ids:
            raise SimError("the MJCF has no joint driven by a motor actuator; add <motor joint=...> actuators")
        for name, j in zip(joint_names, joint_ids):
            if j not in motor_of:
                raise SimError(f"joint '{name}' has no actuator; add <motor joint=\"{name}\"/> to the MJCF")
            if model.jnt_type[j] not in (mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE):
                raise SimError(f"joint '{name}' is not a hinge or slide joint")
        self.joint_names: list[str] = list(joint_names)
        self.qpos_adr = np.array([model.jnt_qposadr[j] for j in joint_ids], dtype=np.intp)
        self.dof_adr = np.array([model.jnt_dofadr[j] for j in joint_ids], dtype=np.intp)
        self.actuator_ids = np.array([motor_of[j] for j in joint_ids], dtype=np.intp)
        limited = np.array([bool(model.jnt_limited[j]) for j in joint_ids])
        ranges = np.array([model.jnt_range[j] for j in joint_ids], dtype=np.float64)
        self.joint_lower = np.where(limited, ranges[:, 0], -np.inf)
        self.joint_upper = np.where(limited, ranges[:, 1], np.inf)

        if imu_site is None and mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "imu") >= 0:
            imu_site = "imu"
        self.imu_site = imu_site
        self._site_id = None if imu_site is None else _name2id(model, mujoco.mjtObj.mjOBJ_SITE, imu_site, "site")
        free = [j for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
        if base_body is not None:
            body = _name2id(model, mujoco.mjtObj.mjOBJ_BODY, base_body, "body")
            free = [j for j in free if model.jnt_bodyid[j] == body]
            if not free:
                raise SimError(f"body '{base_body}' has no free joint; name the floating base body")
        self._base_qpos = None if not free else int(model.jnt_qposadr[free[0]])
        self.base_body = (
            None if not free else mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, int(model.jnt_bodyid[free[0]]))
        )

        n = len(self.joint_names)
        self._effort = np.zeros(n)
        self._pos = np.zeros(n)
        self._vel = np.zeros(n)
        self._kp = np.zeros(n)
        self._kd = np.zeros(n)
        self._quat = np.zeros(4)
        self._vel6 = np.zeros(6)
        self.reset()

    @classmethod
    def from_xml(cls, xml: str, **kwargs) -> MujocoRobot:
        """Compile an MJCF string (see the constructor for ``kwargs``)."""
        try:
            model = mujoco.MjModel.from_xml_string(xml)
        except ValueError as err:
            raise SimError(f"the MJCF does not compile: {_one_line(err)}") from err
        robot = cls(model, **kwargs)
        robot.xml = xml
        return robot

    @classmethod
    def from_file(cls, path: str | pathlib.Path, **kwargs) -> MujocoRobot:
        """Load an MJCF file (see the constructor for ``kwargs``)."""
        path = pathlib.Path(path)
        if not path.is_file():
            raise SimError(f"MJCF file {path} does not exist; pass the path of an .xml model")
        try:
            model = mujoco.MjModel.from_xml_path(str(path))
        except ValueError as err:
            raise SimError(f"MJCF file {path} does not compile: {_one_line(err)}") from err
        robot = cls(model, **kwargs)
        robot.xml = path.read_text()
        return robot

    # -- time and reset ---------------------------------------------------------------------

    @property
    def dt(self) -> float:
        """Physics time step (s)."""
        return float(self.model.opt.timestep)

    @property
    def time(self) -> float:
        """Sim time (s)."""
        return float(self.data.time)

    def reset(self) -> None:
        """Back to the first keyframe (or the model's default pose), zero command, kinematics updated."""
        if self.model.nkey > 0:
            mujoco.mj_resetDataKeyframe(self.model, self.data, 0)
        else:
            mujoco.mj_resetData(self.model, self.data)
        mujoco.mj_forward(self.model, self.data)
        self.set_command(effort=np.zeros(len(self.joint_names)))

    # -- reading ----------------------------------------------------------------------------

    def joint_pos(self) -> np.ndarray:
        """Joint positions (rad or m), policy order (a copy)."""
        return self.data.qpos[self.qpos_adr]

    def joint_vel(self) -> np.ndarray:
        """Joint velocities, policy order (a copy)."""
        return self.data.qvel[self.dof_adr]

    def joint_effort(self) -> np.ndarray:
        """Actuator forces applied in the last step, policy order (a copy)."""
        return self.data.actuator_force[self.actuator_ids]

    def imu_quat(self) -> np.ndarray:
        """Orientation of the IMU site w.r.t. the world, (w, x, y, z)."""
        self._require_imu()
        mujoco.mju_mat2Quat(self._quat, self.data.site_xmat[self._site_id])
        return self._quat.copy()

    def imu_ang_vel(self) -> np.ndarray:
        """Angular velocity of the IMU site w.r.t. the world, in the site frame (rad/s)."""
        self._require_imu()
        mujoco.mj_objectVelocity(self.model, self.data, mujoco.mjtObj.mjOBJ_SITE, self._site_id, self._vel6, 1)
        return self._vel6[:3].copy()

    def base_pos(self) -> np.ndarray:
        """Position of the floating base in the world (m)."""
        self._require_base()
        return self.data.qpos[self._base_qpos : self._base_qpos + 3].copy()  # type: ignore[operator]  # _require_base()

    def base_quat(self) -> np.ndarray:
        """Orientation of the floating base, (w, x, y, z)."""
        self._require_base()
        return self.data.qpos[self._base_qpos + 3 : self._base_qpos + 7].copy()  # type: ignore[operator]  # _require_base()

    def base_lin_vel(self) -> np.ndarray:
        """Linear velocity of the base in the world frame (m/s)."""
        self._require_base()
        adr = self._base_dof()
        return self.data.qvel[adr : adr + 3].copy()

    def base_ang_vel(self) -> np.ndarray:
        """Angular velocity of the base in the base frame (rad/s)."""
        self._require_base()
        adr = self._base_dof()
        return self.data.qvel[adr + 3 : adr + 6].copy()

    @property
    def has_imu(self) -> bool:
        return self._site_id is not None

    @property
    def has_base(self) -> bool:
        return self._base_qpos is not None

    def _base_dof(self) -> int:
        joint = next(j for j in range(self.model.njnt) if self.model.jnt_qposadr[j] == self._base_qpos)
        return int(self.model.jnt_dofadr[joint])

    def _require_imu(self) -> None:
        if self._site_id is None:
            raise SimError("the model has no IMU site; name one with imu_site= (or add <site name=\"imu\"/>)")

    def _require_base(self) -> None:
        if self._base_qpos is None:
            raise SimError("the model has no floating base (free joint)")

    # -- actuating --------------------------------------------------------------------------

    def set_command(
        self,
        *,
        effort: np.ndarray | None = None,
        pos: np.ndarray | None = None,
        vel: np.ndarray | None = None,
        kp: np.ndarray | float | None = None,
        kd: np.ndarray | float | None = None,
    ) -> None:
        """Hold a command until the next call; each array in policy joint order.

        ``effort`` alone: pure torque. With ``pos`` (and optionally ``vel``), a PD law with
        ``kp``/``kd`` (required with ``pos``) runs at every physics step, ``effort`` added as
        feed-forward. Unset parts are zero.

        Raises:
            SimError: for a wrong size, non-finite values, or ``pos`` without gains.
        """
        n = len(self.joint_names)

        def vec(value, name: str) -> np.ndarray:
            arr = (
                np.broadcast_to(np.asarray(value, dtype=np.float64), (n,))
                if np.ndim(value) == 0
                else np.asarray(value, dtype=np.float64)
            )
            if arr.shape != (n,):
                raise SimError(f"{name} has {arr.size} values for {n} joints")
            if not np.isfinite(arr).all():
                raise SimError(f"{name} contains NaN or inf; command not applied")
            return arr

        new_effort = np.zeros(n) if effort is None else vec(effort, "effort")
        if pos is None:
            new_pos, new_vel, new_kp, new_kd = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        else:
            if kp is None or kd is None:
                raise SimError("position targets need kp and kd (per joint or one value)")
            new_pos, new_kp, new_kd = vec(pos, "pos"), vec(kp, "kp"), vec(kd, "kd")
            new_vel = np.zeros(n) if vel is None else vec(vel, "vel")
        self._effort[:], self._pos[:], self._vel[:], self._kp[:], self._kd[:] = (
            new_effort, new_pos, new_vel, new_kp, new_kd,
        )

    def control(self) -> np.ndarray:
        """The motor command for the current state under the held command (no clipping)."""
        q, qd = self.data.qpos[self.qpos_adr], self.data.qvel[self.dof_adr]
        return self._effort + self._kp * (self._pos - q) + self._kd * (self._vel - qd)

    def step(self, count: int = 1) -> None:
        """Advance ``count`` physics steps, recomputing the motor command before each."""
        for _ in range(count):
            self.data.ctrl[self.actuator_ids] = self.control()
            mujoco.mj_step(self.model, self.data)

    def step_with_ctrl(self, ctrl: np.ndarray) -> None:
        """One physics step with ``ctrl`` (policy joint order) written to the motors as given."""
        self.data.ctrl[self.actuator_ids] = ctrl
        mujoco.mj_step(self.model, self.data)
