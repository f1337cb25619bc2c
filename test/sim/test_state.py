"""TensorMirror: tensors allocated once, refreshed in place from numpy (float64 -> float32)."""

from __future__ import annotations

import numpy as np
import pytest

from exploy.sim.errors import SimError
from exploy.sim.state import TensorMirror


def test_refresh_updates_the_same_tensor_in_place_with_a_float32_cast() -> None:
    state = np.array([0.1, 0.2, 1.0 / 3.0], dtype=np.float64)
    mirror = TensorMirror()
    tensor = mirror.add("q", lambda: state)
    before = id(tensor), tensor.data_ptr()
    state[:] = [1.5, -2.25, 2.0 / 3.0]
    assert tensor[0, 0].item() == pytest.approx(0.1, abs=1e-7)  # not a view of the float64 array
    mirror.refresh()
    assert (id(mirror["q"]), mirror["q"].data_ptr()) == before
    assert tensor.shape == (1, 3)
    assert tensor.numpy().tolist() == [[1.5, -2.25, np.float32(2.0 / 3.0)]]


def test_sources_that_change_size_or_are_not_1d_are_refused() -> None:
    mirror = TensorMirror()
    with pytest.raises(SimError, match="1-D"):
        mirror.add("m", lambda: np.zeros((2, 2)))
    size = [3]
    mirror.add("v", lambda: np.zeros(size[0]))
    with pytest.raises(SimError, match="unique"):
        mirror.add("v", lambda: np.zeros(3))
    size[0] = 4
    with pytest.raises(SimError, match="keep its size"):
        mirror.refresh()
