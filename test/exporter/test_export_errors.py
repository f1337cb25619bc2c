"""Bad environments, actors and paths end with an error that says what to fix."""

from __future__ import annotations

import warnings

import pytest
import torch
from tutorial_code import Actor, DataSource, Environment, ExportableEnv
from tutorial_variants import make_registered, register_tutorial_components

from exploy.exporter.core.context_manager import Group, Input, Memory, Output
from exploy.exporter.core.errors import ExportError, SimRateWarning
from exploy.exporter.core.exporter import export_environment_as_onnx


def _actor(exp_env, num_act=None):
    env = exp_env.env
    return Actor(num_obs=env.num_obs, num_act=num_act or env.num_act).eval()


class ItemEnvironment(Environment):
    """Reads a tensor value into Python: untraceable."""

    def compute_obs(self):
        scale = float(self.data_source.foo.sum().item())
        return torch.cat([self.data_source.foo * scale, self.data_source.bar, self.data_source.baz, self._actions], -1)


class BranchingEnvironment(Environment):
    def compute_obs(self):
        obs = super().compute_obs()
        if obs.sum() > 0:  # Python branch on a tensor value
            return obs
        return -obs


class WrongObsEnv(ExportableEnv):
    def empty_actor_observations(self):
        return torch.zeros(1, 3)

    def get_observation_names(self):
        return ["a", "b", "c"]


class NoDecimationEnv(ExportableEnv):
    @property
    def decimation(self):
        return None


class FlakyDecimationEnv(ExportableEnv):
    @property
    def decimation(self):
        raise AttributeError("_decimation")


def _registered(env):
    exp_env = ExportableEnv(env=env) if not isinstance(env, ExportableEnv) else env
    register_tutorial_components(exp_env, processed_as_memory=False)
    return exp_env


@pytest.mark.parametrize("env_cls", [ItemEnvironment, BranchingEnvironment])
def test_untraceable_observation_code(tmp_path, env_cls):
    exp_env = _registered(env_cls(DataSource()))
    with pytest.raises(ExportError, match="traceable|Use torch ops") as info:
        export_environment_as_onnx(env=exp_env, actor=_actor(exp_env), path=tmp_path)
    assert "test_export_errors.py" in str(info.value)  # points at the offending line


def test_observation_shape_mismatch(tmp_path):
    exp_env = WrongObsEnv(env=Environment(DataSource()))
    register_tutorial_components(exp_env, processed_as_memory=False)
    actor = Actor(num_obs=10, num_act=2).eval()
    with pytest.raises(ExportError, match=r"compute_observations\(\) returned shape \(1, 10\).*\(1, 3\)"):
        export_environment_as_onnx(env=exp_env, actor=actor, path=tmp_path)


def test_actor_returning_wrong_size(tmp_path):
    exp_env = make_registered()
    with pytest.raises(ExportError, match=r"the actor returned shape \(1, 3\).*empty_actions\(\).*\(1, 2\)"):
        export_environment_as_onnx(env=exp_env, actor=_actor(exp_env, num_act=3), path=tmp_path)


def test_actor_with_wrong_input_size(tmp_path):
    exp_env = make_registered()
    actor = Actor(num_obs=7, num_act=2).eval()
    with pytest.raises(ExportError, match="path failed"):
        export_environment_as_onnx(env=exp_env, actor=actor, path=tmp_path)


@pytest.mark.parametrize("env_cls", [NoDecimationEnv, FlakyDecimationEnv])
def test_missing_decimation(tmp_path, env_cls):
    exp_env = env_cls(env=Environment(DataSource()))
    register_tutorial_components(exp_env, processed_as_memory=False)
    with pytest.raises(ExportError, match="decimation"):
        export_environment_as_onnx(env=exp_env, actor=_actor(exp_env), path=tmp_path)


def test_export_path_is_a_file(tmp_path):
    exp_env = make_registered()
    target = tmp_path / "not_a_folder"
    target.write_text("keep me")
    with pytest.raises(ExportError, match="is a file"):
        export_environment_as_onnx(env=exp_env, actor=_actor(exp_env), path=target)
    assert target.read_text() == "keep me"


def test_bad_filename(tmp_path):
    exp_env = make_registered()
    with pytest.raises(ExportError, match=r"ending in \.onnx"):
        export_environment_as_onnx(env=exp_env, actor=_actor(exp_env), path=tmp_path, filename="policy.pt")


def test_nothing_registered(tmp_path):
    exp_env = ExportableEnv(env=Environment(DataSource()))
    with pytest.raises(ExportError, match="Nothing is registered"):
        export_environment_as_onnx(env=exp_env, actor=_actor(exp_env), path=tmp_path)


def test_duplicate_name_names_both():
    exp_env = ExportableEnv(env=Environment(DataSource()))
    cm = exp_env.context_manager()
    cm.add_component(Input(name="foo", get_from_env_cb=lambda: exp_env.env.data_source.foo))
    with pytest.raises(ExportError, match="Cannot register 'foo': a input named 'foo'"):
        cm.add_component(Output(name="foo", get_from_env_cb=lambda: exp_env.env._output))


