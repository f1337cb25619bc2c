"""Say what differs between two policy files: metadata, graph interface, weights."""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

MAX_LINES = 20
"""Differences listed at most (the rest are counted)."""

_VOLATILE_KEYS = {"date_exported"}
"""Metadata keys that differ between any two exports; not reported."""


def _load(source: bytes | str | pathlib.Path) -> Any:
    import onnx

    if isinstance(source, bytes):
        return onnx.load_from_string(source)
    return onnx.load(str(source))


def _initializers(model: Any) -> dict[str, np.ndarray]:
    """Every initializer and Constant tensor of the model and its subgraphs, by a path-qualified name."""
    from onnx import AttributeProto, numpy_helper

    found: dict[str, np.ndarray] = {}

    def walk(graph: Any, prefix: str) -> None:
        for init in graph.initializer:
            found[prefix + init.name] = numpy_helper.to_array(init)
        for node in graph.node:
            for attr in node.attribute:
                if node.op_type == "Constant" and attr.type == AttributeProto.TENSOR:
                    found[prefix + (node.output[0] if node.output else node.name)] = numpy_helper.to_array(attr.t)
                if attr.type == AttributeProto.GRAPH:
                    walk(attr.g, f"{prefix}{attr.name}/")
                for index, sub in enumerate(attr.graphs):
                    walk(sub, f"{prefix}{attr.name}[{index}]/")

    walk(model.graph, "")
    return found


def _interface(model: Any) -> dict[str, str]:
    from onnx import helper

    def describe(value: Any) -> str:
        tensor = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim]
        return f"{helper.tensor_dtype_to_np_dtype(tensor.elem_type)}{dims}"

    result = {f"input {v.name}": describe(v) for v in model.graph.input}
    result.update({f"output {v.name}": describe(v) for v in model.graph.output})
    return result


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def diff_policies(old: bytes | str | pathlib.Path, new: bytes | str | pathlib.Path) -> list[str]:
    """One line per difference between the policy files ``old`` and ``new`` (file contents or
    paths): metadata keys added, removed or changed; graph inputs and outputs added, removed or
    changed (dtype, shape); initializers (weights, normaliser statistics, constants) added,
    removed, reshaped or changed, with the largest absolute and relative change. At most
    :data:`MAX_LINES` lines, the rest counted in the last one.
    """
    a, b = _load(old), _load(new)
    lines: list[str] = []
    meta_a = {p.key: p.value for p in a.metadata_props if p.key not in _VOLATILE_KEYS}
    meta_b = {p.key: p.value for p in b.metadata_props if p.key not in _VOLATILE_KEYS}
    for key in sorted(meta_a.keys() | meta_b.keys()):
        if key not in meta_b:
            lines.append(f"metadata '{key}' removed (was {_short(meta_a[key])})")
        elif key not in meta_a:
            lines.append(f"metadata '{key}' added: {_short(meta_b[key])}")
        elif meta_a[key] != meta_b[key]:
            lines.append(f"metadata '{key}' changed: {_short(meta_a[key])} -> {_short(meta_b[key])}")
    io_a, io_b = _interface(a), _interface(b)
    for key in sorted(io_a.keys() | io_b.keys()):
        if key not in io_b:
            lines.append(f"graph {key} removed")
        elif key not in io_a:
            lines.append(f"graph {key} added ({io_b[key]})")
        elif io_a[key] != io_b[key]:
            lines.append(f"graph {key} changed: {io_a[key]} -> {io_b[key]}")
    lines += _weight_lines(_initializers(a), _initializers(b))
    if len(lines) > MAX_LINES:
        lines = lines[: MAX_LINES - 1] + [f"... and {len(lines) - MAX_LINES + 1} more difference(s)"]
    return lines


def _weight_lines(init_a: dict[str, np.ndarray], init_b: dict[str, np.ndarray]) -> list[str]:
    lines: list[str] = []
    changed: list[tuple[float, str]] = []
    for name in sorted(init_a.keys() | init_b.keys()):
        if name not in init_b:
            lines.append(f"initializer '{name}' removed ({init_a[name].dtype}{list(init_a[name].shape)})")
            continue
        if name not in init_a:
            lines.append(f"initializer '{name}' added ({init_b[name].dtype}{list(init_b[name].shape)})")
            continue
        x, y = init_a[name], init_b[name]
        if x.shape != y.shape or x.dtype != y.dtype:
            lines.append(f"initializer '{name}' changed {x.dtype}{list(x.shape)} -> {y.dtype}{list(y.shape)}")
            continue
        if x.dtype.kind not in "fiub" or np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            continue
        diff = np.abs(y.astype(np.float64) - x.astype(np.float64))
        scale = float(np.max(np.abs(x.astype(np.float64)))) if x.size else 0.0
        biggest = float(np.nanmax(diff)) if diff.size else 0.0
        rel = biggest / scale if scale > 0 else float("inf")
        count = int(np.count_nonzero(diff))
        changed.append((
            rel,
            f"initializer '{name}' {x.dtype}{list(x.shape)}: {count}/{x.size} values changed, "
            f"max abs change {biggest:.4g} ({rel:.3g} of its largest magnitude)",
        ))
    changed.sort(key=lambda item: -item[0])  # the biggest relative changes first
    return lines + [text for _, text in changed]
