"""Record simulation runs into rosbag2 bags and replay them against the deployed policy.

- :mod:`exploy.bag.layout`: topics, tick grid and metadata of an exploy bag.
- :mod:`exploy.bag.writer` / :mod:`exploy.bag.reader`: write and read bags with ``rosbags``.
- :mod:`exploy.bag.recorder`: record an ``ExportableEnvironment`` run (imports torch; import
  it explicitly, it is not re-exported here).
- :mod:`exploy.bag.replay`: offline replay; :mod:`exploy.bag.compare`: the comparison engine;
  :mod:`exploy.bag.report`: JSON summary, text summary and PNG plot.

Nothing here imports rclpy; only the recorder imports torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names are imported on first use (PEP 562), so importing one submodule (e.g. the constants of
# ``exploy.bag.compare`` for a CLI's --help) does not load the runtime and onnxruntime.
_EXPORTS = {
    "DEFAULT_ATOL": "exploy.bag.compare",
    "DEFAULT_RTOL": "exploy.bag.compare",
    "Divergence": "exploy.bag.compare",
    "OutputResult": "exploy.bag.compare",
    "ReplayResult": "exploy.bag.compare",
    "compare_outputs": "exploy.bag.compare",
    "BagError": "exploy.bag.errors",
    "LiveReplayError": "exploy.bag.errors",
    "BagMeta": "exploy.bag.layout",
    "Recording": "exploy.bag.reader",
    "check_policy": "exploy.bag.reader",
    "read_bag": "exploy.bag.reader",
    "read_meta": "exploy.bag.reader",
    "replay_offline": "exploy.bag.replay",
}

if TYPE_CHECKING:
    from exploy.bag.compare import DEFAULT_ATOL, DEFAULT_RTOL, Divergence, OutputResult, ReplayResult, compare_outputs
    from exploy.bag.errors import BagError, LiveReplayError
    from exploy.bag.layout import BagMeta
    from exploy.bag.reader import Recording, check_policy, read_bag, read_meta
    from exploy.bag.replay import replay_offline


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'exploy.bag' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "BagError",
    "BagMeta",
    "Divergence",
    "LiveReplayError",
    "OutputResult",
    "Recording",
    "ReplayResult",
    "check_policy",
    "compare_outputs",
    "read_bag",
    "read_meta",
    "replay_offline",
]
