"""Static figures with matplotlib: each plot data class drawn on a new ``Figure``.

Figures are built on an Agg canvas directly (no ``pyplot``), so drawing never switches the
user's backend, opens a window, or touches global ``rcParams``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hyperdial._imports import require
from hyperdial.trial import Direction, TrialState
from hyperdial.visualization._data import (
    ContourData,
    HistoryData,
    ImportanceData,
    IntermediateData,
    ParallelData,
    PlotData,
    SliceData,
)
from hyperdial.visualization._frame import ParamAxis
from hyperdial.visualization._results import (
    EDFData,
    LearningCurveData,
    ParetoData,
    TimelineData,
    ValidationCurveData,
)

__all__ = ["STATE_COLORS", "render"]

STATE_COLORS = {
    TrialState.COMPLETE: "#1f77b4",
    TrialState.PRUNED: "#ff7f0e",
    TrialState.FAILED: "#d62728",
    TrialState.RUNNING: "#2ca02c",
    TrialState.WAITING: "#7f7f7f",
    TrialState.PAUSED: "#9467bd",
}


def _figure(width: float, height: float) -> Any:
    require("matplotlib", "plot")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _finish(fig: Any, data: PlotData) -> Any:
    fig.suptitle(data.title)
    if data.notes:
        fig.supxlabel("; ".join(data.notes), fontsize=8, color="#555555")
    return fig


def _grid(fig: Any, k: int, ncols: int, sharey: bool = False) -> list[Any]:
    ncols = max(1, min(ncols, k))
    nrows = math.ceil(k / ncols)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=sharey).ravel()
    for ax in axes[k:]:
        ax.set_visible(False)
    return list(axes[:k])


def _param_xaxis(ax: Any, p: ParamAxis) -> None:
    ax.set_xlabel(p.name)
    if p.is_categorical:
        ax.set_xticks(range(len(p.choices or ())), p.labels(), rotation=30 if len(p.choices or ()) > 4 else 0)
        ax.set_xlim(-0.5, len(p.choices or ()) - 0.5)
    elif p.log:
        ax.set_xscale("log")


def _cmap(direction: Direction) -> str:
    return "viridis_r" if direction == Direction.MINIMIZE else "viridis"  # the best trials bright


def _history(d: HistoryData) -> Any:
    fig = _figure(8, 4.5)
    ax = fig.add_subplot()
    ax.scatter(d.numbers, d.values, s=10, alpha=0.6, color=STATE_COLORS[TrialState.COMPLETE], label=d.target_name)
    ax.step(d.numbers, d.best, where="post", color="#d62728", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(d.target_name)
    if d.log_y:
        ax.set_yscale("log")
    ax.legend(loc="upper right")
    return fig


def _unit(p: ParamAxis) -> np.ndarray:
    """Values scaled to [0, 1] along a parallel-coordinates axis."""
    if p.is_categorical:
        k = max(len(p.choices or ()) - 1, 1)
        return p.values / k
    s = p.scaled()
    lo, hi = np.nanmin(s) if np.any(~np.isnan(s)) else 0.0, np.nanmax(s) if np.any(~np.isnan(s)) else 1.0
    return (s - lo) / (hi - lo) if hi > lo else np.full(s.shape, 0.5)


def _ends(p: ParamAxis) -> tuple[str, str]:
    if p.is_categorical:
        labels = p.labels()
        return (labels[0], labels[-1]) if labels else ("", "")
    v = p.values[~np.isnan(p.values)]
    return (f"{v.min():.3g}", f"{v.max():.3g}") if len(v) else ("", "")


def _parallel(d: ParallelData) -> Any:
    from matplotlib.collections import LineCollection

    fig = _figure(max(6, 1.4 * (len(d.axes) + 1)), 5)
    ax = fig.add_subplot()
    cols = [_unit(p) for p in d.axes]
    v = d.values
    span = v.max() - v.min()
    cols.append((v - v.min()) / span if span > 0 else np.full(v.shape, 0.5))
    ys = np.column_stack(cols)
    xs = np.broadcast_to(np.arange(ys.shape[1]), ys.shape)
    many = len(v) > 1000  # anti-aliasing thousands of overlapping lines costs seconds and shows nothing more
    lines = LineCollection(
        np.stack([xs, ys], axis=-1), cmap=_cmap(d.direction), linewidths=0.8, alpha=0.5, antialiaseds=not many
    )
    lines.set_array(v)
    ax.add_collection(lines)
    labels = [p.name + (" (log)" if p.log else "") for p in d.axes] + [d.target_name]
    ax.set_xticks(range(len(labels)), labels, rotation=20)
    for i, p in enumerate(d.axes):
        lo, hi = _ends(p)
        ax.text(i, -0.04, lo, ha="center", va="top", fontsize=7)
        ax.text(i, 1.04, hi, ha="center", va="bottom", fontsize=7)
        ax.axvline(i, color="#999999", linewidth=0.8)
    ax.axvline(len(d.axes), color="#999999", linewidth=0.8)
    ax.set_xlim(-0.3, len(labels) - 0.7)
    ax.set_ylim(-0.1, 1.1)
    ax.set_yticks([])
    fig.colorbar(lines, ax=ax, label=d.target_name)
    return fig


def _slice(d: SliceData) -> Any:
    k = max(len(d.axes), 1)
    ncols = min(k, 4)
    fig = _figure(3.2 * ncols + 1, 3.0 * math.ceil(k / ncols) + 0.8)
    panels = _grid(fig, k, ncols, sharey=True)  # one objective axis for every panel
    sc = None
    vmax = max((int(n.max()) for n in d.numbers if len(n)), default=1)
    for ax, p, y, nums in zip(panels, d.axes, d.values, d.numbers):
        edge = 0.2 if len(y) <= 1000 else 0.0  # marker edges double the drawing time of big studies
        sc = ax.scatter(
            p.values, y, c=nums, cmap="Blues", vmin=0, vmax=vmax, s=10, edgecolors="#555555", linewidths=edge
        )
        _param_xaxis(ax, p)
    if panels:
        panels[0].set_ylabel(d.target_name)
    if sc is not None:
        fig.colorbar(sc, ax=panels, label="trial")
    return fig


def _contour(d: ContourData) -> Any:
    k = max(len(d.pairs), 1)
    ncols = min(k, 3)
    fig = _figure(4.2 * ncols + 1, 3.6 * math.ceil(k / ncols) + 0.8)
    panels = _grid(fig, k, ncols)
    vmin = min((float(np.nanmin(p.z)) for p in d.pairs), default=0.0)
    vmax = max((float(np.nanmax(p.z)) for p in d.pairs), default=1.0)
    mesh = None
    for ax, p in zip(panels, d.pairs):
        numeric = not p.x.is_categorical and not p.y.is_categorical and len(p.x_centers) > 1 and len(p.y_centers) > 1
        if numeric:
            mesh = ax.contourf(p.x_centers, p.y_centers, p.z, levels=15, cmap=_cmap(d.direction), vmin=vmin, vmax=vmax)
        else:
            mesh = ax.pcolormesh(
                p.x_centers, p.y_centers, p.z, shading="nearest", cmap=_cmap(d.direction), vmin=vmin, vmax=vmax
            )
        ax.scatter(p.x.values, p.y.values, s=4, color="black", alpha=0.4, linewidths=0)
        _param_xaxis(ax, p.x)
        ax.set_ylabel(p.y.name)
        if p.y.is_categorical:
            ax.set_yticks(range(len(p.y.choices or ())), p.y.labels())
        elif p.y.log:
            ax.set_yscale("log")
    if mesh is not None:
        fig.colorbar(mesh, ax=panels, label=f"mean {d.target_name}")
    return fig


def _importance(d: ImportanceData) -> Any:
    fig = _figure(7, 0.45 * len(d.names) + 1.8)
    ax = fig.add_subplot()
    y = np.arange(len(d.names))[::-1]
    upper = np.zeros_like(d.importances)
    xerr = None
    if d.std is not None:  # the spread over trees, kept inside [0, 1] like the importances
        upper = np.minimum(d.std, 1.0 - d.importances)
        xerr = np.vstack([np.minimum(d.std, d.importances), upper])
    ax.barh(y, d.importances, xerr=xerr, color="#1f77b4", capsize=3 if d.std is not None else 0)
    ax.set_yticks(y, d.names)
    for yi, v, u in zip(y, d.importances, upper):
        ax.text(v + u + 0.01, yi, f"{v:.1%}", va="center", fontsize=8)
    ax.set_xlabel(f"importance for {d.target_name} ({d.method})")
    ax.set_xlim(0, 1.12)
    ax.xaxis.set_major_formatter("{x:.0%}")
    return fig


def _intermediate(d: IntermediateData) -> Any:
    from matplotlib.collections import LineCollection

    fig = _figure(8, 4.5)
    ax = fig.add_subplot()
    for state in sorted(set(d.states)):
        idx = [i for i, s in enumerate(d.states) if s == state]
        segs = [np.column_stack([d.steps[i], d.values[i]]) for i in idx]
        color = STATE_COLORS.get(state, "#333333")
        ax.add_collection(LineCollection(segs, colors=color, linewidths=0.8, alpha=0.6, label=state.name.lower()))
        if state == TrialState.PRUNED:
            ax.scatter([d.steps[i][-1] for i in idx], [d.values[i][-1] for i in idx], marker="x", color=color, s=18)
    ax.autoscale()
    ax.set_xlabel("step")
    ax.set_ylabel("intermediate value")
    ax.legend(loc="upper right")
    return fig


def _validation(d: ValidationCurveData) -> Any:
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    ax.errorbar(d.x, d.mean, yerr=d.std, fmt="o", ms=4, capsize=3, alpha=0.8)
    ax.set_xlabel(d.param)
    if d.choices is not None:
        ax.set_xticks(range(len(d.choices)), [str(c) for c in d.choices])
    elif d.log:
        ax.set_xscale("log")
    ax.set_ylabel(f"CV {d.metric} (mean ± std over folds)")
    return fig


def _learning(d: LearningCurveData) -> Any:
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    for label, mean, std, color in (
        ("training", d.train_mean, d.train_std, "#1f77b4"),
        ("cross-validation", d.test_mean, d.test_std, "#ff7f0e"),
    ):
        ax.plot(d.train_sizes, mean, "o-", color=color, label=label)
        ax.fill_between(d.train_sizes, mean - std, mean + std, color=color, alpha=0.2)
    ax.set_xlabel("training examples")
    ax.set_ylabel("score")
    ax.legend(loc="upper right")
    return fig


def _pareto(d: ParetoData) -> Any:
    fig = _figure(7, 5.5)
    three = d.values.shape[1] == 3
    ax = fig.add_subplot(projection="3d") if three else fig.add_subplot()
    for mask, color, label, size in ((~d.on_front, "#aaaaaa", "dominated", 8), (d.on_front, "#d62728", "front", 18)):
        ax.scatter(*d.values[mask].T, color=color, s=size, label=label)
    if not three and d.on_front.any():
        front = d.values[d.on_front]
        front = front[np.argsort(front[:, 0])]
        ax.plot(front[:, 0], front[:, 1], color="#d62728", linewidth=0.8)
    labels = [f"{n} ({'min' if di == Direction.MINIMIZE else 'max'})" for n, di in zip(d.names, d.directions)]
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if three:
        ax.set_zlabel(labels[2])
    ax.legend(loc="upper right")
    return fig


def _edf(d: EDFData) -> Any:
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    for label, x, y in zip(d.labels, d.x, d.y):
        ax.step(x, y, where="post", label=label)
    ax.set_xlabel(d.target_name)
    ax.set_ylabel("fraction of trials with a value <= x")
    ax.set_ylim(0, 1.02)
    if len(d.labels) > 1:
        ax.legend(loc="upper right")
    return fig


def _timeline(d: TimelineData) -> Any:
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    fig = _figure(9, max(2.5, 0.35 * len(d.lane_labels) + 1.5))
    ax = fig.add_subplot()
    lo, hi = d.lanes - 0.4, d.lanes + 0.4
    span = max(float(d.finish.max()), 1e-6)
    width = np.maximum(d.finish - d.start, 0.002 * span)  # very short trials stay visible
    verts = np.stack(
        [
            np.column_stack([d.start, lo]),
            np.column_stack([d.start + width, lo]),
            np.column_stack([d.start + width, hi]),
            np.column_stack([d.start, hi]),
        ],
        axis=1,
    )
    colors = [STATE_COLORS.get(s, "#333333") for s in d.states]
    ax.add_collection(PolyCollection(verts, facecolors=colors, edgecolors="none"))
    ax.set_xlim(0, span * 1.02)
    ax.set_ylim(-0.6, len(d.lane_labels) - 0.4)
    ax.set_yticks(range(len(d.lane_labels)), d.lane_labels)
    ax.set_xlabel("seconds since the first trial started")
    present = sorted(set(d.states))
    ax.legend(handles=[Patch(color=STATE_COLORS[s], label=s.name.lower()) for s in present], loc="upper right")
    return fig


_RENDERERS = {
    "history": _history,
    "parallel": _parallel,
    "slice": _slice,
    "contour": _contour,
    "importance": _importance,
    "intermediate": _intermediate,
    "validation_curve": _validation,
    "learning_curve": _learning,
    "pareto": _pareto,
    "edf": _edf,
    "timeline": _timeline,
}


def render(data: PlotData) -> Any:
    """A matplotlib ``Figure`` of ``data`` (any builder's output)."""
    fn = _RENDERERS.get(getattr(data, "kind", None))
    if fn is None:
        raise TypeError(f"data must come from a hyperdial.visualization builder, got {type(data).__name__}")
    return _finish(fn(data), data)
