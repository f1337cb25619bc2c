"""ctx.step_count fed as shape () or (1,), int32 or int64, into files declaring either form."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch
from tutorial_code import Actor
from tutorial_variants import make_registered

from exploy.exporter.core.exporter import export_environment_as_onnx
from exploy.runtime.errors import PolicyRuntimeError
from exploy.runtime.policy import Policy
from exploy.runtime.session import SessionWrapper

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "format"))
from upstream_layout import to_upstream_layout  # noqa: E402

FEEDS = [np.array(5, np.int32), np.array([5], np.int32), np.array(5, np.int64), np.array([5], np.int64), 5]
FILE_FORMS = [((), "int32"), ((1,), "int32"), ((1,), "int64")]


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> pathlib.Path:
    torch.manual_seed(1)
    env = make_registered()
    actor = Actor(num_obs=env.env.num_obs, num_act=env.env.num_act).eval()
    return export_environment_as_onnx(env=env, actor=actor, path=tmp_path_factory.mktemp("steps"))


def _inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        n: rng.normal(size=(1, s)).astype(np.float32)
        for n, s in (("foo", 4), ("bar_baz_group.bar", 2), ("bar_baz_group.baz", 2))
    }


def _file(ours, tmp_path, form) -> pathlib.Path:
    shape, dtype = form
    return to_upstream_layout(ours, tmp_path / "f.onnx", step_shape=shape, step_dtype=dtype)


@pytest.mark.parametrize("form", FILE_FORMS, ids=str)
@pytest.mark.parametrize("feed", FEEDS, ids=lambda f: f"{np.asarray(f).dtype}{np.shape(f)}")
def test_session_wrapper_accepts_every_step_count_form(ours, tmp_path, form, feed):
    path = _file(ours, tmp_path, form)
    x = _inputs()
    wrapper = SessionWrapper(path.parent, path.name, optimize=False)
    memory = {n: np.zeros(wrapper.input_shapes[n], np.float32) for n in wrapper.input_names if n.startswith("memory.")}
    got = wrapper.run({**x, **memory, "ctx.step_count": feed})
    # independent: onnxruntime fed the exact declared form by hand
    bare = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    step = np.full(form[0], 5, np.int64 if form[1] == "int64" else np.int32)
    want = dict(zip([o.name for o in bare.get_outputs()], bare.run(None, {**x, **memory, "ctx.step_count": step})))
    for name, value in want.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)


@pytest.mark.parametrize("bad", [np.array([1, 2], np.int32), np.array(1.5), np.array([[3]], np.int32), 2**40])
def test_session_wrapper_refuses_a_step_count_that_is_not_one_fitting_integer(ours, bad):
    wrapper = SessionWrapper(ours.parent, ours.name, optimize=False)
    memory = {n: np.zeros(wrapper.input_shapes[n], np.float32) for n in wrapper.input_names if n.startswith("memory.")}
    with pytest.raises(PolicyRuntimeError, match="ctx.step_count"):
        wrapper.run({**_inputs(), **memory, "ctx.step_count": bad})


@pytest.mark.parametrize("form", FILE_FORMS, ids=str)
def test_policy_steps_files_with_every_step_count_form_alike(ours, tmp_path, form):
    reference, other = Policy(ours), Policy(_file(ours, tmp_path, form))
    for _ in range(7):
        x = _inputs()
        a, b = reference.step(x), other.step(x)
        assert a.policy_step == b.policy_step
        for name in a.outputs:
            np.testing.assert_array_equal(a.outputs[name], b.outputs[name])


@pytest.mark.parametrize("first_step", [-1, 2**31, 1.0, True, "0"])
def test_policy_refuses_a_bad_first_step(ours, first_step):
    with pytest.raises(PolicyRuntimeError, match="first_step"):
        Policy(ours, first_step=first_step)
