"""Tracing one tick of an environment into ONNX, and checking the trace against eager runs."""

from __future__ import annotations

import enum
import pathlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from exploy.exporter.core.context_manager import ContextManager
from exploy.exporter.core.errors import ExportError
from exploy.exporter.core.exportable_environment import ExportableEnvironment
from exploy.format import names


class ExportMode(enum.Enum):
    """The two traced paths of an exploy file."""

    #: Observations -> actor -> process_actions -> apply_actions (once per policy step).
    Default = "default"
    #: apply_actions only (the other ``decimation - 1`` sim ticks).
    ProcessActions = "process_actions"


class TracedPolicy(torch.nn.Module):
    """The module torch traces: one tick of the environment in the current mode."""

    def __init__(self, env: ExportableEnvironment, actor: torch.nn.Module) -> None:
        super().__init__()
        self._env = env
        self.actor = actor
        for index, module in enumerate(env.context_manager().modules):
            self.add_module(f"env_module_{index}", module)
        self.mode = ExportMode.Default
        self.check_shapes = False

    def forward(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        # `inputs` holds the environment's own tensors: the tracer maps every read of them
        # in the environment's code to the matching graph input.
        del inputs
        env = self._env
        obs = env.empty_actor_observations()
        actions = env.empty_actions()
        if self.mode is ExportMode.Default:
            obs = env.compute_observations()
            if self.check_shapes:
                _check_shape(
                    "compute_observations()", obs, env.empty_actor_observations(), "empty_actor_observations()"
                )
            actions = self._run_actor(obs) if self.check_shapes else self.actor(obs)
            if self.check_shapes:
                _check_shape("the actor", actions, env.empty_actions(), "empty_actions()")
            env.process_actions(actions)
        env.apply_actions()
        outputs = [entry.read() for entry in env.context_manager().graph_outputs()]
        return (actions, obs, *outputs)


    def _run_actor(self, obs: torch.Tensor) -> torch.Tensor:
        try:
            return self.actor(obs)
        except Exception as err:
            inputs = {e.name: e.read().dtype for e in self._env.context_manager().inputs()}
            problem = dtype_problem(obs, self.actor, inputs, "compute_observations()")
            if problem is not None:
                raise ExportError(problem) from err
            raise


def _check_shape(what: str, value: Any, reference: torch.Tensor, ref_name: str) -> None:
    if not isinstance(value, torch.Tensor):
        raise ExportError(f"{what} returned {type(value).__name__}, expected a torch.Tensor")
    if tuple(value.shape) != tuple(reference.shape):
        raise ExportError(
            f"{what} returned shape {tuple(value.shape)} but {ref_name} has shape "
            f"{tuple(reference.shape)}; make them agree"
        )


def _actor_dtype(actor: Any) -> torch.dtype | None:
    params = getattr(actor, "parameters", None)
    if params is None:
        return None
    return next((p.dtype for p in params() if p.is_floating_point()), None)


def dtype_problem(obs: torch.Tensor, actor: Any, inputs: dict[str, torch.dtype], where: str) -> str | None:
    """A sentence when observations of one float dtype meet an actor of another.

    Args:
        obs: The observations the actor is about to get.
        actor: The actor (its first floating parameter gives its dtype).
        inputs: Registered input name -> dtype, to name the inputs that carry the odd dtype.
        where: What produced ``obs`` (e.g. ``"compute_observations()"``).
    """
    want = _actor_dtype(actor)
    if want is None or not obs.is_floating_point() or obs.dtype == want:
        return None
    culprits = [n for n, d in inputs.items() if d == obs.dtype]
    source = f" (from input(s) {culprits}, registered as {obs.dtype})" if culprits else ""
    short = str(want).replace("torch.", "")
    return (
        f"dtype mismatch: {where} returns {obs.dtype} observations{source} but the actor's "
        f"parameters are {want}. Register {short} tensors, or cast in compute_observations() "
        f"(e.g. `obs.to(torch.{short})`)"
    )


def restore(cm: ContextManager, snapshot: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for entry in cm.graph_inputs():
            current = entry.read()
            saved = snapshot[entry.name]
            if current.shape != saved.shape:
                raise ExportError(
                    f"'{entry.name}' changed shape from {tuple(saved.shape)} to "
                    f"{tuple(current.shape)} while tracing; keep state shapes fixed"
                )
            current.copy_(saved)


def dry_run(traced: TracedPolicy, cm: ContextManager, mode: ExportMode) -> list[np.ndarray]:
    """Run the path once eagerly: shape errors surface before tracing, and the outputs are
    the reference the exported graph is checked against."""
    traced.check_shapes = True
    try:
        with torch.no_grad():
            return [t.detach().cpu().numpy().copy() for t in traced(cm.get_inputs())]
    except ExportError:
        raise
    except Exception as err:
        raise ExportError(f"Running the {mode.value} path failed before tracing: {err}") from err
    finally:
        traced.check_shapes = False


def trace(
    traced: TracedPolicy,
    cm: ContextManager,
    target: pathlib.Path,
    output_names: list[str],
    opset_version: int,
    mode: ExportMode,
) -> list[str]:
    """Trace one path into ``target``; return torch's notes about mutations it dropped."""
    inputs = cm.get_inputs()
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always")
        try:
            torch.onnx.export(
                traced,
                (inputs, {}),
                str(target),
                input_names=list(inputs),
                output_names=output_names,
                opset_version=opset_version,
                do_constant_folding=True,
                dynamo=False,
            )
        except ExportError:
            raise
        except Exception as err:
            cause = err.__cause__ if isinstance(err.__cause__, ExportError) else None
            if cause is not None:
                raise cause from err
            raise ExportError(
                f"Tracing the {mode.value} path failed: {err}. compute_observations(), "
                "process_actions() and apply_actions() must use traceable torch ops only."
            ) from err
    return _check_trace_warnings(caught, mode)


RANDOM_OPS = frozenset(
    {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Bernoulli", "Multinomial"}
)
"""ONNX ops that draw random numbers: a deployed policy must not contain them."""


def find_random_ops(model: Any) -> list[str]:
    """``"<op> (node <name>)"`` for every random op in ``model``, subgraphs (the If branches)
    included; a ``Dropout`` fed a ``training_mode`` input counts too."""
    import onnx

    found: list[str] = []

    def walk(graph: Any) -> None:
        for node in graph.node:
            if node.op_type in RANDOM_OPS or (node.op_type == "Dropout" and len(node.input) > 2 and node.input[2]):
                found.append(f"{node.op_type} (node {node.name or '?'})")
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
                for sub in attr.graphs:
                    walk(sub)

    walk(model.graph)
    return found


def check_against_eager(
    session: Any,
    inputs: dict[str, np.ndarray],
    output_names: list[str],
    eager: dict[ExportMode, list[np.ndarray]],
    decimation: int,
    trace_notes: list[str],
    *,
    rerun: Callable[[ExportMode], list[np.ndarray]] | None = None,
) -> None:
    """Run the written file (``session``: an onnxruntime session of it) on the export-time
    inputs and compare with the eager runs.

    On a disagreement, ``rerun`` (one more eager run of a path on the same inputs) tells a
    non-deterministic environment or actor (two eager runs disagree) from a computation the
    tracer lost.
    """
    ticks = [(ExportMode.Default, 0)] + ([(ExportMode.ProcessActions, 1)] if decimation > 1 else [])
    for mode, tick in ticks:
        feed = {**inputs, names.STEP_COUNT: np.array(tick, dtype=np.int32)}
        got = session.run(output_names, feed)
        wrong = [
            name
            for name, expected, actual in zip(output_names, eager[mode], got)
            if not _close(actual, expected)
        ]
        if not wrong:
            continue
        if rerun is not None:
            again = rerun(mode)
            unstable = [n for n, a, b in zip(output_names, eager[mode], again) if not _close(a, b)]
            if unstable:
                raise ExportError(
                    f"The {mode.value} path is not deterministic: two eager runs on the same inputs "
                    f"disagree on {unstable}. Something random runs outside torch's graph (Python's "
                    "`random`, numpy's RNG, noise drawn in the environment or actor) and the trace "
                    "baked one draw in as a constant. Turn the noise off for export"
                )
        hint = ("\n  torch said: " + "\n  torch said: ".join(trace_notes)) if trace_notes else ""
        raise ExportError(
            f"The exported {mode.value} path disagrees with running the environment eagerly "
            f"on the same inputs for {wrong}. The tracer lost part of the computation, "
            "typically an in-place write to a Memory/Input tensor that is later copied "
            "unchanged (`buf[:] = memory`); derive a new tensor instead "
            f"(`buf[:] = memory.clone()`).{hint}"
        )


def _close(actual: np.ndarray, expected: np.ndarray) -> bool:
    return bool(np.allclose(actual, expected, rtol=1e-4, atol=1e-5, equal_nan=True))


def _check_trace_warnings(caught: list[warnings.WarningMessage], mode: ExportMode) -> list[str]:
    notes = []
    untraceable = []
    torch_dir = str(pathlib.Path(torch.__file__).parent)
    for item in caught:
        text = str(item.message)
        if str(item.filename).startswith(torch_dir) and (
            issubclass(item.category, (torch.jit.TracerWarning, DeprecationWarning, FutureWarning))
            or "batch_size other than 1" in text
        ):
            # torch's own shape checks (the exported shapes are fixed) and notices about the
            # TorchScript exporter, which we use on purpose: it keeps tensor identity.
            continue
        if "TorchScript-based ONNX export" in text:
            continue
        if "Removing mutation" in text:
            notes.append(f"{mode.value}: {text.splitlines()[0]}")
            continue
        if issubclass(item.category, torch.jit.TracerWarning) and "Converting a tensor to a" in text:
            untraceable.append(f"{item.filename}:{item.lineno}: {text.splitlines()[0]}")
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    if untraceable:
        raise ExportError(
            f"The {mode.value} path reads tensor values in Python, which the trace bakes in as "
            "constants. Use torch ops instead (no .item(), .tolist(), .numpy(), or `if tensor`):\n  "
            + "\n  ".join(untraceable)
        )
    return notes
