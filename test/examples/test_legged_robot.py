"""The legged-robot example in plain torch: dynamics, observations, hooks, actors, resets."""

from __future__ import annotations

import math

import pytest
import torch

from exploy.examples.legged_robot import (
    JOINT_NAMES,
    LeggedRobotEnv,
    make_lstm_example,
    make_mlp_example,
)
from exploy.examples.quadruped_sim import quat_integrate, quat_rotate_inverse

SQRT_HALF = math.sqrt(0.5)


def _state(env: LeggedRobotEnv) -> dict[str, torch.Tensor]:
    sim = env.sim
    tensors = {
        "joint_pos": sim.joint_pos,
        "joint_vel": sim.joint_vel,
        "base_quat": sim.base_quat,
        "base_ang_vel": sim.base_ang_vel,
        "command": sim.command,
        "last_actions": env.last_actions,
        "joint_pos_target": env.joint_pos_target,
        "joint_pos_history": env.joint_pos_history,
        "joint_effort": env.joint_effort,
        "joint_pos_command": env.joint_pos_command,
    }
    return {k: v.clone() for k, v in tensors.items()}


def test_joint_names_and_default_stance() -> None:
    env = LeggedRobotEnv()
    assert len(JOINT_NAMES) == 12
    assert JOINT_NAMES[:3] == ("FL_hip", "FL_thigh", "FL_calf")
    assert JOINT_NAMES[-1] == "RR_calf"
    expected = [0.1, 0.8, -1.5, -0.1, 0.8, -1.5, 0.1, 0.8, -1.5, -0.1, 0.8, -1.5]
    torch.testing.assert_close(env.sim.default_joint_pos, torch.tensor([expected]))


def test_pd_effort_matches_hand_computed_values_with_clamping() -> None:
    env = LeggedRobotEnv()  # kp=25, kd=0.6, action_scale=0.25
    default = env.sim.default_joint_pos
    env.sim.joint_pos[:] = default + 0.02
    env.sim.joint_vel[:] = 0.5
    actions = torch.full((1, 12), 0.4)
    actions[0, 1] = 10.0  # FL_thigh: target 3.3 (inside limits), effort 61.7 -> +23.7
    actions[0, 2] = -10.0  # FL_calf: target -4.0 -> position limit -2.7, effort -30.8 (< 35.5)
    actions[0, 4] = -10.0  # FR_thigh: target -1.7 -> position limit -1.0, effort -45.8 -> -23.7

    env.process_actions(actions)
    env.apply_actions()

    # Unsaturated: 25 * (0.25 * 0.4 - 0.02) - 0.6 * 0.5 = 1.7
    expected_effort = torch.full((1, 12), 1.7)
    expected_effort[0, 1] = 23.7
    expected_effort[0, 2] = -30.8  # 25 * (-2.7 - (-1.48)) - 0.3
    expected_effort[0, 4] = -23.7
    torch.testing.assert_close(env.joint_effort, expected_effort, rtol=0, atol=1e-5)
    expected_target = default + 0.1
    expected_target[0, 1] = 3.3
    expected_target[0, 2] = -4.0
    expected_target[0, 4] = -1.7
    torch.testing.assert_close(env.joint_pos_target, expected_target, rtol=0, atol=1e-6)
    expected_command = expected_target.clone()
    expected_command[0, 2] = -2.7
    expected_command[0, 4] = -1.0
    torch.testing.assert_close(env.joint_pos_command, expected_command, rtol=0, atol=1e-6)


