"""Interactive figures with plotly: each plot data class drawn as a ``plotly.graph_objects.Figure``.

Large studies stay light: every group of trials is one trace (learning curves are one
line broken by gaps, not one trace per trial), and hover text carries trial numbers.
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
from hyperdial.visualization._matplotlib import STATE_COLORS
from hyperdial.visualization._results import (
    EDFData,
    LearningCurveData,
    ParetoData,
    TimelineData,
    ValidationCurveData,
)

__all__ = ["render"]


def _go() -> Any:
    require("plotly", "plot")
    import plotly.graph_objects as go

    return go


def _subplots(rows: int, cols: int, **kw: Any) -> Any:
    require("plotly", "plot")
    from plotly.subplots import make_subplots

    return make_subplots(rows=rows, cols=cols, **kw)


def _scale(direction: Direction) -> str:
    return "Viridis_r" if direction == Direction.MINIMIZE else "Viridis"  # the best trials bright


def _finish(fig: Any, data: PlotData) -> Any:
    fig.update_layout(title={"text": data.title}, template="plotly_white", margin={"b": 90 if data.notes else 60})
    if data.notes:
        fig.add_annotation(
            text="; ".join(data.notes),
            xref="paper",
            yref="paper",
            x=0,
            y=-0.18,
            showarrow=False,
            xanchor="left",
            yanchor="top",
            font={"size": 11, "color": "#555555"},
        )
    return fig


def _axis_opts(p: ParamAxis) -> dict[str, Any]:
    if p.is_categorical:
        k = len(p.choices or ())
        return {"type": "linear", "tickvals": list(range(k)), "ticktext": p.labels(), "title": p.name}
    return {"type": "log" if p.log else "linear", "title": p.name}


def _history(d: HistoryData) -> Any:
    go = _go()
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=d.numbers,
            y=d.values,
            mode="markers",
            name=d.target_name,
            marker={"color": STATE_COLORS[TrialState.COMPLETE], "size": 5, "opacity": 0.6},
        )
    )
    fig.add_trace(
        go.Scatter(x=d.numbers, y=d.best, mode="lines", name="best so far", line={"shape": "hv", "color": "#d62728"})
    )
    fig.update_xaxes(title="trial")
    fig.update_yaxes(title=d.target_name, type="log" if d.log_y else "linear")
    return fig


def _parallel(d: ParallelData) -> Any:
    go = _go()
    dims = []
    for p in d.axes:
        if p.is_categorical:
            vals = p.values.copy()
            ticks, text = list(range(len(p.choices or ()))), p.labels()
            lo, hi = 0.0, float(max(len(ticks) - 1, 1))
            if np.isnan(vals).any():  # inactive (conditional) values get their own tick below the rest
                vals[np.isnan(vals)] = -1.0
                ticks, text, lo = [-1, *ticks], ["(inactive)", *text], -1.0
            dims.append({"label": p.name, "values": vals, "tickvals": ticks, "ticktext": text, "range": [lo, hi]})
            continue
        s = p.scaled()
        ok = ~np.isnan(s)
        lo = float(np.min(s[ok])) if ok.any() else 0.0
        hi = float(np.max(s[ok])) if ok.any() else 1.0
        dim: dict[str, Any] = {"label": p.name + (" (log10)" if p.log else "")}
        if not ok.all():
            gap = lo - 0.1 * ((hi - lo) or 1.0)
            s = np.where(ok, s, gap)
            dim["tickvals"] = [gap, *np.linspace(lo, hi, 5).tolist()]
            dim["ticktext"] = ["(inactive)", *[f"{v:.3g}" for v in np.linspace(lo, hi, 5)]]
            lo = gap
        dim.update(values=s, range=[lo, hi if hi > lo else lo + 1])
        dims.append(dim)
    dims.append({"label": d.target_name, "values": d.values})
    fig = go.Figure(
        go.Parcoords(
            line={
                "color": d.values,
                "colorscale": _scale(d.direction),
                "showscale": True,
                "colorbar": {"title": {"text": d.target_name}},
            },
            dimensions=dims,
        )
    )
    return fig


def _slice(d: SliceData) -> Any:
    go = _go()
    k = max(len(d.axes), 1)
    cols = min(k, 4)
    fig = _subplots(math.ceil(k / cols), cols, shared_yaxes=True, horizontal_spacing=0.04)
    vmax = max((int(n.max()) for n in d.numbers if len(n)), default=1)
    for i, (p, y, nums) in enumerate(zip(d.axes, d.values, d.numbers)):
        r, c = i // cols + 1, i % cols + 1
        fig.add_trace(
            go.Scatter(
                x=p.values,
                y=y,
                mode="markers",
                name=p.name,
                showlegend=False,
                text=[f"trial {n}" for n in nums],
                marker={
                    "color": nums,
                    "colorscale": "Blues",
                    "cmin": 0,
                    "cmax": vmax,
                    "size": 5,
                    "line": {"width": 0.3, "color": "#555555"},
                    "showscale": i == 0,
                    "colorbar": {"title": {"text": "trial"}},
                },
            ),
            row=r,
            col=c,
        )
        fig.update_xaxes(row=r, col=c, **_axis_opts(p))
    fig.update_yaxes(title=d.target_name, row=1, col=1)
    return fig


def _contour(d: ContourData) -> Any:
    go = _go()
    k = max(len(d.pairs), 1)
    cols = min(k, 3)
    fig = _subplots(math.ceil(k / cols), cols, horizontal_spacing=0.08, vertical_spacing=0.12)
    vmin = min((float(np.nanmin(p.z)) for p in d.pairs), default=0.0)
    vmax = max((float(np.nanmax(p.z)) for p in d.pairs), default=1.0)
    for i, p in enumerate(d.pairs):
        r, c = i // cols + 1, i % cols + 1
        numeric = not p.x.is_categorical and not p.y.is_categorical
        surface = go.Contour if numeric else go.Heatmap
        fig.add_trace(
            surface(
                x=p.x_centers,
                y=p.y_centers,
                z=p.z,
                colorscale=_scale(d.direction),
                zmin=vmin,
                zmax=vmax,
                showscale=i == 0,
                colorbar={"title": {"text": f"mean {d.target_name}"}},
                name=f"{p.x.name}/{p.y.name}",
            ),
            row=r,
            col=c,
        )
        fig.add_trace(
            go.Scatter(
                x=p.x.values,
                y=p.y.values,
                mode="markers",
                showlegend=False,
                marker={"color": "black", "size": 3, "opacity": 0.4},
                text=[f"{v:.4g}" for v in p.values],
            ),
            row=r,
            col=c,
        )
        fig.update_xaxes(row=r, col=c, **_axis_opts(p.x))
        fig.update_yaxes(row=r, col=c, **_axis_opts(p.y))
    return fig


def _importance(d: ImportanceData) -> Any:
    go = _go()
    # The spread over trees, clipped to [0, 1] like the importances.
    err = None
    if d.std is not None:
        err = {
            "type": "data",
            "symmetric": False,
            "array": np.minimum(d.std, 1.0 - d.importances)[::-1],
            "arrayminus": np.minimum(d.std, d.importances)[::-1],
        }
    fig = go.Figure(
        go.Bar(
            x=d.importances[::-1],
            y=d.names[::-1],
            orientation="h",
            error_x=err,
            text=[f"{v:.1%}" for v in d.importances[::-1]],
            textposition="outside",
            marker={"color": "#1f77b4"},
        )
    )
    fig.update_xaxes(title=f"importance for {d.target_name} ({d.method})", tickformat=".0%")
    fig.update_layout(height=max(300, 40 * len(d.names) + 160))
    return fig


def _broken_lines(steps: list[np.ndarray], values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Many polylines as one, separated by NaN gaps (one trace instead of thousands)."""
    if not steps:
        return np.array([]), np.array([])
    xs = np.concatenate([np.append(s, np.nan) for s in steps])
    ys = np.concatenate([np.append(v, np.nan) for v in values])
    return xs, ys


