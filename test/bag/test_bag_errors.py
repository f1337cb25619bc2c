"""Bad input: corrupt, truncated, foreign or mismatching bags exit 2 with a clear message."""

from __future__ import annotations

import shutil

import pytest
from bag_helpers import STORE, export_variant, rewrite_bag
from rosbags.rosbag2 import StoragePlugin, Writer

from exploy.bag import BagError
from exploy.bag.replay import replay_offline
from exploy.cli.main import main

FOO = "/policy_node/input/foo"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    exported = export_variant("mlp", tmp_path_factory.mktemp("mlp"))
    bag = tmp_path_factory.mktemp("bags") / "mlp"
    exported.record(bag, num_steps=6)
    return exported, bag


def _replay(bag, policy, capsys, *extra):
    code = main(["replay", str(bag), "--policy", str(policy), "--quiet", "--no-plot", *extra])
    return code, capsys.readouterr().err


def _copy(bag, dst):
    shutil.copytree(bag, dst)
    return dst, next(dst.glob("*.mcap"))


def test_truncated_bag(recorded, tmp_path, capsys):
    exported, bag = recorded
    copy, mcap = _copy(bag, tmp_path / "cut")
    mcap.write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 2])
    code, err = _replay(copy, exported.policy, capsys)
    assert code == 2
    assert "corrupt or truncated" in err


def test_corrupt_bag(recorded, tmp_path, capsys):
    exported, bag = recorded
    copy, mcap = _copy(bag, tmp_path / "junk")
    mcap.write_bytes(b"\x89MCAP0\r\n" + bytes(range(256)) * 8)
    code, err = _replay(copy, exported.policy, capsys)
    assert code == 2
    assert "corrupt or truncated" in err or "not a readable rosbag2" in err


def test_missing_bag_and_not_a_bag(recorded, tmp_path, capsys):
    exported, _ = recorded
    assert _replay(tmp_path / "nope", exported.policy, capsys) == (
        2,
        f"exploy replay: Bag not found: {tmp_path / 'nope'}\n",
    )
    (tmp_path / "empty").mkdir()
    code, err = _replay(tmp_path / "empty", exported.policy, capsys)
    assert code == 2 and "not a readable rosbag2 bag" in err


def test_missing_topic(recorded, tmp_path, capsys):
    exported, bag = recorded
    pruned = rewrite_bag(bag, tmp_path / "pruned", lambda t, m, ts, raw: None if t == FOO else (t, m, raw))
    code, err = _replay(pruned, exported.policy, capsys)
    assert code == 2
    assert "lacks topic(s) ['/policy_node/input/foo']" in err


def test_wrong_message_type(recorded, tmp_path, capsys):
    exported, bag = recorded
    text = bytes(STORE.serialize_cdr(STORE.types["std_msgs/msg/String"](data="x"), "std_msgs/msg/String"))

    def retype(topic, msgtype, ts, raw):
        return (topic, "std_msgs/msg/String", text) if topic == FOO else (topic, msgtype, raw)

    code, err = _replay(rewrite_bag(bag, tmp_path / "retyped", retype), exported.policy, capsys)
    assert code == 2
    assert (
        "topic /policy_node/input/foo has message type std_msgs/msg/String, expected std_msgs/msg/Float32MultiArray"
        in err
    )


def test_message_that_does_not_fit_the_policy(recorded, tmp_path):
    exported, bag = recorded
    from bag_helpers import float_array

    def shorten(topic, msgtype, ts, raw):
        return (topic, msgtype, float_array([1.0, 2.0])) if topic == FOO else (topic, msgtype, raw)

    with pytest.raises(BagError, match="input/foo at tick 0 does not fit the policy.*2 values, expected 4"):
        replay_offline(rewrite_bag(bag, tmp_path / "short", shorten), exported.policy)


def test_bag_for_a_different_policy_file(recorded, tmp_path, capsys):
    exported, bag = recorded
    lstm = export_variant("lstm", tmp_path / "lstm")
    code, err = _replay(bag, lstm.policy, capsys)
    assert code == 2
    assert "recorded for policy file 'mlp.onnx'" in err and "--allow-policy-mismatch" in err
    # Allowed, the LSTM file has the same topics: a legitimate comparison, which diverges.
    assert _replay(bag, lstm.policy, capsys, "--allow-policy-mismatch")[0] == 1


def test_bag_for_a_policy_with_other_topics(recorded, tmp_path, capsys):
    _, bag = recorded
    from exploy.examples.legged_robot import make_mlp_example
    from exploy.exporter.core.exporter import export_environment_as_onnx

    env, actor = make_mlp_example()
    legged = export_environment_as_onnx(env=env, actor=actor, path=tmp_path, filename="legged.onnx")
    code, err = _replay(bag, legged, capsys, "--allow-policy-mismatch")
    assert code == 2
    assert "lacks topic(s)" in err and "/policy_node/input/obj/robot/joints" in err


def test_bag_not_written_by_exploy(recorded, tmp_path, capsys):
    exported, _ = recorded
    with Writer(tmp_path / "plain", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=STORE)
        writer.write(
            conn, 1, bytes(STORE.serialize_cdr(STORE.types["std_msgs/msg/String"](data="hi"), "std_msgs/msg/String"))
        )
    code, err = _replay(tmp_path / "plain", exported.policy, capsys)
    assert code == 2
    assert "not an exploy bag" in err


def test_policy_file_that_is_not_onnx(recorded, tmp_path, capsys):
    _, bag = recorded
    bogus = tmp_path / "mlp.onnx"
    bogus.write_bytes(b"not onnx")
    code, err = _replay(bag, bogus, capsys, "--allow-policy-mismatch")
    assert code == 2 and "Cannot load policy file" in err
