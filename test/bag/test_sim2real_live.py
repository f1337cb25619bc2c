"""Live replay names a node that ticks at a rate other than the bag's / the file's (issue 12, class 8)."""

from __future__ import annotations

import itertools
import os

import pytest

rclpy = pytest.importorskip("rclpy")
from bag_helpers import export_variant  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from exploy.bag import LiveReplayError  # noqa: E402
from exploy.bag.rates import tick_rate_problem  # noqa: E402
from exploy_ros.policy_node import PolicyNode  # noqa: E402
from exploy_ros.replay_node import replay_live  # noqa: E402

_COUNTER = itertools.count()
BAG_RATE_HZ = 200.0  # the tutorial file knows no sim rate: bags use the 0.005 s default


@pytest.fixture
def node_at():
    made = []

    def start(policy, rate_hz):
        domain = 1 + (os.getpid() * 19 + next(_COUNTER) * 13 + 57) % 200
        context = Context()
        rclpy.init(context=context, domain_id=domain)
        ns = f"/rate{os.getpid()}_{next(_COUNTER)}"
        params = {"policy_path": str(policy), "use_sim_time": True, "sim_rate_hz": rate_hz}
        node = PolicyNode(
            namespace=ns, context=context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()]
        )
        made.append((node, context))
        return node, context, f"{ns}/policy_node"

    yield start
    for node, context in made:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    exported = export_variant("mlp", tmp_path_factory.mktemp("policy"))
    bag = tmp_path_factory.mktemp("bags") / "run"
    exported.record(bag, num_steps=3)
    return exported, bag


def test_node_ticking_twice_per_clock_step_is_named(recorded, node_at):
    exported, bag = recorded
    node, context, target = node_at(exported.policy, 2 * BAG_RATE_HZ)
    result = replay_live(bag, exported.policy, node=target, context=context, spin_with=[node], timeout=5.0)
    assert not result.ok
    first = result.first_divergence
    # Tick 0 is the node's clock origin (one tick at any rate); from then on it ticks twice.
    # Messages of different topics are unordered, so the step that shows it first may vary a bit.
    assert 1 <= first.tick <= 4 and first.reason.startswith("rate mismatch")
    assert "ticked 23 times over 12 /clock steps" in first.reason
    assert "about 400 Hz instead of the bag's 200 Hz" in first.reason and "more often" in first.reason


def test_node_ticking_at_half_the_rate_is_named(recorded, node_at):
    exported, bag = recorded
    node, context, target = node_at(exported.policy, BAG_RATE_HZ / 2)
    with pytest.raises(
        LiveReplayError,
        match=r"produced no outputs for tick 1 .*rate mismatch: .* \(0 time\(s\) on /clock step 1\).*less often",
    ):
        replay_live(bag, exported.policy, node=target, context=context, spin_with=[node], timeout=1.0)


def test_node_at_the_right_rate_passes(recorded, node_at):
    exported, bag = recorded
    node, context, target = node_at(exported.policy, BAG_RATE_HZ)
    result = replay_live(bag, exported.policy, node=target, context=context, spin_with=[node], timeout=5.0)
    assert result.ok, result.first_divergence


def test_tick_rate_problem_from_hand_counts():
    assert tick_rate_problem([1, 1, 1], dt_ns=5_000_000, file_rate_hz=200.0, node="/n") is None
    step, text = tick_rate_problem([1, 1, 3, 2], dt_ns=5_000_000, file_rate_hz=200.0, node="/n", first_late=1)
    assert step == 1 and "7 times over 4 /clock steps" in text and "about 400 Hz instead of 200 Hz" in text
    step, text = tick_rate_problem([1, 1, 0], dt_ns=5_000_000, file_rate_hz=None, node="/n")
    assert step == 2 and "about 100 Hz instead of the bag's 200 Hz" in text and "less often" in text
