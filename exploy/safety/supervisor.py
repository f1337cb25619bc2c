"""The safety state machine between the policy and the motors: what gets published, and when.

States (:class:`SafetyState`)::

    waiting --(every input arrived, clean tick)--> starting --(ramp done)--> running
    starting / running --(stale input | rejected tick | non-finite result)--> fallback
    fallback --(inputs fresh, clean tick)--> starting            (a fresh soft start)
    any --(e-stop engaged)--> estop --(released)--> starting

The node feeds the supervisor once per tick: :meth:`Supervisor.idle` when the policy did not run
(an input missing or stale, or the e-stop engaged), :meth:`Supervisor.after_tick` with the
policy's outputs otherwise. Both return the tensors to publish by component name (components
left out are not published). Pure numpy: no rclpy, unit-tested at hand-computed points.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from exploy.safety.errors import SafetyError
from exploy.safety.joints import JointLayout, JointTensor
from exploy.safety.laws import FALLBACK_MODES, FallbackMode, blend, fallback_law, ramp

NS_PER_S = 1_000_000_000

STALE_INPUT = "stale input"
REJECTED_TICK = "rejected tick"
NON_FINITE_RESULT = "non-finite result"
"""Reasons of the ``fallback`` state."""


class SafetyState(str, enum.Enum):
    """States of the safety state machine (the value is what ``~/state`` publishes)."""

    WAITING = "waiting"
    STARTING = "starting"
    RUNNING = "running"
    FALLBACK = "fallback"
    ESTOP = "estop"


@dataclass(frozen=True)
class SafetyConfig:
    """Safety settings (node parameters ``soft_start_s``, ``fallback``, ``fallback_kp``, ``fallback_kd``).

    Attributes:
        soft_start_s: Duration of the soft-start ramp (0: none).
        fallback: ``stop``, ``hold`` or ``damp``.
        fallback_kp: Stiffness of ``hold``: one value, or one per joint of the layout.
        fallback_kd: Damping of ``hold`` and ``damp``: one value, or one per joint.
    """

    soft_start_s: float = 1.0
    fallback: FallbackMode = "damp"
    fallback_kp: float | tuple[float, ...] = 20.0
    fallback_kd: float | tuple[float, ...] = 1.0

    def gains(self, joints: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(kp, kd)`` per joint of ``joints``.

        Raises:
            SafetyError: for a gain list of the wrong length or a negative / non-finite gain.
        """
        out = []
        for name, raw in (("fallback_kp", self.fallback_kp), ("fallback_kd", self.fallback_kd)):
            value = np.atleast_1d(np.asarray(raw, dtype=np.float64))
            if value.size == 1:
                value = np.full(len(joints), float(value[0]))
            elif value.size != len(joints):
                raise SafetyError(
                    f"Parameter '{name}' has {value.size} values; give one, or one per output joint "
                    f"({len(joints)}: {', '.join(joints[:24])})"
                )
            if not np.isfinite(value).all() or (value < 0).any():
                raise SafetyError(f"Parameter '{name}' must hold finite values >= 0, got {value.tolist()[:24]}")
            out.append(value)
        return out[0], out[1]


@dataclass(frozen=True)
class Transition:
    """One change of state."""

    old: SafetyState
    new: SafetyState
    reason: str = ""

    def __str__(self) -> str:
        tail = f" ({self.reason})" if self.reason else ""
        return f"safety state {self.old.value} -> {self.new.value}{tail}"


@dataclass
class SafetyCounters:
    """Totals kept by the supervisor (reset on :meth:`Supervisor.activate`)."""

    fallback_entries: int = 0
    estop_engagements: int = 0
    soft_starts: int = 0
    position_clamps: int = 0
    effort_clamps: int = 0
    non_finite_results: int = 0
    fallback_reasons: dict[str, int] = field(default_factory=dict)


def validate_config(config: SafetyConfig, layout: JointLayout) -> None:
    """Check ``config`` against the file's joints.

    Raises:
        SafetyError: for an unknown fallback, a negative or non-finite ``soft_start_s``, bad gains,
            or (with ``soft_start_s > 0``) an output joint no input measures.
    """
    if config.fallback not in FALLBACK_MODES:
        raise SafetyError(f"Parameter 'fallback' must be one of {list(FALLBACK_MODES)}, got {config.fallback!r}")
    if not (math.isfinite(config.soft_start_s) and config.soft_start_s >= 0.0):
        raise SafetyError(f"Parameter 'soft_start_s' must be >= 0 (0: no soft start), got {config.soft_start_s}")
    config.gains(layout.joints)
    if config.soft_start_s > 0.0:
        missing = layout.unmeasured("position")
        if missing:
            raise SafetyError(
                f"soft_start_s > 0 blends from the measured pose, but no input measures the position of "
                f"output joint(s) {missing[:12]}; map a joint-state input with these names, or set soft_start_s: 0"
            )


