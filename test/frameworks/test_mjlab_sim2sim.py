"""The exported Go1 file in closed loop (``exploy sim2sim``): the real policy node and the MuJoCo
simulator node on real topics, in lockstep, on the task's scene written by ``write_scene``.

Checked against an independent loop: plain MuJoCo on the same scene, its state read by hand
(joints, trunk orientation, the gyro and velocimeter sensors), a bare onnxruntime session with
memory fed back, the joint targets written to the position actuators. Not against mjlab's own
rollout: mjlab steps with mujoco-warp in float32 and randomises the reset pose, the centre of
mass and the foot friction, so its trajectory leaves this one within a few steps of contact.
"""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

pytest.importorskip("mjlab", reason="the mjlab extra is not installed")

import mujoco  # noqa: E402
from policy_node_rig import Reference, unique_domain  # noqa: E402

from exploy.format import read_metadata  # noqa: E402
from exploy.frameworks.mjlab import write_scene  # noqa: E402
from exploy.sim.monitor import stability  # noqa: E402

TICKS = 160  # 0.8 s at 200 Hz: 40 policy steps
COMMAND = (0.5, 0.0, 0.3)


@pytest.fixture(scope="module")
def go1_scene(go1, tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    made, policy = go1
    return write_scene(made.env.env, tmp_path_factory.mktemp("go1_scene") / "scene"), policy


def _independent_loop(scene: pathlib.Path, policy: pathlib.Path, ticks: int) -> dict[str, np.ndarray]:
    """Plain MuJoCo + a bare onnxruntime session: what the closed loop should produce."""
    meta = read_metadata(policy)
    joints = meta.group("obj.robot.joints").metadata["joint_names"]
    targets_names = meta.group("output.joint_targets.joint_pos").metadata["names"]
    model = mujoco.MjModel.from_xml_path(str(scene))
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, 0)
    mujoco.mj_forward(model, data)

    def jid(name: str) -> int:
        return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, f"robot/{name}")

    qadr = [model.jnt_qposadr[jid(n)] for n in joints]
    dadr = [model.jnt_dofadr[jid(n)] for n in joints]
    actuator = {int(model.actuator_trnid[a, 0]): a for a in range(model.nu)}
    act = [actuator[jid(n)] for n in targets_names]
    trunk = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "robot/trunk")

    def sensor(name: str) -> np.ndarray:
        sid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SENSOR, name)
        return data.sensordata[model.sensor_adr[sid] : model.sensor_adr[sid] + 3]

    ref = Reference(policy)
    rows: dict[str, list[np.ndarray]] = {"joint_pos": [], "target": [], "base_pos": [], "base_quat": []}
    for k in range(ticks):
        inputs = {
            "obj.robot.joints.pos": data.qpos[qadr], "obj.robot.joints.vel": data.qvel[dadr],
            "obj.robot.trunk.w_Q_b": data.xquat[trunk],
            "sensor.imu.robot_imu.ang_vel_b_rt_w_in_b": sensor("robot/imu_ang_vel"),
            "sensor.imu.robot_imu.lin_vel_b_rt_w_in_b": sensor("robot/imu_lin_vel"),
            "cmd.se2_velocity.twist": np.array(COMMAND),
        }
        out = ref.run({k_: np.asarray(v, np.float32).reshape(1, -1) for k_, v in inputs.items()}, k)
        target = out["output.joint_targets.joint_pos.pos"].reshape(-1).astype(np.float64)
        data.ctrl[act] = target
        mujoco.mj_step(model, data)
        mujoco.mj_forward(model, data)  # observations of the new state, as mjlab computes them
        rows["joint_pos"].append(data.qpos[qadr].copy())
        rows["target"].append(target[[targets_names.index(n) for n in joints]])
        rows["base_pos"].append(data.qpos[0:3].copy())
        rows["base_quat"].append(data.qpos[3:7].copy())
    return {k: np.array(v) for k, v in rows.items()}


def test_go1_scene_loads_in_plain_mujoco_with_the_tasks_rate_gains_and_start_pose(go1, go1_scene) -> None:
    from mjlab.asset_zoo.robots.unitree_go1.go1_constants import (
        DAMPING_HIP,
        DAMPING_KNEE,
        INIT_STATE,
        STIFFNESS_HIP,
        STIFFNESS_KNEE,
    )

    made, _ = go1
    scene, _ = go1_scene
    assert sorted(p.name for p in (scene.parent / "assets").iterdir()) == [
        "calf.stl", "hip.stl", "thigh.stl", "thigh_mirror.stl", "trunk.stl"]
    model = mujoco.MjModel.from_xml_path(str(scene))  # meshes resolve relative to the file
    assert model.opt.timestep == made.env.env.cfg.sim.mujoco.timestep == 0.005
    assert model.nmesh == 5 and (model.mesh_vertnum > 0).all()
    for a in range(model.nu):
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a)
        kp, kd = (STIFFNESS_KNEE, DAMPING_KNEE) if "calf" in name else (STIFFNESS_HIP, DAMPING_HIP)
        assert model.actuator_gainprm[a, 0] == pytest.approx(kp, rel=1e-5)
        assert -model.actuator_biasprm[a, 2] == pytest.approx(kd, rel=1e-5)
    assert model.key_qpos[0, 2] == pytest.approx(INIT_STATE.pos[2])
    # the file's stiffness/damping (what a sim node with motor joints would use) are the same gains
    from exploy.mapping import build_topic_map
    from exploy.sim.wiring import policy_gains, policy_joint_names

    meta = read_metadata(go1_scene[1])
    names = policy_joint_names(build_topic_map(meta))
    kp, kd = policy_gains(meta, build_topic_map(meta), names)
    calf = np.array(["calf" in n for n in names])
    np.testing.assert_allclose(kp, np.where(calf, STIFFNESS_KNEE, STIFFNESS_HIP))
    np.testing.assert_allclose(kd, np.where(calf, DAMPING_KNEE, DAMPING_HIP))


