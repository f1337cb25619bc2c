"""evaluate() agrees when the file is right and names the culprit when it is not."""

from __future__ import annotations

import pytest
import torch
from tutorial_code import Actor, DataSource, Environment, ExportableEnv
from tutorial_variants import (
    HookedEnvironment,
    HookedExportableEnv,
    HookedTutorialEnvironment,
    add_rnn_actor,
    make_registered,
    register_tutorial_components,
)

from exploy.exporter.core.context_manager import Input, Memory, Output
from exploy.exporter.core.errors import SimRateWarning
from exploy.exporter.core.evaluator import evaluate, run_evaluation
from exploy.exporter.core.exporter import export_environment_as_onnx
from exploy.exporter.core.session_wrapper import SessionWrapper


def _export(exp_env, actor, folder, **kwargs):
    export_environment_as_onnx(env=exp_env, actor=actor, path=folder, **kwargs)
    return SessionWrapper(folder, "policy.onnx", actor=actor, optimize=False)


def _actor(exp_env):
    return Actor(num_obs=exp_env.env.num_obs, num_act=exp_env.env.num_act).eval()


def test_registered_env_passes_across_resets(tmp_path):
    exp_env = make_registered()
    actor = _actor(exp_env)
    session = _export(exp_env, actor, tmp_path)
    with torch.inference_mode():
        report = run_evaluation(exp_env, exp_env.context_manager(), session, 25)
    assert report.ok, report.summary()
    assert not report.per_substep
    # obs + actions + (out, 2 memories) per step, except on the 2 reset steps.
    assert report.comparisons == 25 * 2 + 23 * 3


def test_hooked_env_is_compared_at_every_substep(tmp_path):
    exp_env = make_registered(HookedEnvironment, HookedExportableEnv)
    actor = add_rnn_actor(exp_env)
    session = _export(exp_env, actor, tmp_path)
    with torch.inference_mode():
        report = run_evaluation(exp_env, exp_env.context_manager(), session, 25)
    assert report.ok, report.summary()
    assert report.per_substep
    # obs + actions per step; out + 4 memories (2 env, 2 LSTM) at each of 4 substeps.
    assert report.comparisons == 25 * 2 + 25 * 4 * 5


def test_unregistered_input_is_caught_and_named(tmp_path, capsys):
    exp_env = ExportableEnv(env=Environment(DataSource()))
    exp_env.context_manager().add_components(
        [
            Input(name="foo", get_from_env_cb=lambda: exp_env.env.data_source.foo),
            Output(name="out", get_from_env_cb=lambda: exp_env.env._output),
            Memory(name="actions", get_from_env_cb=lambda: exp_env.env._actions),
        ]
    )  # bar and baz are read by compute_obs() but not registered: baked in as constants.
    actor = _actor(exp_env)
    with pytest.warns(SimRateWarning):
        session = _export(exp_env, actor, tmp_path)
    with torch.inference_mode():
        ok, _ = evaluate(
            exp_env, exp_env.context_manager(), session, num_steps=5, verbose=False, pause_on_failure=False
        )
    assert not ok
    first = run_evaluation(exp_env, exp_env.context_manager(), session, 3).mismatches[0]
    assert first.name == "obs"
    assert set(first.entries) == {"bar_0", "bar_1", "baz_0", "baz_1"}
    printed = capsys.readouterr().out
    assert "FAILED" in printed and "bar_0" in printed and "baz_1" in printed


def test_different_actor_in_session_is_caught(tmp_path):
    exp_env = make_registered()
    torch.manual_seed(1)
    exported = _actor(exp_env)
    torch.manual_seed(2)
    other = _actor(exp_env)
    export_environment_as_onnx(env=exp_env, actor=exported, path=tmp_path)
    session = SessionWrapper(tmp_path, "policy.onnx", actor=other, optimize=False)
    with torch.inference_mode():
        report = run_evaluation(exp_env, exp_env.context_manager(), session, 3)
    assert not report.ok
    assert report.mismatches[0].name == "actions" and report.mismatches[0].step == 0


def test_output_computed_differently_at_sim_rate_is_caught(tmp_path):
    exp_env = HookedExportableEnv(env=HookedTutorialEnvironment(DataSource()))
    register_tutorial_components(exp_env, processed_as_memory=False)
    actor = _actor(exp_env)
    with pytest.warns(SimRateWarning):
        session = _export(exp_env, actor, tmp_path)
    with torch.inference_mode():
        report = run_evaluation(exp_env, exp_env.context_manager(), session, 3)
    assert not report.ok
    culprits = {(m.name, m.substep) for m in report.mismatches}
    assert culprits == {("out", s) for s in (1, 2, 3)}  # Default ticks (substep 0) agree.
    # The file outputs the baked constant 2 where the env keeps 3 * a + 2.
    m = report.mismatches[0]
    assert m.actual == pytest.approx(2.0)


def test_memory_is_read_after_observations_reset(tmp_path):
    class ResettingEnv(ExportableEnv):
        def observations_reset(self):
            self.env._actions[:] = 0.0
            self.env._processed_action[:] = 0.0
            return self.env.compute_obs()

    exp_env = ResettingEnv(env=__import__("tutorial_variants").RegisteredEnvironment(DataSource()))
    register_tutorial_components(exp_env, processed_as_memory=True)
    exp_env.env._actions[:] = 5.0  # stale state that observations_reset() clears
    actor = _actor(exp_env)
    session = _export(exp_env, actor, tmp_path)
    with torch.inference_mode():
        report = run_evaluation(exp_env, exp_env.context_manager(), session, 3)
    assert report.ok, report.summary()
