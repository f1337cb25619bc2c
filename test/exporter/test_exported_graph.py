"""The exported file computes what the tutorial's math says, on both paths."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from tutorial_code import Actor
from tutorial_variants import make_registered

from exploy.exporter.core.exporter import export_environment_as_onnx
from exploy.exporter.core.session_wrapper import SessionWrapper
from exploy.format import read_metadata


@pytest.fixture
def exported(tmp_path):
    torch.manual_seed(0)
    exp_env = make_registered()
    actor = Actor(num_obs=exp_env.env.num_obs, num_act=exp_env.env.num_act).eval()
    export_environment_as_onnx(env=exp_env, actor=actor, path=tmp_path, filename="policy.onnx")
    return tmp_path, actor


def _feed(rng, **extra):
    feed = {
        "foo": rng.normal(size=(1, 4)).astype(np.float32),
        "bar_baz_group.bar": rng.normal(size=(1, 2)).astype(np.float32),
        "bar_baz_group.baz": rng.normal(size=(1, 2)).astype(np.float32),
        "memory.actions.in": rng.normal(size=(1, 2)).astype(np.float32),
        "memory.processed_action.in": rng.normal(size=(1, 2)).astype(np.float32),
    }
    feed.update(extra)
    return feed


def test_default_path_matches_hand_computed_pipeline(exported):
    folder, actor = exported
    session = SessionWrapper(folder, "policy.onnx", optimize=False)
    rng = np.random.default_rng(1)
    feed = _feed(rng, **{"ctx.step_count": np.array(8, dtype=np.int32)})
    out = session.run(feed)

    foo, bar, baz = feed["foo"], feed["bar_baz_group.bar"], feed["bar_baz_group.baz"]
    obs = np.concatenate([foo + 1.0, bar + 2.0 * baz, baz, feed["memory.actions.in"]], axis=-1)
    with torch.no_grad():
        actions = actor(torch.from_numpy(obs)).numpy()
    np.testing.assert_allclose(out["obs"], obs, rtol=1e-6)
    np.testing.assert_allclose(out["actions"], actions, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["out"], 3 * actions + 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["memory.actions.out"], actions, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["memory.processed_action.out"], 3 * actions, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("step_count", [1, 2, 3, 5, 7])
def test_process_actions_path_applies_remembered_actions(exported, step_count):
    folder, _ = exported
    session = SessionWrapper(folder, "policy.onnx", optimize=False)
    feed = _feed(np.random.default_rng(step_count), **{"ctx.step_count": np.array(step_count, dtype=np.int32)})
    out = session.run(feed)
    np.testing.assert_allclose(out["out"], feed["memory.processed_action.in"] + 2, rtol=1e-6)
    np.testing.assert_array_equal(out["memory.actions.out"], feed["memory.actions.in"])
    np.testing.assert_array_equal(out["memory.processed_action.out"], feed["memory.processed_action.in"])


def test_file_layout_and_metadata(exported):
    folder, _ = exported
    model = onnx.load(str(folder / "policy.onnx"))
    inputs = {i.name: i for i in model.graph.input}
    assert set(inputs) == {
        "foo", "bar_baz_group.bar", "bar_baz_group.baz",
        "memory.actions.in", "memory.processed_action.in", "ctx.step_count",
    }
    step = inputs["ctx.step_count"].type.tensor_type
    assert step.elem_type == onnx.TensorProto.INT32 and len(step.shape.dim) == 0
    assert [o.name for o in model.graph.output] == [
        "actions", "obs", "out", "memory.actions.out", "memory.processed_action.out",
    ]
    for name in ("policy_default.onnx", "policy_process_actions.onnx"):
        onnx.checker.check_model(onnx.load(str(folder / "debug" / name)))

    props = {p.key: p.value for p in model.metadata_props}
    assert props["decimation"] == "4"
    assert json.loads(props["exploy_version"])
    assert props["env_name"] == "Env" and props["version"] == "1.0"
    meta = read_metadata(folder / "policy.onnx")
    kinds = {c.name: (c.kind.value, c.shape, c.group) for c in meta.components}
    assert kinds == {
        "foo": ("input", (1, 4), None),
        "out": ("output", (1, 2), None),
        "actions": ("memory", (1, 2), None),
        "processed_action": ("memory", (1, 2), None),
        "bar_baz_group.bar": ("input", (1, 2), "bar_baz_group"),
        "bar_baz_group.baz": ("input", (1, 2), "bar_baz_group"),
    }
    assert meta.group("bar_baz_group").members == ("bar_baz_group.bar", "bar_baz_group.baz")
    assert meta.update_rate is None  # the tutorial env has no sim_dt
    assert len(meta.observation_names) == 10


def test_update_rate_recorded_from_sim_dt(tmp_path):
    from tutorial_variants import HookedEnvironment, HookedExportableEnv

    exp_env = make_registered(HookedEnvironment, HookedExportableEnv)
    actor = Actor(num_obs=exp_env.env.num_obs, num_act=exp_env.env.num_act).eval()
    path = export_environment_as_onnx(env=exp_env, actor=actor, path=tmp_path)
    meta = read_metadata(path)
    assert meta.update_rate == pytest.approx(200.0)
    assert meta.policy_rate == pytest.approx(50.0)


def test_optimize_writes_optimized_debug_graph(exported):
    folder, _ = exported
    SessionWrapper(folder, "policy.onnx", optimize=True)
    assert (folder / "debug" / "policy_optimized.onnx").is_file()


def test_export_leaves_environment_state_untouched(tmp_path):
    exp_env = make_registered()
    env = exp_env.env
    env._actions[:] = torch.tensor([[0.25, -0.5]])
    before = {
        "foo": env.data_source.foo.clone(),
        "actions": env._actions.clone(),
        "processed": env._processed_action.clone(),
    }
    actor = Actor(num_obs=env.num_obs, num_act=env.num_act).eval()
    export_environment_as_onnx(env=exp_env, actor=actor, path=tmp_path)
    assert torch.equal(env.data_source.foo, before["foo"])
    assert torch.equal(env._actions, before["actions"])
    assert torch.equal(env._processed_action, before["processed"])
