"""Policy.step(validate=False), the policy node's hot path, equals the validated step."""

from __future__ import annotations

import numpy as np
import torch
from tutorial_code import Actor
from tutorial_variants import make_registered

from exploy.exporter.core.exporter import export_environment_as_onnx
from exploy.runtime.policy import Policy


def test_unvalidated_step_equals_the_validated_step(tmp_path):
    torch.manual_seed(0)
    env = make_registered()
    path = export_environment_as_onnx(env=env, actor=Actor(env.env.num_obs, env.env.num_act).eval(), path=tmp_path)
    checked, fast = Policy(path), Policy(path)
    rng = np.random.default_rng(0)
    for _ in range(9):
        x = {s.name: rng.normal(size=s.shape).astype(np.float32) for s in checked.inputs}
        a, b = checked.step(x), fast.step(x, validate=False)
        assert a.step_count == b.step_count and a.policy_step == b.policy_step
        np.testing.assert_array_equal(a.outputs["out"], b.outputs["out"])
