"""Register an mjlab environment's inputs, outputs and memory under upstream exploy's names.

- ``obj.<entity>.joints.pos`` / ``.vel`` (group metadata ``joint_names``)
- ``obj.<entity>.<base>.w_Q_b``, ``.pos_b_rt_w_in_w``, ``.lin_vel_b_rt_w_in_b``,
  ``.ang_vel_b_rt_w_in_b`` (``<base>`` is the entity's root body)
- ``sensor.imu.<site>.<item>`` for MuJoCo gyro (``ang_vel_b_rt_w_in_b``), velocimeter
  (``lin_vel_b_rt_w_in_b``), accelerometer (``lin_acc_b``) and frame-quaternion (``w_Q_b``)
  sensors; other builtin sensors as ``sensor.<name>``
- ``cmd.se2_velocity.<term>`` (metadata ``ranges``) for velocity commands, ``cmd.<term>`` otherwise
- ``output.joint_targets.<term>.pos|vel|effort`` (metadata ``names``, ``stiffness``, ``damping``)
- memory ``actions`` (the action manager's raw actions), ``<term>.raw_actions`` and
  ``<term>.processed_actions`` of every action term

Only inputs that the observations or the action terms actually read are registered, so the
robot is asked for nothing the policy ignores.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mujoco
import torch
from mjlab.envs import ManagerBasedRlEnv
from mjlab.envs.mdp.actions.actions import (
    BaseAction,
    JointEffortAction,
    JointPositionAction,
    JointVelocityAction,
    RelativeJointPositionAction,
)
from mjlab.sensor import BuiltinSensor

from exploy.exporter.core.context_manager import ContextManager, Group, Input, Memory, Output
from exploy.frameworks.mjlab.errors import MjlabExportError
from exploy.frameworks.mjlab.history import HistoryMemory
from exploy.frameworks.mjlab.proxies import EntityDataProxy
from exploy.runtime.policy import INITIAL_VALUE_KEY

__all__ = [
    "BASE_ITEMS",
    "IMU_ITEMS",
    "Candidate",
    "candidate_inputs",
    "history_memory",
    "register_inputs",
    "register_memory",
    "register_outputs",
]

BASE_ITEMS = {
    "root_link_quat_w": "w_Q_b",
    "root_link_pos_w": "pos_b_rt_w_in_w",
    "root_link_lin_vel_b": "lin_vel_b_rt_w_in_b",
    "root_link_ang_vel_b": "ang_vel_b_rt_w_in_b",
}
"""Proxied root-link property -> item name under ``obj.<entity>.<base>``."""

IMU_ITEMS = {
    int(mujoco.mjtSensor.mjSENS_GYRO): "ang_vel_b_rt_w_in_b",
    int(mujoco.mjtSensor.mjSENS_VELOCIMETER): "lin_vel_b_rt_w_in_b",
    int(mujoco.mjtSensor.mjSENS_ACCELEROMETER): "lin_acc_b",
    int(mujoco.mjtSensor.mjSENS_FRAMEQUAT): "w_Q_b",
}
"""MuJoCo sensor type -> item name under ``sensor.imu.<site>``."""

_JOINT_ACTIONS = (JointPositionAction, RelativeJointPositionAction, JointVelocityAction, JointEffortAction)


def _token(name: str) -> str:
    """A name made safe as one dotted-name token (``robot/imu`` -> ``robot_imu``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "_"


@dataclass
class Candidate:
    """A tensor that may become an Input: where it goes if the policy path reads it."""

    tensor: torch.Tensor
    getter: Callable[[], torch.Tensor]
    group: str | None
    item: str
    group_metadata: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


def _const(tensor: torch.Tensor) -> Callable[[], torch.Tensor]:
    return lambda: tensor


def candidate_inputs(env: ManagerBasedRlEnv, proxies: dict[str, EntityDataProxy]) -> list[Candidate]:
    """Every tensor the adapter can turn into an Input, with its exploy name."""
    out: list[Candidate] = []
    for name, proxy in proxies.items():
        entity = env.scene.entities[name]
        joints = {"joint_names": list(entity.joint_names)}
        for prop, item in (("joint_pos", "pos"), ("joint_vel", "vel")):
            tensor = proxy.tensor(prop)
            out.append(Candidate(tensor, _const(tensor), f"obj.{name}.joints", item, joints))
        base = entity.root_body.name.split("/")[-1]
        for prop, item in BASE_ITEMS.items():
            tensor = proxy.tensor(prop)
            out.append(Candidate(tensor, _const(tensor), f"obj.{name}.{_token(base)}", item))
    model = env.sim.mj_model
    for sensor_name, sensor in env.scene.sensors.items():
        if type(sensor) is not BuiltinSensor or sensor._data_view is None:
            continue
        tensor = sensor._data_view
        sid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SENSOR, sensor_name)
        stype = int(model.sensor_type[sid]) if sid >= 0 else -1
        on_site = sid >= 0 and int(model.sensor_objtype[sid]) == int(mujoco.mjtObj.mjOBJ_SITE)
        if stype in IMU_ITEMS and on_site:
            site = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_SITE, int(model.sensor_objid[sid]))
            meta = {"mujoco_sensor": sensor_name, "site": site}
            out.append(Candidate(tensor, _const(tensor), f"sensor.imu.{_token(site or sensor_name)}",
                                 IMU_ITEMS[stype], metadata=meta))
        else:
            out.append(Candidate(tensor, _const(tensor), None, f"sensor.{_token(sensor_name)}",
                                 metadata={"mujoco_sensor": sensor_name}))
    cm = env.command_manager
    for term_name in cm.active_terms:
        term = cm.get_term(term_name)
        tensor = getattr(term, "command", None)  # type: ignore[assignment]  # checked to be a Tensor just below
        if not isinstance(tensor, torch.Tensor) or getattr(term, "command", None) is not tensor:
            continue  # not a stable tensor: if the observations read it, evaluate names it
        ranges = getattr(getattr(term, "cfg", None), "ranges", None)
        if tensor.shape[-1] == 3 and ranges is not None and hasattr(ranges, "lin_vel_x"):
            meta = {"ranges": {k: list(getattr(ranges, k)) for k in ("lin_vel_x", "lin_vel_y", "ang_vel_z")}}
            out.append(Candidate(tensor, (lambda t=term: t.command), None,  # type: ignore[misc]  # mypy cannot type a lambda whose defaults bind loop values
                                 f"cmd.se2_velocity.{_token(term_name)}", metadata=meta))
        else:
            # mypy cannot type a lambda whose defaults bind loop values
            out.append(Candidate(tensor, (lambda t=term: t.command), None, f"cmd.{_token(term_name)}"))  # type: ignore[misc]
    return out


