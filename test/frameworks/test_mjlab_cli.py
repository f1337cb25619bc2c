"""``exploy export --mjlab TASK_ID [--checkpoint PATH]``: a trained checkpoint's actor goes into the
file (checked against the saved model run in torch), bad input exits 2 with one line."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mjlab", reason="the mjlab extra is not installed")

import torch  # noqa: E402
from conftest import GO1_TASK  # noqa: E402

from exploy.cli.main import main  # noqa: E402
from exploy.format import read_metadata  # noqa: E402
from exploy.runtime.session import SessionWrapper  # noqa: E402


def test_checkpoint_actor_and_normaliser_are_exported(go1, tmp_path, capsys):
    made, _ = go1
    model = made.runner.alg.actor
    original = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        with torch.no_grad():  # a "trained" actor: weights and normaliser differ from the seed's
            gen = torch.Generator().manual_seed(7)
            for p in model.mlp.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
            model.obs_normalizer._mean.copy_(torch.randn(model.obs_normalizer._mean.shape, generator=gen))
            model.obs_normalizer._std.copy_(torch.rand(model.obs_normalizer._std.shape, generator=gen) + 0.5)
        ckpt = tmp_path / "model_7.pt"
        made.runner.save(str(ckpt))
        code = main(["export", "--mjlab", GO1_TASK, "--checkpoint", str(ckpt), "--out", str(tmp_path / "out"),
                     "--evaluate", "5", "--quiet"])
        out = capsys.readouterr().out
        assert code == 0, out
        assert "trained actor from" in out and "RANDOM" not in out and "exploy evaluate: OK" in out
        scene = tmp_path / "out" / "scene" / "scene.xml"  # the task's model, for exploy sim2sim --mjcf
        assert f"exploy sim2sim --mjcf {scene}" in out and (scene.parent / "assets" / "trunk.stl").is_file()
        # Independent: the checkpoint's model, run by rsl_rl itself (normaliser, MLP, deterministic
        # head), on the observations the file computed.
        path = tmp_path / "out" / "policy.onnx"
        meta = read_metadata(path)
        rng = np.random.default_rng(0)
        feed = {c.name: rng.normal(size=c.shape).astype(np.float32) for c in meta.inputs}
        quat = feed["obj.robot.trunk.w_Q_b"]
        feed["obj.robot.trunk.w_Q_b"] = quat / np.linalg.norm(quat)
        feed.update({f"memory.{m.name}.in": np.zeros(m.shape, np.float32) for m in meta.memories})
        feed["ctx.step_count"] = np.array(0, dtype=np.int32)
        got = SessionWrapper(path.parent, path.name, optimize=False).run(feed)
        from tensordict import TensorDict

        with torch.no_grad():
            td = TensorDict({"actor": torch.from_numpy(got["obs"])}, batch_size=[1])
            expected = model(td).numpy()
        np.testing.assert_allclose(got["actions"], expected, rtol=1e-4, atol=1e-5)
        assert not np.allclose(expected, 0.0)
    finally:
        model.load_state_dict(original)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mjlab", "Nope"], "unknown mjlab task 'Nope'"),
        (["--mjlab", GO1_TASK, "--checkpoint", "missing.pt"], "is not a file"),
        (["exploy.examples.legged_robot:make_mlp_example", "--mjlab", GO1_TASK], "either MODULE:FACTORY or --mjlab"),
        (["exploy.examples.legged_robot:make_mlp_example", "--checkpoint", "x.pt"], "--checkpoint goes with --mjlab"),
    ],
)
def test_bad_mjlab_arguments_exit_2_with_one_line(argv, message, tmp_path, capsys):
    assert main(["export", *argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
