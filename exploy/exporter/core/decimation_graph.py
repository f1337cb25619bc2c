"""Combine the Default and ProcessActions graphs into one file switched by ``ctx.step_count``."""

from __future__ import annotations

from collections.abc import Sequence

import onnx
from onnx import TensorProto, helper

from exploy.format import names


def _branch(
    model: onnx.ModelProto, prefix: str, outer_inputs: set[str], outputs: Sequence[str]
) -> tuple[onnx.GraphProto, list[onnx.TensorProto]]:
    """Turn an exported model into an ``If`` branch reading the outer graph's inputs.

    Every value the branch defines is prefixed so the two branches cannot collide; its
    initializers are returned to be hoisted into the outer graph.
    """
    graph = model.graph
    rename: dict[str, str] = {}
    for init in graph.initializer:
        rename[init.name] = f"{prefix}/{init.name}"
    for node in graph.node:
        for out in node.output:
            if out:
                rename[out] = f"{prefix}/{out}"
    for inp in graph.input:
        if inp.name not in outer_inputs and inp.name not in rename:
            raise ValueError(f"Exported {prefix} graph has an unexpected input '{inp.name}'")

    def mapped(name: str) -> str:
        return rename.get(name, name)

    nodes = []
    for node in graph.node:
        new = onnx.NodeProto()
        new.CopyFrom(node)
        new.name = f"{prefix}/{node.name}" if node.name else ""
        del new.input[:]
        new.input.extend(mapped(n) if n else n for n in node.input)
        del new.output[:]
        new.output.extend(mapped(n) if n else n for n in node.output)
        for attr in new.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                _rename_subgraph_refs(sub, rename)
        nodes.append(new)

    graph_outputs = {o.name: o for o in graph.output}
    branch_outputs = []
    for name in outputs:
        if name not in graph_outputs:
            raise ValueError(f"Exported {prefix} graph lacks output '{name}'")
        out_name = f"{prefix}/out/{name}"
        nodes.append(helper.make_node("Identity", [mapped(name)], [out_name], name=f"{prefix}/out_{name}"))
        info = onnx.ValueInfoProto()
        info.CopyFrom(graph_outputs[name])
        info.name = out_name
        branch_outputs.append(info)

    inits = []
    for init in graph.initializer:
        new_init = onnx.TensorProto()
        new_init.CopyFrom(init)
        new_init.name = rename[init.name]
        inits.append(new_init)
    return helper.make_graph(nodes, f"{prefix}_branch", [], branch_outputs), inits


def _rename_subgraph_refs(graph: onnx.GraphProto, rename: dict[str, str]) -> None:
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                _rename_subgraph_refs(sub, rename)
    for out in graph.output:
        if out.name in rename:
            out.name = rename[out.name]


def build_decimation_model(
    *,
    default: onnx.ModelProto,
    process_actions: onnx.ModelProto,
    inputs: Sequence[onnx.ValueInfoProto],
    outputs: Sequence[str],
    decimation: int,
) -> onnx.ModelProto:
    """One model: ``step_count % decimation == 0`` runs ``default``, otherwise ``process_actions``.

    Args:
        default: The exported Default-path model.
        process_actions: The exported ProcessActions-path model.
        inputs: Graph inputs of the combined model (registered inputs and memory), without
            ``ctx.step_count`` which is added here as an int32 scalar.
        outputs: Output names, in order; both models must produce all of them.
        decimation: Sim ticks per policy step.
    """
    outer = {i.name for i in inputs}
    then_graph, then_inits = _branch(default, "default", outer, outputs)
    else_graph, else_inits = _branch(process_actions, "process_actions", outer, outputs)

    step = helper.make_tensor_value_info(names.STEP_COUNT, TensorProto.INT32, [])
    dec = helper.make_tensor("ctx/decimation", TensorProto.INT32, [], [int(decimation)])
    zero = helper.make_tensor("ctx/zero", TensorProto.INT32, [], [0])
    nodes = [
        helper.make_node("Mod", [names.STEP_COUNT, "ctx/decimation"], ["ctx/phase"], name="ctx/mod"),
        helper.make_node("Equal", ["ctx/phase", "ctx/zero"], ["ctx/is_policy_step"], name="ctx/is_policy_step"),
        helper.make_node(
            "If",
            ["ctx/is_policy_step"],
            list(outputs),
            name="ctx/decimation_switch",
            then_branch=then_graph,
            else_branch=else_graph,
        ),
    ]
    default_outputs = {o.name: o for o in default.graph.output}
    graph_outputs = []
    for name in outputs:
        info = onnx.ValueInfoProto()
        info.CopyFrom(default_outputs[name])
        graph_outputs.append(info)
    graph = helper.make_graph(
        nodes,
        "exploy_policy",
        list(inputs) + [step],
        graph_outputs,
        initializer=[dec, zero, *then_inits, *else_inits],
    )
    model = helper.make_model(graph, opset_imports=list(default.opset_import), producer_name="exploy")
    model.ir_version = default.ir_version
    onnx.checker.check_model(model)
    return model
