"""mjlab tests: one fixed warp kernel cache inside the repo (build/, gitignored), the ROS test rig importable."""

import os
import pathlib
import sys

_ROOT = pathlib.Path(__file__).resolve().parents[2]
# Before warp is imported: its CPU kernels (~20-30 s cold per robot) are compiled once into build/.
os.environ.setdefault("WARP_CACHE_PATH", str(_ROOT / "build" / "warp_cache"))

_ROS_TESTS = _ROOT / "test" / "ros"
if str(_ROS_TESTS) not in sys.path:
    sys.path.insert(0, str(_ROS_TESTS))
