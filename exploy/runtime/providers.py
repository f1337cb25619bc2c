"""onnxruntime execution providers: short names, availability, and the CPU fallback.

``["CUDA", "CPU"]`` (or the full names ``CUDAExecutionProvider`` ...) asks for CUDA first. A
provider onnxruntime knows but this installation lacks (the CPU-only ``onnxruntime`` wheel has no
CUDA or TensorRT) is dropped with an :class:`ExecutionProviderWarning` (also logged on the
``exploy.runtime`` logger); the CPU provider always ends the list, so a session always loads.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import onnxruntime as ort

from exploy.format.errors import excerpt
from exploy.runtime.errors import PolicyRuntimeError

CPU = "CPUExecutionProvider"
DEFAULT_PROVIDERS: tuple[str, ...] = ("CPU",)
"""The default provider list: CPU only."""

ALIASES = {
    "cpu": CPU,
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "rocm": "ROCMExecutionProvider",
}
"""Short names accepted for the common providers (case-insensitive)."""

MAX_PROVIDERS = 16

_log = logging.getLogger("exploy.runtime")


class ExecutionProviderWarning(UserWarning):
    """A requested execution provider is not available here; the session runs without it."""


def provider_name(name: str) -> str:
    """The onnxruntime name of provider ``name`` (a short alias or the full name).

    Raises:
        PolicyRuntimeError: for a name onnxruntime does not know at all (a typo).
    """
    if not isinstance(name, str) or not name.strip():
        raise PolicyRuntimeError(f"Execution provider names must be non-empty strings, got {excerpt(name)}")
    key = name.strip()
    full = ALIASES.get(key.lower(), key)
    if full not in ort.get_all_providers():
        raise PolicyRuntimeError(
            f"Unknown execution provider {excerpt(name)}; use one of {sorted(set(ALIASES))} "
            "or a full onnxruntime name such as 'CUDAExecutionProvider'"
        )
    return full


def resolve_providers(requested: Sequence[str] | None) -> list[str]:
    """The providers to create a session with: the available requested ones, then CPU.

    Args:
        requested: Provider names in order of preference; None or empty means CPU only.

    Raises:
        PolicyRuntimeError: for an unknown name or a list that is not a list of strings.
    """
    if requested is None:
        requested = DEFAULT_PROVIDERS
    if isinstance(requested, str) or not isinstance(requested, Sequence) or len(requested) > MAX_PROVIDERS:
        raise PolicyRuntimeError(
            f"Execution providers must be a list of at most {MAX_PROVIDERS} names, got {excerpt(requested)}"
        )
    available = set(ort.get_available_providers())
    chosen: list[str] = []
    for name in requested:
        full = provider_name(name)
        if full in chosen:
            continue
        if full not in available:
            message = (
                f"Execution provider {full} is not available in this onnxruntime "
                f"(available: {sorted(available)}); falling back to the next one / CPU"
            )
            _log.warning(message)
            warnings.warn(message, ExecutionProviderWarning, stacklevel=3)
            continue
        chosen.append(full)
    if CPU not in chosen:
        chosen.append(CPU)
    return chosen
