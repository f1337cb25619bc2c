"""The policy node over real topics (rclpy) with real onnxruntime, driven tick by tick by /clock."""

from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import State
from policy_node_rig import Reference, Rig, array_msg, export_tutorial, tutorial_inputs
from std_msgs.msg import Float32MultiArray
from std_srvs.srv import Trigger

INPUT_TOPICS = {
    "foo": "~/input/foo",
    "bar_baz_group.bar": "~/input/bar_baz_group/bar",
    "bar_baz_group.baz": "~/input/bar_baz_group/baz",
}


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory):
    return export_tutorial(tmp_path_factory.mktemp("mlp"), seed=1)


@pytest.fixture(scope="module")
def lstm_file(tmp_path_factory):
    return export_tutorial(tmp_path_factory.mktemp("lstm"), rnn=True, seed=2)


def _feed(rig: Rig, inputs: dict[str, np.ndarray]) -> None:
    rig.feed({INPUT_TOPICS[name]: array_msg(value) for name, value in inputs.items()})


def _run_ticks(rig: Rig, inputs_per_tick: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    """Feed each tick's inputs, advance /clock one period, return the ~/output/out of each tick."""
    outs = rig.collect("policy_node/output/out", Float32MultiArray)
    for k, inputs in enumerate(inputs_per_tick):
        _feed(rig, inputs)
        rig.advance(1, expect_ticks=1)
        rig.spin_until(lambda: len(outs) > k, what=f"output of tick {k}")  # noqa: B023 (waited on before the loop moves on)
    return [np.array(m.data, dtype=np.float32) for m in outs]


def _params(**extra):
    return {"sim_rate_hz": 200.0, "input_timeout_s": 0.0, **extra}


def test_outputs_equal_an_independent_session_run_tick_by_tick(mlp_file):
    rng = np.random.default_rng(0)
    inputs = [tutorial_inputs(rng) for _ in range(10)]
    with Rig(mlp_file, params=_params(publish_debug=True)) as rig:
        actions = rig.collect("policy_node/actions", Float32MultiArray)
        obs = rig.collect("policy_node/obs", Float32MultiArray)
        outs = _run_ticks(rig, inputs)
        assert [m.data for m in rig.ticks] == list(range(10))
        rig.spin_until(lambda: len(actions) == 3 and len(obs) == 3, what="debug topics")
        rig.spin_for(0.2)
        assert len(actions) == 3 and len(obs) == 3  # Default ticks 0, 4, 8 only
    ref = Reference(mlp_file)
    expected = [ref.run(x, k) for k, x in enumerate(inputs)]
    for k in range(10):
        np.testing.assert_allclose(outs[k], expected[k]["out"].reshape(-1), rtol=1e-5, atol=1e-6)
    for i, k in enumerate((0, 4, 8)):
        np.testing.assert_allclose(actions[i].data, expected[k]["actions"].reshape(-1), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(obs[i].data, expected[k]["obs"].reshape(-1), rtol=1e-5, atol=1e-6)
    assert [d.size for d in actions[0].layout.dim] == [1, 2]


def test_default_path_runs_once_per_decimation_on_the_wall_clock(mlp_file):
    x = tutorial_inputs(np.random.default_rng(1))
    with Rig(mlp_file, sim_time=False, params=_params(publish_debug=True, diagnostics_period_s=0.2)) as rig:
        actions = rig.collect("policy_node/actions", Float32MultiArray)
        diags = rig.collect("/diagnostics", DiagnosticArray)
        for name, value in x.items():
            rig.publish(INPUT_TOPICS[name], array_msg(value))
        rig.spin_until(lambda: len(rig.ticks) >= 41, what="41 ticks")
        rig.node.trigger_deactivate()
        rig.spin_for(0.3)
        ticks = [m.data for m in rig.ticks]
        assert ticks == list(range(len(ticks)))
        assert len(actions) == (len(ticks) + 3) // 4
        assert rig.node.stats.policy_steps == len(actions)
        rig.spin_until(lambda: len(diags) > 0, what="/diagnostics")
        values = {kv.key: kv.value for kv in diags[-1].status[0].values}
        assert int(values["ticks"]) == len(ticks) and int(values["policy_steps"]) == len(actions)
        assert float(values["inference_p99_ms"]) > 0.0


def test_lstm_memory_carries_over_between_ticks_and_never_appears_on_a_topic(lstm_file):
    rng = np.random.default_rng(2)
    inputs = [tutorial_inputs(rng) for _ in range(9)]
    with Rig(lstm_file, params=_params(publish_debug=True)) as rig:
        outs = _run_ticks(rig, inputs)
        topics = [name for name, _ in rig.peer.get_topic_names_and_types()]
    assert not [t for t in topics if "memory" in t]
    ref, fresh = Reference(lstm_file), Reference(lstm_file)
    with_memory = [ref.run(x, k)["out"].reshape(-1) for k, x in enumerate(inputs)]
    memoryless = [fresh.run(x, k, keep_memory=False)["out"].reshape(-1) for k, x in enumerate(inputs)]
    np.testing.assert_allclose(np.stack(outs), np.stack(with_memory), rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.stack(outs)[5:], np.stack(memoryless)[5:], atol=1e-4)


def test_reset_service_restores_the_initial_memory_and_step_counter(lstm_file):
    rng = np.random.default_rng(3)
    inputs = [tutorial_inputs(rng) for _ in range(6)]
    with Rig(lstm_file, params=_params()) as rig:
        first = _run_ticks(rig, inputs)
        client = rig.peer.create_client(Trigger, "policy_node/reset")
        rig.spin_until(client.service_is_ready, what="reset service")
        future = client.call_async(Trigger.Request())
        rig.spin_until(future.done, what="reset response")
        assert future.result().success
        assert rig.node.policy.step_count == 0
        outs = rig.collect("policy_node/output/out", Float32MultiArray)
        for k, x in enumerate(inputs):
            _feed(rig, x)
            rig.advance(1, expect_ticks=1)
            rig.spin_until(lambda: len(outs) > k, what=f"output {k} after reset")  # noqa: B023 (waited on before the loop moves on)
        assert [m.data for m in rig.ticks] == list(range(6)) * 2
    again = [np.array(m.data, dtype=np.float32) for m in outs]
    np.testing.assert_allclose(np.stack(again), np.stack(first), rtol=1e-6, atol=1e-7)


def test_node_waits_until_every_input_arrived_once(mlp_file):
    x = tutorial_inputs(np.random.default_rng(4))
    with Rig(mlp_file, params=_params()) as rig:
        _feed(rig, {"foo": x["foo"], "bar_baz_group.bar": x["bar_baz_group.bar"]})
        for _ in range(3):
            rig.advance(1)
        assert rig.ticks == [] and rig.node.stats.waiting == 3
        assert rig.node.inputs.missing() == ["~/input/bar_baz_group/baz"]
        _feed(rig, {"bar_baz_group.baz": x["bar_baz_group.baz"]})
        rig.advance(1, expect_ticks=1)
        assert [m.data for m in rig.ticks] == [0]


@pytest.mark.parametrize(
    "bad",
    [[1.0, 2.0, 3.0], [1.0, float("nan"), 3.0, 4.0], [float("inf")] * 4],
    ids=["wrong-length", "nan", "inf"],
)
def test_bad_message_is_rejected_counted_and_the_last_good_value_kept(mlp_file, bad):
    rng = np.random.default_rng(5)
    good = tutorial_inputs(rng)
    with Rig(mlp_file, params=_params(diagnostics_period_s=0.1)) as rig:
        diags = rig.collect("/diagnostics", DiagnosticArray)
        outs = rig.collect("policy_node/output/out", Float32MultiArray)
        _feed(rig, good)
        rig.advance(1, expect_ticks=1)
        rig.feed({"~/input/foo": Float32MultiArray(data=bad)})
        rig.advance(1, expect_ticks=1)
        rig.spin_until(lambda: len(outs) == 2, what="two outputs")
        assert rig.node.inputs.topics["~/input/foo"].rejected == 1
        rig.spin_until(
            lambda: diags and {kv.key: kv.value for kv in diags[-1].status[0].values}["rejected_messages"] == "1",
            what="rejection in /diagnostics",
        )
        assert diags[-1].status[0].level == b"\x01"  # WARN
    ref = Reference(mlp_file)
    expected = [ref.run(good, 0)["out"], ref.run(good, 1)["out"]]
    for msg, exp in zip(outs, expected):
        np.testing.assert_allclose(msg.data, exp.reshape(-1), rtol=1e-5, atol=1e-6)


def test_stale_input_stops_output_publishing_until_fresh_data_arrives(mlp_file):
    x = tutorial_inputs(np.random.default_rng(6))
    with Rig(mlp_file, params=_params(input_timeout_s=0.05, diagnostics_period_s=0.1)) as rig:
        diags = rig.collect("/diagnostics", DiagnosticArray)
        _feed(rig, x)
        rig.advance(1, expect_ticks=1)
        # 0.05 s at 200 Hz: foo keeps coming, bar/baz go stale after 10 periods.
        for _ in range(14):
            _feed(rig, {"foo": x["foo"]})
            rig.advance(1)
        ticked = len(rig.ticks)
        assert 9 <= ticked <= 12 and rig.node.stats.stale >= 3
        rig.spin_until(
            lambda: diags and diags[-1].status[0].level == b"\x02", what="stale status (ERROR) in /diagnostics"
        )
        values = {kv.key: kv.value for kv in diags[-1].status[0].values}
        assert values["stale_inputs"] == "~/input/bar_baz_group/bar,~/input/bar_baz_group/baz"
        _feed(rig, x)
        rig.advance(1, expect_ticks=1)
        assert len(rig.ticks) == ticked + 1
        assert [m.data for m in rig.ticks] == list(range(ticked + 1))


def test_clock_jump_of_several_periods_runs_one_tick_per_period(mlp_file):
    x = tutorial_inputs(np.random.default_rng(7))
    with Rig(mlp_file, params=_params()) as rig:
        _feed(rig, x)
        rig.advance(1, expect_ticks=1)
        rig.advance(5, expect_ticks=5)
        rig.advance(0)
        rig.spin_for(0.2)
        assert [m.data for m in rig.ticks] == list(range(6))


def test_lifecycle_transitions_start_and_stop_ticking(mlp_file):
    x = tutorial_inputs(np.random.default_rng(8))
    with Rig(mlp_file, sim_time=False, params=_params(autostart=False)) as rig:
        node = rig.node
        assert node.inputs is None and node.lifecycle_state == "unconfigured"
        node.trigger_configure()
        assert node.lifecycle_state == "inactive"
        for name, value in x.items():
            rig.publish(INPUT_TOPICS[name], array_msg(value))
        rig.spin_for(0.2)
        assert rig.ticks == []
        node.trigger_activate()
        assert node.lifecycle_state == "active"
        rig.spin_until(lambda: len(rig.ticks) >= 5, what="ticks after activate")
        node.trigger_deactivate()
        assert node.lifecycle_state == "inactive"
        rig.spin_for(0.1)
        count = len(rig.ticks)
        rig.spin_for(0.2)
        assert len(rig.ticks) == count
        node.trigger_cleanup()
        assert node.lifecycle_state == "unconfigured"
        assert node.policy is None
        pub = rig.peer_publisher("~/input/foo")
        rig.spin_until(lambda: pub.get_subscription_count() == 0, what="subscriptions released")


@pytest.mark.parametrize("case", ["corrupt", "foreign", "missing", "no-rate"])
def test_bad_policy_file_fails_configure_cleanly(tmp_path, mlp_file, case):
    import onnx

    path = tmp_path / "policy.onnx"
    params = {"input_timeout_s": 0.0}
    if case == "corrupt":
        path.write_bytes(mlp_file.read_bytes()[:500])
    elif case == "foreign":
        model = onnx.load(str(mlp_file))
        del model.metadata_props[:]
        onnx.save(model, str(path))
    elif case == "no-rate":
        path = mlp_file  # the tutorial file carries no update_rate and sim_rate_hz is not set
    with Rig(path, sim_time=False, params=params) as rig:
        assert rig.node.start_failed
        assert rig.node.lifecycle_state == "unconfigured"
        assert rig.node.policy is None
        rig.node.trigger_configure()
        assert rig.node.lifecycle_state == "unconfigured"  # retrying fails the same way


def test_activate_reports_state_over_the_lifecycle_service(mlp_file):
    from lifecycle_msgs.srv import GetState

    with Rig(mlp_file, sim_time=False, params=_params()) as rig:
        client = rig.peer.create_client(GetState, "policy_node/get_state")
        rig.spin_until(client.service_is_ready, what="get_state service")
        future = client.call_async(GetState.Request())
        rig.spin_until(future.done, what="get_state response")
        assert future.result().current_state.id == State.PRIMARY_STATE_ACTIVE
