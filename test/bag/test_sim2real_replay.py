"""Classic sim-to-real bugs at record and replay time: each is real (the deployment's outputs
differ from the simulator's), caught with the culprit named, and its correct twin passes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from bag_helpers import rewrite_bag
from sim2real_envs import DECIMATION, Actor, Bugs, RobotEnv, make

from exploy.bag.compare import compare_outputs
from exploy.bag.errors import BagError
from exploy.bag.recorder import record
from exploy.bag.replay import load_for_replay, load_stages, replay_loaded, replay_offline, run_policy_with_stages
from exploy.cli.main import main
from exploy.format import names
from exploy.runtime.policy import Policy

STEPS = 12  # the robot's episode is 8 policy steps: one reset, before tick 32
EXPECTED = "/exploy/expected/policy_node/output/joint_targets/pd"


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    """The correct robot exported, and a bag of it."""
    made = make(Bugs(), tmp_path_factory.mktemp("twin"))
    bag = tmp_path_factory.mktemp("bags") / "twin"
    result = record(RobotEnv(Bugs()), Actor().eval(), made.policy, bag, num_steps=STEPS)
    return made, bag, result


def test_correct_twin_records_without_warnings_and_replays_with_every_stage(twin, tmp_path, capsys):
    made, bag, result = twin
    assert result.warnings == [] and result.meta.sampling == "substep"
    code = main(
        ["replay", str(bag), "--policy", str(made.policy), "--out", str(tmp_path / "r"), "--quiet", "--no-plot"]
    )
    assert code == 0, capsys.readouterr()
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["ok"] and summary["stages"] == {}  # outputs match: the stages are not needed
    # The stages the bag carries all match, too (compared when asked for explicitly).
    policy, recording, warnings = load_for_replay(bag, made.policy)
    result = replay_loaded(policy, recording, stages=load_stages(bag, recording, policy), bag=bag)
    assert result.ok
    actual, produced = run_policy_with_stages(policy, recording)
    stages = load_stages(bag, recording, policy)
    full = compare_outputs(recording, actual, mode="offline", bag=str(bag), policy=str(made.policy),
                           stages=stages, produced_stages=produced)
    assert set(full.stages) == {"obs", "actions", "memory.last_actions", "memory.targets"}
    assert all(s.ok and s.compared_ticks == STEPS for s in full.stages.values())


# -- 1. decimation ------------------------------------------------------------------------------


def test_recorder_refuses_an_environment_whose_substeps_are_not_its_decimation(twin, tmp_path, capsys):
    made, _, _ = twin
    with pytest.raises(BagError, match=r"decimation mismatch: policy step 0 ran 2 sim substep\(s\)"):
        record(RobotEnv(Bugs(real_substeps=2)), Actor().eval(), made.policy, tmp_path / "bad", num_steps=3)
    args = [
        "record",
        "sim2real_envs:decimation_bug_factory",
        "--policy",
        str(made.policy),
        "--out",
        str(tmp_path / "cli"),
        "--quiet",
    ]
    assert main(args) == 2
    assert "decimation mismatch" in capsys.readouterr().err


def test_bag_whose_policy_steps_lack_ticks_is_a_bad_bag_naming_the_step(twin, tmp_path, capsys):
    made, bag, _ = twin
    dt = 10_000_000
    t0 = 1_000_000_000
    # What an older recorder wrote for a 2-substep simulator: expected values on 2 of 4 ticks.
    short = rewrite_bag(
        bag,
        tmp_path / "short",
        lambda t, m, ts, raw: None if t == EXPECTED and ((ts - t0) // dt) % DECIMATION >= 2 else (t, m, raw),
    )
    assert main(["replay", str(short), "--policy", str(made.policy), "--quiet", "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert "policy step 0 (ticks 0..3)" in err and "tick(s) [2, 3]" in err and "decimation" in err


# -- 2., 3. invariants at record time -------------------------------------------------------------


def test_recorder_names_an_input_rewritten_outside_the_exported_path(tmp_path):
    made = make(Bugs(rescale_command=True), tmp_path / "p")
    result = record(RobotEnv(Bugs(rescale_command=True)), Actor().eval(), made.policy, tmp_path / "bag", num_steps=4)
    (warning,) = result.warnings
    assert warning.startswith("rewritten input") and "'cmd.se2_velocity.base'" in warning
    # Real: replay matches (the bag holds the rewritten command), so only this check sees it.
    assert replay_offline(tmp_path / "bag", made.policy).ok


def test_recorder_names_a_quaternion_stored_in_the_other_order(tmp_path):
    made = make(Bugs(quaternion_xyzw=True), tmp_path / "p")
    result = record(RobotEnv(Bugs(quaternion_xyzw=True)), Actor().eval(), made.policy, tmp_path / "bag", num_steps=6)
    assert any("quaternion convention: 'obj.robot.base.w_Q_b' is declared w,x,y,z" in w for w in result.warnings)


# -- 4. first divergence at the earliest stage ---------------------------------------------------


class GyroScaled(RobotEnv):
    """The simulator scales the yaw rate in its observations; the exported file did not."""

    def compute_observations(self) -> torch.Tensor:
        return super().compute_observations() * torch.tensor([1.0] * 9 + [2.0] + [1.0] * 4)


def test_first_divergence_is_the_observation_entry_by_name(twin, tmp_path):
    made, _, _ = twin
    record(GyroScaled(), Actor().eval(), made.policy, tmp_path / "bag", num_steps=4)
    result = replay_offline(tmp_path / "bag", made.policy)
    assert not result.outputs["output.joint_targets.pd.effort"].ok  # real: the efforts differ
    first = result.first_divergence
    assert (first.tick, first.component) == (0, "obs")
    assert "observation 'gyro_z'" in first.reason


# -- 5. labels -----------------------------------------------------------------------------------


class KneeGain(RobotEnv):
    def apply_actions(self) -> None:
        self.effort[:] = 20.0 * (self.targets - self.joint_pos) * torch.tensor([[1.0, 1.5]])


def test_replay_labels_outputs_by_joint_name(twin, tmp_path, capsys):
    made, _, _ = twin
    record(KneeGain(), Actor().eval(), made.policy, tmp_path / "bag", num_steps=2)
    assert (
        main(
            [
                "replay",
                str(tmp_path / "bag"),
                "--policy",
                str(made.policy),
                "--out",
                str(tmp_path / "r"),
                "--quiet",
                "--no-plot",
            ]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert "output effort[knee] is" in out
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["outputs"]["output.joint_targets.pd.effort"]["first_diverging_entry"] == "effort[knee]"


# -- 6. a changed policy file ----------------------------------------------------------------------


def test_allowed_policy_mismatch_says_what_differs(twin, tmp_path):
    made, bag, _ = twin
    other = make(Bugs(), tmp_path / "other")
    with torch.no_grad():
        other.actor.net[2].bias += 0.25  # new weights for the last layer only
    from exploy.exporter.core.exporter import export_environment_as_onnx

    path = export_environment_as_onnx(env=RobotEnv(Bugs()), actor=other.actor, path=tmp_path / "new")
    result = replay_offline(bag, path, allow_policy_mismatch=True)
    assert not result.ok
    lines = [w for w in result.warnings if "initializer" in w]
    assert any("'default/actor.net.2.bias' float32[2]: 2/2 values changed, max abs change 0.25" in w for w in lines)
    assert not any("net.0" in w or "net.2.weight" in w for w in lines)  # the unchanged weights are not listed


# -- 10. memory not carried / reset value not exported ------------------------------------------------


def test_memory_reset_value_not_exported_is_named(tmp_path):
    made = make(Bugs(reset_actions_to=0.3), tmp_path / "p")
    record(RobotEnv(Bugs(reset_actions_to=0.3)), Actor().eval(), made.policy, tmp_path / "bag", num_steps=STEPS)
    result = replay_offline(tmp_path / "bag", made.policy)
    assert not result.outputs["output.joint_targets.pd.effort"].ok  # real
    first = result.first_divergence
    assert first.component == "memory.last_actions" and first.tick == 0
    assert "right after a reset" in first.reason and "initial_value" in first.reason
    # The twin: the reset value exported as the memory's initial value.
    fixed = make(Bugs(reset_actions_to=0.3, declare_initial_actions=True), tmp_path / "fixed")
    bugs = Bugs(reset_actions_to=0.3, declare_initial_actions=True)
    record(RobotEnv(bugs), Actor().eval(), fixed.policy, tmp_path / "bag2", num_steps=STEPS)
    assert replay_offline(tmp_path / "bag2", fixed.policy).ok


class DroppingPolicy(Policy):
    """A deployment runtime that does not carry memory ``last_actions`` between ticks."""

    def step(self, inputs, *, validate=True):
        result = super().step(inputs, validate=validate)
        key = names.memory_input_name("last_actions")
        self._memory[key] = np.zeros_like(self._memory[key])
        return result


def test_runtime_dropping_a_memory_is_named(twin):
    made, bag, _ = twin
    _, recording, warnings = load_for_replay(bag, made.policy)
    policy = DroppingPolicy(made.policy)
    result = replay_loaded(policy, recording, stages=load_stages(bag, recording, policy), bag=bag, warnings=warnings)
    assert not result.outputs["output.joint_targets.pd.effort"].ok  # real
    first = result.first_divergence
    assert (first.tick, first.component) == (DECIMATION, "memory.last_actions")
    assert "did not carry 'last_actions'" in first.reason
