"""Structural checks of a recording before it is replayed."""

from __future__ import annotations

import numpy as np

from exploy.bag.errors import BagError
from exploy.bag.layout import SAMPLING_SUBSTEP
from exploy.bag.reader import Recording


def check_expected_complete(recording: Recording, bag: str) -> None:
    """Every policy step must carry its expected outputs on the ticks its sampling says:
    all ``decimation`` ticks (``substep``), or its last tick (``policy_step``).

    Raises:
        BagError: naming the first policy step that does not, and which ticks lack values.
    """
    meta = recording.meta
    dec = meta.decimation
    steps = recording.num_ticks // dec
    if steps == 0:
        return
    present = np.ones(recording.num_ticks, dtype=bool)
    present[recording.missing_ticks] = False
    for name, ticks in recording.expected_ticks.items():
        grid = (ticks[: steps * dec] | ~present[: steps * dec]).reshape(steps, dec)
        bad = ~grid.all(axis=1) if meta.sampling == SAMPLING_SUBSTEP else ~grid[:, -1]
        if bad.any():
            step = int(np.argmax(bad))
            lacking = [int(step * dec + i) for i in np.flatnonzero(~grid[step])]
            raise BagError(
                f"{bag}: policy step {step} (ticks {step * dec}..{step * dec + dec - 1}) has no expected "
                f"'{name}' on tick(s) {lacking[:8]} ({int(bad.sum())} such step(s)): the bag does not have "
                f"{dec} ticks (the file's decimation) per policy step. Was it recorded with an environment "
                "whose real substep count differs from its decimation? Fix the environment and re-record"
            )
