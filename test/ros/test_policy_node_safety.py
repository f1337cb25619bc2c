"""On-robot safety in the running node (issue 10): real rclpy nodes over real topics, the example
robot's file in real onnxruntime, every published value checked against a hand computation from
an independent bare-session run."""

from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from policy_node_rig import Reference, Rig
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import String
from std_srvs.srv import SetBool

from exploy.examples.legged_robot import JOINT_NAMES, LeggedRobotConfig, make_mlp_example
from exploy.examples.quadruped_sim import SimConfig
from exploy.exporter.core.exporter import export_environment_as_onnx
from exploy.format import read_metadata
from exploy_ros.safety_io import STATE_QOS

JOINTS = "~/input/obj/robot/joints"
IMU = "~/input/obj/robot/base/imu"
CMD = "~/input/cmd/se2_velocity/base_velocity"
TARGETS = "policy_node/output/joint_targets/pd"
POS, EFFORT = "output.joint_targets.pd.pos", "output.joint_targets.pd.effort"
STANCE = np.array([0.0, 0.8, -1.5] * 4)
LOWER = np.array([lo for lo, _ in SimConfig().joint_pos_limits] * 4)
UPPER = np.array([hi for _, hi in SimConfig().joint_pos_limits] * 4)
EFFORT_LIMIT = np.array(list(LeggedRobotConfig().effort_limits) * 4)


@pytest.fixture(scope="module")
def legged_file(tmp_path_factory):
    env, actor = make_mlp_example(seed=5)
    return export_environment_as_onnx(env=env, actor=actor, path=tmp_path_factory.mktemp("legged"))


class Robot:
    """Random robot states and the messages carrying them; ``tensors`` in policy order."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def state(self, cmd=(0.5, -0.2, 0.3)):
        pos = STANCE + self.rng.normal(scale=0.05, size=12)
        vel = self.rng.normal(scale=0.5, size=12)
        joints = JointState(name=list(JOINT_NAMES), position=[float(v) for v in pos], velocity=[float(v) for v in vel])
        imu = Imu()
        imu.orientation.w = 1.0
        imu.angular_velocity.x, imu.angular_velocity.y, imu.angular_velocity.z = (
            float(v) for v in self.rng.normal(size=3)
        )
        twist = Twist()
        twist.linear.x, twist.linear.y, twist.angular.z = (float(v) for v in cmd)
        ang = np.array([imu.angular_velocity.x, imu.angular_velocity.y, imu.angular_velocity.z])
        tensors = {
            "obj.robot.joints.pos": pos,
            "obj.robot.joints.vel": vel,
            "obj.robot.base.w_Q_b": np.array([1.0, 0.0, 0.0, 0.0]),
            "obj.robot.base.ang_vel_b_rt_w_in_b": ang,
            "cmd.se2_velocity.base_velocity": np.array(cmd, dtype=np.float64),
        }
        tensors = {k: v.astype(np.float32).reshape(1, -1) for k, v in tensors.items()}
        return tensors, {JOINTS: joints, IMU: imu, CMD: twist}


def _clip(pos, effort):
    return np.clip(pos, LOWER, UPPER), np.clip(effort, -EFFORT_LIMIT, EFFORT_LIMIT)


def _states(rig):
    """Every ``~/state`` message, from the latched ``waiting`` on (waits for it)."""
    got: list = []
    rig.peer.create_subscription(String, "policy_node/state", lambda m: got.append(m.data), STATE_QOS)
    rig.spin_until(lambda: got == ["waiting"], what="latched state 'waiting'")
    return got


def _tick(rig, msgs, outs, *, ticks: bool = True):
    """Feed ``msgs``, advance /clock one period, wait for the tick's output (if any is expected)."""
    before = len(outs)
    if msgs:
        rig.feed(msgs)
    rig.advance(1, expect_ticks=1 if ticks else None)
    if ticks:
        rig.spin_until(lambda: len(outs) > before, what="joint targets")
    return outs[-1] if len(outs) > before else None


def _params(**extra):
    return {"input_timeout_s": 0.0, "diagnostics_period_s": 0.2, **extra}


