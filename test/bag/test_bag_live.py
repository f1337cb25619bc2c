"""Live replay: drive an in-process policy node over real topics in lockstep with a bag."""

from __future__ import annotations

import itertools
import os

import pytest

rclpy = pytest.importorskip("rclpy")
from bag_helpers import export_variant  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from exploy.bag import LiveReplayError  # noqa: E402
from exploy.bag.replay import replay_offline  # noqa: E402
from exploy_ros.policy_node import PolicyNode  # noqa: E402
from exploy_ros.replay_node import replay_live  # noqa: E402

_COUNTER = itertools.count()


class LiveRig:
    """A policy node in its own context, ROS domain and namespace (no crosstalk between tests)."""

    def __init__(self, policy_path, *, start_node: bool = True) -> None:
        self.domain = 1 + (os.getpid() * 17 + next(_COUNTER) * 11 + 101) % 200
        self.ns = f"/bag{os.getpid()}_{next(_COUNTER)}"
        self.context = Context()
        rclpy.init(context=self.context, domain_id=self.domain)
        self.node = None
        if start_node:
            params = {"policy_path": str(policy_path), "use_sim_time": True, "sim_rate_hz": 200.0}
            self.node = PolicyNode(
                namespace=self.ns, context=self.context,
                parameter_overrides=[Parameter(k, value=v) for k, v in params.items()],
            )
            assert not self.node.start_failed

    @property
    def target(self) -> str:
        return f"{self.ns}/policy_node"

    def close(self) -> None:
        if self.node is not None:
            self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture
def rig_factory():
    rigs = []

    def make(policy, **kwargs):
        rigs.append(LiveRig(policy, **kwargs))
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.close()


@pytest.mark.parametrize("variant", ["mlp", "lstm", "hooked"])
def test_registered_variants_match_live_and_offline(variant, tmp_path, rig_factory):
    exported = export_variant(variant, tmp_path / "policy")
    bag = tmp_path / "run"
    exported.record(bag, num_steps=25)
    assert replay_offline(bag, exported.policy).ok
    rig = rig_factory(exported.policy)
    result = replay_live(bag, exported.policy, node=rig.target, context=rig.context, spin_with=[rig.node], timeout=5.0)
    assert result.ok, result.first_divergence
    assert result.mode == "live"
    assert result.outputs["out"].compared_ticks == (100 if variant == "hooked" else 25)


def test_tutorial_as_written_diverges_live_at_the_first_process_actions_tick(tmp_path, rig_factory):
    exported = export_variant("tutorial", tmp_path / "policy")
    bag = tmp_path / "run"
    exported.record(bag, num_steps=3)
    rig = rig_factory(exported.policy)
    result = replay_live(bag, exported.policy, node=rig.target, context=rig.context, spin_with=[rig.node], timeout=5.0)
    assert not result.ok
    first = result.first_divergence
    # Compared once per policy step, on its last (ProcessActions) tick: the file gives out = 2.
    assert (first.tick, first.component) == (3, "out")
    assert first.actual == pytest.approx(2.0)


def test_absent_policy_node_is_a_clear_error(tmp_path, rig_factory):
    exported = export_variant("mlp", tmp_path / "policy")
    bag = tmp_path / "run"
    exported.record(bag, num_steps=1)
    rig = rig_factory(exported.policy, start_node=False)
    with pytest.raises(LiveReplayError, match="Nobody subscribes to .*input/foo"):
        replay_live(bag, exported.policy, node=rig.target, context=rig.context, timeout=0.5, discovery_timeout=0.5)
