"""Observation history terms as Memory.

mjlab keeps a term's history in a ``CircularBuffer`` whose write position is a Python int: a trace
would bake one position in. While tracing, a :class:`ShiftHistory` takes its place: it keeps the
``L - 1`` frames before the current one in a tensor of its own (the Memory
``obs_history.<term>``) and builds the ``L``-frame history by appending the current frame, in
chronological order (oldest first), as mjlab does.

mjlab appends at the end of a policy step (when it computes the next observations); the file
appends at the Default tick that starts the next one. So between steps the memory is the
buffer's oldest ``L - 1`` frames (``buffer[:, :-1]``: what the next Default tick reads), and
during a step's substeps its newest ``L - 1`` (``buffer[:, 1:]``: what that step's Default tick
wrote). :meth:`HistoryMemory.refresh` copies whichever is asked for.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["HistoryMemory", "ShiftHistory"]


class ShiftHistory:
    """A traceable stand-in for one ``CircularBuffer`` (the calls ``compute_group`` makes)."""

    def __init__(self, memory: torch.Tensor) -> None:
        self._memory = memory
        self._history: torch.Tensor | None = None

    @property
    def is_initialized(self) -> bool:
        return True

    def append(self, data: torch.Tensor) -> None:
        history = torch.cat([self._memory, data.unsqueeze(1)], dim=1)
        self._history = history
        # A new tensor is written into the memory (never the memory copied onto itself).
        self._memory[:] = history[:, 1:]

    @property
    def buffer(self) -> torch.Tensor:
        if self._history is None:  # read without an append: the history ends with the newest frame
            raise RuntimeError("ShiftHistory.buffer read before append(); compute with update_history=True")
        return self._history


class HistoryMemory:
    """The memory of one history term and the mjlab buffer it mirrors.

    Args:
        term: The observation term's name.
        buffer: mjlab's ``CircularBuffer`` of the term (``max_len >= 2``).
    """

    def __init__(self, term: str, buffer: Any) -> None:
        self.term = term
        self.buffer = buffer
        self.tensor = buffer.buffer[:, :-1].detach().clone()

    def refresh(self, *, mid_step: bool) -> None:
        """Copy the buffer's oldest (between steps) or newest (``mid_step``) ``L - 1`` frames in place."""
        frames = self.buffer.buffer
        with torch.no_grad():
            self.tensor.copy_(frames[:, 1:] if mid_step else frames[:, :-1])

    def stand_in(self) -> ShiftHistory:
        """A fresh traceable stand-in writing this memory."""
        return ShiftHistory(self.tensor)
