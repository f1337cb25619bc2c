"""What ``evaluate`` found: the tensors that differed and the invariants that broke."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

MAX_REPORTED = 20
OBS_OUTPUT = "obs"
BAKED_STATE_HINT = (
    "  hint: the file's observations do not follow the environment's state, so some state was baked "
    "in as a constant at export: compute_observations read a tensor that is not a registered Input "
    "(e.g. torch.from_numpy(mj_data.qpos) or a new tensor made per call). Register tensors that are "
    "updated in place and read those (exploy.sim.TensorMirror; docs/wrapping_a_simulator.md)."
)


@dataclass(frozen=True)
class Mismatch:
    """One tensor that differed between the environment and the file."""

    step: int
    substep: int | None
    name: str
    entries: tuple[str, ...]
    max_abs_error: float
    expected: np.ndarray
    actual: np.ndarray

    def describe(self) -> str:
        where = f"step {self.step}" + ("" if self.substep is None else f" substep {self.substep}")
        shown = ", ".join(self.entries[:6]) + (" ..." if len(self.entries) > 6 else "")
        return f"{where}: '{self.name}' differs by up to {self.max_abs_error:.4g} at [{shown}]"


@dataclass
class EvaluationReport:
    """What :func:`run_evaluation` compared and what differed."""

    steps: int = 0
    comparisons: int = 0
    per_substep: bool = False
    mismatches: list[Mismatch] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    observations: torch.Tensor | None = None

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.problems

    def add_problem(self, text: str) -> None:
        """Record a broken invariant, once per kind and culprit (the text up to its first colon,
        and the first quoted name in it)."""
        if all(_problem_key(p) != _problem_key(text) for p in self.problems):
            self.problems.append(text)

    def summary(self) -> str:
        mode = "every sim substep" if self.per_substep else "once per policy step"
        if self.ok:
            return f"exploy evaluate: OK — {self.steps} policy steps, {self.comparisons} comparisons ({mode})"
        if not self.mismatches:
            lines = [f"exploy evaluate: FAILED — {self.steps} policy steps ({mode}) match, but:"]
            return "\n".join(lines + ["  " + p for p in self.problems])
        lines = [
            f"exploy evaluate: FAILED — {len(self.mismatches)} mismatching tensors in {self.steps} "
            f"policy steps ({mode}); first divergence:"
        ]
        lines += ["  " + p for p in self.problems]
        lines += ["  " + m.describe() for m in self.mismatches[:MAX_REPORTED]]
        if len(self.mismatches) > MAX_REPORTED:
            lines.append(f"  ... and {len(self.mismatches) - MAX_REPORTED} more")
        if self.mismatches[0].name == OBS_OUTPUT:
            lines.append(BAKED_STATE_HINT)
        return "\n".join(lines)


def _problem_key(text: str) -> tuple[str, str]:
    kind, _, rest = text.partition(":")
    quoted = rest.split("'")
    return kind, quoted[1] if len(quoted) > 2 else ""
