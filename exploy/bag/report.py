"""Write a replay's verdict: a text summary, a JSON summary and a PNG plot."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np

from exploy.bag.compare import TOLERANCE_RULE, ReplayResult

MAX_PLOTTED_CHANNELS = 24
"""Channels drawn at most (the diverging ones first); the JSON still covers all of them."""


def summary_json(result: ReplayResult, *, plot: str | None = None) -> dict[str, Any]:
    """The JSON-serialisable summary of ``result``."""
    first = result.first_divergence
    return {
        "ok": result.ok,
        "mode": result.mode,
        "bag": result.bag,
        "policy": result.policy,
        "sampling": result.sampling,
        "num_ticks": result.num_ticks,
        "atol": result.atol,
        "rtol": result.rtol,
        "outputs": {name: res.to_json() for name, res in result.outputs.items()},
        "stages": {name: res.to_json() for name, res in result.stages.items()},
        "first_divergence": None if first is None else first.to_json(),
        "missing_ticks": result.missing_ticks,
        "warnings": result.warnings,
        "seconds": result.seconds,
        "ticks_per_second": result.ticks_per_second if result.seconds > 0 else None,
        "plot": plot,
    }


def write_json(result: ReplayResult, path: str | pathlib.Path, *, plot: str | None = None) -> pathlib.Path:
    """Write :func:`summary_json` to ``path`` (parents created); return the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary_json(result, plot=plot), indent=2) + "\n", encoding="utf-8")
    return path


def default_report_dir(bag: str | pathlib.Path) -> pathlib.Path:
    """Where a replay of ``bag`` writes its reports by default: ``<bag>_replay`` beside it."""
    bag = pathlib.Path(bag)
    return bag.with_name(bag.name + "_replay")


def write_reports(
    result: ReplayResult,
    out: str | pathlib.Path,
    *,
    json_path: str | pathlib.Path | None = None,
    plot_path: str | pathlib.Path | None = None,
    plot: bool = True,
) -> tuple[pathlib.Path, pathlib.Path | None]:
    """Write the plot (unless ``plot`` is False) and the JSON summary, by default into ``out``.

    Returns:
        ``(summary_path, plot_path or None)``.
    """
    out = pathlib.Path(out)
    written = write_plot(result, plot_path or out / "plot.png") if plot else None
    summary = write_json(result, json_path or out / "summary.json", plot=None if written is None else str(written))
    return summary, written


