"""Exported example files shared by the format tests (exported once per module)."""

from __future__ import annotations

import pathlib

import pytest

pytest.importorskip("exploy.exporter.core.exporter")


@pytest.fixture(scope="module")
def legged_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, pathlib.Path]:
    """(env, path): the MLP legged-robot example exported by our exporter (our layout)."""
    from exploy.examples.legged_robot import make_mlp_example
    from exploy.exporter.core.exporter import export_environment_as_onnx

    env, actor = make_mlp_example(seed=3)
    folder = tmp_path_factory.mktemp("ours")
    path = export_environment_as_onnx(env=env, actor=actor, path=folder, filename="policy.onnx")
    return env, path
