"""Build policy files in upstream exploy's exact layout from files our exporter wrote.

Upstream's exporter writes no ``exploy.components`` / ``exploy.observation_names`` index, puts
``ctx.step_count`` first among the graph inputs, keeps outputs in registration order, keys a
memory's metadata by ``memory.<m>.in`` and lets the environment adapter add its own metadata
(IsaacLab/mjlab: ``decimation``, ``sim_dt``, ``update_rate``, ``base_names``,
``obs_term_names``; the core tutorial: none of them).
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping, Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

OUR_KEYS = ("exploy.components", "exploy.observation_names", "decimation")


def to_upstream_layout(
    src: pathlib.Path,
    dst: pathlib.Path,
    *,
    step_shape: Sequence[int] = (),
    step_dtype: str = "int32",
    env_metadata: Mapping[str, str] | None = None,
    memories: Sequence[str] = (),
) -> pathlib.Path:
    """Rewrite ``src`` (our layout) into ``dst`` in upstream's layout.

    Args:
        step_shape: Shape of the ``ctx.step_count`` input, ``()`` or ``(1,)``.
        step_dtype: ``"int32"`` or ``"int64"`` (int64 goes through a Cast before the ``Mod``).
        env_metadata: Upstream's environment metadata to add (values verbatim).
        memories: Memory names whose metadata moves to the key ``memory.<m>.in``.
    """
    model = onnx.load(str(src))
    props = {p.key: p.value for p in model.metadata_props if p.key not in OUR_KEYS}
    for name in memories:
        if name in props:
            props[f"memory.{name}.in"] = props.pop(name)
    props.update(env_metadata or {})
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value

    graph = model.graph
    inputs = list(graph.input)
    _step = next(i for i in inputs if i.name == "ctx.step_count")  # the input must exist (StopIteration)
    others = [i for i in inputs if i.name != "ctx.step_count"][::-1]
    elem = TensorProto.INT64 if step_dtype == "int64" else TensorProto.INT32
    new_step = helper.make_tensor_value_info("ctx.step_count", elem, list(step_shape))
    del graph.input[:]
    graph.input.extend([new_step, *others])
    if step_dtype == "int64":
        cast = helper.make_node("Cast", ["ctx.step_count"], ["ctx/step_count_i32"], to=TensorProto.INT32)
        for node in graph.node:
            renamed = ["ctx/step_count_i32" if n == "ctx.step_count" else n for n in node.input]
            del node.input[:]
            node.input.extend(renamed)
        graph.node.insert(0, cast)
    outputs = list(graph.output)
    head = [o for o in outputs if o.name in ("actions", "obs")]
    del graph.output[:]
    graph.output.extend(head + [o for o in outputs if o.name not in ("actions", "obs")][::-1])
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return dst


def isaaclab_metadata(*, decimation: int, sim_dt: float, base_names: Mapping[str, str]) -> dict[str, str]:
    """The metadata upstream's IsaacLab/mjlab environment adapters write (values as text)."""
    return {
        "obs_term_names": json.dumps(["base_ang_vel", "projected_gravity", "velocity_commands"]),
        "decimation": str(decimation),
        "sim_dt": str(sim_dt),
        "update_rate": str(1.0 / sim_dt),
        "base_names": json.dumps(dict(base_names)),
    }


class BareLoop:
    """An independent tick loop over a file with onnxruntime alone: memory ``out`` -> ``in`` by
    name, ``ctx.step_count`` built from the graph's own declared type and shape."""

    def __init__(self, path: pathlib.Path, initial_memory: Mapping[str, np.ndarray]) -> None:
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        step = next(i for i in self.session.get_inputs() if i.name == "ctx.step_count")
        self.step_dtype = np.int64 if step.type == "tensor(int64)" else np.int32
        self.step_shape = tuple(step.shape)
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.initial = {f"memory.{k}.in": np.asarray(v, np.float32) for k, v in initial_memory.items()}
        self.memory = dict(self.initial)

    def run(self, inputs: Mapping[str, np.ndarray], step_count: int) -> dict[str, np.ndarray]:
        feed = {**inputs, **self.memory, "ctx.step_count": np.full(self.step_shape, step_count, self.step_dtype)}
        out = dict(zip(self.output_names, self.session.run(None, feed)))
        self.memory = {name: out[name[: -len(".in")] + ".out"] for name in self.memory}
        return out


def legged_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Valid random inputs of the legged-robot example (unit quaternion)."""
    quat = rng.normal(size=(1, 4)).astype(np.float32)
    quat /= np.linalg.norm(quat)
    return {
        "obj.robot.joints.pos": rng.uniform(-0.5, 0.5, (1, 12)).astype(np.float32),
        "obj.robot.joints.vel": rng.uniform(-2.0, 2.0, (1, 12)).astype(np.float32),
        "obj.robot.base.w_Q_b": quat,
        "obj.robot.base.ang_vel_b_rt_w_in_b": rng.normal(size=(1, 3)).astype(np.float32),
        "cmd.se2_velocity.base_velocity": rng.uniform(-1.0, 1.0, (1, 3)).astype(np.float32),
    }
