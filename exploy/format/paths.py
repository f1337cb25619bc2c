"""Where an exploy export puts its files: ``<dir>/<stem>.onnx`` and ``<dir>/debug/<stem>_*.onnx``."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

DEBUG_DIR = "debug"


@dataclass(frozen=True)
class PolicyPaths:
    """The policy file and its debug graphs."""

    main: pathlib.Path

    @property
    def stem(self) -> str:
        return self.main.stem

    @property
    def debug_dir(self) -> pathlib.Path:
        return self.main.parent / DEBUG_DIR

    def debug(self, suffix: str) -> pathlib.Path:
        """``debug/<stem>_<suffix>.onnx``."""
        return self.debug_dir / f"{self.stem}_{suffix}.onnx"

    @property
    def default(self) -> pathlib.Path:
        return self.debug("default")

    @property
    def process_actions(self) -> pathlib.Path:
        return self.debug("process_actions")

    @property
    def optimized(self) -> pathlib.Path:
        return self.debug("optimized")

    @classmethod
    def of(cls, folder: str | pathlib.Path, filename: str) -> PolicyPaths:
        """Paths for ``filename`` inside ``folder`` (nothing is created)."""
        return cls(pathlib.Path(folder) / filename)