def test_soft_start_ramps_from_the_measured_pose_and_state_walks_to_running(legged_file):
    robot, ref = Robot(1), Reference(legged_file)
    with Rig(legged_file, params=_params(soft_start_s=0.02)) as rig:  # 4 periods of 5 ms
        states = _states(rig)
        outs = rig.collect(TARGETS, JointState)
        runs = []
        for _k in range(7):
            x, msgs = robot.state()
            runs.append((x, _tick(rig, msgs, outs)))
        rig.spin_until(lambda: states[-1:] == ["running"], what="state running")
        assert states == ["waiting", "starting", "running"]
    q0 = runs[0][0]["obj.robot.joints.pos"].reshape(-1).astype(np.float64)
    for k, (x, msg) in enumerate(runs):
        exp = ref.run(x, k)
        alpha = min(1.0, k / 4)
        pos, effort = _clip((1 - alpha) * q0 + alpha * exp[POS].reshape(-1), alpha * exp[EFFORT].reshape(-1))
        assert list(msg.name) == list(JOINT_NAMES)
        np.testing.assert_allclose(msg.position, pos, rtol=1e-5, atol=1e-5, err_msg=f"tick {k}")
        np.testing.assert_allclose(msg.effort, effort, rtol=1e-5, atol=1e-5, err_msg=f"tick {k}")
    assert np.abs(runs[0][1].effort).max() == 0.0 and np.abs(runs[4][1].effort).max() > 0.1


def test_a_3e38_twist_is_rejected_and_the_node_recovers(legged_file):
    robot, ref = Robot(2), Reference(legged_file)
    with Rig(legged_file, params=_params(soft_start_s=0.0, fallback_kd=1.5)) as rig:
        states = _states(rig)
        outs = rig.collect(TARGETS, JointState)
        diags = rig.collect("/diagnostics", DiagnosticArray)
        expected = []
        for k in range(4):
            x, msgs = robot.state()
            expected.append((ref.run(x, k), _tick(rig, msgs, outs)))
        x, msgs = robot.state(cmd=(3e38, 0.0, 0.0))  # tick 4 is a Default tick
        poisoned = _tick(rig, msgs, outs, ticks=False) or _wait_last(rig, outs, 5)
        assert rig.node.policy.rejected_ticks == 1 and rig.node.policy.step_count == 4
        np.testing.assert_allclose(
            poisoned.position, np.clip(x["obj.robot.joints.pos"].reshape(-1), LOWER, UPPER), rtol=1e-6
        )
        np.testing.assert_allclose(poisoned.effort, -1.5 * x["obj.robot.joints.vel"].reshape(-1), rtol=1e-5, atol=1e-6)
        for k in range(4, 24):  # the reference never saw the poisoned tick: same step counts
            x, msgs = robot.state()
            expected.append((ref.run(x, k), _tick(rig, msgs, outs)))
        rig.spin_until(lambda: states[-1:] == ["running"], what="running again")
        assert states == ["waiting", "running", "fallback", "running"]
        rig.spin_until(  # a report published before the return to running may still say fallback
            lambda: (
                diags
                and _values(diags[-1]).get("rejected_ticks") == "1"
                and _values(diags[-1]).get("state") == "running"
            ),
            what="diagnostics after the return to running",
        )
        values = _values(diags[-1])
        assert values["fallback_entries[rejected tick]"] == "1" and values["state"] == "running"
    for k, (exp, msg) in enumerate(expected):
        pos, effort = _clip(exp[POS].reshape(-1), exp[EFFORT].reshape(-1))
        assert np.isfinite(msg.effort).all()
        np.testing.assert_allclose(msg.effort, effort, rtol=1e-5, atol=1e-5, err_msg=f"tick {k}")
        np.testing.assert_allclose(msg.position, pos, rtol=1e-5, atol=1e-5, err_msg=f"tick {k}")


def _wait_last(rig, outs, count):
    rig.spin_until(lambda: len(outs) >= count, what=f"{count} outputs")
    return outs[-1]


def _values(diag):
    return {kv.key: kv.value for kv in diag.status[0].values}


KP = [10.0 + j for j in range(12)]


