"""Torch views of a simulator's numpy state that keep their identity (what the exporter needs).

The exporter finds the graph's inputs by *tensor identity*: an ``Input`` callback must return
the very tensor that ``compute_observations`` reads. A simulator such as MuJoCo keeps its state
in numpy arrays (``mj_data.qpos``, float64); ``torch.from_numpy(mj_data.qpos)`` inside
``compute_observations`` makes a new tensor on every call, so the trace sees a value that is
no registered input and bakes it in as a constant. The file then ignores the robot's state.

:class:`TensorMirror` allocates each torch tensor once and refreshes it *in place* from the
simulator after every physics step (float64 -> float32 cast on the copy), so callbacks and
observations always share one tensor::

    mirror = TensorMirror()
    joint_pos = mirror.add("joint_pos", lambda: data.qpos[7:])   # float32 tensor, shape (1, 12)
    ...
    mujoco.mj_step(model, data)
    mirror.refresh()                                              # joint_pos updated in place

No torch import at module import time is needed by callers that only use numpy; torch is
imported here because the mirror's whole point is torch tensors (the ``export`` extra).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from exploy.sim.errors import SimError

__all__ = ["TensorMirror"]

Source = Callable[[], np.ndarray]


class TensorMirror:
    """Named float32 torch tensors, shape ``(1, n)``, refreshed in place from numpy sources.

    Args:
        dtype: Torch dtype of the tensors (default float32, the exported graph's input type).
    """

    def __init__(self, *, dtype: torch.dtype = torch.float32) -> None:
        self.dtype = dtype
        self._entries: dict[str, tuple[torch.Tensor, np.ndarray, Source]] = {}

    def add(self, name: str, source: Source) -> torch.Tensor:
        """Register ``source`` (returns a 1-D numpy array of fixed size) and return its tensor.

        The tensor is allocated once, filled from ``source()`` now, and updated in place by
        every :meth:`refresh`; register it as the ``Input`` and read it in the observations.

        Raises:
            SimError: for a duplicate name, or a source that is not a finite-size 1-D array.
        """
        if name in self._entries:
            raise SimError(f"TensorMirror already has an entry '{name}'; give each state a unique name")
        value = np.asarray(source())
        if value.ndim != 1 or value.size == 0:
            raise SimError(
                f"source of '{name}' returned shape {value.shape}; return a non-empty 1-D array "
                "(e.g. data.qpos[7:19], not data.qpos[None])"
            )
        tensor = torch.zeros(1, value.size, dtype=self.dtype)
        view = tensor.numpy().reshape(-1)  # shares memory with the tensor
        view[:] = value
        self._entries[name] = (tensor, view, source)
        return tensor

    def __getitem__(self, name: str) -> torch.Tensor:
        return self._entries[name][0]

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    @property
    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._entries)

    def refresh(self) -> None:
        """Copy every source into its tensor, in place (casting, e.g. float64 -> float32).

        Raises:
            SimError: when a source changed size since it was registered.
        """
        for name, (_, view, source) in self._entries.items():
            value = source()
            if np.shape(value) != view.shape:
                raise SimError(
                    f"source of '{name}' now has shape {np.shape(value)}, registered as {view.shape}; "
                    "a mirrored state must keep its size"
                )
            view[:] = value
