"""Policy: memory starts at (and reset restores) the initial value the file carries, else zeros."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tutorial_code import Actor, DataSource, ExportableEnv
from tutorial_variants import RegisteredEnvironment

from exploy.exporter.core.context_manager import Group, Input, Memory, Output
from exploy.exporter.core.exporter import export_environment_as_onnx
from exploy.format import PolicyFormatError
from exploy.runtime.policy import INITIAL_VALUE_KEY, Policy


def _export(folder, initial):
    torch.manual_seed(0)
    exp_env = ExportableEnv(env=RegisteredEnvironment(DataSource()))
    env = exp_env.env
    cm = exp_env.context_manager()
    memory_meta = None if initial is None else {INITIAL_VALUE_KEY: initial}
    cm.add_components(
        [
            Input(name="foo", get_from_env_cb=lambda: env.data_source.foo),
            Output(name="out", get_from_env_cb=lambda: env._output),
            Memory(name="actions", get_from_env_cb=lambda: env._actions, metadata=memory_meta),
            Memory(name="processed_action", get_from_env_cb=lambda: env._processed_action),
        ]
    )
    cm.add_group(
        Group(
            name="bar_baz_group",
            items=[
                Input(name="bar", get_from_env_cb=lambda: env.data_source.bar),
                Input(name="baz", get_from_env_cb=lambda: env.data_source.baz),
            ],
        )
    )
    actor = Actor(num_obs=env.num_obs, num_act=env.num_act).eval()
    return export_environment_as_onnx(env=exp_env, actor=actor, path=folder)


def _inputs():
    return {"foo": np.ones((1, 4), np.float32), "bar_baz_group.bar": np.ones((1, 2), np.float32),
            "bar_baz_group.baz": np.ones((1, 2), np.float32)}


def test_memory_starts_from_the_files_initial_value_and_reset_restores_it(tmp_path):
    policy = Policy(_export(tmp_path, [[0.25, -0.5]]))
    np.testing.assert_array_equal(policy.memory["actions"], [[0.25, -0.5]])
    np.testing.assert_array_equal(policy.memory["processed_action"], [[0.0, 0.0]])
    first = policy.step(_inputs())
    assert first.obs is not None
    np.testing.assert_allclose(first.obs[0, -2:], [0.25, -0.5])  # last actions enter the observation
    policy.step(_inputs())
    policy.reset()
    assert policy.step_count == 0
    np.testing.assert_array_equal(policy.memory["actions"], [[0.25, -0.5]])
    np.testing.assert_array_equal(policy.step(_inputs()).outputs["out"], first.outputs["out"])


def test_initial_value_of_the_wrong_size_is_a_format_error(tmp_path):
    path = _export(tmp_path, [1.0, 2.0, 3.0])
    with pytest.raises(PolicyFormatError, match="initial_value' has 3 values"):
        Policy(path)