def register_inputs(cm: ContextManager, chosen: list[Candidate]) -> list[str]:
    """Register the chosen candidates (grouped where they have a group); return the names."""
    groups: dict[str, list[Candidate]] = {}
    names: list[str] = []
    for cand in chosen:
        if cand.group is None:
            cm.add_component(Input(name=cand.item, get_from_env_cb=cand.getter, metadata=cand.metadata))
            names.append(cand.item)
        else:
            groups.setdefault(cand.group, []).append(cand)
    for group, members in groups.items():
        items = [Input(name=c.item, get_from_env_cb=c.getter, metadata=c.metadata) for c in members]
        cm.add_group(Group(name=group, items=items, metadata=members[0].group_metadata))
        names += [f"{group}.{c.item}" for c in members]
    return names


def _gains(entity: Any, joint_names: list[str]) -> tuple[list[float], list[float], list[float | None]]:
    by_joint: dict[str, tuple[float, float, float | None]] = {}
    for actuator in getattr(entity, "_actuators", []):
        cfg = actuator.cfg
        limit = getattr(cfg, "effort_limit", None)
        for target in actuator.target_names:
            by_joint[target] = (
                float(getattr(cfg, "stiffness", 0.0) or 0.0),
                float(getattr(cfg, "damping", 0.0) or 0.0),
                None if limit is None else float(limit),
            )
    rows = [by_joint.get(n, (0.0, 0.0, None)) for n in joint_names]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def register_outputs(cm: ContextManager, env: ManagerBasedRlEnv) -> list[str]:
    """``output.joint_targets.<term>.pos|vel|effort`` for every joint action term.

    Raises:
        MjlabExportError: for an action term that does not drive joints (no exploy convention).
    """
    am = env.action_manager
    names: list[str] = []
    for term_name in am.active_terms:
        term = am.get_term(term_name)
        if not isinstance(term, _JOINT_ACTIONS):
            raise MjlabExportError(
                f"action term '{term_name}' is a {type(term).__name__}; the mjlab adapter exports joint "
                "position/velocity/effort actions only. Use a joint action term for the exported task."
            )
        live = term._entity.data
        ids = term.target_ids
        joint_names = list(term.target_names)
        stiffness, damping, effort_limit = _gains(term._entity, joint_names)
        meta: dict[str, Any] = {
            "type": "joint_targets",
            "names": joint_names,
            "stiffness": stiffness,
            "damping": damping,
            "action": type(term).__name__,
        }
        if any(v is not None for v in effort_limit):
            meta["effort_limit"] = effort_limit
        items = [
            # The default binds this item's buffer now (a closure would see the last loop values).
            # mypy cannot type a lambda whose defaults bind loop values
            Output(name=item, get_from_env_cb=(lambda buf=getattr(live, attr), i=ids: buf[:, i]))  # type: ignore[misc]  # noqa: B008
            for item, attr in (("pos", "joint_pos_target"), ("vel", "joint_vel_target"),
                               ("effort", "joint_effort_target"))
        ]
        group = f"output.joint_targets.{_token(term_name)}"
        cm.add_group(Group(name=group, items=items, metadata=meta))
        names += [f"{group}.{i.name}" for i in items]
    return names


