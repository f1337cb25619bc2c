"""Every CLI on a corpus of bad files, run as a user runs it (a separate process): exit 2, one
bounded line on stderr, no traceback, within a time bound.

The corpus: corrupt / truncated / zeroed / empty policy files; mapping files that are alias
bombs, binary, deeply nested, too large or invalid; bags with zeroed or truncated MCAP bytes,
and bags whose ``/exploy/meta`` holds wrong types or absurd values. Commands: ``exploy export``,
``exploy inspect``, ``exploy record``, ``exploy replay`` and ``replay_node``.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from exploy.cli.main import main

BIN = pathlib.Path(sys.executable).parent
FACTORY = "exploy.examples.legged_robot:make_mlp_example"
STORE = get_typestore(Stores.ROS2_KILTED)
MAX_SECONDS = 60.0  # per command, on a loaded 2-core CI machine; each takes ~2 s alone
MAX_LINE = 1000


def _bomb() -> str:
    lines = ["a0: &a0 [" + ",".join(['"lol"'] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def _rewrite_meta(src: pathlib.Path, dst: pathlib.Path, **changes: object) -> pathlib.Path:
    """Copy bag ``src`` to ``dst`` with ``changes`` applied to its /exploy/meta JSON (rosbags only)."""
    with Reader(src) as reader, Writer(dst, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {c.id: writer.add_connection(c.topic, c.msgtype, typestore=STORE) for c in reader.connections}
        for conn, stamp, raw in reader.messages():
            if conn.topic == "/exploy/meta":
                meta = json.loads(STORE.deserialize_cdr(raw, conn.msgtype).data)
                meta.update(changes)
                raw = STORE.serialize_cdr(STORE.types["std_msgs/msg/String"](data=json.dumps(meta)), conn.msgtype)
            writer.write(conns[conn.id], stamp, bytes(raw))
    return dst


def _damaged_copy(bag: pathlib.Path, dst: pathlib.Path, edit) -> pathlib.Path:
    shutil.copytree(bag, dst)
    (mcap,) = dst.glob("*.mcap")
    mcap.write_bytes(edit(mcap.read_bytes()))
    return dst


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    policy = root / "good" / "policy.onnx"
    assert main(["export", FACTORY, "--out", str(policy.parent), "--no-evaluate", "--quiet"]) == 0
    bag = root / "good_bag"
    assert main(["record", FACTORY, "--policy", str(policy), "--out", str(bag), "--steps", "4", "--quiet"]) == 0
    raw = policy.read_bytes()
    files = {
        "policy_truncated": raw[: len(raw) // 2],
        "policy_zeroed_header": bytes(64) + raw[64:],
        "policy_junk": bytes(range(256)) * 16,
        "policy_empty": b"",
    }
    for name, data in files.items():
        (root / f"{name}.onnx").write_bytes(data)
    mappings = {
        "alias_bomb": _bomb().encode(),
        "binary": bytes(range(256)) * 8,
        "nested": b"components: " + b"[" * 2000 + b"]" * 2000,
        "huge": b"components:\n" + b"".join(b"  c%d: {topic: /t%d}\n" % (i, i) for i in range(100_000)),
        "not_yaml": b"components: {a: [1, 2\n",
        "unknown_component": b"components:\n  no.such.component: {topic: /x}\n",
    }
    for name, data in mappings.items():
        (root / f"{name}.yaml").write_bytes(data)

    def zero(start: float):
        return lambda b: b[: int(start * len(b))] + bytes(32) + b[int(start * len(b)) + 32 :]

    bags = {
        "bag_zeroed_early": _damaged_copy(bag, root / "bag_zeroed_early", zero(0.2)),
        "bag_zeroed_late": _damaged_copy(bag, root / "bag_zeroed_late", zero(0.8)),
        "bag_truncated": _damaged_copy(bag, root / "bag_truncated", lambda b: b[: len(b) * 2 // 3]),
        "meta_dt_string": _rewrite_meta(bag, root / "meta_dt_string", dt_ns="5000000"),
        "meta_decimation_string": _rewrite_meta(bag, root / "meta_decimation_string", decimation="4"),
        "meta_ticks_negative": _rewrite_meta(bag, root / "meta_ticks_negative", num_ticks=-5),
        "meta_ticks_huge": _rewrite_meta(bag, root / "meta_ticks_huge", num_ticks=10**12),
        "meta_ticks_inflated": _rewrite_meta(bag, root / "meta_ticks_inflated", num_ticks=10**6),
        "meta_t0_null": _rewrite_meta(bag, root / "meta_t0_null", t0_ns=None),
    }
    (root / "not_a_bag").mkdir()
    bags["not_a_bag"] = root / "not_a_bag"
    (root / "user_factory.py").write_text("def make():\n    raise RuntimeError('no checkpoint')\n")
    return root, policy, bag, bags


def _cases(root: pathlib.Path, policy: pathlib.Path, bag: pathlib.Path, bags: dict) -> list[tuple[str, list[str]]]:
    exploy = str(BIN / "exploy")
    replay_node = str(BIN / "replay_node")
    out = str(root / "out")
    cases = []
    for name in ("policy_truncated", "policy_zeroed_header", "policy_junk", "policy_empty"):
        bad = str(root / f"{name}.onnx")
        cases.append((f"inspect {name}", [exploy, "inspect", bad]))
        cases.append((f"replay --policy {name}", [exploy, "replay", str(bag), "--policy", bad, "--out", out, "--quiet",
                                                  "--allow-policy-mismatch"]))
    cases.append(
        (
            "record --policy policy_truncated",
            [
                exploy,
                "record",
                FACTORY,
                "--policy",
                str(root / "policy_truncated.onnx"),
                "--out",
                str(root / "rb1"),
                "--quiet",
            ],
        )
    )
    for name in ("alias_bomb", "binary", "nested", "huge", "not_yaml", "unknown_component"):
        mapping = str(root / f"{name}.yaml")
        cases.append((f"inspect --mapping {name}", [exploy, "inspect", str(policy), "--mapping", mapping]))
    cases.append(("record --mapping alias_bomb",
                  [exploy, "record", FACTORY, "--policy", str(policy), "--mapping", str(root / "alias_bomb.yaml"),
                   "--out", str(root / "rb2"), "--quiet"]))
    for flag, value in (("--steps", "100000000000"), ("--steps", "-5"), ("--sim-dt", "inf"), ("--sim-dt", "nan")):
        cases.append((f"record {flag} {value}", [exploy, "record", FACTORY, "--policy", str(policy), flag, value,
                                                 "--out", str(root / "rb3"), "--quiet"]))
    for flag, value in (("--atol", "nan"), ("--rtol", "-1"), ("--timeout", "-1")):
        cases.append((f"replay {flag} {value}", [exploy, "replay", str(bag), "--policy", str(policy), flag, value,
                                                 "--live", "--out", out, "--quiet"]))
    cases.append(("export user factory raises", [exploy, "export", "user_factory:make", "--out", out]))
    cases.append(("export no such module", [exploy, "export", "no_such_module:make", "--out", out]))
    for name, bad_bag in bags.items():
        cases.append(
            (f"replay {name}", [exploy, "replay", str(bad_bag), "--policy", str(policy), "--out", out, "--quiet"])
        )
    for name in ("bag_zeroed_early", "meta_dt_string", "meta_ticks_huge", "meta_t0_null"):
        cases.append((f"replay_node {name}",
                      [replay_node, "--ros-args", "-p", f"bag:={bags[name]}", "-p", f"policy_path:={policy}"]))
    for param in ("timeout_s:=fast", "atol:=[1, 2]", "allow_policy_mismatch:=3"):  # wrong types: one line, no traceback
        cases.append((f"replay_node -p {param}", [replay_node, "--ros-args", "-p", param, "-p", f"bag:={bag}",
                                                  "-p", f"policy_path:={policy}"]))
    return cases


def _run(case: tuple[str, list[str]], cwd: pathlib.Path) -> tuple[str, int | None, str, float]:
    name, argv = case
    env = {**os.environ, "ROS_DOMAIN_ID": str(100 + os.getpid() % 100), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    start = time.perf_counter()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=MAX_SECONDS, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        return name, None, "timed out", MAX_SECONDS
    return name, done.returncode, done.stderr, time.perf_counter() - start


def test_every_cli_exits_2_with_one_line_on_bad_input(corpus):
    root, policy, bag, bags = corpus
    cases = _cases(root, policy, bag, bags)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda case: _run(case, root), cases))
    failures = []
    for name, code, err, seconds in results:
        lines = err.strip().splitlines()
        if code != 2 or len(lines) != 1 or "Traceback" in err or len(lines[0]) > MAX_LINE:
            failures.append(f"{name}: exit {code} after {seconds:.1f}s, stderr {err[:600]!r}")
    assert not failures, "\n".join(failures)
    assert len(results) >= 30
