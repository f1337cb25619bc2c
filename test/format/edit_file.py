"""Copy a policy file with some metadata entries replaced (or removed), to make bad files."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

import onnx

REMOVE = object()


def with_metadata(src: pathlib.Path, dst: pathlib.Path, changes: Mapping[str, object]) -> pathlib.Path:
    """``src`` saved as ``dst`` with metadata ``changes`` applied (value :data:`REMOVE` drops a key)."""
    model = onnx.load(str(src))
    props = {p.key: p.value for p in model.metadata_props}
    for key, value in changes.items():
        if value is REMOVE:
            props.pop(key, None)
        else:
            props[key] = str(value)
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return dst
