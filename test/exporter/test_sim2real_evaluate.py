"""Classic sim-to-real bugs seeded into a small robot: each is real (the deployment differs from
the simulator), caught at export or by evaluate with the culprit named, and its correct twin passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sim2real_envs import DECIMATION, JOINTS, Bugs, RobotEnv, capture, make

from exploy.exporter.core.errors import EvaluationError, ExportError
from exploy.exporter.core.evaluator import evaluate, run_evaluation
from exploy.exporter.core.session_wrapper import SessionWrapper
from exploy.format import read_metadata
from exploy.runtime.policy import Policy

STEPS = 20


def _evaluate(made, **kwargs):
    session = SessionWrapper(onnx_folder=made.policy.parent, onnx_file_name=made.policy.name, actor=made.actor)
    with torch.inference_mode():
        return run_evaluation(made.env, made.env.context_manager(), session, STEPS, **kwargs)


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    """The correct robot, exported once."""
    return make(Bugs(), tmp_path_factory.mktemp("twin"))


def test_correct_twin_passes_every_check(twin):
    report = _evaluate(twin)
    assert report.ok, report.summary()
    assert report.per_substep and report.steps == STEPS


def _deploy(policy_path, ticks):
    """The deployment: the file run tick by tick by the runtime on what the robot reads."""
    policy = Policy(policy_path)
    return [policy.step(inputs) for inputs in ticks]


# -- 1. decimation -----------------------------------------------------------------------------


def test_decimation_mismatch_is_real_and_named(tmp_path):
    made = make(Bugs(real_substeps=2), tmp_path)
    # Real: the simulator ran its policy every 2 ticks, the file every 4; the efforts differ.
    cap = capture(RobotEnv(Bugs(real_substeps=2)), made.actor, 6)
    deployed = np.array([r.outputs["output.joint_targets.pd.effort"] for r in _deploy(made.policy, cap.inputs)])
    sim = np.array([o["output.joint_targets.pd.effort"] for o in cap.outputs])
    assert len(cap.outputs) == 12 and np.abs(deployed - sim).max() > 1e-2
    report = _evaluate(made)
    assert not report.ok
    text = report.summary()
    assert "decimation mismatch: policy step 0 ran 2 sim substep(s)" in text and "decimation is 4" in text


# -- 2. sim-only code rewrites an input ----------------------------------------------------------


def test_input_rewritten_outside_the_exported_path_is_real_and_named(tmp_path):
    made = make(Bugs(rescale_command=True), tmp_path)
    cap = capture(RobotEnv(Bugs(rescale_command=True)), made.actor, 3)
    # Real: the robot sends the command the sensors/operator gave (as at the last update());
    # the file computes a different observation from it than the simulator's actor got.
    robot_inputs = cap.update_inputs[0]
    obs = Policy(made.policy).step(robot_inputs).obs
    assert np.abs(obs[0, :3] - cap.obs[1][0, :3]).max() > 1e-3
    report = _evaluate(made)
    assert not report.ok and not report.mismatches  # every comparison matches: only the invariant sees it
    assert any("rewritten input" in p and "'cmd.se2_velocity.base'" in p and "before policy step 1" in p
               for p in report.problems)
    assert len(report.problems) == 1  # reported once, not per step


# -- 3. quaternion convention -------------------------------------------------------------------


def test_quaternion_order_is_recorded_in_the_file(twin):
    comp = read_metadata(twin.policy).component("obj.robot.base.w_Q_b")
    assert comp.metadata["quaternion_order"] == "wxyz"


def test_quaternion_stored_xyzw_is_real_and_named(tmp_path):
    made = make(Bugs(quaternion_xyzw=True), tmp_path)
    cap = capture(RobotEnv(Bugs(quaternion_xyzw=True)), made.actor, 2)
    # Real: the robot's IMU driver gives the true orientation, which the node hands the file as
    # w,x,y,z (what w_Q_b means); the simulator's actor got x,y,z,w in that slot.
    robot = dict(cap.inputs[4])
    stored = robot["obj.robot.base.w_Q_b"]
    robot["obj.robot.base.w_Q_b"] = stored[:, [3, 0, 1, 2]]
    obs = Policy(made.policy).step(robot).obs
    assert np.abs(obs[0, 3:7] - cap.obs[1][0, 3:7]).max() > 0.1
    report = _evaluate(made)
    assert not report.ok and not report.mismatches
    (problem,) = report.problems
    assert "'obj.robot.base.w_Q_b' is declared w,x,y,z" in problem and "stores x,y,z,w" in problem


def test_quaternion_declared_xyzw_passes(tmp_path):
    """The same simulator, with the convention declared: no false alarm."""

    class Declared(RobotEnv):
        def _register(self) -> None:
            super()._register()
            entry = next(e for e in self.context_manager().inputs() if e.name.endswith("w_Q_b"))
            entry.component.metadata = {"quaternion_order": "xyzw"}

    made = make(Bugs(quaternion_xyzw=True))
    made.env = Declared(Bugs(quaternion_xyzw=True))
    from exploy.exporter.core.exporter import export_environment_as_onnx

    made.policy = export_environment_as_onnx(env=made.env, actor=made.actor, path=tmp_path)
    assert read_metadata(made.policy).component("obj.robot.base.w_Q_b").metadata["quaternion_order"] == "xyzw"
    report = _evaluate(made)
    assert report.ok, report.summary()


# -- 5. labels by joint name ---------------------------------------------------------------------


class KneeGain(RobotEnv):
    """The simulator's knee gain differs from the exported one (a sim-only change)."""

    def apply_actions(self) -> None:
        self.effort[:] = 20.0 * (self.targets - self.joint_pos) * torch.tensor([[1.0, 1.5]])


