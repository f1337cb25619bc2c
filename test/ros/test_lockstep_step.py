"""The ~/step handshake: the node ticks once per step, only after that step's inputs are in,
whichever arrives first; /clock no longer ticks it afterwards."""

from __future__ import annotations

import numpy as np
import pytest
from policy_node_rig import Reference, Rig, array_msg, export_tutorial, tutorial_inputs
from std_msgs.msg import Float32MultiArray, UInt64MultiArray

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


def test_a_malformed_step_is_ignored_counted_and_the_node_goes_on(mlp_file) -> None:
    rng = np.random.default_rng(7)
    x = tutorial_inputs(rng)
    with Rig(mlp_file, params={"sim_rate_hz": 200.0, "input_timeout_s": 0.0, "soft_start_s": 0.0}) as rig:
        outs = rig.collect("policy_node/output/out", Float32MultiArray)
        rig.feed({INPUT_TOPICS[name]: array_msg(value) for name, value in x.items()})
        for bad in ([], [1], [1, 2, 3]):
            rig.publish("~/step", UInt64MultiArray(data=bad))
        rig.spin_until(lambda: rig.node.stats.step_rejected == 3, what="three malformed steps counted")
        rig.peer_publisher("~/step").publish(b"\x00\x01\x00\x00\xff\xff\xff\xff")  # bytes that are no message
        rig.spin_until(lambda: rig.node.stats.step_rejected == 4, what="the undecodable step counted")
        assert len(rig.ticks) == 0, "a malformed step ran a tick"
        _step(rig, 0, 3)
        rig.spin_until(lambda: len(outs) >= 1, what="the tick of a good step after bad ones")
    np.testing.assert_allclose(
        np.array(outs[0].data), Reference(mlp_file).run(x, 0)["out"].reshape(-1), rtol=1e-5, atol=1e-6
    )


def test_reset_hands_the_clock_back_and_forgets_a_pending_step(mlp_file) -> None:
    from std_srvs.srv import Trigger

    rng = np.random.default_rng(8)
    with Rig(mlp_file, params={"sim_rate_hz": 200.0, "input_timeout_s": 0.0, "soft_start_s": 0.0}) as rig:
        x = tutorial_inputs(rng)
        rig.feed({INPUT_TOPICS[name]: array_msg(value) for name, value in x.items()})
        _step(rig, 0, 3)
        rig.spin_until(lambda: len(rig.ticks) == 1, what="the stepped tick")
        _step(rig, 1, 3)  # pending: its inputs never come
        rig.spin_for(0.1)
        client = rig.peer.create_client(Trigger, rig.topic("~/reset"))
        assert client.wait_for_service(timeout_sec=5.0)
        future = client.call_async(Trigger.Request())
        rig.spin_until(future.done, what="reset")
        rig.feed({INPUT_TOPICS[name]: array_msg(value) for name, value in x.items()})  # would release the old step
        rig.spin_for(0.1)
        assert len(rig.ticks) == 1, "a step from before the reset ran"
        rig.advance(1, expect_ticks=1)  # /clock ticks the node again after the reset
        assert [m.data for m in rig.ticks] == [0, 0]
