"""Observation history terms and a recurrent actor's state become memory: the Go1 task with a
3-frame history on the actor group and an LSTM actor exports, evaluates at every substep across
resets, and the file stacks frames oldest first."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mjlab", reason="the mjlab extra is not installed")

import torch  # noqa: E402
from conftest import GO1_TASK  # noqa: E402

from exploy.exporter.core.evaluator import run_evaluation  # noqa: E402
from exploy.exporter.core.exporter import export_environment_as_onnx  # noqa: E402
from exploy.format import read_metadata  # noqa: E402
from exploy.frameworks.mjlab import make_task_export  # noqa: E402
from exploy.runtime.session import SessionWrapper  # noqa: E402

HISTORY = 3
LSTM = 16


def _with_history(cfg):
    cfg.observations["actor"].history_length = HISTORY


def _lstm_actor(cfg):
    cfg.actor.class_name = "RNNModel"
    cfg.actor.rnn_type = "lstm"
    cfg.actor.rnn_hidden_dim = LSTM
    cfg.critic.class_name = "RNNModel"
    cfg.critic.rnn_type = "lstm"
    cfg.critic.rnn_hidden_dim = LSTM


@pytest.fixture(scope="module")
def go1_history(tmp_path_factory):
    made = make_task_export(GO1_TASK, seed=2, episode_length_s=0.5, configure=_with_history,
                            configure_agent=_lstm_actor)
    path = export_environment_as_onnx(env=made.env, actor=made.actor, path=tmp_path_factory.mktemp("go1_history"))
    return made, path


def test_history_and_lstm_state_are_memory_and_evaluate_across_resets(go1_history):
    made, path = go1_history
    meta = read_metadata(path)
    memory = {m.name: m.shape for m in meta.memories}
    assert memory["obs_history.command"] == (1, HISTORY - 1, 3)
    assert memory["obs_history.joint_pos"] == (1, HISTORY - 1, 12)
    assert memory["actor_hidden_state_0"] == memory["actor_hidden_state_1"] == (1, 1, LSTM)
    assert made.actor.recurrent
    session = SessionWrapper(path.parent, path.name, actor=made.actor, optimize=False)
    with torch.inference_mode():
        report = run_evaluation(made.env, made.env.context_manager(), session, 60)
    assert report.ok, report.summary()
    assert report.per_substep
    env = made.env.env
    assert int(env.episode_length_buf[0]) < 60  # 25-step episodes: at least two resets


def test_file_stacks_history_oldest_first(go1_history):
    _, path = go1_history
    meta = read_metadata(path)
    session = SessionWrapper(path.parent, path.name, optimize=False)
    rng = np.random.default_rng(1)
    memory = {
        f"memory.{m.name}.in": np.asarray(m.metadata["initial_value"], np.float32).reshape(m.shape)
        if m.metadata and "initial_value" in m.metadata else np.zeros(m.shape, np.float32)
        for m in meta.memories
    }
    first = memory["memory.obs_history.command.in"][0, 0].copy()
    commands = []
    for k in range(4):
        feed = {c.name: rng.normal(size=c.shape).astype(np.float32) for c in meta.inputs}
        feed["obj.robot.trunk.w_Q_b"] /= np.linalg.norm(feed["obj.robot.trunk.w_Q_b"])
        commands.append(feed["cmd.se2_velocity.twist"].reshape(-1))
        out = session.run({**feed, **memory, "ctx.step_count": np.array(4 * k, dtype=np.int32)})
        memory = {f"memory.{m.name}.in": out[f"memory.{m.name}.out"] for m in meta.memories}
        frames = [commands[j] if j >= 0 else first for j in range(k - HISTORY + 1, k + 1)]
        # the command term is the group's last: its HISTORY frames close the observation vector
        np.testing.assert_allclose(out["obs"].reshape(-1)[-3 * HISTORY:], np.concatenate(frames), atol=1e-6)
