"""Policy.run_ticks (the batch fast path) is tick for tick the same as Policy.step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tutorial_variants import add_rnn_actor, make_registered

from exploy.exporter.core.exporter import export_environment_as_onnx
from exploy.runtime.errors import PolicyRuntimeError
from exploy.runtime.policy import Policy


@pytest.fixture(scope="module")
def lstm_policy(tmp_path_factory):
    torch.manual_seed(0)
    env = make_registered()
    actor = add_rnn_actor(env)
    return export_environment_as_onnx(env=env, actor=actor, path=tmp_path_factory.mktemp("p"), filename="lstm.onnx")


def test_run_ticks_equals_step_by_step_with_resets(lstm_policy):
    rng = np.random.default_rng(0)
    n = 37
    inputs = {
        "foo": rng.normal(size=(n, 1, 4)),
        "bar_baz_group.bar": rng.normal(size=(n, 2)),
        "bar_baz_group.baz": rng.normal(size=(n, 1, 2)),
    }
    resets = np.zeros(n, dtype=bool)
    resets[[0, 12, 30]] = True
    stepped = Policy(lstm_policy)
    expected = []
    for k in range(n):
        if resets[k]:
            stepped.reset()
        expected.append(stepped.step({name: value[k] for name, value in inputs.items()}).outputs["out"])
    batched = Policy(lstm_policy)
    first = batched.run_ticks({name: value[:20] for name, value in inputs.items()}, resets=resets[:20])
    rest = batched.run_ticks({name: value[20:] for name, value in inputs.items()}, resets=resets[20:])
    got = np.concatenate([first["out"], rest["out"]])
    np.testing.assert_array_equal(got, np.stack(expected))
    assert batched.step_count == stepped.step_count == n - 30
    for name, value in stepped.memory.items():
        np.testing.assert_array_equal(batched.memory[name], value)


def test_run_ticks_rejects_bad_batches_without_running(lstm_policy):
    policy = Policy(lstm_policy)
    good = {
        "foo": np.zeros((3, 1, 4)),
        "bar_baz_group.bar": np.zeros((3, 1, 2)),
        "bar_baz_group.baz": np.zeros((3, 1, 2)),
    }
    bad = dict(good, foo=np.zeros((3, 1, 4)))
    bad["foo"][2, 0, 1] = np.nan
    with pytest.raises(PolicyRuntimeError, match="'foo' holds NaN or Inf at tick 2"):
        policy.run_ticks(bad)
    with pytest.raises(PolicyRuntimeError, match="missing"):
        policy.run_ticks({"foo": good["foo"]})
    with pytest.raises(PolicyRuntimeError, match="common leading tick dimension"):
        policy.run_ticks(dict(good, foo=np.zeros((2, 1, 4))))
    assert policy.step_count == 0
