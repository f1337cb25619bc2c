"""The wall-clock tick designs of the policy node (exploy_ros.ticking) over real topics."""

from __future__ import annotations

import time

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from policy_node_rig import Reference, Rig, array_msg, export_tutorial, tutorial_inputs
from rclpy.context import Context
from rclpy.parameter import Parameter
from std_msgs.msg import Float32MultiArray, UInt64
from std_srvs.srv import Trigger

from exploy_ros.policy_node import PolicyNode
from exploy_ros.ticking import RawInbox, build_executor

INPUT_TOPICS = {
    "foo": "~/input/foo",
    "bar_baz_group.bar": "~/input/bar_baz_group/bar",
    "bar_baz_group.baz": "~/input/bar_baz_group/baz",
}
MODES = {
    "thread": {"tick_mode": "thread"},
    "executor": {"tick_mode": "executor"},
    "executor+decode_on_tick": {"tick_mode": "executor", "decode_on_tick": True},
    "thread+decode_on_tick": {"tick_mode": "thread", "decode_on_tick": True},
    "executor+spin_wait": {"tick_mode": "executor", "spin_wait_us": 300},
}


@pytest.fixture(scope="module")
def lstm_file(tmp_path_factory):
    return export_tutorial(tmp_path_factory.mktemp("lstm"), rnn=True, seed=4)


def _params(**extra):
    return {"sim_rate_hz": 200.0, "input_timeout_s": 0.0, "diagnostics_period_s": 0.2, **extra}


@pytest.mark.parametrize("mode", list(MODES))
def test_every_tick_design_ticks_in_order_with_outputs_of_an_independent_session(lstm_file, mode):
    x = tutorial_inputs(np.random.default_rng(5))
    with Rig(lstm_file, sim_time=False, params=_params(**MODES[mode])) as rig:
        outs = rig.collect("policy_node/output/out", Float32MultiArray)
        diags = rig.collect("/diagnostics", DiagnosticArray)
        sent = time.monotonic()
        for name, value in x.items():
            rig.publish(INPUT_TOPICS[name], array_msg(value))
        rig.spin_until(lambda: len(outs) >= 1, what="first output")
        first_out = time.monotonic()
        rig.spin_until(lambda: len(rig.ticks) >= 30 and len(outs) >= 30, what="30 ticks")
        rig.node.trigger_deactivate()
        rig.spin_for(0.2)
        rig.spin_until(lambda: len(diags) > 0, what="/diagnostics")
        ticks = [m.data for m in rig.ticks]
        latency = rig.node.stats.latency
    assert ticks == list(range(len(ticks)))
    ref = Reference(lstm_file)  # the LSTM's memory makes every output depend on every earlier tick
    expected = [ref.run(x, k)["out"].reshape(-1) for k in range(30)]
    got = [np.array(m.data, dtype=np.float32) for m in outs[:30]]
    np.testing.assert_allclose(np.stack(got), np.stack(expected), rtol=1e-5, atol=1e-6)
    # one input message set, used by the first tick: its receipt-to-publish time is inside publish-to-receive
    assert latency.count == 1
    assert 0.0 < latency.max <= first_out - sent
    values = {kv.key: kv.value for kv in diags[-1].status[0].values}
    assert float(values["latency_p50_ms"]) == pytest.approx(latency.max * 1e3, abs=1e-3)


def test_decode_on_tick_rejects_a_bad_message_and_keeps_the_last_good_value(lstm_file):
    x = tutorial_inputs(np.random.default_rng(6))
    with Rig(lstm_file, sim_time=False, params=_params(tick_mode="executor", decode_on_tick=True)) as rig:
        outs = rig.collect("policy_node/output/out", Float32MultiArray)
        for name, value in x.items():
            rig.publish(INPUT_TOPICS[name], array_msg(value))
        rig.spin_until(lambda: len(outs) >= 3, what="outputs")
        rig.publish(INPUT_TOPICS["foo"], array_msg([np.nan, 0.0, 0.0, 0.0]))
        rig.spin_until(lambda: rig.node.inputs.rejected == 1, what="the NaN message rejected on a tick")
        before = len(outs)
        rig.spin_until(lambda: len(outs) >= before + 3, what="outputs after the rejection")
        np.testing.assert_array_equal(rig.node.inputs.values["foo"].reshape(-1), x["foo"].reshape(-1))
        assert rig.node.inputs.topics["~/input/foo"].rejected == 1


