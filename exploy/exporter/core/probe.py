"""Post-export probe: does an Output change on a ProcessActions tick with unchanged inputs?"""

from __future__ import annotations

import warnings

import numpy as np
import onnxruntime as ort

from exploy.exporter.core.errors import SimRateWarning
from exploy.format import names


def probe_sim_rate_outputs(
    session: ort.InferenceSession, inputs: dict[str, np.ndarray], output_names: list[str]
) -> list[str]:
    """Run a Default tick, then a ProcessActions tick with the same inputs and memory fed back.

    An Output that changes between the two was computed from state that the ProcessActions
    path does not receive (it got baked in as a constant), so on the robot it will be wrong
    on every sim tick between policy steps. Warns with :class:`SimRateWarning`.

    Returns:
        The names of the Outputs that changed.
    """
    out_names = [o.name for o in session.get_outputs()]
    feed = dict(inputs)
    feed[names.STEP_COUNT] = np.array(0, dtype=np.int32)
    first = dict(zip(out_names, session.run(out_names, feed)))
    for name, value in first.items():
        if names.is_memory_name(name):
            feed[name[: -len(names.MEMORY_OUT_SUFFIX)] + names.MEMORY_IN_SUFFIX] = value
    feed[names.STEP_COUNT] = np.array(1, dtype=np.int32)
    second = dict(zip(out_names, session.run(out_names, feed)))
    changed = [
        n for n in output_names if not np.allclose(first[n], second[n], rtol=1e-5, atol=1e-6, equal_nan=True)
    ]
    if changed:
        details = ", ".join(
            f"'{n}' (max change {float(np.max(np.abs(first[n] - second[n]))):.4g})" for n in changed
        )
        warnings.warn(
            SimRateWarning(
                f"Output(s) {details} differ between a Default tick and the following "
                "ProcessActions tick with identical inputs: apply_actions() reads state that is "
                "neither an Input nor a Memory, and the ProcessActions path baked its export-time "
                "value in as a constant. On the robot these outputs will be wrong at sim rate. "
                "Register that state (e.g. the processed actions) as Memory."
            ),
            stacklevel=3,
        )
    return changed
