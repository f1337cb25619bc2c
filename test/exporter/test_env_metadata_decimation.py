"""An environment whose metadata() carries decimation / update_rate itself (upstream's IsaacLab and
mjlab adapters do) exports when the values agree with env.decimation / 1 / env.sim_dt."""

from __future__ import annotations

import pytest
import torch
from tutorial_code import Actor
from tutorial_variants import make_registered

from exploy.exporter.core.errors import ExportError
from exploy.exporter.core.exporter import export_environment_as_onnx
from exploy.format import read_metadata


def _env(metadata: dict, sim_dt: float | None = None):
    exp_env = make_registered()
    cls = type(exp_env)
    props = {"metadata": lambda self: dict(metadata)}
    if sim_dt is not None:
        props["sim_dt"] = property(lambda self: sim_dt)
    exp_env.__class__ = type("UpstreamStyle", (cls,), props)
    return exp_env


def _export(exp_env, tmp_path):
    torch.manual_seed(0)
    actor = Actor(num_obs=exp_env.env.num_obs, num_act=exp_env.env.num_act).eval()
    return export_environment_as_onnx(env=exp_env, actor=actor, path=tmp_path, probe=False)


@pytest.mark.parametrize("value", ["DEC", "DEC_INT"])
def test_agreeing_decimation_in_env_metadata_is_accepted(tmp_path, value):
    decimation = make_registered().decimation
    exp_env = _env({"decimation": str(decimation) if value == "DEC" else decimation, "base_names": '{"r": "b"}'})
    meta = read_metadata(_export(exp_env, tmp_path))
    assert meta.decimation == decimation
    assert meta.env_metadata["base_names"] == '{"r": "b"}'


def test_disagreeing_decimation_in_env_metadata_names_both_values(tmp_path):
    decimation = make_registered().decimation
    exp_env = _env({"decimation": str(decimation + 1)})
    with pytest.raises(ExportError, match=rf"'decimation' = '{decimation + 1}' but env.decimation is {decimation}"):
        _export(exp_env, tmp_path)


def test_update_rate_in_env_metadata_must_agree_with_sim_dt(tmp_path):
    ok = read_metadata(_export(_env({"update_rate": "200.0", "sim_dt": "0.005"}, sim_dt=0.005), tmp_path / "a"))
    assert ok.update_rate == pytest.approx(200.0) and ok.env_metadata["sim_dt"] == "0.005"
    with pytest.raises(ExportError, match=r"'update_rate' = '100.0' but 1 / env.sim_dt is 200.0"):
        _export(_env({"update_rate": "100.0"}, sim_dt=0.005), tmp_path / "b")


def test_update_rate_in_env_metadata_without_sim_dt_becomes_the_files_rate(tmp_path):
    assert read_metadata(_export(_env({"update_rate": "400"}), tmp_path / "a")).update_rate == 400.0
    with pytest.raises(ExportError, match="must be a sim rate"):
        _export(_env({"update_rate": "inf"}), tmp_path / "b")
