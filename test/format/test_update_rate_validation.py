"""A file's update_rate must be a finite sim rate in (0, 100 kHz]: else one clear line at load."""

from __future__ import annotations

import pytest
from edit_file import with_metadata

from exploy.format import PolicyFormatError, read_metadata
from exploy.runtime.policy import Policy


@pytest.mark.parametrize("rate", ["nan", "0", "-200", "inf", "-inf", "1e6", "100001", "fast", ""])
def test_bad_update_rate_is_refused_at_load(legged_export, tmp_path, rate):
    _, path = legged_export
    bad = with_metadata(path, tmp_path / "bad.onnx", {"update_rate": rate})
    if rate == "":  # an empty value means "unknown", as when the sim step is not known
        assert read_metadata(bad).update_rate is None
        return
    with pytest.raises(PolicyFormatError, match="update_rate") as info:
        Policy(bad)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


@pytest.mark.parametrize(("rate", "expected"), [("200", 200.0), ("100000", 100000.0), ("333.3", 333.3)])
def test_good_update_rates_are_read(legged_export, tmp_path, rate, expected):
    _, path = legged_export
    assert read_metadata(with_metadata(path, tmp_path / "ok.onnx", {"update_rate": rate})).update_rate == expected


def test_update_rate_falls_back_to_upstreams_sim_dt(legged_export, tmp_path):
    from edit_file import REMOVE

    _, path = legged_export
    meta = read_metadata(with_metadata(path, tmp_path / "dt.onnx", {"update_rate": REMOVE, "sim_dt": "0.002"}))
    assert meta.update_rate == pytest.approx(500.0)