class Supervisor:
    """The safety state machine and the output shaping of one policy file.

    Args:
        layout: The file's joint targets and measurements.
        config: Soft start and fallback settings (checked with :func:`validate_config`).
        on_transition: Called once per change of state.

    Raises:
        SafetyError: see :func:`validate_config`.
    """

    def __init__(
        self,
        layout: JointLayout,
        config: SafetyConfig,
        *,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        validate_config(config, layout)
        self.layout = layout
        self.config = config
        self._kp, self._kd = config.gains(layout.joints)
        self._on_transition = on_transition
        self._bounds = {t.component: self._tensor_bounds(t) for t in layout.targets}
        self.state = SafetyState.WAITING
        self.reason = ""
        self.counters = SafetyCounters()
        self.alpha = 0.0
        self._estop = False
        self._start_ns: int | None = None
        self._q_start = np.zeros(len(layout.joints))
        self._held = np.full(len(layout.joints), np.nan)
        self._hold_pending = True

    # -- control ------------------------------------------------------------------------------

    @property
    def estopped(self) -> bool:
        """True while the e-stop is engaged (the policy must not tick)."""
        return self._estop

    @property
    def label(self) -> str:
        """The state, with the reason in fallback: ``"fallback: stale input"``."""
        return f"{self.state.value}: {self.reason}" if self.reason else self.state.value

    def activate(self) -> None:
        """Start over in ``waiting`` (node activation); counters restart, the e-stop is kept."""
        self.counters = SafetyCounters()
        self._start_ns = None
        self._held = np.full(len(self.layout.joints), np.nan)
        self._hold_pending = True
        self._set(SafetyState.ESTOP if self._estop else SafetyState.WAITING)

    def set_soft_start(self, seconds: float) -> None:
        """Change the soft-start duration while running (a ramp in progress follows the new one).

        Raises:
            SafetyError: see :func:`validate_config`.
        """
        config = replace(self.config, soft_start_s=float(seconds))
        validate_config(config, self.layout)
        self.config = config

    def engage_estop(self, engaged: bool) -> str:
        """Engage (True) or release (False) the e-stop; returns what happened, for the caller's reply."""
        if engaged:
            if self._estop:
                return "e-stop already engaged"
            self._estop = True
            self.counters.estop_engagements += 1
            self._enter(SafetyState.ESTOP, "")
            return "e-stop engaged: fallback outputs, policy stopped"
        if not self._estop:
            return "e-stop was not engaged"
        self._estop = False
        self._start_ns = None
        self._set(SafetyState.STARTING, "")
        return "e-stop released: soft start from the measured pose"

    # -- ticks --------------------------------------------------------------------------------

    def idle(
        self,
        now_ns: int,
        values: Mapping[str, np.ndarray],
        *,
        missing: bool = False,
        stale: bool = False,
        measurement_fresh: bool = True,
    ) -> dict[str, np.ndarray]:
        """A tick on which the policy did not run; the tensors to publish.

        Args:
            now_ns: Tick time.
            values: Last good input tensors by component name (measurements among them).
            missing: An input never arrived.
            stale: An input is older than the timeout.
            measurement_fresh: The joint measurements are current.
        """
        if self._estop:
            return self._fallback_outputs(values, measurement_fresh)
        if missing:
            if self.state is not SafetyState.WAITING:
                self._set(SafetyState.WAITING)
            return {}
        if stale:
            self._enter(SafetyState.FALLBACK, STALE_INPUT)
            return self._fallback_outputs(values, measurement_fresh)
        return {}

    def after_tick(
        self,
        now_ns: int,
        values: Mapping[str, np.ndarray],
        outputs: Mapping[str, np.ndarray],
        *,
        problem: str | None = None,
    ) -> dict[str, np.ndarray]:
        """A tick on which the policy ran; the tensors to publish.

        Args:
            now_ns: Tick time (the soft-start ramp follows it).
            values: The input tensors the tick ran with (measurements among them).
            outputs: The policy's outputs by component name.
            problem: :data:`REJECTED_TICK` or :data:`NON_FINITE_RESULT` when the runtime rejected the
                tick (its outputs are then not used), else None.
        """
        if self._estop:  # the caller should not have ticked
            return self._fallback_outputs(values, True)
        if problem is not None:
            self._enter(SafetyState.FALLBACK, problem)
            return self._fallback_outputs(values, True)
        if self.state in (SafetyState.WAITING, SafetyState.FALLBACK, SafetyState.STARTING) and self._start_ns is None:
            self._begin_soft_start(now_ns, values)
        published: dict[str, np.ndarray]
        if self.state is SafetyState.STARTING:
            self.alpha = ramp((now_ns - self._start_ns) / NS_PER_S, self._duration())  # type: ignore[operator]  # set when STARTING
            published = {name: value for name, value in outputs.items()}
            for tensor in self.layout.targets:
                start = self._q_start[tensor.index].reshape(tensor.shape)
                value = np.asarray(outputs[tensor.component], dtype=np.float64)
                published[tensor.component] = blend(tensor.role, self.alpha, value, start)
            if self.alpha >= 1.0:
                self._set(SafetyState.RUNNING)
        else:
            self.alpha = 1.0
            published = dict(outputs)
        published = self._clamped(published)
        if not all(np.isfinite(v).all() for v in published.values()):
            self.counters.non_finite_results += 1
            self._enter(SafetyState.FALLBACK, NON_FINITE_RESULT)
            return self._fallback_outputs(values, True)
        self._remember_targets(published)
        return published

    # -- internals ----------------------------------------------------------------------------

    def _duration(self) -> float:
        return self.config.soft_start_s

    def _begin_soft_start(self, now_ns: int, values: Mapping[str, np.ndarray]) -> None:
        self._start_ns = now_ns
        q, _ = self.layout.measure(values)
        self._q_start = np.where(np.isfinite(q), q, 0.0)
        self._hold_pending = True
        if self._duration() > 0.0:
            self.counters.soft_starts += 1
            self._set(SafetyState.STARTING)
        else:
            self._set(SafetyState.RUNNING)

    def _enter(self, state: SafetyState, reason: str) -> None:
        """Enter fallback or estop; the first tick there captures the hold pose."""
        if self.state is state and self.reason == reason:
            return
        if self.state not in (SafetyState.FALLBACK, SafetyState.ESTOP):
            self._hold_pending = True
        if state is SafetyState.FALLBACK:
            self.counters.fallback_entries += 1
            self.counters.fallback_reasons[reason] = self.counters.fallback_reasons.get(reason, 0) + 1
        self._start_ns = None
        self._set(state, reason)

    def _set(self, state: SafetyState, reason: str = "") -> None:
        if state is self.state and reason == self.reason:
            return
        change = Transition(self.state, state, reason)
        self.state, self.reason = state, reason
        if self._on_transition is not None:
            self._on_transition(change)

    def _fallback_outputs(self, values: Mapping[str, np.ndarray], fresh: bool) -> dict[str, np.ndarray]:
        q, qd = self.layout.measure(values)
        if self._hold_pending:
            self._held = np.where(np.isfinite(q), q, self._held)
            self._hold_pending = False
        mode = self.config.fallback
        if mode == "stop":
            return {}
        fresh_joints = np.full(len(q), bool(fresh))
        position, velocity, effort = fallback_law(
            mode, q=q, qd=qd, fresh=fresh_joints, held=self._held, kp=self._kp, kd=self._kd
        )
        if mode == "damp":
            self._held = np.where(np.isfinite(position), position, self._held)
        by_role = {"position": position, "velocity": velocity, "effort": effort}
        out = {}
        for tensor in self.layout.targets:
            value = by_role[tensor.role][tensor.index].reshape(tensor.shape)
            if np.isfinite(value).all():
                out[tensor.component] = value
        return self._clamped(out)

    def _remember_targets(self, published: Mapping[str, np.ndarray]) -> None:
        for tensor in self.layout.targets:
            if tensor.role == "position" and tensor.component in published:
                self._held[tensor.index] = np.asarray(published[tensor.component], dtype=np.float64).reshape(-1)

    def _tensor_bounds(self, tensor: JointTensor) -> tuple[np.ndarray, np.ndarray] | None:
        limits = self.layout.limits
        if tensor.role == "position":
            pairs = [limits.position.get(n, (-math.inf, math.inf)) for n in tensor.joints]
            lower = np.array([p[0] for p in pairs])
            upper = np.array([p[1] for p in pairs])
        elif tensor.role == "effort":
            upper = np.array([limits.effort.get(n, math.inf) for n in tensor.joints])
            lower = -upper
        else:
            return None
        if not (np.isfinite(lower).any() or np.isfinite(upper).any()):
            return None
        dtype = np.dtype(tensor.dtype)  # compare in the output's precision: a file that clamps itself is no clamp here
        return lower.astype(dtype).reshape(tensor.shape), upper.astype(dtype).reshape(tensor.shape)

    def _clamped(self, published: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        for tensor in self.layout.targets:
            bounds = self._bounds.get(tensor.component)
            value = published.get(tensor.component)
            if bounds is None or value is None:
                continue
            value = np.asarray(value, dtype=np.dtype(tensor.dtype))
            clamped = np.minimum(np.maximum(value, bounds[0]), bounds[1])
            count = int(np.count_nonzero(clamped != value))
            if count:
                if tensor.role == "position":
                    self.counters.position_clamps += count
                else:
                    self.counters.effort_clamps += count
            published[tensor.component] = clamped
        return published