@pytest.mark.parametrize("mode", ["hold", "damp", "stop"])
def test_fallback_publishes_its_law_while_an_input_is_stale_and_returns_through_a_soft_start(legged_file, mode):
    robot = Robot(3)
    params = _params(soft_start_s=0.01, input_timeout_s=0.02, fallback=mode, fallback_kp=KP, fallback_kd=1.5)
    with Rig(legged_file, params=params) as rig:
        states = _states(rig)
        outs = rig.collect(TARGETS, JointState)
        for _ in range(4):
            _tick(rig, robot.state()[1], outs)
        assert rig.node.safety.state.value == "running"
        fed = []
        while rig.node.safety.state.value != "fallback":  # the command stops; joints and IMU keep coming
            x, msgs = robot.state()
            del msgs[CMD]
            fed.append(x)
            rig.feed(msgs)
            rig.advance(1)
            assert len(fed) < 20, "the command never went stale"
        q_hold = fed[-1]["obj.robot.joints.pos"].reshape(-1).astype(np.float64)
        laws = []
        for _ in range(3):
            x, msgs = robot.state()
            del msgs[CMD]
            before = len(outs)
            rig.feed(msgs)
            rig.advance(1)
            if mode != "stop":
                rig.spin_until(lambda: len(outs) > before, what="fallback output")  # noqa: B023 (waited on before the loop moves on)
            laws.append((x, outs[-1] if len(outs) > before else None))
        if mode == "stop":
            assert all(msg is None for _, msg in laws)
        for x, msg in laws if mode != "stop" else ():
            q = x["obj.robot.joints.pos"].reshape(-1).astype(np.float64)
            qd = x["obj.robot.joints.vel"].reshape(-1).astype(np.float64)
            if mode == "hold":
                pos, effort = _clip(q_hold, np.array(KP) * (q_hold - q) - 1.5 * qd)
            else:
                pos, effort = _clip(q, -1.5 * qd)
            np.testing.assert_allclose(msg.position, pos, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(msg.effort, effort, rtol=1e-5, atol=1e-5)
            np.testing.assert_array_equal(msg.velocity, np.zeros(12))  # velocity targets are 0 in every fallback law
        if mode == "damp":  # no fresh measurement at all: zero efforts, last held targets
            last_q = laws[-1][0]["obj.robot.joints.pos"].reshape(-1)
            while rig.node.inputs.topics[JOINTS].stale is False:
                before = len(outs)
                rig.feed({IMU: robot.state()[1][IMU]})
                rig.advance(1)
                rig.spin_until(lambda: len(outs) > before, what="fallback output")  # noqa: B023 (waited on before the loop moves on)
            np.testing.assert_array_equal(outs[-1].effort, np.zeros(12))
            np.testing.assert_allclose(outs[-1].position, np.clip(last_q, LOWER, UPPER), rtol=1e-6)
        x, msgs = robot.state()  # everything fresh again: a soft start from the measured pose
        first = _tick(rig, msgs, outs)
        np.testing.assert_allclose(
            first.position, np.clip(x["obj.robot.joints.pos"].reshape(-1), LOWER, UPPER), rtol=1e-6
        )
        np.testing.assert_array_equal(first.effort, np.zeros(12))
        for _ in range(3):
            _tick(rig, robot.state()[1], outs)
        rig.spin_until(lambda: states[-1:] == ["running"], what="running again")
        assert states == ["waiting", "starting", "running", "fallback", "starting", "running"]


def _estop(rig, engage: bool) -> SetBool.Response:
    client = rig.peer.create_client(SetBool, "policy_node/estop")
    rig.spin_until(lambda: client.service_is_ready(), what="~/estop service")
    future = client.call_async(SetBool.Request(data=engage))
    rig.spin_until(future.done, what="~/estop reply")
    return future.result()


def test_estop_engages_within_one_tick_latches_and_releases_into_a_soft_start(legged_file):
    robot = Robot(4)
    with Rig(legged_file, params=_params(soft_start_s=0.01, fallback="damp", fallback_kd=2.0)) as rig:
        states = _states(rig)
        outs = rig.collect(TARGETS, JointState)
        for _ in range(3):
            _tick(rig, robot.state()[1], outs)
        assert _estop(rig, True).success
        ticks, step = len(rig.ticks), rig.node.policy.step_count
        for _ in range(3):
            x, msgs = robot.state()
            before = len(outs)
            rig.feed(msgs)
            rig.advance(1)
            rig.spin_until(lambda: len(outs) > before, what="e-stop output")  # noqa: B023 (waited on before the loop moves on)
            np.testing.assert_allclose(
                outs[-1].position, np.clip(x["obj.robot.joints.pos"].reshape(-1), LOWER, UPPER), rtol=1e-6
            )
            np.testing.assert_allclose(
                outs[-1].effort, -2.0 * x["obj.robot.joints.vel"].reshape(-1), rtol=1e-5, atol=1e-6
            )
        assert len(rig.ticks) == ticks and rig.node.policy.step_count == step  # the policy stopped
        assert "released" in _estop(rig, False).message
        x, msgs = robot.state()
        first = _tick(rig, msgs, outs)
        np.testing.assert_array_equal(first.effort, np.zeros(12))
        for _ in range(3):
            _tick(rig, robot.state()[1], outs)
        rig.spin_until(lambda: states[-1:] == ["running"], what="running after release")
        assert states == ["waiting", "starting", "running", "estop", "starting", "running"]


def test_limits_from_the_file_and_a_limits_file_clamp_and_are_counted(legged_file, tmp_path):
    group = read_metadata(legged_file).group("output.joint_targets.pd").metadata
    np.testing.assert_allclose(np.array(group["position_limits"]).T, [LOWER, UPPER])
    np.testing.assert_allclose(group["effort_limits"], EFFORT_LIMIT)
    limits = tmp_path / "limits.yaml"
    limits.write_text("joints:\n  FL_hip: {effort: 0.5}\n  FR_thigh: {position: [0.0, 0.1], effort: 0.25}\n")
    lower, upper, elim = LOWER.copy(), UPPER.copy(), EFFORT_LIMIT.copy()
    hip, thigh = JOINT_NAMES.index("FL_hip"), JOINT_NAMES.index("FR_thigh")
    elim[hip], elim[thigh], lower[thigh], upper[thigh] = 0.5, 0.25, 0.0, 0.1
    robot, ref = Robot(5), Reference(legged_file)
    with Rig(legged_file, params=_params(soft_start_s=0.0, limits_file=str(limits))) as rig:
        outs = rig.collect(TARGETS, JointState)
        diags = rig.collect("/diagnostics", DiagnosticArray)
        clamps = 0
        for k in range(8):
            x, msgs = robot.state()
            msg = _tick(rig, msgs, outs)
            exp = ref.run(x, k)
            raw_pos, raw_eff = exp[POS].reshape(-1).astype(np.float64), exp[EFFORT].reshape(-1).astype(np.float64)
            np.testing.assert_allclose(msg.position, np.clip(raw_pos, lower, upper), rtol=1e-6)
            np.testing.assert_allclose(msg.effort, np.clip(raw_eff, -elim, elim), rtol=1e-6)
            clamps += int(np.sum(np.abs(raw_eff) > elim + 1e-6))
        assert clamps > 0
        rig.spin_until(lambda: diags and _values(diags[-1]).get("effort_clamps") == str(clamps), what="clamp count")


def test_an_unmeasured_output_joint_fails_configure_only_with_a_soft_start(legged_file, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "components:\n  output.joint_targets.pd: {names: [" + ", ".join(f"m{j}" for j in range(12)) + "]}\n"
    )
    with Rig(legged_file, params={"soft_start_s": 0.5, "mapping_file": str(mapping)}) as rig:
        assert rig.node.start_failed and rig.node.lifecycle_state == "unconfigured"
    with Rig(legged_file, params={"soft_start_s": 0, "mapping_file": str(mapping)}) as rig:  # an int for a double
        assert not rig.node.start_failed and rig.node.lifecycle_state == "active"


def test_wall_clock_ticking_walks_the_states_and_estop_stops_the_policy(legged_file):
    robot = Robot(6)
    with Rig(legged_file, sim_time=False, params=_params(soft_start_s=0.05)) as rig:
        states = _states(rig)
        outs = rig.collect(TARGETS, JointState)
        for topic, msg in robot.state()[1].items():
            rig.publish(topic, msg)
        rig.spin_until(lambda: states[-1:] == ["running"], what="running on the wall clock")
        assert states == ["waiting", "starting", "running"]
        assert _estop(rig, True).success
        rig.spin_for(0.05)
        step = rig.node.policy.step_count
        count = len(outs)
        rig.spin_until(lambda: len(outs) > count + 5, what="e-stop outputs")
        assert rig.node.policy.step_count == step and states[-1] == "estop"
