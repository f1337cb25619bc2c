"""A MuJoCo robot seen the way a policy sees it: named joints, an IMU site, a floating base.

Follows the ``mujoco`` bindings' idiom: one ``MjModel``/``MjData``, names looked up once with
``mj_name2id`` and kept as index arrays, ``mj_step`` to advance. The same class serves the
exportable example environment (:mod:`exploy.examples.mujoco_quadruped`), the ROS shell
(:mod:`exploy_ros.mujoco_sim_node`) and the in-process closed loop (:mod:`exploy.sim.closed_loop`),
so they read and actuate the model identically.

Commands (:meth:`MujocoRobot.set_command`) are per-joint efforts, or position targets tracked by
a PD law ``kp * (q* - q) + kd * (qd* - qd) + effort`` recomputed at every physics step; the
result goes to the joint's motor actuator (MuJoCo clips it to the actuator's ``ctrlrange``).
A joint driven by a MuJoCo *position* actuator (``<position kp=.. kv=..>``, what mjlab's
``BuiltinPositionActuatorCfg`` writes) is a servo with its gains inside the model: its position
target goes to ``ctrl`` unchanged, so the gains are applied once, by MuJoCo.

Names are looked up exactly, else as the unique element whose name ends with ``/<name>`` (a
scene composed with ``MjSpec.attach`` prefixes the robot's names, e.g. ``robot/FR_hip_joint``).
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


_COUNTS = {mujoco.mjtObj.mjOBJ_JOINT: "njnt", mujoco.mjtObj.mjOBJ_SITE: "nsite", mujoco.mjtObj.mjOBJ_BODY: "nbody",
           mujoco.mjtObj.mjOBJ_SENSOR: "nsensor", mujoco.mjtObj.mjOBJ_ACTUATOR: "nu"}


def find_id(model: mujoco.MjModel, kind: mujoco.mjtObj, name: str) -> int:
    """Id of the element ``name`` of ``kind``: exact, else the unique one named ``<prefix>/<name>``; -1 if none.

    Raises:
        SimError: when several elements end with ``/<name>`` (the name is ambiguous).
    """
    index = mujoco.mj_name2id(model, kind, name)
    if index >= 0 or "/" in name:
        return index
    suffix = "/" + name
    count = getattr(model, _COUNTS.get(kind, ""), 0)
    hits = [i for i in range(count) if (mujoco.mj_id2name(model, kind, i) or "").endswith(suffix)]
    if len(hits) > 1:
        shown = ", ".join(str(mujoco.mj_id2name(model, kind, i)) for i in hits[:4])
        raise SimError(f"'{name}' matches several elements of the MJCF ({shown}); give the full name")
    return hits[0] if hits else -1


def _name2id(model: mujoco.MjModel, kind: mujoco.mjtObj, name: str, what: str) -> int:
    index = find_id(model, kind, name)
    if index < 0:
        raise SimError(f"the MJCF has no {what} named '{name}'; check the name against the model")
    return index


def _is_servo(model: mujoco.MjModel, act: int) -> bool:
    """A MuJoCo position actuator: force = kp * ctrl - kp * q - kv * qd (affine bias, gain kp > 0)."""
    kp = float(model.actuator_gainprm[act, 0])
    return (int(model.actuator_gaintype[act]) == int(mujoco.mjtGain.mjGAIN_FIXED)
            and int(model.actuator_biastype[act]) == int(mujoco.mjtBias.mjBIAS_AFFINE)
            and kp > 0 and abs(float(model.actuator_biasprm[act, 1]) + kp) <= 1e-9 * kp)


class MujocoRobot:
    """Named joints, their motors, an IMU site and the floating base of one MuJoCo model.

    Args:
        model: The compiled model.
        joint_names: Joints the policy drives, in its order; default: every hinge/slide joint
            that has a motor actuator, in model order.
        imu_site: Site whose orientation and angular velocity are the IMU; default: a site
            named ``imu`` if there is one, else none.
        base_body: Body with the free joint (the base); default: the first free joint's body.
        forward_after_step: After :meth:`step`, recompute kinematics and sensors
            (``mj_forward``) so they describe the new state, as mjlab does before computing
            observations; False: they describe the state before the last step, as a bare
            ``mj_step`` loop leaves them (e.g. :mod:`exploy.examples.mujoco_quadruped`).

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
        forward_after_step: bool = False,
    ) -> None:
        self.model = model
        self.data = mujoco.MjData(model)
        self.forward_after_step = forward_after_step
        self.xml: str | None = None
        """The MJCF text the model was compiled from (set by :meth:`from_xml`/:meth:`from_file`)."""
        self.path: pathlib.Path | None = None
        """The MJCF file the model was loaded from (:meth:`from_file`); its assets are relative to it."""
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

        self.servo = np.array([_is_servo(model, motor_of[j]) for j in joint_ids], dtype=bool)
        """Joints driven by a MuJoCo position actuator (gains in the model; ``ctrl`` is the target)."""
        self.servo_kp = np.where(self.servo, model.actuator_gainprm[self.actuator_ids, 0], 0.0)
        self.servo_kd = np.where(self.servo, -model.actuator_biasprm[self.actuator_ids, 2], 0.0)

        if imu_site is None and find_id(model, mujoco.mjtObj.mjOBJ_SITE, "imu") >= 0:
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
        robot.path = path.resolve()
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
        """Back to the first keyframe (or the model's default pose), kinematics updated; the held
        command: zero effort, and for servo joints their start positions."""
        if self.model.nkey > 0:
            mujoco.mj_resetDataKeyframe(self.model, self.data, 0)
        else:
            mujoco.mj_resetData(self.model, self.data)
        mujoco.mj_forward(self.model, self.data)
        if self.servo.any():  # position actuators hold the start pose; motors get zero effort
            self.set_command(pos=self.joint_pos(), kp=0.0, kd=0.0)
        else:
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
        feed-forward. Unset parts are zero. Servo joints (:attr:`servo`) take ``pos`` as their
        ``ctrl`` and ignore ``kp``/``kd``/``vel``/``effort``: their gains are the model's.

        Raises:
            SimError: for a wrong size, non-finite values, ``pos`` without gains, or efforts
                alone for servo joints.
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
        if pos is None and self.servo.any():
            name = self.joint_names[int(np.argmax(self.servo))]
            raise SimError(f"joint '{name}' is driven by a MuJoCo position actuator: send position targets, "
                           "not efforts (or give the MJCF motor actuators)")
        if pos is None:
            new_pos, new_vel, new_kp, new_kd = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        else:
            if (kp is None or kd is None) and not self.servo.all():
                raise SimError("position targets need kp and kd (per joint or one value)")
            kp = 0.0 if kp is None else kp
            kd = 0.0 if kd is None else kd
            new_pos, new_kp, new_kd = vec(pos, "pos"), vec(kp, "kp"), vec(kd, "kd")
            new_vel = np.zeros(n) if vel is None else vec(vel, "vel")
        self._effort[:], self._pos[:], self._vel[:], self._kp[:], self._kd[:] = (
            new_effort, new_pos, new_vel, new_kp, new_kd,
        )

    def control(self) -> np.ndarray:
        """The ``ctrl`` for the current state under the held command (no clipping): the PD law's
        effort for motor joints, the position target for servo joints."""
        q, qd = self.data.qpos[self.qpos_adr], self.data.qvel[self.dof_adr]
        effort = self._effort + self._kp * (self._pos - q) + self._kd * (self._vel - qd)
        return np.where(self.servo, self._pos, effort) if self.servo.any() else effort

    def step(self, count: int = 1) -> None:
        """Advance ``count`` physics steps, recomputing the ``ctrl`` before each (then, with
        :attr:`forward_after_step`, kinematics and sensors for the new state)."""
        for _ in range(count):
            self.data.ctrl[self.actuator_ids] = self.control()
            mujoco.mj_step(self.model, self.data)
        if self.forward_after_step:
            mujoco.mj_forward(self.model, self.data)

    def step_with_ctrl(self, ctrl: np.ndarray) -> None:
        """One physics step with ``ctrl`` (policy joint order) written to the motors as given."""
        self.data.ctrl[self.actuator_ids] = ctrl
        mujoco.mj_step(self.model, self.data)
