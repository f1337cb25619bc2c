"""What a policy file's graph itself says: its inputs, outputs and the decimation of its ``If``.

Read from the ONNX graph (no onnxruntime): the names, fixed shapes and numpy dtypes of the graph
inputs and outputs, and the divisor of the ``Mod`` that ``ctx.step_count`` goes through before
selecting the Default / ProcessActions branch. Every exploy file (ours and upstream's) has them;
the metadata index is cross-checked against them and, for upstream's files, derived from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exploy.format import names
from exploy.format.errors import PolicyFormatError, excerpt

STEP_COUNT_DTYPES = ("int32", "int64")
"""Element types ``ctx.step_count`` may have in a file."""

STEP_COUNT_SHAPES = ((), (1,))
"""Shapes ``ctx.step_count`` may have in a file (ours: ``()``; upstream's evaluator feeds ``(1,)``)."""

_PASS_THROUGH_OPS = frozenset({"Cast", "Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten"})
"""Ops a step counter may go through before its ``Mod`` (the value is unchanged)."""


@dataclass(frozen=True)
class TensorSignature:
    """Name, fixed shape and numpy dtype name of one graph input or output."""

    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class GraphSignature:
    """The boundary of a policy graph.

    Attributes:
        inputs: Graph inputs by name, in file order.
        outputs: Graph outputs by name, in file order.
        decimation: Divisor of the ``Mod`` on ``ctx.step_count``, or None when the graph has none.
    """

    inputs: dict[str, TensorSignature] = field(default_factory=dict)
    outputs: dict[str, TensorSignature] = field(default_factory=dict)
    decimation: int | None = None


def _dtype_name(elem_type: int, where: str) -> str:
    import onnx

    try:
        return str(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except (KeyError, ValueError, TypeError) as err:
        raise PolicyFormatError(f"Graph {where} has an unsupported element type {elem_type}") from err


def _signature(value_info: Any, where: str) -> TensorSignature:
    tensor = value_info.type.tensor_type
    if not value_info.type.HasField("tensor_type"):
        raise PolicyFormatError(f"Graph {where} '{excerpt(value_info.name)}' is not a tensor")
    shape = []
    for dim in tensor.shape.dim:
        if not dim.HasField("dim_value") or dim.dim_value < 1:
            raise PolicyFormatError(
                f"Graph {where} '{excerpt(value_info.name)}' has a symbolic or empty dimension "
                f"({excerpt(dim.dim_param or dim.dim_value)}); exploy runs fixed shapes, re-export "
                "without dynamic axes"
            )
        shape.append(int(dim.dim_value))
    return TensorSignature(value_info.name, tuple(shape), _dtype_name(tensor.elem_type, where))


def _constant_int(graph: Any, name: str) -> int | None:
    """The integer value of initializer or Constant ``name`` when it holds exactly one value."""
    from onnx import numpy_helper

    for init in graph.initializer:
        if init.name == name:
            value = numpy_helper.to_array(init)
            return int(value.reshape(-1)[0]) if value.size == 1 and value.dtype.kind in "iu" else None
    for node in graph.node:
        if node.op_type == "Constant" and name in node.output:
            for attr in node.attribute:
                if attr.name == "value":
                    value = numpy_helper.to_array(attr.t)
                    if value.size == 1 and value.dtype.kind in "iu":
                        return int(value.reshape(-1)[0])
                if attr.name in ("value_int",):
                    return int(attr.i)
    return None


def graph_decimation(graph: Any) -> int | None:
    """Divisor of the ``Mod`` applied to ``ctx.step_count`` in the top-level graph, or None.

    ``ctx.step_count`` may first go through value-preserving ops (Cast, Reshape, Squeeze, ...).

    Raises:
        PolicyFormatError: when the graph holds several such ``Mod`` with different divisors.
    """
    derived = {names.STEP_COUNT}
    found: set[int] = set()
    for node in graph.node:  # ONNX graphs are topologically sorted
        if not node.input or node.input[0] not in derived:
            continue
        if node.op_type in _PASS_THROUGH_OPS:
            derived.update(o for o in node.output if o)
        elif node.op_type == "Mod" and len(node.input) > 1:
            divisor = _constant_int(graph, node.input[1])
            if divisor is not None:
                found.add(divisor)
    if len(found) > 1:
        raise PolicyFormatError(
            f"The graph takes ctx.step_count modulo several values {sorted(found)[:5]}; "
            "cannot tell its decimation"
        )
    return found.pop() if found else None


def graph_signature(model: Any) -> GraphSignature:
    """Inputs, outputs and decimation of an ONNX ``ModelProto``.

    Raises:
        PolicyFormatError: for non-tensor values, symbolic dimensions, unknown element types or
            duplicate names.
    """
    graph = model.graph
    initializers = {init.name for init in graph.initializer}
    inputs: dict[str, TensorSignature] = {}
    for info in graph.input:
        if info.name in initializers:  # old exporters list initializers as inputs
            continue
        if info.name in inputs:
            raise PolicyFormatError(f"Graph input '{excerpt(info.name)}' appears twice")
        inputs[info.name] = _signature(info, "input")
    outputs: dict[str, TensorSignature] = {}
    for info in graph.output:
        if info.name in outputs:
            raise PolicyFormatError(f"Graph output '{excerpt(info.name)}' appears twice")
        outputs[info.name] = _signature(info, "output")
    return GraphSignature(inputs=inputs, outputs=outputs, decimation=graph_decimation(graph))


def check_step_count(graph: GraphSignature) -> TensorSignature:
    """The ``ctx.step_count`` input, checked to be an int32/int64 scalar or one-element vector.

    Raises:
        PolicyFormatError: when the graph has no such input or it has another type or shape.
    """
    step = graph.inputs.get(names.STEP_COUNT)
    if step is None:
        raise PolicyFormatError(
            f"Not an exploy policy file: the graph has no '{names.STEP_COUNT}' input "
            f"(inputs: {excerpt(sorted(graph.inputs))})"
        )
    if step.dtype not in STEP_COUNT_DTYPES or step.shape not in STEP_COUNT_SHAPES:
        raise PolicyFormatError(
            f"Graph input '{names.STEP_COUNT}' is {step.dtype} of shape {step.shape}; exploy needs an "
            f"int32 or int64 of shape () or (1,)"
        )
    return step
