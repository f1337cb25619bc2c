"""The exporter tutorial's three scenarios, verbatim (shared/spec/exporter_tutorial.txt)."""


import pytest
from tutorial_code import (
    Actor,
    DataSource,
    Environment,
    EnvironmentWithTorchModule,
    ExportableEnv,
    RNNActor,
    add_actor_memory,
    export_and_evaluate,
)

from exploy.exporter.core.errors import SimRateWarning


@pytest.fixture(autouse=True)
def _tutorial_warns_about_sim_rate():
    # The tutorial env does not register its processed actions; the exporter must say so.
    with pytest.warns(SimRateWarning, match="'out'"):
        yield


def test_basic_environment():
    data_source = DataSource()
    env = Environment(data_source=data_source)
    exp_env = ExportableEnv(env=env)
    actor = Actor(num_obs=env.num_obs, num_act=env.num_act).eval()

    assert export_and_evaluate(exp_env, actor, "policy.onnx", num_eval_steps=20)


def test_environment_with_torch_module():
    data_source = DataSource()
    env = EnvironmentWithTorchModule(data_source=data_source)
    exp_env = ExportableEnv(env=env)
    actor = Actor(num_obs=env.num_obs, num_act=env.num_act).eval()
    exp_env.context_manager().add_module(env.module)

    assert export_and_evaluate(exp_env, actor, "policy_with_module.onnx", num_eval_steps=20)


def test_environment_with_torch_module_and_rnn_actor():
    data_source = DataSource()
    env = EnvironmentWithTorchModule(data_source=data_source)
    exp_env = ExportableEnv(env=env)
    exp_env.context_manager().add_module(env.module)

    actor = RNNActor(num_obs=env.num_obs, num_act=env.num_act).eval()
    actor(exp_env.empty_actor_observations())
    add_actor_memory(
        context_manager=exp_env.context_manager(),
        get_hidden_states_func=actor.get_state,
    )

    assert export_and_evaluate(exp_env, actor, "policy_with_rnn.onnx", num_eval_steps=20)
