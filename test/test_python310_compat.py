"""Robots on ROS 2 Humble run Python 3.10: our code must parse and import there."""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = sorted(
    p for d in ("exploy", "exploy_ros", "launch", "bench") for p in (ROOT / d).rglob("*.py")
)
# Standard-library names that appeared in 3.11.
NEW_IN_311 = re.compile(
    r"\b(tomllib|StrEnum|typing\.Self|from typing import .*\bSelf\b|datetime\.UTC|ExceptionGroup|"
    r"except\*|TaskGroup|asyncio\.timeout|typing\.Never|LiteralString|reveal_type|assert_never)\b"
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_parses_as_python_310(path):
    source = path.read_text()
    ast.parse(source, filename=str(path), feature_version=(3, 10))
    assert not NEW_IN_311.search(source), f"{path} uses a name added in Python 3.11"
