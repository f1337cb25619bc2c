"""The layers import only downwards: format <- runtime <- exporter, no runtime -> exporter or torch,
no format -> runtime or onnxruntime, ``exploy inspect`` without onnxruntime, bag reader and writer
sharing modules rather than each other, and the CLI's tolerances are compare's.

Checked twice: statically (every ``import`` in the source, including lazy and ``TYPE_CHECKING``
ones) and by importing in a fresh interpreter and looking at ``sys.modules``.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

import exploy

ROOT = pathlib.Path(exploy.__file__).parent


def _package(path: pathlib.Path) -> str:
    return ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])


def _imports(path: pathlib.Path, package: str) -> set[str]:
    """Every module ``path`` (in ``package``) imports anywhere in its source (absolute names)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _offending(files: list[pathlib.Path], forbidden: tuple[str, ...], package: str | None = None) -> list[str]:
    bad = []
    for file in files:
        for name in sorted(_imports(file, package or _package(file))):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{file.name} imports {name}")
    return bad


RULES = [
    ("runtime", sorted((ROOT / "runtime").rglob("*.py")), ("exploy.exporter", "torch", "rclpy", "exploy_ros")),
    (
        "format",
        sorted((ROOT / "format").rglob("*.py")),
        ("exploy.runtime", "onnxruntime", "exploy.exporter", "torch", "rclpy"),
    ),
    ("cli/inspect", [ROOT / "cli" / "inspect.py"], ("onnxruntime", "exploy.runtime", "torch", "rclpy")),
    ("bag/reader", [ROOT / "bag" / "reader.py"], ("exploy.bag.writer",)),
    ("bag/writer", [ROOT / "bag" / "writer.py"], ("exploy.bag.reader",)),
    ("mapping", sorted((ROOT / "mapping").rglob("*.py")), ("exploy.runtime", "exploy.exporter", "torch", "rclpy")),
]


@pytest.mark.parametrize(("layer", "files", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_layer_source_imports_nothing_above_it(layer, files, forbidden):
    assert files
    assert _offending(files, forbidden) == []


def test_the_static_check_sees_lazy_relative_imports(tmp_path):
    leaky = tmp_path / "leak.py"
    leaky.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..exporter.core.actor import X\n")
    assert _offending([leaky], ("exploy.exporter",), package="exploy.runtime") == [
        "leak.py imports exploy.exporter.core.actor",
        "leak.py imports exploy.exporter.core.actor.X",
    ]


def _loaded(code: str) -> list[str]:
    probe = (
        f"{code}\nimport sys\n"
        "print(sorted(m for m in ('torch', 'onnxruntime', 'rclpy', 'exploy.exporter', 'exploy.runtime') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])  # a printed list of str


def test_runtime_loads_neither_exporter_nor_torch():
    loaded = _loaded("import exploy.runtime, exploy.runtime.policy, exploy.runtime.session")
    assert "exploy.exporter" not in loaded and "torch" not in loaded and "onnxruntime" in loaded


def test_format_loads_neither_runtime_nor_onnxruntime():
    assert _loaded("import exploy.format, exploy.format.metadata, exploy.format.names") == []


def test_exploy_inspect_runs_without_onnxruntime(tmp_path):
    from exploy.examples.legged_robot import make_mlp_example
    from exploy.exporter.core.exporter import export_environment_as_onnx

    env, actor = make_mlp_example()
    policy = export_environment_as_onnx(env=env, actor=actor, path=tmp_path)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("components:\n  obj.robot.joints: {topic: /joint_states}\n")
    code = (
        "from exploy.cli.main import main\n"
        f"assert main(['inspect', {str(policy)!r}, '--mapping', {str(mapping)!r}]) == 0"
    )
    assert _loaded(code) == []


def test_replay_cli_uses_the_comparison_defaults():
    from exploy.bag.compare import DEFAULT_ATOL, DEFAULT_RTOL
    from exploy.cli.main import build_parser

    args = build_parser().parse_args(["replay", "bag", "--policy", "p.onnx"])
    assert (args.atol, args.rtol) == (DEFAULT_ATOL, DEFAULT_RTOL)
    source = (ROOT / "cli" / "replay.py").read_text()
    assert "1e-5" not in source and "1e-4" not in source
