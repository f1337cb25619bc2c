"""Export an environment and its actor into one self-contained ONNX file."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import pathlib
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

import exploy
from exploy.exporter.core import sim_checks
from exploy.exporter.core.context_manager import ContextManager
from exploy.exporter.core.decimation_graph import build_decimation_model
from exploy.exporter.core.errors import ExportError
from exploy.exporter.core.exportable_environment import ExportableEnvironment
from exploy.exporter.core.probe import probe_sim_rate_outputs
from exploy.exporter.core.tracing import (
    ExportMode,
    TracedPolicy,
    check_against_eager,
    dry_run,
    find_random_ops,
    restore,
    trace,
)
from exploy.format import metadata as meta_keys
from exploy.format import names
from exploy.format.paths import PolicyPaths

DEFAULT_OPSET = 20
_SUPPORTED_DTYPES = (torch.float32, torch.float64, torch.int32, torch.int64, torch.bool)


def export_environment_as_onnx(
    env: ExportableEnvironment,
    actor: torch.nn.Module,
    path: str | pathlib.Path,
    *,
    filename: str = "policy.onnx",
    verbose: bool = False,
    model_source: dict[str, Any] | None = None,
    opset_version: int = DEFAULT_OPSET,
    probe: bool = True,
) -> pathlib.Path:
    """Export ``env`` and ``actor`` into ``<path>/<filename>``.

    Arguments after ``path`` are keyword-only (as the tutorial passes them).

    The file holds both paths behind an ``If`` on ``ctx.step_count % decimation == 0``:
    Default (observations, actor, process_actions, apply_actions) and ProcessActions
    (apply_actions only). Inputs are the registered Inputs, group members, ``memory.*.in``
    and ``ctx.step_count``; outputs are ``actions``, ``obs``, the registered Outputs and
    ``memory.*.out``. The traced paths are also written to ``debug/<stem>_default.onnx`` and
    ``debug/<stem>_process_actions.onnx``.

    Args:
        env: The exportable environment, with its components registered.
        actor: The policy network (in eval mode).
        path: Output folder (created if needed).
        filename: File name, ending in ``.onnx``.
        verbose: Print a summary of what was written.
        model_source: Where the policy came from (stored as JSON under ``model_source``).
        opset_version: ONNX opset of the exported graph.
        probe: After export, run one Default and one ProcessActions tick and warn
            (:class:`SimRateWarning`) when an Output changes although the inputs did not.

    Returns:
        Path of the written policy file.

    Raises:
        ExportError: with what to fix, for a bad environment, actor, shapes or path.
    """
    if not isinstance(env, ExportableEnvironment):
        raise ExportError(f"env must be an ExportableEnvironment, got {type(env).__name__}")
    if not isinstance(actor, torch.nn.Module):
        raise ExportError(f"actor must be a torch.nn.Module, got {type(actor).__name__}")
    decimation = _decimation_of(env)
    sim_dt = _sim_dt_of(env)
    paths = _prepare_paths(path, filename)
    cm = env.context_manager()
    _check_components(cm)
    specs_meta = _quaternion_metadata(cm)
    obs_names = _observation_names(env)

    snapshot = {e.name: e.read().detach().clone() for e in cm.graph_inputs()}
    specs = [dataclasses.replace(s, metadata=specs_meta.get(s.name, s.metadata)) for s in cm.specs()]
    probe_inputs = cm.get_inputs(to_numpy=True)
    traced = TracedPolicy(env, actor).eval()
    output_names = [names.ACTIONS, names.OBS, *cm.get_output_names()]
    eager: dict[ExportMode, list[np.ndarray]] = {}
    trace_notes: list[str] = []
    for mode, target in (
        (ExportMode.ProcessActions, paths.process_actions),
        (ExportMode.Default, paths.default),
    ):
        restore(cm, snapshot)
        env.prepare_export()
        traced.mode = mode
        eager[mode] = dry_run(traced, cm, mode)
        restore(cm, snapshot)
        env.prepare_export()
        trace_notes += trace(traced, cm, target, output_names, opset_version, mode)
    restore(cm, snapshot)

    default_model = onnx.load(str(paths.default))
    model = build_decimation_model(
        default=default_model,
        process_actions=onnx.load(str(paths.process_actions)),
        inputs=[_value_info(spec.input_name, spec) for spec in specs if spec.input_name],
        outputs=output_names,
        decimation=decimation,
    )
    random_ops = find_random_ops(model)
    if random_ops:
        raise ExportError(
            f"The exported graph contains random op(s) {random_ops[:6]}: training noise (e.g. an actor "
            "sampling from its action distribution, observation noise or dropout in train mode) is "
            "still on, so the robot would not run a deterministic policy. Export the deterministic "
            "policy (the distribution's mean, noise off, actor.eval())"
        )
    props = _metadata(env, cm, specs, decimation, sim_dt, obs_names, model_source or {}, specs_meta)
    _set_metadata(model, props)
    onnx.save(model, str(paths.main))
    _set_metadata(default_model, props)
    onnx.save(default_model, str(paths.default))

    session = ort.InferenceSession(str(paths.main), providers=["CPUExecutionProvider"])
    def rerun(mode: ExportMode) -> list[np.ndarray]:
        restore(cm, snapshot)
        env.prepare_export()
        traced.mode = mode
        try:
            return dry_run(traced, cm, mode)
        finally:
            restore(cm, snapshot)

    check_against_eager(session, probe_inputs, output_names, eager, decimation, trace_notes, rerun=rerun)
    if probe and decimation > 1:
        # output components always name their tensors
        probe_sim_rate_outputs(session, probe_inputs, [e.output_name for e in cm.outputs()])  # type: ignore[misc]
    if verbose:
        _print_summary(paths, specs, decimation, sim_dt)
    return paths.main


def _prepare_paths(folder: str | pathlib.Path, filename: str) -> PolicyPaths:
    folder = pathlib.Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"Export path {folder} is a file; pass a folder to write into")
    if not isinstance(filename, str) or not filename.endswith(".onnx") or "/" in filename or filename == ".onnx":
        raise ExportError(f"filename must be a plain name ending in .onnx, got {filename!r}")
    paths = PolicyPaths.of(folder, filename)
    try:
        paths.debug_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ExportError(f"Cannot create {paths.debug_dir}: {err}") from err
    return paths


def _decimation_of(env: ExportableEnvironment) -> int:
    try:
        decimation = env.decimation
    except Exception as err:
        raise ExportError(f"env.decimation failed ({err}); return the sim substeps per policy step") from err
    if isinstance(decimation, bool) or not isinstance(decimation, (int, np.integer)) or decimation < 1:
        raise ExportError(
            f"env.decimation must be a positive int (sim substeps per policy step), got {decimation!r}"
        )
    return int(decimation)


def _sim_dt_of(env: ExportableEnvironment) -> float | None:
    sim_dt = getattr(env, "sim_dt", None)
    if sim_dt is None:
        return None
    if not isinstance(sim_dt, (int, float)) or not sim_dt > 0:
        raise ExportError(f"env.sim_dt must be a positive number of seconds or None, got {sim_dt!r}")
    return float(sim_dt)


def _check_components(cm: ContextManager) -> None:
    if not cm.components:
        raise ExportError("Nothing is registered: add Inputs/Outputs/Memory to env.context_manager()")
    seen: dict[int, str] = {}
    for entry in cm.graph_inputs():
        tensor = entry.read()
        if id(tensor) in seen:
            raise ExportError(
                f"'{entry.name}' and '{seen[id(tensor)]}' return the same tensor; register it once"
            )
        seen[id(tensor)] = entry.name
        if tensor.dtype not in _SUPPORTED_DTYPES:
            raise ExportError(
                f"'{entry.name}' has dtype {tensor.dtype}; use one of "
                f"{', '.join(str(d) for d in _SUPPORTED_DTYPES)}"
            )
    for entry in cm.outputs():
        entry.read()


def _quaternion_metadata(cm: ContextManager) -> dict[str, dict[str, Any]]:
    """Metadata of every quaternion input with its ``quaternion_order`` (default ``wxyz``)."""
    found = {}
    for entry in cm.inputs():
        meta = entry.component.metadata
        if sim_checks.is_quaternion(entry.name, meta):
            try:
                order = sim_checks.quaternion_order_of(entry.name, meta)
            except ValueError as err:
                raise ExportError(str(err)) from err
            found[entry.name] = {**(meta or {}), names.QUATERNION_ORDER: order}
    return found


def _observation_names(env: ExportableEnvironment) -> list[str]:
    obs_names = [str(n) for n in env.get_observation_names()]
    size = env.empty_actor_observations().shape[-1]
    if len(obs_names) != size:
        raise ExportError(
            f"get_observation_names() returns {len(obs_names)} names for {size} observation "
            "entries; name every entry"
        )
    return obs_names


def _value_info(name: str, spec: Any) -> onnx.ValueInfoProto:
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(spec.dtype))
    return onnx.helper.make_tensor_value_info(name, elem, list(spec.shape))


def _metadata(
    env: ExportableEnvironment,
    cm: ContextManager,
    specs: list,
    decimation: int,
    sim_dt: float | None,
    obs_names: list[str],
    model_source: dict[str, Any],
    component_meta: dict[str, dict[str, Any]],
) -> dict[str, str]:
    props = {
        meta_keys.KEY_EXPLOY_VERSION: json.dumps(exploy.__version__),
        meta_keys.KEY_DECIMATION: str(decimation),
        meta_keys.KEY_COMPONENTS: meta_keys.encode_index(specs, list(cm.groups)),
        meta_keys.KEY_OBSERVATION_NAMES: json.dumps(obs_names),
        meta_keys.KEY_MODEL_SOURCE: json.dumps(model_source),
        meta_keys.KEY_DATE_EXPORTED: datetime.datetime.now().strftime("%y%m%d.%H%M%S"),
    }
    if sim_dt is not None:
        props[meta_keys.KEY_UPDATE_RATE] = repr(1.0 / sim_dt)
    for key, value in {**cm.metadata, **component_meta}.items():
        props[key] = json.dumps(value)
    env_meta = env.metadata() or {}
    if not isinstance(env_meta, dict):
        raise ExportError(f"env.metadata() must return a dict, got {type(env_meta).__name__}")
    for key, value in env_meta.items():
        if key in _AGREEING_KEYS:  # upstream's IsaacLab/mjlab adapters write these themselves
            props[key] = _agreeing_value(key, value, props.get(key))
            continue
        if key in props or key in {s.name for s in specs}:
            raise ExportError(f"env.metadata() key '{key}' collides with a reserved or component name")
        props[str(key)] = value if isinstance(value, str) else json.dumps(value)
    return props


_AGREEING_KEYS = (meta_keys.KEY_DECIMATION, meta_keys.KEY_UPDATE_RATE)
"""Keys an environment's ``metadata()`` may carry itself when they agree with the exporter's."""


def _agreeing_value(key: str, value: Any, ours: str | None) -> str:
    """The text to store for env metadata ``key`` (upstream's adapters write ``decimation`` and
    ``update_rate`` themselves): accepted when it agrees with the exporter's own value, or, for
    ``update_rate`` without ``env.sim_dt``, when it is a valid rate. ExportError otherwise."""
    source = "env.decimation" if key == meta_keys.KEY_DECIMATION else "1 / env.sim_dt"
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    if ours is None:  # update_rate without env.sim_dt: the environment's own rate
        if not (math.isfinite(number) and 0.0 < number <= meta_keys.MAX_UPDATE_RATE):
            raise ExportError(
                f"env.metadata() gives '{key}' = {value!r}; it must be a sim rate in "
                f"(0, {meta_keys.MAX_UPDATE_RATE:g}] Hz"
            )
        return repr(number)
    expected = float(ours)
    if not abs(number - expected) <= 1e-9 * abs(expected):
        raise ExportError(
            f"env.metadata() gives '{key}' = {value!r} but {source} is {ours}; they must agree "
            f"(drop '{key}' from metadata() or fix {source})"
        )
    return ours


def _set_metadata(model: onnx.ModelProto, props: dict[str, str]) -> None:
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = value


def _print_summary(paths: PolicyPaths, specs: list, decimation: int, sim_dt: float | None) -> None:
    rate = "unknown" if sim_dt is None else f"{1.0 / sim_dt:g} Hz"
    print(f"exploy: wrote {paths.main} (decimation {decimation}, sim rate {rate})")
    for spec in specs:
        print(f"  {spec.kind.value:<7} {spec.name:<40} {list(spec.shape)} {spec.dtype}")
    print(f"  debug graphs: {paths.default}, {paths.process_actions}")
