"""Record simulation runs into rosbag2 bags and replay them against the deployed policy.

- :mod:`exploy.bag.layout`: topics, tick grid and metadata of an exploy bag.
- :mod:`exploy.bag.writer` / :mod:`exploy.bag.reader`: write and read bags with ``rosbags``.
- :mod:`exploy.bag.recorder`: record an ``ExportableEnvironment`` run (imports torch; import
  it explicitly, it is not re-exported here).
- :mod:`exploy.bag.replay`: offline replay; :mod:`exploy.bag.compare`: the comparison engine;
  :mod:`exploy.bag.report`: JSON summary, text summary and PNG plot.

Nothing here imports rclpy; only the recorder imports torch.
"""

from exploy.bag.compare import DEFAULT_ATOL, DEFAULT_RTOL, Divergence, OutputResult, ReplayResult, compare_outputs
from exploy.bag.errors import BagError, LiveReplayError
from exploy.bag.layout import BagMeta
from exploy.bag.reader import Recording, check_policy, read_bag, read_meta
from exploy.bag.replay import replay_offline

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
