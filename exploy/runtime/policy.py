"""Step an exploy policy file tick by tick: memory and the step counter stay inside."""

from __future__ import annotations

import math
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from exploy.format import names
from exploy.format.errors import PolicyFormatError
from exploy.format.metadata import ComponentSpec, PolicyMetadata
from exploy.runtime.errors import PolicyRuntimeError
from exploy.runtime.session import SessionWrapper
from exploy.safety.errors import SafetyError
from exploy.safety.ranges import InputRange, input_ranges


@dataclass(frozen=True)
class TickResult:
    """What one tick produced.

    Attributes:
        step_count: The ``ctx.step_count`` the tick ran with.
        policy_step: True when the Default path ran (observations + actor).
        outputs: External outputs by component name.
        actions: Raw actions (Default ticks only, else None).
        obs: Observations (Default ticks only, else None).
        rejected: None when the tick was committed; else why it was not (an output or the next
            memory held NaN or Inf): memory and ``ctx.step_count`` were left as before the tick,
            and ``outputs`` must not reach a motor.
    """

    step_count: int
    policy_step: bool
    outputs: dict[str, np.ndarray]
    actions: np.ndarray | None
    obs: np.ndarray | None
    rejected: str | None = None


INITIAL_VALUE_KEY = names.INITIAL_VALUE_KEY  # a format constant, kept here for callers of the runtime


