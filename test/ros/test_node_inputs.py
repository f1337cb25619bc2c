"""InputStore: last good values, throttled rejection logs, freshness (no rclpy.init needed)."""

from __future__ import annotations

import numpy as np
from std_msgs.msg import Float32MultiArray

from exploy.format import ComponentKind, ComponentSpec, PolicyMetadata
from exploy.mapping import build_topic_map
from exploy_ros.inputs import InputStore

MS = 1_000_000


def _store(logs: list[str], timeout_ms: int = 50) -> InputStore:
    meta = PolicyMetadata(
        exploy_version="0",
        decimation=1,
        update_rate=None,
        components=(
            ComponentSpec("a", ComponentKind.INPUT, (1, 2), "float32"),
            ComponentSpec("b", ComponentKind.INPUT, (1, 1), "float32"),
            ComponentSpec("y", ComponentKind.OUTPUT, (1, 1), "float32"),
        ),
    )
    return InputStore(
        build_topic_map(meta).inputs, timeout_ns=timeout_ms * MS, log_warning=logs.append, log_period_ns=1000 * MS
    )


def test_rejections_are_counted_every_time_but_logged_once_per_period():
    logs: list[str] = []
    store = _store(logs)
    assert store.receive("~/input/a", Float32MultiArray(data=[1.0, 2.0]), 0)
    for i in range(5):
        assert not store.receive("~/input/a", Float32MultiArray(data=[float("nan"), 2.0]), (i + 1) * MS)
    assert store.topics["~/input/a"].rejected == 5 and store.rejected == 5
    assert len(logs) == 1 and "NaN" in logs[0] and "~/input/a" in logs[0]
    store.receive("~/input/a", Float32MultiArray(data=[1.0]), 2000 * MS)
    assert len(logs) == 2 and "expected 2" in logs[1]
    np.testing.assert_array_equal(store.values["a"], [[1.0, 2.0]])


def test_missing_and_stale_inputs_are_reported_and_freshness_resumes():
    logs: list[str] = []
    store = _store(logs)
    store.receive("~/input/a", Float32MultiArray(data=[1.0, 2.0]), 0)
    assert store.missing() == ["~/input/b"] and not store.all_arrived
    store.receive("~/input/b", Float32MultiArray(data=[3.0]), 40 * MS)
    assert store.missing() == [] and store.all_arrived
    assert store.stale(50 * MS) == []
    assert store.stale(60 * MS) == ["~/input/a"]
    assert store.topics["~/input/a"].stale_events == 1 and "stale" in logs[-1]
    store.receive("~/input/a", Float32MultiArray(data=[1.0, 2.0]), 61 * MS)
    assert store.stale(62 * MS) == [] and "fresh again" in logs[-1]