def _closed_loop_and_independent_loop(scene: pathlib.Path, policy: pathlib.Path, ticks: int):
    from exploy_ros.sim2sim import run_closed_loop

    run = run_closed_loop(policy=policy, mjcf=scene, seconds=ticks * 0.005, in_process=True,
                          domain_id=unique_domain(), velocity_command=COMMAND, timeout=10.0)
    assert run.report["ticks"] == ticks and run.report["rejected_commands"] == 0
    expected = _independent_loop(scene, policy, ticks)
    # Same model, same float64 physics, same float32 network: measured equal to the last bit
    # (the node reads the trunk orientation at the IMU site, the loop the body quaternion).
    traj = run.trajectory
    np.testing.assert_allclose(traj.target, expected["target"], atol=1e-7)
    np.testing.assert_allclose(traj.joint_pos, expected["joint_pos"], atol=1e-7)
    np.testing.assert_allclose(traj.base_pos, expected["base_pos"], atol=1e-7)
    robot = run.robot
    report = stability(traj, joint_names=robot.joint_names, joint_lower=robot.joint_lower,
                       joint_upper=robot.joint_upper)
    # The stability report against the independent trajectory: fallen when the base is below
    # half its first height or tilted more than 60 degrees.
    height = expected["base_pos"][:, 2]
    q = expected["base_quat"]
    tilt = np.degrees(np.arccos(np.clip(1 - 2 * (q[:, 1] ** 2 + q[:, 2] ** 2), -1, 1)))
    fallen = (height < 0.5 * height[0]) | (tilt > 60)
    assert report.fell == bool(fallen.any())
    if fallen.any():
        assert report.fall_time_s == pytest.approx((int(np.argmax(fallen)) + 1) * 0.005)
    assert report.max_tilt_deg == pytest.approx(tilt.max(), abs=1e-3)
    assert report.base_height_min == pytest.approx(height.min(), abs=1e-6)
    return run, expected, report


def test_go1_closed_loop_in_lockstep_equals_a_bare_onnxruntime_loop_on_plain_mujoco(go1_scene) -> None:
    scene, policy = go1_scene
    run, expected, report = _closed_loop_and_independent_loop(scene, policy, TICKS)
    assert run.robot.servo.all()  # mjlab's position actuators: the targets go to ctrl, gains in the model
    assert np.abs(np.diff(expected["target"][::4], axis=0)).max() > 1e-3  # the policy did act
    assert not report.fell  # the seed-0 random actor's small actions keep it up for 0.8 s


def test_go1_with_weak_motors_falls_and_the_report_says_when(go1_scene) -> None:
    scene, policy = go1_scene
    weak = scene.with_name("weak_motors.xml")  # beside scene.xml: the meshes stay relative
    weak.write_text(re.sub(r'forcerange="[^"]*"', 'forcerange="-0.5 0.5"', scene.read_text()))
    _, expected, report = _closed_loop_and_independent_loop(weak, policy, 100)
    assert report.fell and 0.1 < report.fall_time_s < 0.4
    assert expected["base_pos"][-1, 2] < 0.15


def test_a_scene_without_the_tasks_time_step_is_refused_in_one_line(go1_scene) -> None:
    from exploy.sim.errors import SimError
    from exploy_ros.sim2sim import run_closed_loop

    scene, policy = go1_scene
    # mjlab's spec keeps MuJoCo's default 0.002 s; the task steps at 0.005 s (update_rate 200 Hz)
    lost = scene.with_name("default_timestep.xml")
    lost.write_text(scene.read_text().replace('timestep="0.005"', 'timestep="0.002"'))
    with pytest.raises(SimError, match=r"tick rate 200 Hz \(the policy file's update_rate\) is not the MJCF's "
                                       r"physics rate 500 Hz divided by an integer") as err:
        run_closed_loop(policy=policy, mjcf=lost, seconds=0.1, in_process=True, domain_id=unique_domain())
    assert "\n" not in str(err.value)
