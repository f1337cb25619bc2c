"""Node parameters first_step and execution_providers, over the node's real lifecycle."""

from __future__ import annotations

import pytest
from policy_node_rig import Rig, export_tutorial
from std_srvs.srv import Trigger


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory):
    return export_tutorial(tmp_path_factory.mktemp("params"), seed=1)


def _params(**extra):
    return {"sim_rate_hz": 200.0, "input_timeout_s": 0.0, **extra}


def test_first_step_sets_the_counter_at_configure_and_after_reset(mlp_file):
    with Rig(mlp_file, params=_params(first_step=3)) as rig:
        assert rig.node.policy.step_count == 3
        client = rig.peer.create_client(Trigger, rig.topic("~/reset"))
        rig.spin_until(lambda: client.service_is_ready(), what="reset service")
        future = client.call_async(Trigger.Request())
        rig.spin_until(future.done, what="reset reply")
        assert future.result().success and "step counter 3" in future.result().message
        assert rig.node.policy.step_count == 3


def test_defaults_are_first_step_0_on_cpu(mlp_file):
    with Rig(mlp_file, params=_params()) as rig:
        assert rig.node.policy.step_count == 0
        assert rig.node.policy.session.providers == ["CPUExecutionProvider"]


@pytest.mark.parametrize(
    "params", [{"first_step": -1}, {"execution_providers": ["NoSuchProvider"]}, {"execution_providers": [""]}]
)
def test_bad_interop_parameters_fail_configure_cleanly(mlp_file, params):
    with Rig(mlp_file, sim_time=False, params=_params(**params)) as rig:
        assert rig.node.start_failed
        assert rig.node.lifecycle_state == "unconfigured" and rig.node.policy is None
