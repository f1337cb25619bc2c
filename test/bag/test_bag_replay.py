"""Offline replay: matches, the tutorial's unregistered state, and divergences made on purpose."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bag_helpers import DECIMATION, STORE, export_variant, float_array, rewrite_bag, tutorial_trajectory

from exploy.bag.layout import DEFAULT_T0_NS
from exploy.bag.replay import replay_offline
from exploy.cli.main import main

DT = 5_000_000
EXPECTED = "/exploy/expected/policy_node/output/out"


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    exported = export_variant("mlp", tmp_path_factory.mktemp("mlp"))
    bag = tmp_path_factory.mktemp("bags") / "mlp"
    exported.record(bag)
    return exported, bag


def test_registered_tutorial_matches_with_cli_outputs(mlp, tmp_path, capsys):
    exported, bag = mlp
    code = main(["replay", str(bag), "--policy", str(exported.policy), "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 0, capsys.readouterr()
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["ok"] and summary["first_divergence"] is None
    assert summary["outputs"]["out"]["compared_ticks"] == 25 and summary["outputs"]["out"]["max_abs_error"] < 1e-5
    assert (tmp_path / "r" / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "MATCH" in capsys.readouterr().out


def test_tutorial_as_written_is_flagged_on_its_process_actions_ticks(tmp_path, capsys):
    exported = export_variant("tutorial", tmp_path / "policy")
    bag = tmp_path / "run"
    exported.record(bag, num_steps=5)
    code = main(["replay", str(bag), "--policy", str(exported.policy), "--out", str(tmp_path / "r"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    assert "first divergence: tick 3, output 'out'" in out
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    first = summary["first_divergence"]
    assert (first["tick"], first["component"]) == (3, "out")
    # The env keeps 3 a + 2 through the step; the file's ProcessActions path baked in a zero
    # processed action and gives 2.
    truth = tutorial_trajectory(exported.actor, 1, registered=False)[0]
    assert first["expected"] == pytest.approx(truth["out"][first["channel"]], abs=1e-5)
    assert first["actual"] == pytest.approx(2.0)
    assert summary["outputs"]["out"]["diverging_ticks"] == 5


def test_hooked_tutorial_as_written_diverges_on_every_process_actions_substep(tmp_path):
    exported = export_variant("hooked_tutorial", tmp_path / "policy")
    bag = tmp_path / "run"
    exported.record(bag, num_steps=3)
    result = replay_offline(bag, exported.policy)
    assert (result.first_divergence.tick, result.first_divergence.component) == (1, "out")
    ticks = np.flatnonzero(result.outputs["out"].diverging).tolist()
    assert ticks == [k for k in range(12) if k % DECIMATION != 0]  # Default ticks match


def test_expected_output_altered_at_one_tick_is_located(mlp, tmp_path):
    exported, bag = mlp
    tick = 47  # last tick of policy step 11
    stamp = DEFAULT_T0_NS + tick * DT

    def alter(topic, msgtype, ts, raw):
        if topic == EXPECTED and ts == stamp:
            data = STORE.deserialize_cdr(raw, msgtype).data.copy()
            data[1] += 0.5
            return topic, msgtype, float_array(data)
        return topic, msgtype, raw

    result = replay_offline(rewrite_bag(bag, tmp_path / "altered", alter), exported.policy)
    first = result.first_divergence
    assert (first.tick, first.component, first.channel) == (tick, "out", 1)
    assert first.abs_error == pytest.approx(0.5, abs=1e-4)
    assert result.outputs["out"].diverging_ticks == 1


def test_policy_reexported_with_other_weights(mlp, tmp_path, capsys):
    exported, bag = mlp
    other = export_variant("mlp", tmp_path / "other", seed=1)
    args = ["replay", str(bag), "--policy", str(other.policy), "--out", str(tmp_path / "r"), "--quiet"]
    assert main(args) == 2
    assert "recorded for policy file 'mlp.onnx'" in capsys.readouterr().err
    assert main([*args, "--allow-policy-mismatch", "--no-plot"]) == 1
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    # The earliest stage that differs: the actions of tick 0 (the observations match).
    assert (summary["first_divergence"]["tick"], summary["first_divergence"]["component"]) == (0, "actions")
    assert "actor differs" in summary["first_divergence"]["reason"]
    assert summary["outputs"]["out"]["first_diverging_tick"] == DECIMATION - 1  # the first compared tick
    assert any("(allowed)" in w for w in summary["warnings"])
    # What differs between the files: the actor's weights, each by how much.
    weights = [w for w in summary["warnings"] if "initializer" in w and "values changed" in w]
    assert weights and all("max abs change" in w for w in weights)


def test_dropped_tick_is_detected(mlp, tmp_path):
    exported, bag = mlp
    tick = 21
    dropped = rewrite_bag(
        bag, tmp_path / "dropped", lambda t, m, ts, raw: None if ts == DEFAULT_T0_NS + tick * DT else (t, m, raw)
    )
    result = replay_offline(dropped, exported.policy)
    assert not result.ok
    assert result.missing_ticks == [tick]
    assert (result.first_divergence.tick, result.first_divergence.component) == (tick, None)
    assert "missing" in result.first_divergence.reason
