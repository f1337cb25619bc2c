"""A large input message does not delay the tick: the node decodes outside the tick's lock and
only swaps the decoded values in under it.

The wall-clock tick thread of a real node runs at 200 Hz while the node's own subscription
callback takes JointStates of 200,000 joints (about 50 ms of decoding each). The callback is
called on this thread with a real message rather than through DDS, because rclpy's deserialization
of such a message holds the GIL whatever the node does; what the node controls is whether the
tick waits for the decode.
"""

from __future__ import annotations

import sys
import time

import pytest
from geometry_msgs.msg import Twist
from policy_node_rig import Rig
from sensor_msgs.msg import Imu, JointState

from exploy.examples.legged_robot import JOINT_NAMES, make_mlp_example
from exploy.exporter.core.exporter import export_environment_as_onnx
from exploy.mapping.decoders import JOINT_INDEX_CACHE

JOINTS = "~/input/obj/robot/joints"
IMU = "~/input/obj/robot/base/imu"
CMD = "~/input/cmd/se2_velocity/base_velocity"
RATE_HZ = 200.0
EXTRA_JOINTS = 200_000


@pytest.fixture(scope="module")
def legged_file(tmp_path_factory):
    env, actor = make_mlp_example(seed=5)
    return export_environment_as_onnx(env=env, actor=actor, path=tmp_path_factory.mktemp("legged"))


@pytest.fixture
def short_switch_interval():
    """What ``policy_node`` main() sets for the process (tune_process_for_ticking)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(2e-5)
    yield
    sys.setswitchinterval(before)


def _joint_state(extra: int) -> JointState:
    names = [f"extra_{i}" for i in range(extra)] + list(JOINT_NAMES)
    return JointState(name=names, position=[0.1] * len(names), velocity=[0.0] * len(names))


def test_decoding_large_messages_does_not_stop_the_tick(legged_file, short_switch_interval):
    imu = Imu()
    imu.orientation.w = 1.0
    big = _joint_state(EXTRA_JOINTS)
    with Rig(
        legged_file, sim_time=False, params={"input_timeout_s": 0.0, "sim_rate_hz": RATE_HZ, "tick_mode": "thread"}
    ) as rig:  # the tick on its own thread
        node = rig.node
        rig.feed({JOINTS: _joint_state(0), IMU: imu, CMD: Twist()})
        rig.spin_until(lambda: node.stats.ticks > 20, what="the node ticking")
        callback = next(sub.callback for sub in node.subscriptions if sub.topic_name.endswith("/joints"))
        received = node.inputs.topics[JOINTS].received
        ticks, start = node.stats.ticks, time.monotonic()
        for _ in range(10):
            JOINT_INDEX_CACHE.clear()  # every message decoded in full, as a new joint list would be
            callback(big)
        window = time.monotonic() - start
        ticked = node.stats.ticks - ticks
        assert node.inputs.topics[JOINTS].received == received + 10  # every big message was taken
    expected = window * RATE_HZ
    assert window > 0.25, f"decoding took only {window:.3f} s: the message is too small to show a delay"
    # Decoding under the lock ticks about once per message (5-11% of the periods here; 68-87% without).
    assert ticked >= 0.3 * expected, f"{ticked} ticks in {window:.3f} s while decoding, {expected:.0f} periods"