def summary_text(result: ReplayResult) -> str:
    """A few lines for the terminal: verdict, first divergence, one line per output."""
    verdict = "MATCH" if result.ok else "DIVERGED"
    lines = [
        f"exploy replay ({result.mode}): {verdict} — {result.num_ticks} ticks, sampling {result.sampling}, "
        f"atol {result.atol:g}, rtol {result.rtol:g}",
        f"  a value is ok when {TOLERANCE_RULE}",
    ]
    first = result.first_divergence
    if first is not None:
        if first.component is None:
            where = "the bag"
        elif first.component in result.outputs:
            where = f"output '{first.component}'"
        else:
            where = f"stage '{first.component}'"
        lines.append(f"  first divergence: tick {first.tick}, {where}: {first.reason}")
    for name, res in result.outputs.items():
        status = "ok  " if res.ok else "FAIL"
        extra = "" if res.ok else f", {res.diverging_ticks} diverging, first at tick {res.first_tick} {res.first_label}"
        lines.append(
            f"  {status} {name}: {res.compared_ticks} ticks compared, max abs err {res.max_abs_error:.3g}, "
            f"max rel err {res.max_rel_error:.3g}{extra}"
        )
    if result.stages:
        bad = [f"{k} (first at tick {r.first_tick} {r.first_label})" for k, r in result.stages.items() if not r.ok]
        lines.append(
            f"  simulator stages (obs, actions, incoming memory) compared on {len(result.stages)} streams"
            + (f"; differing: {', '.join(bad[:6])}" if bad else ": all match")
        )
    if result.missing_ticks:
        lines.append(f"  missing ticks: {result.missing_ticks[:10]}{' ...' if len(result.missing_ticks) > 10 else ''}")
    lines += [f"  warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def _channels(result: ReplayResult) -> list[tuple[str, int]]:
    chans = [(name, c) for name, exp in result.expected.items() for c in range(exp.shape[1])]

    def bad(item: tuple[str, int]) -> bool:
        name, c = item
        mask = result.expected_ticks[name]
        err = np.abs(result.actual[name][mask, c].astype(np.float64) - result.expected[name][mask, c])
        return bool((~(err <= result.atol + result.rtol * np.abs(result.expected[name][mask, c]))).any())

    diverging = [ch for ch in chans if bad(ch)]
    rest = [ch for ch in chans if ch not in diverging]
    return (diverging + rest)[:MAX_PLOTTED_CHANNELS]


def channel_labels(policy: str | pathlib.Path) -> dict[str, list[str]]:
    """Per output, one label per channel: joint names from the metadata where the file has
    them (``names`` / ``joint_names`` on the component or its group), else ``name[i]``."""
    from exploy.format import PolicyFormatError, read_metadata

    try:
        meta = read_metadata(policy)
    except PolicyFormatError:
        return {}
    labels = {}
    for comp in meta.outputs:
        sources = [comp.metadata or {}]
        if comp.group:
            sources.append(meta.group(comp.group).metadata or {})
        names = next(
            (m[k] for m in sources for k in ("names", "joint_names") if isinstance(m.get(k), list)), None
        )
        item = comp.name.rsplit(".", 1)[-1]
        if names is not None and len(names) == comp.size:
            labels[comp.name] = [f"{item} {n}" for n in names]
    return labels


def write_plot(result: ReplayResult, path: str | pathlib.Path) -> pathlib.Path:
    """Plot expected vs deployed values per output channel over sim time, divergences marked.

    One panel per channel in a grid (at most :data:`MAX_PLOTTED_CHANNELS`, diverging channels
    first), labelled with joint names where the file has them; expected values are dots at the
    ticks that carry them, deployed values a line over every tick, diverging ticks red crosses,
    missing ticks grey bands.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    chans = _channels(result)
    labels = channel_labels(result.policy)
    time = np.arange(result.num_ticks) * result.dt
    count = max(1, len(chans))
    cols = 1 if count <= 4 else 2 if count <= 8 else 3
    rows = -(-count // cols)
    height = 1.7 * rows + 1.1
    fig, axes = plt.subplots(rows, cols, figsize=(max(9.0, 5.2 * cols), height), sharex=True, squeeze=False)
    for ax, (name, c) in zip(axes.flat, chans):
        mask = result.expected_ticks[name]
        ax.plot(time, result.actual[name][:, c], lw=0.9, color="tab:blue", label="deployed")
        ax.plot(time[mask], result.expected[name][mask, c], ".", ms=2.5, color="tab:orange", label="expected")
        div = result.outputs[name].diverging
        if div.any():
            ax.plot(time[div], result.actual[name][div, c], "x", ms=5, color="red", label="divergence")
        for tick in result.missing_ticks:
            ax.axvspan(time[tick] - result.dt / 2, time[tick] + result.dt / 2, color="grey", alpha=0.3)
        label = labels[name][c] if name in labels else f"{name.rsplit('.', 1)[-1]}[{c}]"
        ax.set_title(label, fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(chans):]:
        ax.set_visible(False)
    handles, names = axes[0, 0].get_legend_handles_labels()
    for ax in axes.flat:  # the legend of the panel that shows a divergence, if any
        h, n = ax.get_legend_handles_labels()
        if len(h) > len(handles):
            handles, names = h, n
    fig.legend(
        handles, names, loc="upper right", fontsize=8, ncol=len(names), bbox_to_anchor=(0.995, 1 - 0.32 / height)
    )
    for ax in axes[-1, :]:
        ax.set_xlabel("sim time [s]", fontsize=8)
    verdict = "MATCH" if result.ok else f"DIVERGED (first at tick {result.first_divergence.tick})"  # type: ignore[union-attr]
    outputs = ", ".join(result.outputs)
    fig.suptitle(
        f"exploy replay ({result.mode}): {verdict} — {outputs}", fontsize=10, x=0.01, y=1 - 0.08 / height, ha="left"
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.75 / height))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
