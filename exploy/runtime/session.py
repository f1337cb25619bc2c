"""An onnxruntime session over an exploy policy file (no torch)."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnxruntime as ort

from exploy.format import names
from exploy.format.errors import PolicyFormatError, excerpt
from exploy.format.metadata import PolicyMetadata, read_metadata
from exploy.format.paths import PolicyPaths
from exploy.runtime.errors import PolicyRuntimeError
from exploy.runtime.providers import resolve_providers

_ORT_DTYPES: dict[str, np.dtype] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(double)": np.dtype(np.float64),
    "tensor(int32)": np.dtype(np.int32),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(bool)": np.dtype(np.bool_),
}


class SessionWrapper:
    """Run an exported policy file with onnxruntime.

    Args:
        onnx_folder: Folder holding the file.
        onnx_file_name: File name inside ``onnx_folder``.
        actor: The torch actor the file was exported from (used by ``evaluate``; inference
            runs through the ONNX graph only). Opaque here: the runtime imports nothing from
            the exporter.
        optimize: Enable onnxruntime's extended graph optimisations and write the optimised
            graph to ``debug/<stem>_optimized.onnx`` (for inspection only).
        execution_providers: onnxruntime providers in order of preference, short (``"CUDA"``,
            ``"TensorRT"``, ``"CPU"``) or full names; None means CPU only. Providers this
            onnxruntime lacks are skipped with an ``ExecutionProviderWarning``; CPU always
            comes last (:func:`exploy.runtime.providers.resolve_providers`).

    ``ctx.step_count`` may be fed as shape ``()`` or ``(1,)``, int32 or int64, whatever the
    file declares: it is converted to the file's own shape and type.

    Raises:
        PolicyFormatError: when the file is missing, corrupt or not ONNX.
        PolicyRuntimeError: for an unknown execution provider name.
    """

    def __init__(
        self,
        onnx_folder: str | pathlib.Path,
        onnx_file_name: str,
        actor: Any = None,
        optimize: bool = True,
        *,
        execution_providers: Sequence[str] | None = None,
    ) -> None:
        providers = resolve_providers(execution_providers)
        paths = PolicyPaths.of(onnx_folder, onnx_file_name)
        if not paths.main.is_file():
            raise PolicyFormatError(f"Policy file not found: {paths.main}")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        if optimize:
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
            paths.debug_dir.mkdir(parents=True, exist_ok=True)
            options.optimized_model_filepath = str(paths.optimized)
        try:
            self.session = ort.InferenceSession(
                str(paths.main), sess_options=options, providers=providers
            )
        except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph types
            raise PolicyFormatError(f"onnxruntime cannot load {paths.main}: {excerpt(str(err), 300)}") from err
        self._paths = paths
        self._actor = actor
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.input_shapes = {i.name: tuple(i.shape) for i in self.session.get_inputs()}
        self.input_dtypes = {
            i.name: _ORT_DTYPES.get(i.type, np.dtype(np.float32)) for i in self.session.get_inputs()
        }
        self.metadata = self.session.get_modelmeta()
        self._policy_metadata: PolicyMetadata | None = None
        self._results: list[np.ndarray] | None = None

    @property
    def onnx_file_path(self) -> pathlib.Path:
        """Path of the policy file."""
        return self._paths.main

    @property
    def providers(self) -> list[str]:
        """The execution providers the session actually runs with, in order."""
        return list(self.session.get_providers())

    @property
    def policy_metadata(self) -> PolicyMetadata:
        """The typed exploy metadata, checked against the graph; derived from the graph for
        upstream's files (raises PolicyFormatError for a foreign or inconsistent file)."""
        if self._policy_metadata is None:
            self._policy_metadata = read_metadata(self._paths.main)
        return self._policy_metadata

    def get_actor(self) -> Any:
        """The torch actor given at construction, if any."""
        return self._actor

    def check_inputs(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Validate names, shapes and dtypes of ``inputs``; return the arrays to feed.

        Raises:
            PolicyRuntimeError: naming the unknown, missing or misshaped inputs.
        """
        unknown = sorted(set(inputs) - set(self.input_names))
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise PolicyRuntimeError(f"Missing inputs {missing}; the file expects {self.input_names}")
        if unknown:
            raise PolicyRuntimeError(f"Unknown inputs {unknown}; the file expects {self.input_names}")
        feed = {}
        for name in self.input_names:
            dtype = self.input_dtypes[name]
            if name == names.STEP_COUNT:
                feed[name] = step_count_array(inputs[name], self.input_shapes[name], dtype)
                continue
            try:
                value = np.asarray(inputs[name])
                if value.dtype != dtype:
                    if not np.can_cast(value.dtype, dtype, casting="same_kind"):
                        raise TypeError(f"cannot cast {value.dtype} to {dtype}")
                    value = value.astype(dtype)
            except (TypeError, ValueError) as err:
                raise PolicyRuntimeError(f"Input '{name}': {err}") from err
            expected = self.input_shapes[name]
            if len(value.shape) != len(expected) or any(
                isinstance(e, int) and e != v for e, v in zip(expected, value.shape)
            ):
                raise PolicyRuntimeError(
                    f"Input '{name}' has shape {value.shape}, the file expects {expected}"
                )
            feed[name] = value
        return feed

    def run(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Run one tick; return every output by name."""
        return dict(zip(self.output_names, self(**inputs)))

    def __call__(self, **kwargs: Any) -> list[np.ndarray]:
        """Run one tick with inputs as keyword arguments; return outputs in file order."""
        feed = self.check_inputs(kwargs)
        self._results = self.session.run(self.output_names, feed)
        return self._results

    def get_output_value(self, output_name: str) -> np.ndarray:
        """An output of the last run.

        Raises:
            KeyError: for an unknown output; PolicyRuntimeError before the first run.
        """
        if output_name not in self.output_names:
            raise KeyError(f"Output '{output_name}' not in {self.output_names}")
        if self._results is None:
            raise PolicyRuntimeError("No results yet: run the session first")
        return self._results[self.output_names.index(output_name)]

    def reset(self) -> None:
        """Forget the last results."""
        self._results = None


def step_count_array(value: Any, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """``value`` (an int, or an int32/int64 array of shape ``()`` or ``(1,)``) as the file's
    ``ctx.step_count``: ``shape`` and ``dtype`` of the graph input.

    Raises:
        PolicyRuntimeError: for a non-integer, a value with more than one element, or one that
            does not fit the file's integer type.
    """
    array = np.asarray(value)
    if array.size != 1 or array.ndim > 1 or array.dtype.kind not in "iu":
        raise PolicyRuntimeError(
            f"Input '{names.STEP_COUNT}' must be one integer (shape () or (1,), int32 or int64), "
            f"got {array.dtype} of shape {array.shape}"
        )
    count = int(array.reshape(-1)[0])
    limits = np.iinfo(dtype)
    if not limits.min <= count <= limits.max:
        raise PolicyRuntimeError(f"Input '{names.STEP_COUNT}' = {count} does not fit the file's {dtype}")
    return np.full(tuple(int(d) for d in shape), count, dtype=dtype)
