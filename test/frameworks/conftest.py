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


import pytest  # noqa: E402

GO1_TASK = "Mjlab-Velocity-Flat-Unitree-Go1"
GO1_EPISODE_S = 1.0  # 50 policy steps: evaluation and recording cross a reset


@pytest.fixture(scope="session")
def go1(tmp_path_factory):
    """The Go1 flat velocity task (random actor, seed 0) and its exported file: one env per session."""
    pytest.importorskip("mjlab", reason="the mjlab extra is not installed")
    from exploy.exporter.core.exporter import export_environment_as_onnx
    from exploy.frameworks.mjlab import make_task_export

    made = make_task_export(GO1_TASK, seed=0, episode_length_s=GO1_EPISODE_S)
    path = export_environment_as_onnx(env=made.env, actor=made.actor, path=tmp_path_factory.mktemp("go1"))
    return made, path