def register_memory(cm: ContextManager, env: ManagerBasedRlEnv) -> list[str]:
    """The action manager's raw actions and each term's raw and processed actions, as Memory.

    Their values now (right after a reset) become their ``initial_value`` where not zero.
    """

    def memory(name: str, getter: Callable[[], torch.Tensor]) -> Memory:
        value = getter()
        meta = {INITIAL_VALUE_KEY: value.tolist()} if bool(torch.any(value != 0)) else None
        return Memory(name=name, get_from_env_cb=getter, metadata=meta)

    am = env.action_manager
    items = [memory("actions", lambda: am._action)]
    for term_name in am.active_terms:
        term = am.get_term(term_name)
        if isinstance(term, BaseAction):
            # mypy cannot type a lambda whose defaults bind loop values
            items.append(memory(f"{_token(term_name)}.raw_actions", lambda t=term: t._raw_actions))  # type: ignore[misc]
            # mypy cannot type a lambda whose defaults bind loop values
            items.append(memory(f"{_token(term_name)}.processed_actions", lambda t=term: t._processed_actions))  # type: ignore[misc]
    cm.add_components(items)
    return [m.name for m in items]


def history_memory(history: HistoryMemory) -> Memory:
    """Memory ``obs_history.<term>``: the ``L - 1`` frames before the current one, oldest first.

    Its value now (right after a reset: the first frame repeated, as mjlab backfills) is its
    ``initial_value``.
    """
    return Memory(
        name=f"obs_history.{_token(history.term)}",
        get_from_env_cb=lambda: history.tensor,
        metadata={INITIAL_VALUE_KEY: history.tensor.tolist(), "history_length": int(history.tensor.shape[1]) + 1},
    )
