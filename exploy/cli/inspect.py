"""``exploy inspect policy.onnx [--mapping FILE]``: what a policy file needs and gives, and its topics.

Reads the metadata only (onnx, no onnxruntime, no torch, no rclpy), so it runs anywhere the file
is: on the robot before starting the node, or in CI.
"""

from __future__ import annotations

import argparse
import json
import pathlib
from typing import Any

from exploy.cli.main import EXIT_OK
from exploy.format.names import INITIAL_VALUE_KEY

NODE_TOPICS = (
    ("~/tick", "std_msgs/msg/UInt64", "ctx.step_count of each tick, after its outputs"),
    ("~/actions", "std_msgs/msg/Float32MultiArray", "raw actions after Default ticks (publish_debug)"),
    ("~/obs", "std_msgs/msg/Float32MultiArray", "observations after Default ticks (publish_debug)"),
    ("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray", "tick rate, timings, rejections, stale inputs"),
    ("~/reset", "std_srvs/srv/Trigger", "service: initial memory, step counter back to first_step (0)"),
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="print a policy file's inputs, outputs, rates, metadata and the policy node's topics",
        description="Print the inputs, outputs and memory of an exploy policy file (shapes, dtypes, "
        "groups, metadata), its sim and policy rates, and the topics the policy node will use "
        "for it (with an optional mapping file). Exit code 0, or 2 for a bad file.",
    )
    parser.add_argument("policy", type=pathlib.Path, help="the exploy policy file (.onnx)")
    parser.add_argument("--mapping", type=pathlib.Path, help="YAML mapping file the node will be given")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument(
        "--check-upstream",
        action="store_true",
        help="instead, list by name what the file lacks for upstream exploy's C++ controller "
        "(exit 1 when it lacks something the controller needs)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Inspect; a bad file raises an ExployError, mapped to exit 2 by ``main``."""
    from exploy.format import read_metadata
    from exploy.mapping import build_topic_map, load_mapping_file

    if getattr(args, "check_upstream", False):
        return _check_upstream(args.policy)
    meta = read_metadata(args.policy)
    config = load_mapping_file(args.mapping) if args.mapping else None
    topic_map = build_topic_map(meta, config)
    if args.json:
        print(json.dumps(_as_json(args.policy, meta, topic_map), indent=2))
    else:
        print(_as_text(args.policy, meta, topic_map))
    return EXIT_OK


def _check_upstream(path: pathlib.Path) -> int:
    """Print what ``path`` lacks for upstream's C++ controller; 0 ok, 1 lacking, 2 bad file."""
    from exploy.cli.main import EXIT_FAILED
    from exploy.format import read_metadata
    from exploy.format.graph import graph_signature
    from exploy.format.metadata import load_model
    from exploy.format.upstream import check_upstream

    meta = read_metadata(path)  # a bad file raises PolicyFormatError: exit 2 in main
    findings = check_upstream(meta, graph_signature(load_model(path)))
    required = [f for f in findings if f.required]
    print(f"upstream C++ controller check of {path}:")
    for finding in findings:
        print(f"  {'MISSING' if finding.required else 'note   '} {finding.subject}: {finding.problem}")
    if required:
        print(f"{len(required)} problem(s): upstream's controller cannot run this file as is")
        return EXIT_FAILED
    print("ok: upstream's controller has everything it reads" + (" (see the notes)" if findings else ""))
    return EXIT_OK


def _rate(value: float | None) -> str:
    return "unknown (set the node's sim_rate_hz)" if value is None else f"{value:g} Hz"


def _component_lines(title: str, comps: tuple, *, initial: bool = False) -> list[str]:
    lines = [f"{title} ({len(comps)}):"]
    for comp in comps:
        group = f"  group {comp.group}" if comp.group else ""
        lines.append(f"  {comp.name:<40} {str(list(comp.shape)):<10} {comp.dtype}{group}")
        meta = dict(comp.metadata or {})
        if initial:
            lines.append(f"    initial: {'from file' if INITIAL_VALUE_KEY in meta else 'zeros'}")
            meta.pop(INITIAL_VALUE_KEY, None)
        if meta:
            lines.append(f"    metadata: {json.dumps(meta)}")
    return lines


def _as_text(path: pathlib.Path, meta: Any, topic_map: Any) -> str:
    lines = [
        f"policy: {path}",
        f"exploy version: {meta.exploy_version}",
        f"sim rate: {_rate(meta.update_rate)}, decimation {meta.decimation}, policy rate {_rate(meta.policy_rate)}",
        "",
    ]
    lines += _component_lines("inputs", meta.inputs)
    lines += _component_lines("outputs", meta.outputs)
    lines += _component_lines("memory (kept inside the runtime, no topic)", meta.memories, initial=True)
    for group in meta.groups:
        if group.metadata:
            lines.append(f"group {group.name} metadata: {json.dumps(group.metadata)}")
    if meta.observation_names:
        shown = ", ".join(meta.observation_names[:12])
        more = f", ... ({len(meta.observation_names) - 12} more)" if len(meta.observation_names) > 12 else ""
        lines.append(f"observations ({len(meta.observation_names)}): {shown}{more}")
    if meta.env_metadata:
        lines.append("environment metadata:")
        lines += [f"  {key}: {value}" for key, value in sorted(meta.env_metadata.items())]
    lines += ["", "topics of the policy node (~ is the node's name):", topic_map.describe()]
    lines += [f"node   {topic}  [{kind}]  {what}" for topic, kind, what in NODE_TOPICS]
    return "\n".join(lines)


def _as_json(path: pathlib.Path, meta: Any, topic_map: Any) -> dict[str, Any]:
    def comp(c: Any) -> dict[str, Any]:
        return {**c.to_json(), "metadata": c.metadata}

    return {
        "policy": str(path),
        "exploy_version": meta.exploy_version,
        "update_rate": meta.update_rate,
        "decimation": meta.decimation,
        "policy_rate": meta.policy_rate,
        "inputs": [comp(c) for c in meta.inputs],
        "outputs": [comp(c) for c in meta.outputs],
        "memory": [comp(c) for c in meta.memories],
        "groups": [{**g.to_json(), "metadata": g.metadata} for g in meta.groups],
        "env_metadata": meta.env_metadata,
        "topics": [
            {
                "topic": spec.topic,
                "direction": spec.direction,
                "msg_type": spec.msg_type,
                "adapter": spec.adapter,
                "bindings": [
                    {"component": b.component, "field": b.field, "shape": list(b.shape), "names": b.names}
                    for b in spec.bindings
                ],
            }
            for spec in topic_map.topics
        ],
        "runtime_inputs": list(topic_map.runtime_inputs),
        "disabled_outputs": list(topic_map.disabled_outputs),
    }
