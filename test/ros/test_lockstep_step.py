"""The ~/step handshake: the node ticks once per step, only after that step's inputs are in,
whichever arrives first; /clock no longer ticks it afterwards."""

from __future__ import annotations

import numpy as np
import pytest
from policy_node_rig import Reference, Rig, array_msg, export_tutorial, tutorial_inputs
from std_msgs.msg import Float32MultiArray, UInt8MultiArray, UInt64MultiArray

INPUT_TOPICS = {
    "foo": "~/input/foo",
    "bar_baz_group.bar": "~/input/bar_baz_group/bar",
    "bar_baz_group.baz": "~/input/bar_baz_group/baz",
}
PERIOD_NS = 5_000_000


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory):
    return export_tutorial(tmp_path_factory.mktemp("mlp"), seed=3)


def _step(rig: Rig, tick: int, inputs: int) -> None:
    rig.publish("~/step", UInt64MultiArray(data=[1_000_000_000 + tick * PERIOD_NS, inputs]))


def test_a_step_sent_before_its_inputs_waits_for_them_and_ticks_once(mlp_file) -> None:
    rng = np.random.default_rng(4)
    inputs = [tutorial_inputs(rng) for _ in range(6)]
    with Rig(mlp_file, params={"sim_rate_hz": 200.0, "input_timeout_s": 0.0}) as rig:
        outs = rig.collect("policy_node/output/out", Float32MultiArray)
        for k, x in enumerate(inputs):
            if k % 2 == 0:  # step first: the node must hold it until the three inputs are in
                _step(rig, k, 3)
                rig.spin_for(0.05)
                assert len(rig.ticks) == k, f"tick {k} ran before its inputs"
                for name, value in x.items():
                    rig.publish(INPUT_TOPICS[name], array_msg(value))
            else:  # inputs first, then the step
                rig.feed({INPUT_TOPICS[name]: array_msg(value) for name, value in x.items()})
                _step(rig, k, 3)
            rig.spin_until(lambda n=k + 1: len(outs) >= n, what=f"output of tick {k}")
        rig.advance(3)  # /clock after a ~/step driver took over: no tick
        rig.spin_for(0.1)
        assert [m.data for m in rig.ticks] == list(range(6))
    ref = Reference(mlp_file)
    for k, x in enumerate(inputs):
        np.testing.assert_allclose(np.array(outs[k].data), ref.run(x, k)["out"].reshape(-1), rtol=1e-5, atol=1e-6)


# -- ~/step_inputs: the bundled handshake ------------------------------------------------------


def _bundle(tick: int, msgs: dict[str, object]) -> UInt8MultiArray:
    from rclpy.serialization import serialize_message

    from exploy.mapping.step_bundle import pack_step

    carried = [(topic, serialize_message(msg)) for topic, msg in msgs.items()]
    return UInt8MultiArray(data=pack_step(1_000_000_000 + tick * PERIOD_NS, carried))


def test_a_bundle_ticks_once_with_its_inputs_and_clock_no_longer_ticks(mlp_file) -> None:
    rng = np.random.default_rng(5)
    inputs = [tutorial_inputs(rng) for _ in range(5)]
    with Rig(mlp_file, params={"sim_rate_hz": 200.0, "input_timeout_s": 0.0, "soft_start_s": 0.0}) as rig:
        outs = rig.collect("policy_node/output/out", Float32MultiArray)
        for k, x in enumerate(inputs):
            # map names and resolved names are both accepted
            msgs = {(INPUT_TOPICS[n] if k % 2 else rig.topic(INPUT_TOPICS[n])): array_msg(v) for n, v in x.items()}
            rig.publish("~/step_inputs", _bundle(k, msgs))
            rig.spin_until(lambda n=k + 1: len(outs) >= n, what=f"output of tick {k}")
        rig.advance(3)  # /clock after a bundle driver took over: no tick
        rig.spin_for(0.1)
        assert [m.data for m in rig.ticks] == list(range(5))
        assert rig.node.stats.step_rejected == 0
    ref = Reference(mlp_file)
    for k, x in enumerate(inputs):
        np.testing.assert_allclose(np.array(outs[k].data), ref.run(x, k)["out"].reshape(-1), rtol=1e-5, atol=1e-6)


def test_a_bad_bundle_is_dropped_whole_and_the_node_goes_on(mlp_file) -> None:
    rng = np.random.default_rng(6)
    good = [tutorial_inputs(rng) for _ in range(2)]
    with Rig(mlp_file, params={"sim_rate_hz": 200.0, "input_timeout_s": 0.0, "soft_start_s": 0.0}) as rig:
        outs = rig.collect("policy_node/output/out", Float32MultiArray)
        msgs = {INPUT_TOPICS[n]: array_msg(v) for n, v in good[0].items()}
        rig.publish("~/step_inputs", _bundle(0, msgs))
        rig.spin_until(lambda: len(outs) >= 1, what="output of tick 0")
        before = {t: s.received for t, s in rig.node.inputs.topics.items()}
        poisoned = dict(msgs)
        poisoned["~/input/nowhere"] = array_msg([1.0])  # not an input: the whole bundle goes
        bad = [
            UInt8MultiArray(data=b"garbage"),
            _bundle(1, poisoned),
            UInt8MultiArray(data=bytes(_bundle(1, msgs).data)[:-3]),  # truncated
        ]
        from exploy.mapping.step_bundle import pack_step

        bad.append(UInt8MultiArray(data=pack_step(1_000_000_000 + PERIOD_NS, [(INPUT_TOPICS["foo"], b"\x00\x01")])))
        for msg in bad:
            rig.publish("~/step_inputs", msg)
        rig.spin_until(lambda: rig.node.stats.step_rejected >= len(bad), what="the bad bundles to be counted")
        rig.spin_for(0.1)
        assert len(rig.ticks) == 1 and len(outs) == 1, "a bad bundle ran a tick"
        assert {t: s.received for t, s in rig.node.inputs.topics.items()} == before, "part of a bad bundle was taken"
        rig.publish("~/step_inputs", _bundle(1, {INPUT_TOPICS[n]: array_msg(v) for n, v in good[1].items()}))
        rig.spin_until(lambda: len(outs) >= 2, what="output of tick 1 after the bad bundles")
    ref = Reference(mlp_file)
    for k, x in enumerate(good):
        np.testing.assert_allclose(np.array(outs[k].data), ref.run(x, k)["out"].reshape(-1), rtol=1e-5, atol=1e-6)