def test_one_sim_tick_integrates_joint_dynamics_semi_implicitly() -> None:
    env = LeggedRobotEnv()  # dt=0.005, hip inertia 0.03, damping 0.05
    q0 = env.sim.joint_pos.clone()
    env.sim.joint_vel[:] = 0.5
    effort = torch.zeros(1, 12)
    effort[0, 0] = 1.7
    env.sim.step(effort)
    # FL_hip: qdd = (1.7 - 0.05 * 0.5) / 0.03 = 55.8333; qd = 0.5 + 0.005 * qdd; q += 0.005 * qd
    qd = 0.5 + 0.005 * (1.7 - 0.025) / 0.03
    assert env.sim.joint_vel[0, 0].item() == pytest.approx(qd, abs=1e-5)
    assert env.sim.joint_pos[0, 0].item() == pytest.approx(q0[0, 0].item() + 0.005 * qd, abs=1e-6)
    # FL_thigh, no effort: only damping, inertia 0.05.
    qd_thigh = 0.5 + 0.005 * (-0.025) / 0.05
    assert env.sim.joint_vel[0, 1].item() == pytest.approx(qd_thigh, abs=1e-6)


@pytest.mark.parametrize(
    ("quat", "expected"),
    [
        ((1.0, 0.0, 0.0, 0.0), (0.0, 0.0, -1.0)),  # level
        ((SQRT_HALF, SQRT_HALF, 0.0, 0.0), (0.0, -1.0, 0.0)),  # roll +90°: R_x(90)^T (0, 0, -1)
        ((SQRT_HALF, 0.0, SQRT_HALF, 0.0), (1.0, 0.0, 0.0)),  # pitch +90°: R_y(90)^T (0, 0, -1)
        ((SQRT_HALF, 0.0, 0.0, SQRT_HALF), (0.0, 0.0, -1.0)),  # yaw does not move gravity
    ],
)
def test_projected_gravity_matches_rotation_matrix(quat: tuple, expected: tuple) -> None:
    env = LeggedRobotEnv()
    env.sim.base_quat[:] = torch.tensor([quat])
    torch.testing.assert_close(env.projected_gravity(), torch.tensor([expected]), rtol=0, atol=1e-6)
    obs = env.compute_observations()
    names = env.get_observation_names()
    start = names.index("projected_gravity_x")
    torch.testing.assert_close(obs[:, start : start + 3], torch.tensor([expected]), rtol=0, atol=1e-6)


def test_quat_rotate_inverse_agrees_with_rotation_matrix() -> None:
    angle = 0.7
    quat = torch.tensor([[math.cos(angle / 2), 0.0, 0.0, math.sin(angle / 2)]])  # yaw
    vec = torch.tensor([[1.0, 2.0, 3.0]])
    c, s = math.cos(angle), math.sin(angle)
    expected = torch.tensor([[c * 1.0 + s * 2.0, -s * 1.0 + c * 2.0, 3.0]])  # R_z^T v
    torch.testing.assert_close(quat_rotate_inverse(quat, vec), expected, rtol=0, atol=1e-6)


def test_quaternion_integration_stays_unit_and_tracks_the_rotation() -> None:
    quat = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    omega = torch.tensor([[0.0, 0.0, 2.0]])
    for _ in range(200):  # 1 s at 2 rad/s about z
        quat = quat_integrate(quat, omega, 0.005)
        assert abs(quat.norm().item() - 1.0) < 1e-6
    torch.testing.assert_close(quat, torch.tensor([[math.cos(1.0), 0.0, 0.0, math.sin(1.0)]]), rtol=0, atol=5e-3)


def test_base_quaternion_stays_unit_over_a_rollout() -> None:
    env = LeggedRobotEnv()
    with torch.no_grad():
        for _ in range(49):  # no reset
            env.step(torch.zeros(1, 12))
            assert abs(env.sim.base_quat.norm().item() - 1.0) < 1e-6
    assert env.sim.base_quat[0, 0].item() < 0.999  # the base did rotate