def _intermediate(d: IntermediateData) -> Any:
    go = _go()
    fig = go.Figure()
    for state in sorted(set(d.states)):
        idx = [i for i, s in enumerate(d.states) if s == state]
        xs, ys = _broken_lines([d.steps[i] for i in idx], [d.values[i] for i in idx])
        color = STATE_COLORS.get(state, "#333333")
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=state.name.lower(),
                connectgaps=False,
                line={"color": color, "width": 1},
                opacity=0.6,
            )
        )
        if state == TrialState.PRUNED:
            fig.add_trace(
                go.Scatter(
                    x=[d.steps[i][-1] for i in idx],
                    y=[d.values[i][-1] for i in idx],
                    mode="markers",
                    name="pruned here",
                    marker={"symbol": "x", "color": color},
                    text=[f"trial {d.numbers[i]}" for i in idx],
                )
            )
    fig.update_xaxes(title="step")
    fig.update_yaxes(title="intermediate value")
    return fig


def _validation(d: ValidationCurveData) -> Any:
    go = _go()
    fig = go.Figure(
        go.Scatter(
            x=d.x,
            y=d.mean,
            mode="markers",
            error_y={"type": "data", "array": d.std},
            text=[f"trial {n}" for n in d.numbers],
            name=d.metric,
        )
    )
    if d.choices is not None:
        fig.update_xaxes(title=d.param, tickvals=list(range(len(d.choices))), ticktext=[str(c) for c in d.choices])
    else:
        fig.update_xaxes(title=d.param, type="log" if d.log else "linear")
    fig.update_yaxes(title=f"CV {d.metric} (mean ± std over folds)")
    return fig