def test_output_mismatch_is_labelled_by_joint_name(twin):
    made = make(Bugs())
    made.env, made.policy = KneeGain(), twin.policy
    report = _evaluate(made)
    first = report.mismatches[0]
    assert first.name == "output.joint_targets.pd.effort"
    assert first.entries == ("effort[knee]",)  # the hip matches; named, not effort[1]
    assert JOINTS[1] in report.summary()


# -- 7. randomness left in the graph ------------------------------------------------------------


def test_random_op_in_the_graph_is_named(tmp_path):
    made = make(Bugs(actor_noise=True))
    obs = made.env.compute_observations()
    assert not torch.equal(made.actor(obs), made.actor(obs))  # real: the policy is not deterministic
    with pytest.raises(ExportError, match=r"random op\(s\) \['RandomNormalLike") as err:
        make(Bugs(actor_noise=True), tmp_path)
    assert "in-place write" not in str(err.value)


def test_randomness_outside_the_graph_is_named_not_blamed_on_in_place_writes(tmp_path):
    with pytest.raises(ExportError, match="not deterministic: two eager runs on the same inputs disagree on") as err:
        make(Bugs(numpy_noise=True), tmp_path)
    assert "'obs'" in str(err.value) and "in-place write" not in str(err.value)


# -- 9. dtype -----------------------------------------------------------------------------------


def test_float64_observation_into_float32_actor_names_the_tensor(tmp_path):
    made = make(Bugs(command_float64=True))
    with pytest.raises(RuntimeError, match="dtype"):  # real: torch's own message names no tensor
        made.actor(made.env.compute_observations())
    with pytest.raises(ExportError) as err:
        make(Bugs(command_float64=True), tmp_path)
    text = str(err.value)
    assert "float64" in text and "'cmd.se2_velocity.base'" in text and "obs.to(torch.float32)" in text


def test_float64_observation_in_evaluate_names_the_tensor(twin):
    """The simulator switched the command to float64 after the export: evaluate names it too."""
    made = make(Bugs(command_float64=True))
    made.policy = twin.policy
    with pytest.raises(EvaluationError, match=r"dtype mismatch: .*\['cmd.se2_velocity.base'\].*torch.float32"):
        _evaluate(made)


# -- issue 8 part 4: upstream's evaluation API --------------------------------------------------


def test_upstream_positional_call_fails_loudly(twin):
    session = SessionWrapper(onnx_folder=twin.policy.parent, onnx_file_name=twin.policy.name, actor=twin.actor)
    with pytest.raises(EvaluationError, match="keyword only.*num_episodes=E, max_episode_steps=S"):
        evaluate(twin.env, twin.env.context_manager(), session, 1, 20)
    with pytest.raises(TypeError):
        from exploy.exporter.core.exporter import export_environment_as_onnx

        export_environment_as_onnx(twin.env, twin.actor, twin.policy.parent, "other.onnx")


def test_upstream_episode_form_runs_episodes_of_bounded_length(twin):
    made = make(Bugs())
    steps = []
    original = made.env.step
    made.env.step = lambda actions: (steps.append(1), original(actions))[1]
    session = SessionWrapper(onnx_folder=twin.policy.parent, onnx_file_name=twin.policy.name, actor=made.actor)
    with torch.inference_mode():
        ok, _ = evaluate(made.env, made.env.context_manager(), session, num_episodes=3, max_episode_steps=5,
                         verbose=False, pause_on_failure=False)
    # Episode 1: 5 steps (the bound); episode 2 ends after 3, when the environment's own episode
    # of 8 steps resets it (observations_reset() does not reset this env); episode 3: 5 steps.
    assert ok and len(steps) == 5 + 3 + 5
    with pytest.raises(EvaluationError, match="go together"):
        evaluate(made.env, made.env.context_manager(), session, num_episodes=3, verbose=False)


class TwoHookEnv(RobotEnv):
    """Upstream's current hook form: update and evaluate_substep, passed by keyword."""

    def register_evaluation_hooks(self, update, evaluate_substep) -> None:  # type: ignore[override]
        self.hooks = (update, None, evaluate_substep)


def test_upstream_two_hook_form_is_compared_at_every_substep(twin, tmp_path):
    made = make(Bugs())
    made.env, made.policy = TwoHookEnv(), twin.policy
    report = _evaluate(made)
    assert report.ok and report.per_substep
    assert report.comparisons == STEPS * (2 + 3 * DECIMATION)  # obs, actions; effort + 2 memories per tick
    buggy = make(Bugs(real_substeps=2))
    buggy.env = TwoHookEnv(Bugs(real_substeps=2))
    from exploy.exporter.core.exporter import export_environment_as_onnx

    buggy.policy = export_environment_as_onnx(env=buggy.env, actor=buggy.actor, path=tmp_path)
    assert "decimation mismatch" in _evaluate(buggy).summary()


def test_export_cli_evaluation_names_the_decimation_bug(tmp_path, capsys):
    from exploy.cli.main import main

    args = [
        "export",
        "sim2real_envs:decimation_bug_factory",
        "--out",
        str(tmp_path / "bad"),
        "--evaluate",
        "3",
        "--quiet",
    ]
    assert main(args) == 1
    assert "decimation mismatch: policy step 0 ran 2 sim substep(s)" in capsys.readouterr().out
    assert (
        main(["export", "sim2real_envs:twin_factory", "--out", str(tmp_path / "ok"), "--evaluate", "3", "--quiet"]) == 0
    )
