"""The installed `policy_node` console script in its own process, talking over real topics."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import rclpy
from policy_node_rig import Reference, array_msg, export_tutorial, tutorial_inputs, unique_domain
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import Float32MultiArray

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = shutil.which("policy_node", path=str(pathlib.Path(sys.executable).parent))

pytestmark = pytest.mark.skipif(  # in CI (`make test`) it must be there: fail instead
    SCRIPT is None and not os.environ.get("CI"),
    reason="console script policy_node not installed next to this python (`make venv` installs it)",
)


def _start(args: list[str], domain: int) -> subprocess.Popen:
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [SCRIPT, "--ros-args", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_console_script_runs_the_policy_and_exits_cleanly_on_sigint(tmp_path):
    path = export_tutorial(tmp_path, seed=5)
    domain, ns = unique_domain(), f"/proc{os.getpid()}"
    proc = _start(
        ["--params-file", str(ROOT / "config" / "policy_node.yaml"), "-p", f"policy_path:={path}",
         "-p", "sim_rate_hz:=200.0", "-r", f"__ns:={ns}"],
        domain,
    )
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    try:
        peer = rclpy.create_node("peer", namespace=ns, context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(peer)
        outs: list = []
        peer.create_subscription(Float32MultiArray, "policy_node/output/out", outs.append, 1000)
        x = tutorial_inputs(np.random.default_rng(0))
        pubs = {
            name: peer.create_publisher(Float32MultiArray, "policy_node/input/" + name.replace(".", "/"), 10)
            for name in x
        }
        end = time.monotonic() + 60
        while len(outs) < 20:
            assert time.monotonic() < end and proc.poll() is None, "no outputs from the node process"
            for name, pub in pubs.items():
                pub.publish(array_msg(x[name]))
            executor.spin_once(timeout_sec=0.005)
        ref = Reference(path)
        for k, msg in enumerate(outs[:20]):
            np.testing.assert_allclose(msg.data, ref.run(x, k)["out"].reshape(-1), rtol=1e-5, atol=1e-6)
        peer.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_console_script_with_a_corrupt_file_exits_1_with_the_reason(tmp_path):
    bad = tmp_path / "policy.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    proc = _start(["-p", f"policy_path:={bad}", "-p", "sim_rate_hz:=100.0"], unique_domain())
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "Configure failed" in err and "cannot load" in err and str(bad) in err
    assert "Traceback" not in err


def _communicate(proc: subprocess.Popen, timeout: float = 60) -> str:
    """The process's stderr once it exited; killed (and the test failed) if it runs past ``timeout``."""
    try:
        return proc.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


@pytest.mark.parametrize(
    "case, says",
    [
        ("mapping on ~/tick", "tick counter"),
        ("mapping on /rosout", "ROS log"),
        ("300-char topic", "not a valid ROS topic name"),
        ("qos_depth 0", "Parameter 'qos_depth'"),
        ("sim_rate_hz a word", "Parameter 'sim_rate_hz'"),
    ],
)
def test_console_script_with_bad_settings_exits_1_with_one_logged_reason(tmp_path, case, says):
    path = export_tutorial(tmp_path, seed=6)
    rate = "fast" if case == "sim_rate_hz a word" else "200"  # 200: an integer for a double
    args = ["-p", f"policy_path:={path}", "-p", f"sim_rate_hz:={rate}"]
    mapping = tmp_path / "mapping.yaml"
    topic = {"mapping on ~/tick": "~/tick", "mapping on /rosout": "/rosout", "300-char topic": "t" * 300}.get(case)
    if topic:
        mapping.write_text(f"components:\n  foo: {{topic: '{topic}'}}\n")
        args += ["-p", f"mapping_file:={mapping}"]
    elif case == "qos_depth 0":
        args += ["-p", "qos_depth:=0"]
    proc = _start(args, unique_domain())
    err = _communicate(proc)
    assert proc.returncode == 1, err
    failures = [line for line in err.splitlines() if "Configure failed" in line]
    assert len(failures) == 1 and says in failures[0], err
    assert "Traceback" not in err and "Exception" not in err


def test_console_script_with_a_malformed_index_exits_1_with_one_line(tmp_path):
    import onnx

    model = onnx.load(str(export_tutorial(tmp_path, seed=7)))
    (index,) = [p for p in model.metadata_props if p.key == "exploy.components"]
    index.value = '{"components": 5}'
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    proc = _start(["-p", f"policy_path:={bad}", "-p", "sim_rate_hz:=100"], unique_domain())
    err = _communicate(proc)
    assert proc.returncode == 1, err
    assert len([line for line in err.splitlines() if "Configure failed" in line]) == 1, err
    assert "Traceback" not in err
