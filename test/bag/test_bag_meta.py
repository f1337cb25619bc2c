"""``/exploy/meta`` is checked field by field (one-line BagError naming the field), and replay
states the tolerance rule it applied."""

from __future__ import annotations

import json

import pytest
from bag_helpers import export_variant

from exploy.bag import BagError, BagMeta
from exploy.cli.main import main

GOOD = BagMeta(
    policy_sha256="ab" * 32, policy_file="p.onnx", exploy_version="0.1.0", decimation=4, dt_ns=5_000_000,
    t0_ns=1_000_000_000, num_ticks=40, sampling="substep",
)


def _with(**changes):
    data = json.loads(GOOD.to_json())
    data.update(changes)
    return json.dumps(data)


def test_good_metadata_round_trips():
    assert BagMeta.from_json(GOOD.to_json()) == GOOD


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"dt_ns": "5000000"}, r"dt_ns is '5000000', expected an integer number of nanoseconds > 0"),
        ({"dt_ns": 5e6}, r"dt_ns is 5000000.0, expected an integer"),
        ({"dt_ns": 0}, r"dt_ns is 0, expected"),
        ({"decimation": "4"}, r"decimation is '4', expected an integer >= 1"),
        ({"decimation": True}, r"decimation is True, expected an integer >= 1"),
        ({"num_ticks": -5}, r"num_ticks is -5, expected an integer in \[0, 2147483647\]"),
        ({"num_ticks": 10**12}, r"num_ticks is 1000000000000, expected an integer in \[0, 2147483647\]"),
        ({"t0_ns": None}, r"t0_ns is None, expected an integer number of nanoseconds >= 0"),
        ({"sampling": "x" * 10_000}, r"sampling is 'xxxx.*…, expected 'substep' or 'policy_step'"),
        ({"inputs": {"/a": 5}}, r"inputs is \{'/a': 5\}, expected an object of topic -> message type"),
        ({"mapping": [1]}, r"mapping is \[1\], expected a mapping document or null"),
        ({"dt_ns": 2**62, "num_ticks": 10}, r"overflow a ROS time stamp"),
        ({"format": 7}, r"exploy bag format 7 is not supported"),
        ({"surprise": 1}, r"unknown field\(s\) \['surprise'\]"),
    ],
)
def test_bad_field_is_a_one_line_bag_error(changes, match):
    with pytest.raises(BagError, match=match) as info:
        BagMeta.from_json(_with(**changes))
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


@pytest.mark.parametrize("text", ["", "[1, 2]", "{", "[" * 100_000 + "]" * 100_000, "null"])
def test_not_json_or_not_an_object_is_a_bag_error(text):
    with pytest.raises(BagError, match="re-record the bag"):
        BagMeta.from_json(text)


def test_missing_field_is_named():
    data = json.loads(GOOD.to_json())
    del data["num_ticks"]
    with pytest.raises(BagError, match=r"lacks \['num_ticks'\]"):
        BagMeta.from_json(json.dumps(data))


def test_replay_states_its_tolerance_rule(tmp_path, capsys):
    exported = export_variant("mlp", tmp_path / "policy")
    bag = tmp_path / "bag"
    exported.record(bag, num_steps=3)
    assert (
        main(
            ["replay", str(bag), "--policy", str(exported.policy), "--no-plot", "--quiet", "--out", str(tmp_path / "r")]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "atol 1e-05, rtol 0.0001" in out
    assert "a value is ok when |actual - expected| <= atol + rtol * |expected|" in out