def test_unknown_tick_mode_fails_configure_with_the_allowed_values(lstm_file):
    with Rig(lstm_file, sim_time=False, params=_params(tick_mode="fastest")) as rig:
        assert rig.node.start_failed
        assert rig.node.lifecycle_state == "unconfigured"


def test_bad_cpu_affinity_fails_configure(lstm_file):
    with Rig(lstm_file, sim_time=False, params=_params(cpu_affinity="one")) as rig:
        assert rig.node.start_failed


@pytest.mark.parametrize(
    "override", [{"tick_mode": 3}, {"decode_on_tick": "yes"}, {"raw_inputs": "yes"}, {"spin_wait_us": "fast"}]
)
def test_tick_parameter_of_the_wrong_type_fails_configure_instead_of_the_node(lstm_file, override):
    with Rig(lstm_file, sim_time=False, params=_params(**override)) as rig:
        assert rig.node.start_failed


def test_events_executor_runs_the_node_ticks_in_order_and_serves_reset(lstm_file):
    from rclpy.executors import Executor

    context = Context()
    rclpy.init(context=context, domain_id=201 + (id(context) % 20))
    node = PolicyNode(
        namespace="/ev",
        context=context,
        parameter_overrides=[
            Parameter(k, value=v) for k, v in {"policy_path": str(lstm_file), **_params(tick_mode="events")}.items()
        ],
    )
    peer = rclpy.create_node("peer", namespace="/ev", context=context)
    executor: Executor = build_executor("events", context=context)
    # the Kilted and Jazzy (7.1.6) wheels both have it: no fallback to a SingleThreadedExecutor here
    assert type(executor).__name__ == "EventsExecutor"
    try:
        executor.add_node(node)
        executor.add_node(peer)
        ticks: list = []
        peer.create_subscription(UInt64, "policy_node/tick", ticks.append, 100)
        pubs = {
            n: peer.create_publisher(Float32MultiArray, t.replace("~", "/ev/policy_node"), 10)
            for n, t in INPUT_TOPICS.items()
        }
        x = tutorial_inputs(np.random.default_rng(7))
        end = time.monotonic() + 20.0
        published = 0.0
        while len(ticks) < 20:
            assert time.monotonic() < end, "no ticks under the EventsExecutor"
            if time.monotonic() - published > 0.05:  # until discovery; input_timeout_s 0: never stale
                published = time.monotonic()
                for name, pub in pubs.items():
                    pub.publish(array_msg(x[name]))
            executor.spin_once(timeout_sec=0.01)
        assert [m.data for m in ticks[:20]] == list(range(20))
        client = peer.create_client(Trigger, "policy_node/reset")
        while not client.service_is_ready():
            assert time.monotonic() < end + 10.0, "reset service never seen"
            executor.spin_once(timeout_sec=0.01)
        future = client.call_async(Trigger.Request())
        while not future.done():  # services work under the EventsExecutor too
            assert time.monotonic() < end + 10.0, "no reset response under the EventsExecutor"
            executor.spin_once(timeout_sec=0.01)
        assert future.result().success
    finally:
        node.destroy_node()
        peer.destroy_node()
        rclpy.try_shutdown(context=context)


def test_raw_inbox_keeps_arrival_order_and_drops_the_oldest_beyond_its_depth():
    inbox = RawInbox(["/a", "/b"], depth=2)
    for k in range(3):
        inbox.put("/a", f"a{k}", k)
    inbox.put("/b", "b0", 10)
    assert list(inbox.drain()) == [("/a", "a1", 1), ("/a", "a2", 2), ("/b", "b0", 10)]
    assert list(inbox.drain()) == []