def test_observation_layout_and_names() -> None:
    env = LeggedRobotEnv()
    obs = env.compute_observations()
    names = env.get_observation_names()
    assert obs.shape == (1, 81) == env.empty_actor_observations().shape
    assert len(names) == len(set(names)) == 81
    sim = env.sim

    def part(first: str, width: int) -> torch.Tensor:
        start = names.index(first)
        return obs[:, start : start + width]

    torch.testing.assert_close(part("base_ang_vel_x", 3), sim.base_ang_vel * 0.25)
    torch.testing.assert_close(part("cmd_vx", 3), sim.command * torch.tensor([[2.0, 2.0, 0.25]]))
    torch.testing.assert_close(part("joint_pos_rel_FL_hip", 12), sim.joint_pos - sim.default_joint_pos)
    torch.testing.assert_close(part("joint_vel_FL_hip", 12), sim.joint_vel * 0.05)
    torch.testing.assert_close(part("last_action_FL_hip", 12), env.last_actions)
    torch.testing.assert_close(part("joint_pos_rel_lag3_FL_hip", 36), env.joint_pos_history)


def test_process_actions_pushes_current_joints_into_history() -> None:
    env = LeggedRobotEnv()
    env.joint_pos_history[:] = torch.arange(36.0).reshape(1, 36)
    rel = env.sim.joint_pos - env.sim.default_joint_pos
    actions = torch.linspace(-1.0, 1.0, 12).reshape(1, 12)
    env.process_actions(actions)
    torch.testing.assert_close(env.last_actions, actions)
    torch.testing.assert_close(env.joint_pos_history[:, :24], torch.arange(12.0, 36.0).reshape(1, 24))
    torch.testing.assert_close(env.joint_pos_history[:, 24:], rel)


def test_hooks_are_called_in_documented_order_after_apply_actions() -> None:
    env = LeggedRobotEnv()
    calls: list[str] = []

    def substep(i: int) -> None:
        calls.append(f"substep{i}")
        # apply_actions() ran just before, on the current (not yet stepped) joint state.
        target = env.clamped_target()
        expected = env.pd_effort(target)
        torch.testing.assert_close(env.joint_effort, expected)

    env.register_evaluation_hooks(
        update=lambda: calls.append("update"), reset=lambda: calls.append("reset"), evaluate_substep=substep
    )
    actions = torch.full((1, 12), 0.3)
    env.step(actions)
    assert calls == ["substep0", "update", "substep1", "update", "substep2", "update", "substep3", "update"]

    for _ in range(48):
        calls.clear()
        _, done = env.step(actions)
        assert not done
    calls.clear()
    _, done = env.step(actions)
    assert done
    assert calls[-3:] == ["update", "reset", "update"]
    assert calls.count("reset") == 1


def test_episode_resets_after_fixed_number_of_steps_to_initial_state() -> None:
    env = LeggedRobotEnv()
    initial = _state(env)
    initial_obs = env.compute_observations()
    dones = []
    with torch.no_grad():
        for _ in range(50):
            obs, done = env.step(torch.full((1, 12), 0.5))
            dones.append(done)
    assert dones == [False] * 49 + [True]
    assert env.episode_step == 0 and env.sim.tick == 0
    for key, value in _state(env).items():
        torch.testing.assert_close(value, initial[key], msg=f"{key} not restored")
    torch.testing.assert_close(obs, initial_obs)


def test_reset_restores_initial_state_in_place() -> None:
    env = LeggedRobotEnv()
    initial = _state(env)
    ids = {k: id(v) for k, v in vars(env.sim).items() if isinstance(v, torch.Tensor)}
    with torch.no_grad():
        for _ in range(10):
            env.step(torch.full((1, 12), -0.5))
    assert not torch.equal(env.sim.joint_pos, initial["joint_pos"])
    env.reset()
    for key, value in _state(env).items():
        torch.testing.assert_close(value, initial[key], msg=f"{key} not restored")
    assert {k: id(v) for k, v in vars(env.sim).items() if isinstance(v, torch.Tensor)} == ids


def test_command_follows_deterministic_schedule() -> None:
    env = LeggedRobotEnv()
    seen = []
    with torch.no_grad():
        for _ in range(49):
            env.step(torch.zeros(1, 12))
            seen.append(tuple(round(v, 6) for v in env.sim.command[0].tolist()))
    assert seen[0] == (0.5, 0.0, 0.0)
    assert seen[24] == (0.3, 0.2, 0.0)  # 25 policy steps = 100 sim ticks
    assert len(set(seen)) == 2


