"""All-or-nothing configure: a failure at any point is logged in one line, leaves no entity behind
(counted through the ROS graph from another node), and a retry with good settings succeeds;
parameters (integers for doubles, limits, refused overrides); inputs after a deactivation.

Real rclpy nodes on a private domain; the failures are real bad files, mappings and parameters,
plus one fault injected into the node's own code (a subclass) for the "anything else" path.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from policy_node_rig import Rig, array_msg, export_tutorial, tutorial_inputs, unique_domain
from rcl_interfaces.msg import Log
from rclpy.parameter import Parameter

from exploy_ros.policy_node import PolicyNode

INPUTS = ("/input/foo", "/input/bar_baz_group/bar", "/input/bar_baz_group/baz")


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory):
    return export_tutorial(tmp_path_factory.mktemp("mlp"), seed=3)


def _graph(rig: Rig) -> tuple[set[str], set[str], set[str]]:
    """Topics the policy node subscribes and publishes, and its services, as another node sees them."""
    ns = rig.ns
    subs = {name for name, _ in rig.peer.get_subscriber_names_and_types_by_node("policy_node", ns)}
    pubs = {name for name, _ in rig.peer.get_publisher_names_and_types_by_node("policy_node", ns)}
    srvs = {name for name, _ in rig.peer.get_service_names_and_types_by_node("policy_node", ns)}
    return subs, pubs, srvs


def _settle(rig: Rig, expected: tuple[set[str], set[str], set[str]], what: str) -> None:
    rig.spin_until(lambda: _graph(rig) == expected, what=what, timeout=10.0)


def _errors(logs: list[Log]) -> list[str]:
    return [m.msg for m in logs if m.level >= Log.ERROR and m.name.endswith("policy_node")]


def _rosout(rig: Rig) -> list[Log]:
    logs: list[Log] = []
    rig.peer.create_subscription(Log, "/rosout", logs.append, 100)

    def probe_arrived() -> bool:
        rig.node.get_logger().info("rosout probe")
        rig.spin_for(0.02)
        return any(m.msg == "rosout probe" for m in logs)

    rig.spin_until(probe_arrived, what="the node's /rosout reaching the peer")
    return logs


def _mapping(tmp_path, topic: str):
    path = tmp_path / "mapping.yaml"
    path.write_text(f"components:\n  foo: {{topic: {json.dumps(topic)}}}\n")
    return path


def _baseline(rig: Rig) -> tuple[set[str], set[str], set[str]]:
    """The graph of the unconfigured node (lifecycle and parameter services, /rosout, ...)."""
    rig.spin_until(lambda: "/rosout" in _graph(rig)[1], what="the node in the graph")
    rig.spin_for(0.2)
    return _graph(rig)


@pytest.mark.parametrize(
    "topic, says",
    [
        ("~/tick", "tick counter"),
        ("/diagnostics", "diagnostics"),
        ("/rosout", "ROS log"),
        ("/clock", "sim clock"),
        ("a" * 300, "not a valid ROS topic name"),
        ("bad topic", "not a valid ROS topic name"),
    ],
)
def test_mapped_topic_on_the_nodes_own_topic_or_invalid_fails_configure_with_one_line(mlp_file, tmp_path, topic, says):
    params = {"sim_rate_hz": 100.0, "autostart": False, "mapping_file": str(_mapping(tmp_path, topic))}
    with Rig(mlp_file, sim_time=False, params=params) as rig:
        logs = _rosout(rig)
        before = _baseline(rig)
        assert rig.node.trigger_configure().name == "FAILURE"
        assert rig.node.lifecycle_state == "unconfigured"
        rig.spin_until(lambda: _errors(logs), what="the error on /rosout")
        (line,) = _errors(logs)
        assert line.startswith("Configure failed: ") and says in line and "\n" not in line and len(line) < 400
        _settle(rig, before, "nothing left behind")
        assert list(rig.node.timers) == [] and rig.node.policy is None and rig.node.inputs is None


def test_configure_retry_with_good_settings_creates_each_entity_once(mlp_file, tmp_path):
    params = {"sim_rate_hz": 100.0, "autostart": False, "mapping_file": str(_mapping(tmp_path, "~/tick"))}
    with Rig(mlp_file, sim_time=False, params=params) as rig:
        before = _baseline(rig)
        for _ in range(3):
            assert rig.node.trigger_configure().name == "FAILURE"
        _settle(rig, before, "nothing left behind after three failed configures")
        rig.node.set_parameters([Parameter("mapping_file", value="")])
        assert rig.node.trigger_configure().name == "SUCCESS"
        assert rig.node.lifecycle_state == "inactive"
        ns = f"{rig.ns}/policy_node"
        subs, pubs, srvs = before
        expected = (
            subs | {ns + t for t in INPUTS},
            pubs | {ns + "/output/out", ns + "/tick", ns + "/state", "/diagnostics"},
            srvs | {ns + "/reset", ns + "/estop"},
        )
        _settle(rig, expected, "the configured node's entities")
        assert len(list(rig.node.subscriptions)) == len(expected[0] - before[0])  # each input subscribed once
        assert len(list(rig.node.timers)) == 1
        assert rig.node.trigger_activate().name == "SUCCESS"


class _FailingNode(PolicyNode):
    """The real node with a fault injected after its topics and service exist (its timer fails)."""

    fail = True

    def create_timer(self, *args, **kwargs):
        if self.fail:
            raise RuntimeError("injected timer failure")
        return super().create_timer(*args, **kwargs)


def test_unexpected_failure_midway_is_logged_with_its_type_and_releases_everything(mlp_file):
    params = {"sim_rate_hz": 100.0, "autostart": False}
    with Rig(mlp_file, sim_time=False, params=params, node_class=_FailingNode) as rig:
        node = rig.node
        logs = _rosout(rig)
        before = _baseline(rig)
        assert node.trigger_configure().name == "ERROR"
        assert node.lifecycle_state == "unconfigured"  # on_error released everything and recovered
        rig.spin_until(lambda: _errors(logs), what="the error on /rosout")
        assert _errors(logs) == ["Configure failed: RuntimeError: injected timer failure"]
        _settle(rig, before, "nothing left behind")
        assert list(node.subscriptions) == [] and list(node.services) and node.policy is None
        node.fail = False
        assert node.trigger_configure().name == "SUCCESS"
        assert node.trigger_activate().name == "SUCCESS"


@pytest.mark.parametrize("rate", ["nan", 0.0, -200.0, "inf", "1e9", "fast"])
def test_file_with_a_bad_update_rate_fails_configure_with_one_line(mlp_file, tmp_path, rate):
    model = onnx.load(str(mlp_file))
    props = {p.key: p for p in model.metadata_props}
    if "update_rate" in props:
        props["update_rate"].value = str(rate)
    else:
        model.metadata_props.add(key="update_rate", value=str(rate))
    path = tmp_path / "policy.onnx"
    onnx.save(model, str(path))
    with Rig(path, sim_time=False, params={"autostart": False}) as rig:
        logs = _rosout(rig)
        assert rig.node.trigger_configure().name == "FAILURE"
        rig.spin_until(lambda: _errors(logs), what="the error on /rosout")
        (line,) = _errors(logs)
        assert line.startswith("Configure failed: ") and "update_rate" in line and "\n" not in line
        # the file itself is refused at load (exploy.format): a parameter cannot paper over it
        rig.node.set_parameters([Parameter("sim_rate_hz", value=50)])
        assert rig.node.trigger_configure().name == "FAILURE"


def test_integer_for_a_double_parameter_is_taken_as_that_double(mlp_file):
    params = {"sim_rate_hz": 200, "input_timeout_s": 1, "diagnostics_period_s": 2}
    with Rig(mlp_file, sim_time=False, params=params) as rig:
        node = rig.node
        assert not node.start_failed and node.lifecycle_state == "active"
        assert node.rate_hz == 200.0
        for name, value in params.items():
            got = node.get_parameter(name)
            assert got.type_ == Parameter.Type.DOUBLE and got.value == float(value)
        assert node.settings.input_timeout_s == 1.0 and node.settings.diagnostics_period_s == 2.0


def test_parameter_limits_are_in_the_descriptors():
    from exploy_ros.parameters import PARAMETERS

    with Rig("unused.onnx", sim_time=False, params={"autostart": False}) as rig:
        descs = {name: rig.node.describe_parameter(name) for name in PARAMETERS}
    rate = descs["sim_rate_hz"].floating_point_range[0]
    assert (rate.from_value, rate.to_value) == (0.0, 10_000.0)
    prio = descs["realtime_priority"].integer_range[0]
    assert (prio.from_value, prio.to_value) == (0, 99)
    assert descs["qos_depth"].integer_range[0].from_value == 1
    assert descs["autostart"].read_only and not descs["policy_path"].read_only
    assert all(d.description for d in descs.values())


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("qos_depth", 0, "out of range"),
        ("realtime_priority", 120, "out of range"),
        ("sim_rate_hz", -5.0, "out of range"),
        ("sim_rate_hz", 1e9, "out of range"),
        ("sim_rate_hz", "fast", "expected a number"),
        ("qos_depth", 1.5, "qos_depth"),
        ("policy_path", 5, "policy_path"),
    ],
)
def test_a_refused_parameter_fails_configure_with_one_line_instead_of_crashing(mlp_file, name, value, says):
    with Rig(mlp_file, sim_time=False, params={"sim_rate_hz": 100.0, name: value}) as rig:
        assert rig.node.start_failed and rig.node.lifecycle_state == "unconfigured"
        logs = _rosout(rig)
        rig.node.trigger_configure()
        rig.spin_until(lambda: _errors(logs), what="the error on /rosout")
        (line,) = _errors(logs)
        assert line.startswith(f"Configure failed: Parameter '{name}'") and says in line and "\n" not in line


def test_destroy_node_is_safe_on_a_half_built_node():
    import rclpy
    from rclpy.context import Context
    from rclpy.lifecycle import LifecycleNode

    context = Context()
    rclpy.init(context=context, domain_id=unique_domain())
    try:
        node = PolicyNode.__new__(PolicyNode)
        LifecycleNode.__init__(node, "half_built", context=context)  # PolicyNode.__init__ never ran
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_after_deactivate_the_node_waits_for_every_input_again(mlp_file):
    topics = {
        "foo": "~/input/foo",
        "bar_baz_group.bar": "~/input/bar_baz_group/bar",
        "bar_baz_group.baz": "~/input/bar_baz_group/baz",
    }
    x = tutorial_inputs(np.random.default_rng(3))
    with Rig(mlp_file, params={"sim_rate_hz": 100.0, "input_timeout_s": 0.0}) as rig:
        rig.feed({topics[name]: array_msg(value) for name, value in x.items()})
        rig.advance(1, expect_ticks=1)
        assert rig.node.trigger_deactivate().name == "SUCCESS"
        assert rig.node.trigger_activate().name == "SUCCESS"
        ticks = len(rig.ticks)
        rig.advance(3)
        assert len(rig.ticks) == ticks  # the values from before the pause are not used
        assert sorted(rig.node.inputs.missing()) == sorted(topics.values())
        rig.feed({topics[name]: array_msg(value) for name, value in x.items()})
        rig.advance(1, expect_ticks=1)