def test_group_member_clashing_with_component():
    exp_env = ExportableEnv(env=Environment(DataSource()))
    cm = exp_env.context_manager()
    cm.add_component(Input(name="g.bar", get_from_env_cb=lambda: exp_env.env.data_source.bar))
    with pytest.raises(ExportError, match="'g.bar'"):
        cm.add_group(Group(name="g", items=[Input(name="bar", get_from_env_cb=lambda: exp_env.env.data_source.baz)]))


def test_same_tensor_twice_names_both():
    exp_env = ExportableEnv(env=Environment(DataSource()))
    cm = exp_env.context_manager()
    cm.add_component(Input(name="foo", get_from_env_cb=lambda: exp_env.env.data_source.foo))
    with pytest.raises(ExportError, match="'foo_again'.*same tensor.*'foo'"):
        cm.add_component(Memory(name="foo_again", get_from_env_cb=lambda: exp_env.env.data_source.foo))


def test_non_serialisable_metadata_rejected_at_registration():
    with pytest.raises(ExportError, match="not JSON-serialisable"):
        Input(name="foo", get_from_env_cb=lambda: torch.zeros(1), metadata={"t": torch.zeros(1)})
    with pytest.raises(ExportError, match="not JSON-serialisable"):
        Group(name="g", items=[], metadata={"s": {1, 2}})


def test_callback_not_returning_a_tensor(tmp_path):
    exp_env = make_registered()
    exp_env.context_manager().add_component(Output(name="bad", get_from_env_cb=lambda: [1.0, 2.0]))
    with pytest.raises(ExportError, match="'bad' returned list"):
        export_environment_as_onnx(env=exp_env, actor=_actor(exp_env), path=tmp_path)


def test_env_metadata_colliding_with_component(tmp_path):
    class Clash(ExportableEnv):
        def metadata(self):
            return {"foo": "oops"}

    exp_env = Clash(env=Environment(DataSource()))
    register_tutorial_components(exp_env, processed_as_memory=False)
    exp_env.context_manager().add_component(
        Output(name="described", get_from_env_cb=lambda: exp_env.env._output, metadata={"a": 1})
    )
    with pytest.raises(ExportError, match="'foo' collides"):
        export_environment_as_onnx(env=exp_env, actor=_actor(exp_env), path=tmp_path, probe=False)


def test_tutorial_env_warns_about_sim_rate_naming_out(tmp_path):
    exp_env = _registered(Environment(DataSource()))
    with pytest.warns(SimRateWarning, match=r"'out'.*Register that state .* as Memory"):
        export_environment_as_onnx(env=exp_env, actor=_actor(exp_env), path=tmp_path)


def test_registered_variant_does_not_warn(tmp_path):
    exp_env = make_registered()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SimRateWarning)
        export_environment_as_onnx(env=exp_env, actor=_actor(exp_env), path=tmp_path)


class _CopyThroughEnv(ExportableEnv):
    """process_actions writes a Memory in place; apply_actions copies it unchanged to an Output.

    torch's TorchScript ONNX pass drops that write ("Removing mutation ... on block input"):
    the exporter must notice by checking the file against an eager run.
    """

    def __init__(self):
        super().__init__(env=Environment(DataSource()))
        self.target = torch.zeros(1, 2)
        self.cmd = torch.zeros(1, 2)
        cm = self.context_manager()
        cm.add_component(Input(name="foo", get_from_env_cb=lambda: self.env.data_source.foo))
        cm.add_component(Memory(name="target", get_from_env_cb=lambda: self.target))
        cm.add_component(Output(name="cmd", get_from_env_cb=lambda: self.cmd))

    def compute_observations(self):
        return self.env.data_source.foo[:, :2] * 1.0

    def empty_actor_observations(self):
        return torch.zeros(1, 2)

    def get_observation_names(self):
        return ["foo_0", "foo_1"]

    def process_actions(self, actions):
        self.target[:] = 3.0 * actions

    def apply_actions(self):
        self.cmd[:] = self.target


def test_mutation_dropped_by_tracer_is_an_error(tmp_path):
    exp_env = _CopyThroughEnv()
    with pytest.raises(ExportError, match=r"default path disagrees.*'cmd'.*clone\(\)"):
        export_environment_as_onnx(env=exp_env, actor=torch.nn.Linear(2, 2), path=tmp_path)


def test_unsupported_input_dtype(tmp_path):
    exp_env = make_registered()
    exp_env.env.data_source.foo = exp_env.env.data_source.foo.to(torch.bfloat16)
    with pytest.raises(ExportError, match=r"'foo' has dtype torch.bfloat16; use one of torch.float32"):
        export_environment_as_onnx(env=exp_env, actor=_actor(exp_env), path=tmp_path)
