"""Execution providers: CPU by default; an unavailable CUDA/TensorRT falls back to CPU with a warning."""

from __future__ import annotations

import logging
import pathlib

import numpy as np
import onnxruntime as ort
import pytest
import torch
from tutorial_code import Actor
from tutorial_variants import make_registered

from exploy.exporter.core.exporter import export_environment_as_onnx
from exploy.runtime.errors import PolicyRuntimeError
from exploy.runtime.policy import Policy
from exploy.runtime.providers import ExecutionProviderWarning, resolve_providers
from exploy.runtime.session import SessionWrapper

CPU = "CPUExecutionProvider"
MISSING = [p for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider") if p not in ort.get_available_providers()]


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory) -> pathlib.Path:
    torch.manual_seed(2)
    env = make_registered()
    actor = Actor(num_obs=env.env.num_obs, num_act=env.env.num_act).eval()
    return export_environment_as_onnx(env=env, actor=actor, path=tmp_path_factory.mktemp("providers"))


def test_default_is_cpu_only(policy_file):
    assert SessionWrapper(policy_file.parent, policy_file.name, optimize=False).providers == [CPU]
    assert resolve_providers(None) == [CPU] and resolve_providers([]) == [CPU]


@pytest.mark.parametrize("names", [["cpu"], ["CPU"], [CPU], ["CPU", "cpu"]])
def test_short_and_full_names_are_accepted(names):
    assert resolve_providers(names) == [CPU]


@pytest.mark.skipif(not MISSING, reason="this onnxruntime has CUDA and TensorRT")
def test_unavailable_gpu_provider_falls_back_to_cpu_with_a_warning_and_a_log(policy_file, caplog):
    short = {"CUDAExecutionProvider": "CUDA", "TensorrtExecutionProvider": "TensorRT"}[MISSING[0]]
    with (
        caplog.at_level(logging.WARNING, logger="exploy.runtime"),
        pytest.warns(ExecutionProviderWarning, match=MISSING[0]),
    ):
        policy = Policy(policy_file, execution_providers=[short, "CPU"])
    assert policy.session.providers == [CPU]
    assert any(MISSING[0] in r.getMessage() for r in caplog.records)
    x = {n: np.zeros((1, s), np.float32) for n, s in (("foo", 4), ("bar_baz_group.bar", 2), ("bar_baz_group.baz", 2))}
    assert policy.step(x).policy_step  # it runs


@pytest.mark.parametrize("bad", [["CUDAA"], ["", "CPU"], "CPU", [3], ["x"] * 40])
def test_unknown_or_malformed_provider_names_are_refused(policy_file, bad):
    with pytest.raises(PolicyRuntimeError, match="[Ee]xecution provider"):
        SessionWrapper(policy_file.parent, policy_file.name, optimize=False, execution_providers=bad)