def _learning(d: LearningCurveData) -> Any:
    go = _go()
    fig = go.Figure()
    for label, mean, std, color in (
        ("training", d.train_mean, d.train_std, "#1f77b4"),
        ("cross-validation", d.test_mean, d.test_std, "#ff7f0e"),
    ):
        fig.add_trace(
            go.Scatter(
                x=d.train_sizes,
                y=mean,
                mode="lines+markers",
                name=label,
                error_y={"type": "data", "array": std},
                line={"color": color},
            )
        )
    fig.update_xaxes(title="training examples")
    fig.update_yaxes(title="score")
    return fig


def _pareto(d: ParetoData) -> Any:
    go = _go()
    fig = go.Figure()
    three = d.values.shape[1] == 3
    labels = [f"{n} ({'min' if di == Direction.MINIMIZE else 'max'})" for n, di in zip(d.names, d.directions)]
    for mask, color, label, size in ((~d.on_front, "#aaaaaa", "dominated", 4), (d.on_front, "#d62728", "front", 7)):
        v = d.values[mask]
        text = [f"trial {n}" for n in d.numbers[mask]]
        if three:
            fig.add_trace(
                go.Scatter3d(
                    x=v[:, 0],
                    y=v[:, 1],
                    z=v[:, 2],
                    mode="markers",
                    name=label,
                    text=text,
                    marker={"color": color, "size": size / 2},
                )
            )
        else:
            fig.add_trace(
                go.Scatter(
                    x=v[:, 0], y=v[:, 1], mode="markers", name=label, text=text, marker={"color": color, "size": size}
                )
            )
    if three:
        fig.update_layout(scene={"xaxis_title": labels[0], "yaxis_title": labels[1], "zaxis_title": labels[2]})
    else:
        fig.update_xaxes(title=labels[0])
        fig.update_yaxes(title=labels[1])
    return fig


def _edf(d: EDFData) -> Any:
    go = _go()
    fig = go.Figure()
    for label, x, y in zip(d.labels, d.x, d.y):
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=label, line={"shape": "hv"}))
    fig.update_xaxes(title=d.target_name)
    fig.update_yaxes(title="fraction of trials with a value <= x", range=[0, 1.02])
    return fig


def _timeline(d: TimelineData) -> Any:
    go = _go()
    fig = go.Figure()
    for state in sorted(set(d.states)):
        idx = np.array([i for i, s in enumerate(d.states) if s == state])
        fig.add_trace(
            go.Bar(
                x=d.finish[idx] - d.start[idx],
                base=d.start[idx],
                y=[d.lane_labels[k] for k in d.lanes[idx]],
                orientation="h",
                name=state.name.lower(),
                marker={"color": STATE_COLORS.get(state, "#333333")},
                text=[f"trial {n}" for n in d.numbers[idx]],
                textposition="none",
            )
        )
    fig.update_layout(barmode="overlay", height=max(300, 30 * len(d.lane_labels) + 200))
    fig.update_xaxes(title="seconds since the first trial started")
    fig.update_yaxes(categoryorder="array", categoryarray=d.lane_labels)
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
    """A plotly ``Figure`` of ``data`` (any builder's output)."""
    fn = _RENDERERS.get(getattr(data, "kind", None))
    if fn is None:
        raise TypeError(f"data must come from a hyperdial.visualization builder, got {type(data).__name__}")
    return _finish(fn(data), data)