def test_components_return_the_tensors_the_environment_reads() -> None:
    env = LeggedRobotEnv()
    cm = env.context_manager()
    by_name = {entry.name: entry for entry in cm.components}
    identities = {
        "obj.robot.joints.pos": env.sim.joint_pos,
        "obj.robot.joints.vel": env.sim.joint_vel,
        "obj.robot.base.w_Q_b": env.sim.base_quat,
        "obj.robot.base.ang_vel_b_rt_w_in_b": env.sim.base_ang_vel,
        "cmd.se2_velocity.base_velocity": env.sim.command,
        "output.joint_targets.pd.effort": env.joint_effort,
        "output.joint_targets.pd.pos": env.joint_pos_command,
        "output.joint_targets.pd.vel": env.joint_vel_command,
        "last_actions": env.last_actions,
        "joint_pos_target": env.joint_pos_target,
        "joint_pos_history": env.joint_pos_history,
    }
    assert set(by_name) == set(identities)
    for name, tensor in identities.items():
        assert by_name[name].read() is tensor, name
    groups = {g.name: g for g in cm.groups}
    assert groups["obj.robot.joints"].metadata == {"joint_names": list(JOINT_NAMES)}
    targets = groups["output.joint_targets.pd"].metadata
    assert targets["names"] == list(JOINT_NAMES)
    assert (
        targets["position_limits"][:3] == [[-0.8, 0.8], [-1.0, 3.5], [-2.7, -0.9]]
        and len(targets["position_limits"]) == 12
    )
    assert targets["effort_limits"] == [23.7, 23.7, 35.5] * 4
    assert targets["type"] == "joint_targets"
    assert targets["stiffness"] == [env.cfg.kp] * len(JOINT_NAMES) and targets["damping"] == [env.cfg.kd] * len(
        JOINT_NAMES
    )
    assert {m.name for m in cm.memories()} == {"last_actions", "joint_pos_target", "joint_pos_history"}
    assert env.sim_dt == 0.005 and env.decimation == 4
    assert all(isinstance(v, str) for v in env.metadata().values())


def test_mlp_actor_is_deterministic_per_seed() -> None:
    env, actor_a = make_mlp_example()
    _, actor_b = make_mlp_example()
    _, actor_c = make_mlp_example(seed=1)
    obs = env.compute_observations()
    with torch.no_grad():
        torch.testing.assert_close(actor_a(obs), actor_b(obs), rtol=0, atol=0)
        assert not torch.allclose(actor_a(obs), actor_c(obs))
    assert actor_a(obs).shape == (1, 12)
    assert not actor_a.training


def test_factory_does_not_disturb_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_mlp_example()
    torch.testing.assert_close(torch.rand(3), expected)


def test_lstm_actor_is_deterministic_and_resets_its_state() -> None:
    def rollout() -> list[torch.Tensor]:
        env, actor = make_lstm_example()
        actor.reset(torch.tensor([True]))
        obs = env.compute_observations()
        outs = []
        with torch.no_grad():
            for _ in range(5):
                act = actor(obs)
                outs.append(act)
                obs, _ = env.step(act)
        return outs

    for a, b in zip(rollout(), rollout()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)

    env, actor = make_lstm_example()
    state = actor.get_state()
    assert state is not None and len(state) == 2
    assert all(s.shape == (1, 1, 32) and s.abs().sum() > 0 for s in state)
    with torch.no_grad():
        actor.reset(torch.tensor([True]))
    assert all(torch.count_nonzero(s) == 0 for s in actor.get_state())
    names = {m.name for m in env.context_manager().memories()}
    assert {"actor_hidden_state_0", "actor_hidden_state_1"} <= names


def test_lstm_state_carries_information_across_steps() -> None:
    env, actor = make_lstm_example()
    obs = env.compute_observations()
    with torch.no_grad():
        actor.reset(torch.tensor([True]))
        first = actor(obs)
        second = actor(obs)
    assert not torch.allclose(first, second)
