"""Recording: the bag read back with rosbags directly has the right topics, types, counts, stamps and values."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import yaml
from bag_helpers import DECIMATION, NUM_STEPS, export_variant, read_all, tutorial_trajectory

import exploy
from exploy.bag import BagError
from exploy.bag.layout import DEFAULT_T0_NS

IN = {
    "/policy_node/input/foo": "foo",
    "/policy_node/input/bar_baz_group/bar": "bar",
    "/policy_node/input/bar_baz_group/baz": "baz",
}
EXPECTED = "/exploy/expected/policy_node/output/out"
F32 = "std_msgs/msg/Float32MultiArray"
F64 = "std_msgs/msg/Float64MultiArray"


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    return export_variant("mlp", tmp_path_factory.mktemp("mlp"))


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_policy_step_recording_reads_back_with_rosbags(mlp, tmp_path, storage):
    bag = tmp_path / "run"
    mlp.record(bag, storage=storage)
    assert any(p.suffix == (".mcap" if storage == "mcap" else ".db3") for p in bag.iterdir())
    types, msgs, custom = read_all(bag)

    assert types == {
        "/clock": "rosgraph_msgs/msg/Clock",
        "/exploy/meta": "std_msgs/msg/String",
        "/exploy/reset": "std_msgs/msg/Empty",
        **{t: F32 for t in IN},
        EXPECTED: F32,
        "/exploy/policy": "std_msgs/msg/UInt8MultiArray",
        "/exploy/stage/obs": F64,
        "/exploy/stage/actions": F64,
        "/exploy/stage/memory/actions": F64,
        "/exploy/stage/memory/processed_action": F64,
    }
    dt = 5_000_000  # the tutorial knows no sim rate: the 0.005 s default
    ticks = NUM_STEPS * DECIMATION
    by_topic: dict[str, list] = {}
    for topic, stamp, msg in msgs:
        by_topic.setdefault(topic, []).append((stamp, msg))
    clock = by_topic["/clock"]
    assert [s for s, _ in clock] == [DEFAULT_T0_NS + k * dt for k in range(ticks)]
    assert all(m.clock.sec * 10**9 + m.clock.nanosec == s for s, m in clock)
    # Once per policy step: inputs on its first tick, the expected output on its last.
    for topic in IN:
        assert [s for s, _ in by_topic[topic]] == [DEFAULT_T0_NS + k * DECIMATION * dt for k in range(NUM_STEPS)]
    assert [s for s, _ in by_topic[EXPECTED]] == [
        DEFAULT_T0_NS + ((k + 1) * DECIMATION - 1) * dt for k in range(NUM_STEPS)
    ]
    # The simulator's stages on the first tick of each policy step; the policy file once.
    for topic in ("/exploy/stage/obs", "/exploy/stage/actions", "/exploy/stage/memory/actions"):
        assert [s for s, _ in by_topic[topic]] == [DEFAULT_T0_NS + k * DECIMATION * dt for k in range(NUM_STEPS)]
    assert bytes(by_topic["/exploy/policy"][0][1].data) == mlp.policy.read_bytes()
    # The episode resets after 10 policy steps: before ticks 40 and 80.
    assert [s for s, _ in by_topic["/exploy/reset"]] == [DEFAULT_T0_NS + t * dt for t in (40, 80)]

    truth = tutorial_trajectory(mlp.actor, NUM_STEPS, registered=True)
    for step, values in enumerate(truth):
        for topic, name in IN.items():
            np.testing.assert_allclose(by_topic[topic][step][1].data, values[name], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(by_topic[EXPECTED][step][1].data, values["out"], rtol=1e-5, atol=1e-6)

    meta = yaml.safe_load(by_topic["/exploy/meta"][0][1].data)
    assert meta == yaml.safe_load(custom["exploy.meta"])
    assert meta["policy_sha256"] == hashlib.sha256(mlp.policy.read_bytes()).hexdigest()
    assert meta["exploy_version"] == exploy.__version__
    assert (meta["decimation"], meta["num_ticks"], meta["sampling"]) == (DECIMATION, ticks, "policy_step")


def test_hooked_environment_is_recorded_every_substep(tmp_path):
    hooked = export_variant("hooked", tmp_path / "policy")
    bag = tmp_path / "run"
    result = hooked.record(bag, num_steps=12)
    assert result.meta.sampling == "substep"
    types, msgs, _ = read_all(bag)
    dt = 5_000_000  # HookedExportableEnv.sim_dt, stored in the file as update_rate 200 Hz
    ticks = 12 * DECIMATION
    foo = [(s, m.data) for t, s, m in msgs if t == "/policy_node/input/foo"]
    out = [(s, m.data) for t, s, m in msgs if t == EXPECTED]
    assert [s for s, _ in foo] == [DEFAULT_T0_NS + k * dt for k in range(ticks)]
    assert [s for s, _ in out] == [DEFAULT_T0_NS + k * dt for k in range(ticks)]
    # Substep i of a policy step sees foo after i physics ticks of +0.1 (update() before it);
    # the episode resets after 10 policy steps (40 ticks).
    for k, (_, data) in enumerate(foo):
        np.testing.assert_allclose(data, np.array([1.0, 2, 3, 4]) + 0.1 * (k % 40), rtol=1e-5, atol=1e-5)
    # With the processed actions registered, every substep of a step has the same output 3a + 2.
    truth = tutorial_trajectory(hooked.actor, 12, registered=True)
    for k, (_, data) in enumerate(out):
        np.testing.assert_allclose(data, truth[k // DECIMATION]["out"], rtol=1e-5, atol=1e-6)


def test_environment_not_matching_the_policy_is_rejected(mlp, tmp_path):
    lstm = export_variant("lstm", tmp_path / "lstm")
    env = mlp.fresh_env()  # no actor memory registered
    from exploy.bag.recorder import record

    with pytest.raises(BagError, match="do not match"):
        record(env, mlp.actor, lstm.policy, tmp_path / "bag", num_steps=2)
    assert not (tmp_path / "bag").exists()


def test_existing_bag_is_not_overwritten(mlp, tmp_path):
    (tmp_path / "bag").mkdir()
    with pytest.raises(BagError, match="exists already"):
        mlp.record(tmp_path / "bag", num_steps=1)
