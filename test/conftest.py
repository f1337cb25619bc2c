"""Shared test set-up: the tutorial's code is importable as ``tutorial_code`` from every test."""

import pathlib
import sys

_EXPORTER_TESTS = pathlib.Path(__file__).parent / "exporter"
if str(_EXPORTER_TESTS) not in sys.path:
    sys.path.insert(0, str(_EXPORTER_TESTS))

# Keep DDS discovery on this machine: tests talk over loopback only.
import os  # noqa: E402

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