class Policy:
    """A loaded policy file plus its internal state (memory and ``ctx.step_count``).

    Memory starts at (and :meth:`reset` restores) the value the file carries under the memory
    component's metadata key :data:`INITIAL_VALUE_KEY`, or zeros.

    Never a poisoned tick: a tick whose outputs or next memory hold NaN or Inf (e.g. a command
    of 3e38, finite in float32, overflowing inside the graph) is *rejected*: memory and
    ``ctx.step_count`` stay as they were, :attr:`rejected_ticks` counts it and the result says
    so (:attr:`TickResult.rejected`), so the next clean inputs continue from clean memory.
    Inputs with a range in their metadata (``ranges`` of ``cmd.se2_velocity.*``, ``range`` of
    ``cmd.float.*``, see :mod:`exploy.safety.ranges`) are clipped to it first; :attr:`clipped_values`
    counts the clipped elements.

    Args:
        path: The ``.onnx`` policy file.
        optimize: Let onnxruntime write ``debug/<stem>_optimized.onnx``.
        check_finite: Reject inputs holding NaN or Inf.
        first_step: The ``ctx.step_count`` of the first tick after construction and after every
            :meth:`reset`. 0 (ours): the first tick runs the Default path (observations and
            actor). 1 reproduces upstream's C++ controller, which increments the counter before
            its first run, so its first Default tick is tick ``decimation`` (the first
            ``decimation - 1`` ticks apply the initial memory only).
        execution_providers: onnxruntime providers in order of preference (``"CUDA"``,
            ``"TensorRT"``, ``"CPU"``, ...); None: CPU. Unavailable ones are skipped with an
            ``ExecutionProviderWarning``.

    Raises:
        PolicyFormatError: for a missing, corrupt, foreign or inconsistent file, or malformed input ranges.
        PolicyRuntimeError: for a bad ``first_step`` or an unknown execution provider.
    """

    def __init__(
        self,
        path: str | pathlib.Path,
        *,
        optimize: bool = False,
        check_finite: bool = True,
        first_step: int = 0,
        execution_providers: Sequence[str] | None = None,
    ) -> None:
        if isinstance(first_step, bool) or not isinstance(first_step, (int, np.integer)) or not 0 <= first_step < 2**31:
            raise PolicyRuntimeError(f"first_step must be an int in [0, 2**31), got {first_step!r}")
        self.first_step = int(first_step)
        path = pathlib.Path(path)
        self.session = SessionWrapper(
            path.parent, path.name, optimize=optimize, execution_providers=execution_providers
        )
        self.meta: PolicyMetadata = self.session.policy_metadata
        self.check_finite = check_finite
        self._inputs = self.meta.inputs
        self._outputs = self.meta.outputs
        self._memories = self.meta.memories
        self._check_graph_matches_metadata()
        self._output_names = [names.ACTIONS, names.OBS] + [
            # memory/output components always name their tensors
            c.output_name for c in (*self._outputs, *self._memories)  # type: ignore[misc]
        ]
        self._step_array = np.zeros(  # the file's own shape (() or (1,)) and type (int32/int64)
            self.session.input_shapes[names.STEP_COUNT], dtype=self.session.input_dtypes[names.STEP_COUNT]
        )
        try:
            self._ranges: dict[str, InputRange] = input_ranges(self._inputs)
        except SafetyError as err:
            raise PolicyFormatError(f"{path}: {err}") from err
        index = {name: i for i, name in enumerate(self._output_names)}
        self._finite_checks = [(f"output '{c.name}'", index[c.output_name]) for c in self._outputs] + [
            (f"memory '{c.name}'", index[c.output_name]) for c in self._memories
        ]
        checked = (*self._outputs, *self._memories)
        self._finite_zeros = (
            np.zeros(sum(c.size for c in checked), dtype=np.float32) if checked else np.zeros(1, np.float32)
        )
        self.rejected_ticks = 0
        """Ticks not committed because an output or the next memory held NaN or Inf."""
        self.clipped_values = 0
        """Input elements clipped to their metadata range."""
        self._initial_memory = {spec.input_name: _initial_value(spec) for spec in self._memories}
        self._memory: dict[str, np.ndarray] = {}
        self.step_count = 0
        self.reset()

    # -- description ----------------------------------------------------------------------

    @property
    def path(self) -> pathlib.Path:
        return self.session.onnx_file_path

    @property
    def decimation(self) -> int:
        return self.meta.decimation

    @property
    def update_rate(self) -> float | None:
        """Sim rate in Hz from the file, or None."""
        return self.meta.update_rate

    @property
    def inputs(self) -> tuple[ComponentSpec, ...]:
        """External inputs the caller feeds."""
        return self._inputs

    @property
    def outputs(self) -> tuple[ComponentSpec, ...]:
        """External outputs returned after every tick."""
        return self._outputs

    @property
    def memories(self) -> tuple[ComponentSpec, ...]:
        """Memory components (kept inside, never fed or returned by name)."""
        return self._memories

    @property
    def output_shapes(self) -> dict[str, tuple[int | str | None, ...]]:
        """Every graph output's shape by output name, as the graph declares it (a symbolic
        dimension is its name or None)."""
        return {out.name: tuple(out.shape) for out in self.session.session.get_outputs()}

    @property
    def memory(self) -> dict[str, np.ndarray]:
        """A copy of the current memory, by memory name."""
        # memory/output components always name their tensors
        return {spec.name: self._memory[spec.input_name].copy() for spec in self._memories}  # type: ignore[index]

    def is_policy_tick(self, step_count: int | None = None) -> bool:
        """True when tick ``step_count`` (default: the next one) runs the Default path."""
        count = self.step_count if step_count is None else step_count
        return count % self.decimation == 0

    # -- stepping -------------------------------------------------------------------------

    def reset(self) -> None:
        """Restore the initial memory (file values or zeros) and the step counter (``first_step``)."""
        # memory/output components always name their tensors
        self._memory = {name: value.copy() for name, value in self._initial_memory.items()}  # type: ignore[misc]
        self.step_count = self.first_step

    def step(self, inputs: Mapping[str, np.ndarray], *, validate: bool = True) -> TickResult:
        """Run one sim tick with the external ``inputs`` (by component name).

        Args:
            inputs: One array per external input.
            validate: Check names, shapes, dtypes and finiteness first. Pass False only when the
                caller already guarantees them (the policy node's decoders do), to save the
                checks on a 1 kHz hot path; a missing input then raises KeyError, not
                PolicyRuntimeError.

        Returns:
            The tick's result; ``result.rejected`` tells a tick that was not committed (see the
            class docstring).

        Raises:
            PolicyRuntimeError: for unknown, missing, misshaped or non-finite inputs; the
                internal state is left untouched.
        """
        feed = self._validated(inputs) if validate else {spec.name: inputs[spec.name] for spec in self._inputs}
        for name, bounds in self._ranges.items():
            feed[name], clipped = bounds.clip(feed[name])
            self.clipped_values += clipped
        feed.update(self._memory)
        self._step_array[...] = self.step_count
        feed[names.STEP_COUNT] = self._step_array
        results = self.session.session.run(self._output_names, feed)
        policy_step = self.is_policy_tick()
        by_name = dict(zip(self._output_names, results))
        rejected = self._non_finite(results)
        if rejected is None:
            for spec in self._memories:
                # memory/output components always name their tensors
                self._memory[spec.input_name] = by_name[spec.output_name]  # type: ignore[index]
        else:
            self.rejected_ticks += 1
        result = TickResult(
            step_count=self.step_count,
            policy_step=policy_step,
            outputs={spec.name: by_name[spec.name] for spec in self._outputs},
            actions=by_name[names.ACTIONS] if policy_step else None,
            obs=by_name[names.OBS] if policy_step else None,
            rejected=rejected,
        )
        if rejected is None:
            self.step_count += 1
        return result

    def _non_finite(self, results: list[np.ndarray]) -> str | None:
        """Why ``results`` of one tick must not be committed, or None when every output and memory is finite."""
        try:  # fast path: one dot product with zeros is NaN exactly when a value is NaN or Inf (x * 0 never overflows)
            flat = np.concatenate([results[index].reshape(-1) for _, index in self._finite_checks])
            if math.isfinite(flat @ self._finite_zeros):
                return None
        except ValueError:  # sizes differ from the metadata: check one by one
            pass
        for label, index in self._finite_checks:
            if not np.isfinite(results[index]).all():
                return f"{label} holds NaN or Inf"
        return None

    def run_ticks(
        self,
        inputs: Mapping[str, np.ndarray],
        *,
        resets: np.ndarray | None = None,
        stages: dict[str, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """Run ``n`` ticks back to back: the fast path of :meth:`step` for recorded data.

        Equivalent to ``n`` calls of :meth:`step` (with :meth:`reset` before tick ``k`` where
        ``resets[k]``), but the inputs are validated once for the whole batch and no per-tick
        result objects are built. Memory and ``ctx.step_count`` continue from, and are left in,
        the same state :meth:`step` would leave: inputs are clipped to their ranges, and a tick
        with non-finite outputs or memory is rejected (its row holds what the graph computed;
        memory and step counter stay, :attr:`rejected_ticks` counts it).

        Args:
            inputs: Every input component by name, shaped ``(n, *shape)`` (or ``(n, size)``).
            resets: Optional bool array of length ``n``.
            stages: When given, filled on every Default tick ``k`` with row ``k`` of ``obs``,
                ``actions`` and ``memory.<name>`` (the memory the tick received), each
                ``(n, size)`` float64, zero on the other ticks.

        Returns:
            Every output component by name, shaped ``(n, *shape)``.

        Raises:
            PolicyRuntimeError: for unknown, missing, misshaped or non-finite inputs (nothing run).
        """
        lengths = {np.shape(value)[0] if np.ndim(value) else -1 for value in inputs.values()}
        if len(lengths) != 1 or -1 in lengths:
            raise PolicyRuntimeError(
                f"run_ticks needs inputs with one common leading tick dimension, got lengths {lengths}"
            )
        count = lengths.pop()
        arrays = {name: np.asarray(value) for name, value in inputs.items()}
        if count == 0:
            return {spec.name: np.empty((0, *spec.shape), dtype=spec.dtype) for spec in self._outputs}
        self._validated({name: value[0] for name, value in arrays.items()})  # names and per-tick sizes
        batch = {
            spec.name: np.ascontiguousarray(arrays[spec.name], dtype=spec.dtype).reshape((count, *spec.shape))
            for spec in self._inputs
        }
        if self.check_finite:
            for name, value in batch.items():
                if value.dtype.kind == "f" and not np.isfinite(value).all():
                    tick = int(np.argmax(~np.isfinite(value.reshape(count, -1)).all(axis=1)))
                    raise PolicyRuntimeError(f"Input '{name}' holds NaN or Inf at tick {tick}")
        for name, bounds in self._ranges.items():
            batch[name], clipped = bounds.clip(batch[name])
            self.clipped_values += clipped
        if resets is not None and len(resets) != count:
            raise PolicyRuntimeError(f"resets has {len(resets)} entries for {count} ticks")
        out_index = {name: i for i, name in enumerate(self._output_names)}
        outputs = {spec.name: np.empty((count, *spec.shape), dtype=spec.dtype) for spec in self._outputs}
        out_slots = [(outputs[spec.name], out_index[spec.name]) for spec in self._outputs]
        mem_slots = [(spec.input_name, out_index[spec.output_name]) for spec in self._memories]
        stage_sources = self._stage_sources(out_index) if stages is not None else []
        run, wanted, step_array = self.session.session.run, self._output_names, self._step_array
        feed: dict[str, np.ndarray] = {names.STEP_COUNT: step_array}
        columns = list(batch.items())
        for k in range(count):
            if resets is not None and resets[k]:
                self.reset()
            for name, value in columns:
                feed[name] = value[k]
            feed.update(self._memory)
            step_array[...] = self.step_count
            results = run(wanted, feed)
            for target, index in out_slots:
                target[k] = results[index]
            if stages is not None and self.is_policy_tick():
                for key, source in stage_sources:
                    row = np.reshape(results[source] if isinstance(source, int) else feed[source], -1)
                    if key not in stages:
                        stages[key] = np.zeros((count, row.size))
                    stages[key][k] = row
            if self._non_finite(results) is not None:
                self.rejected_ticks += 1
                continue
            # memory/output components always name their tensors
            for name, index in mem_slots:  # type: ignore[assignment]
                self._memory[name] = results[index]
            self.step_count += 1
        return outputs

    def _stage_sources(self, out_index: Mapping[str | None, int]) -> list[tuple[str, int | str]]:
        """For :meth:`run_ticks`: ``(stage key, result index or memory feed name)`` per stage."""
        sources: list[tuple[str, int | str]] = [
            (names.OBS, out_index[names.OBS]), (names.ACTIONS, out_index[names.ACTIONS])
        ]
        # memory components always name their tensors
        return sources + [(f"memory.{spec.name}", spec.input_name) for spec in self._memories]  # type: ignore[misc]

    def _validated(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if len(inputs) != len(self._inputs) or any(spec.name not in inputs for spec in self._inputs):
            known = [spec.name for spec in self._inputs]
            unknown = sorted(set(inputs) - set(known))
            missing = [n for n in known if n not in inputs]
            raise PolicyRuntimeError(
                f"Inputs do not match the policy: missing {missing}, unknown {unknown}; "
                f"expected exactly {known}"
            )
        feed = {}
        for spec in self._inputs:
            value = np.asarray(inputs[spec.name], dtype=spec.dtype)
            if value.shape != spec.shape:
                if value.size != spec.size:
                    raise PolicyRuntimeError(
                        f"Input '{spec.name}' has {value.size} values (shape {value.shape}); "
                        f"the policy expects shape {spec.shape}"
                    )
                value = value.reshape(spec.shape)
            if self.check_finite and value.dtype.kind == "f" and not np.isfinite(value).all():
                raise PolicyRuntimeError(f"Input '{spec.name}' holds NaN or Inf: {value.reshape(-1)}")
            feed[spec.name] = value
        return feed

    def _check_graph_matches_metadata(self) -> None:
        expected = {c.input_name for c in (*self._inputs, *self._memories)} | {names.STEP_COUNT}
        actual = set(self.session.input_names)
        if expected != actual:
            raise PolicyRuntimeError(
                f"{self.path}: graph inputs {sorted(actual)} do not match the metadata index "
                # memory/output components always name their tensors
                f"{sorted(expected)}; the file was edited or is corrupt, re-export it"  # type: ignore[type-var]
            )


def _initial_value(spec: ComponentSpec) -> np.ndarray:
    """The initial value of memory ``spec``: its metadata ``initial_value``, or zeros.

    Raises:
        PolicyFormatError: when the metadata value is not numeric or has the wrong size.
    """
    dtype = np.dtype(spec.dtype)
    raw = (spec.metadata or {}).get(INITIAL_VALUE_KEY)
    if raw is None:
        return np.zeros(spec.shape, dtype=dtype)
    try:
        value = np.asarray(raw, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise PolicyFormatError(
            f"Memory '{spec.name}': metadata '{INITIAL_VALUE_KEY}' is not numeric ({err}); re-export it"
        ) from err
    if value.size != spec.size:
        raise PolicyFormatError(
            f"Memory '{spec.name}': metadata '{INITIAL_VALUE_KEY}' has {value.size} values, the memory "
            f"has shape {spec.shape}; re-export it"
        )
    return value.reshape(spec.shape)
