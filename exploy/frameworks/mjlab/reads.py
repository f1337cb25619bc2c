"""Find which of a set of tensors a piece of torch code reads (by identity, while it runs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["tensors_read"]


class _ReadRecorder(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.seen: set[int] = set()

    def _note(self, value: Any) -> None:
        if isinstance(value, torch.Tensor):
            self.seen.add(id(value))
        elif isinstance(value, (list, tuple)):
            for item in value:
                self._note(item)
        elif isinstance(value, dict):
            for item in value.values():
                self._note(item)

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        self._note(args)
        self._note(kwargs)
        return func(*args, **kwargs)


def tensors_read(run: Callable[[], Any], candidates: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """Run ``run()`` and return the candidates it passed to any torch operation, in candidate order.

    A candidate counts as read when the very tensor object is an argument of a torch function
    or method (indexing, arithmetic, ``torch.cat``, ...). The candidates must stay alive for the
    call (identity is compared with ``id``).
    """
    recorder = _ReadRecorder()
    pool = list(candidates)
    with torch.no_grad(), recorder:
        run()
    return [t for t in pool if id(t) in recorder.seen]
