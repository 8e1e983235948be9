"""Plot-agnostic data builders: each takes a Study and returns a dataclass of numpy arrays.

The renderers (plotly, matplotlib) draw these; tests check them. Every builder reads only
the study's storage (``study.sync()``), shows COMPLETE trials unless said otherwise, and
says in ``notes`` what it left out or subsampled, so the figure can say it too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from hyperdial.trial import Direction, FrozenTrial, TrialState
from hyperdial.visualization._frame import (
    EmptyStudyError,
    ParamAxis,
    check_nonempty,
    frame_of,
    pick_params,
    resolve_target,
)

__all__ = [
    "ContourData",
    "ContourPair",
    "HistoryData",
    "ImportanceData",
    "IntermediateData",
    "ParallelData",
    "PlotData",
    "SliceData",
    "contour",
    "intermediate_values",
    "optimization_history",
    "parallel_coordinates",
    "param_importances",
    "slices",
]

Target = int | Callable[[FrozenTrial], float] | None


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _subsample(rows: np.ndarray, limit: int, seed: int, keep: np.ndarray | None = None) -> np.ndarray:
    """At most ``limit`` of ``rows`` (a seeded random choice, always keeping ``keep``), in order."""
    if len(rows) <= limit:
        return rows
    rng = np.random.default_rng(seed)
    chosen = rng.choice(rows, size=limit, replace=False)
    if keep is not None and len(keep):
        chosen = np.union1d(chosen, keep)
    return np.sort(chosen)


@dataclass(kw_only=True)
class PlotData:
    """What every plot's data has: a title and notes the figure shows (subsampling, omitted trials)."""

    kind: ClassVar[str] = ""
    title: str
    notes: list[str] = field(default_factory=list)


# -- optimisation history -----------------------------------------------------------------------
@dataclass(kw_only=True)
class HistoryData(PlotData):
    """Objective value per COMPLETE trial and the best value so far (a step line)."""

    kind: ClassVar[str] = "history"
    numbers: np.ndarray
    values: np.ndarray
    best: np.ndarray
    target_name: str
    direction: Direction
    log_y: bool = False


def optimization_history(study: Any, *, target: Target = None, target_name: str | None = None) -> HistoryData:
    """Objective value of each COMPLETE trial and the best so far.

    Args:
        study: The study (only its stored trials are read).
        target: Which objective (an index) for a multi-objective study, or a function of a
            :class:`~hyperdial.FrozenTrial` returning the number to plot.
        target_name: The axis label (default ``"objective"``).

    Example:
        >>> import hyperdial
        >>> from hyperdial.visualization import optimization_history
        >>> study = hyperdial.create_study(seed=0)
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5, show_progress=False)
        >>> d = optimization_history(study)
        >>> bool((d.best <= d.values).all())
        True
    """
    frame = frame_of(study)
    tgt = resolve_target(frame, target, target_name)
    rows = np.flatnonzero(np.isfinite(tgt.values))
    check_nonempty(frame, rows, "optimization history")
    values = tgt.values[rows]
    best = np.minimum.accumulate(values) if tgt.direction == Direction.MINIMIZE else np.maximum.accumulate(values)
    span = np.nanmax(values) / np.nanmin(values) if np.all(values > 0) else 0.0
    return HistoryData(
        title=f"Optimization history of {frame.name}",
        notes=frame.omitted_note(len(rows)),
        numbers=rows,
        values=values,
        best=best,
        target_name=tgt.name,
        direction=tgt.direction,
        log_y=bool(span > 1e3),
    )


# -- parallel coordinates -----------------------------------------------------------------------
@dataclass(kw_only=True)
class ParallelData(PlotData):
    """One line per COMPLETE trial through an axis per parameter, coloured by the objective."""

    kind: ClassVar[str] = "parallel"
    axes: list[ParamAxis]
    values: np.ndarray
    numbers: np.ndarray
    target_name: str
    direction: Direction


def parallel_coordinates(
    study: Any,
    params: Sequence[str] | None = None,
    *,
    target: Target = None,
    target_name: str | None = None,
    max_lines: int = 2000,
    seed: int = 0,
) -> ParallelData:
    """Parallel coordinates of parameters and objective.

    Conditional parameters are ``nan`` where inactive (drawn as a gap). Beyond
    ``max_lines`` trials a seeded random subset is drawn (the best 5% of them always) and
    the notes say so: past a few thousand lines a parallel plot only gets darker, while
    drawing it gets slower.

    Example:
        >>> import hyperdial
        >>> from hyperdial.visualization import parallel_coordinates
        >>> study = hyperdial.create_study(seed=0)
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 1, 3), n_trials=5,
        ...                show_progress=False)
        >>> [a.name for a in parallel_coordinates(study).axes]
        ['x', 'k']
    """
    max_lines = _check_int("max_lines", max_lines, 2)
    frame = frame_of(study)
    tgt = resolve_target(frame, target, target_name)
    rows = np.flatnonzero(np.isfinite(tgt.values))
    check_nonempty(frame, rows, "parallel coordinate plot")
    names = pick_params(frame, params, rows)
    notes = frame.omitted_note(len(rows))
    if len(rows) > max_lines:
        order = np.argsort(tgt.values[rows] * (1 if tgt.direction == Direction.MINIMIZE else -1))
        best = rows[order[: max(1, max_lines // 20)]]
        rows = _subsample(rows, max_lines, seed, keep=best)
        notes.append(f"{len(rows)} of the complete trials drawn (a random subset plus the best); max_lines={max_lines}")
    return ParallelData(
        title=f"Parallel coordinates of {frame.name}",
        notes=notes,
        axes=[frame.params[n].take(rows) for n in names],
        values=tgt.values[rows],
        numbers=rows,
        target_name=tgt.name,
        direction=tgt.direction,
    )


# -- slices ---------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class SliceData(PlotData):
    """The objective against each parameter: per parameter, the trials that have it."""

    kind: ClassVar[str] = "slice"
    axes: list[ParamAxis]
    values: list[np.ndarray]  # per axis, objective values of the same rows
    numbers: list[np.ndarray]  # per axis, trial numbers (colour: early to late)
    target_name: str


def slices(
    study: Any,
    params: Sequence[str] | None = None,
    *,
    target: Target = None,
    target_name: str | None = None,
    max_points: int = 2000,
    seed: int = 0,
) -> SliceData:
    """Objective against each parameter (one panel each), trials coloured by their number.

    Example:
        >>> import hyperdial
        >>> from hyperdial.visualization import slices
        >>> study = hyperdial.create_study(seed=0)
        >>> study.optimize(lambda t: t.suggest_float("x", 1e-3, 1, log=True), n_trials=5, show_progress=False)
        >>> d = slices(study)
        >>> d.axes[0].log, len(d.values[0])
        (True, 5)
    """
    max_points = _check_int("max_points", max_points, 2)
    frame = frame_of(study)
    tgt = resolve_target(frame, target, target_name)
    rows = np.flatnonzero(np.isfinite(tgt.values))
    check_nonempty(frame, rows, "slice plot")
    names = pick_params(frame, params, rows)
    notes = frame.omitted_note(len(rows))
    if len(rows) > max_points:
        rows = _subsample(rows, max_points, seed)
        notes.append(f"{len(rows)} random complete trials drawn per panel; max_points={max_points}")
    axes, values, numbers = [], [], []
    for n in names:
        ax = frame.params[n]
        r = rows[~np.isnan(ax.values[rows])]
        axes.append(ax.take(r))
        values.append(tgt.values[r])
        numbers.append(r)
    return SliceData(
        title=f"Slice plot of {frame.name}",
        notes=notes,
        axes=axes,
        values=values,
        numbers=numbers,
        target_name=tgt.name,
    )


# -- contour ---------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class ContourPair:
    """One pair of parameters: the mean objective per grid cell and the trials as points.

    ``x_centers`` / ``y_centers`` are cell centres in display units (category indices for
    categoricals); ``z[i, j]`` is the mean objective of the trials in row ``i`` (y), column
    ``j`` (x), empty cells filled from the nearest observed cell; ``observed`` marks the
    cells that had trials.
    """

    x: ParamAxis
    y: ParamAxis
    x_centers: np.ndarray
    y_centers: np.ndarray
    z: np.ndarray
    observed: np.ndarray
    values: np.ndarray  # objective of the points


@dataclass(kw_only=True)
class ContourData(PlotData):
    """Pairwise contour plots (a grid of parameter pairs)."""

    kind: ClassVar[str] = "contour"
    params: list[str]
    pairs: list[ContourPair]
    target_name: str
    direction: Direction


def _edges(ax: ParamAxis, values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin index per value and the display-unit centres of the bins."""
    if ax.is_categorical:
        k = len(ax.choices or ())
        return values.astype(np.int64), np.arange(k, dtype=float)
    scaled = np.log10(values) if ax.log else values
    lo = np.log10(ax.low) if ax.log and ax.low else (ax.low if ax.low is not None else np.nanmin(scaled))
    hi = np.log10(ax.high) if ax.log and ax.high else (ax.high if ax.high is not None else np.nanmax(scaled))
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    if ax.kind == "int" and not ax.log and (hi - lo + 1) <= bins:
        centers = np.arange(np.ceil(lo), np.floor(hi) + 1)
        return np.clip(np.rint(scaled - centers[0]).astype(np.int64), 0, len(centers) - 1), centers
    edges = np.linspace(lo, hi, bins + 1)
    idx = np.clip(np.searchsorted(edges, scaled, side="right") - 1, 0, bins - 1)
    centers = (edges[:-1] + edges[1:]) / 2
    return idx, (10**centers if ax.log else centers)


def _binned_mean(ix: np.ndarray, iy: np.ndarray, z: np.ndarray, nx: int, ny: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy import ndimage

    flat = iy * nx + ix
    total = np.bincount(flat, weights=z, minlength=nx * ny)
    count = np.bincount(flat, minlength=nx * ny)
    observed = (count > 0).reshape(ny, nx)
    mean = np.full(nx * ny, np.nan)
    mean[count > 0] = total[count > 0] / count[count > 0]
    grid = mean.reshape(ny, nx)
    if observed.any() and not observed.all():
        _, (iy_near, ix_near) = ndimage.distance_transform_edt(~observed, return_indices=True)
        grid = grid[iy_near, ix_near]
    return grid, observed


def contour(
    study: Any,
    params: Sequence[str] | None = None,
    *,
    target: Target = None,
    target_name: str | None = None,
    max_params: int = 4,
    bins: int = 30,
    max_points: int = 2000,
    seed: int = 0,
) -> ContourData:
    """Pairwise contour plots: the mean objective on a grid over each pair of parameters.

    The surface is the mean objective of the trials in each grid cell (log-spaced for
    log-scale parameters, one cell per category), empty cells taking the nearest observed
    cell's value: O(trials) for any study size, where interpolating through every trial (as
    Optuna does) stalls past a few thousand. Without ``params``, the ``max_params`` most
    important parameters (PED-ANOVA) are shown.

    Example:
        >>> import hyperdial
        >>> from hyperdial.visualization import contour
        >>> study = hyperdial.create_study(sampler="random", seed=0)
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1) * t.suggest_float("y", 0, 1), n_trials=20,
        ...                show_progress=False)
        >>> d = contour(study, bins=10)
        >>> d.pairs[0].z.shape
        (10, 10)
    """
    max_params = _check_int("max_params", max_params, 2)
    bins = _check_int("bins", bins, 2)
    max_points = _check_int("max_points", max_points, 1)
    frame = frame_of(study)
    tgt = resolve_target(frame, target, target_name)
    rows = np.flatnonzero(np.isfinite(tgt.values))
    check_nonempty(frame, rows, "contour plot")
    names = pick_params(frame, params, rows)
    notes = frame.omitted_note(len(rows))
    if len(names) < 2:
        raise ValueError(f"contour: needs two parameters, study {frame.name!r} has {names}; use the slice plot instead")
    if params is None and len(names) > max_params:
        from hyperdial.importance import ped_anova

        imp = ped_anova(study, target=target, params=names)
        names = sorted(names, key=lambda n: -imp.get(n, 0.0))[:max_params]
        notes.append(f"the {max_params} most important parameters (PED-ANOVA); pass params=[...] to choose")
    pairs = []
    for j in range(len(names)):
        for i in range(j + 1, len(names)):
            ax, ay = frame.params[names[j]], frame.params[names[i]]
            r = rows[~np.isnan(ax.values[rows]) & ~np.isnan(ay.values[rows])]
            if len(r) == 0:
                continue  # two conditional parameters never active together
            ix, xc = _edges(ax, ax.values[r], bins)
            iy, yc = _edges(ay, ay.values[r], bins)
            z, observed = _binned_mean(ix, iy, tgt.values[r], len(xc), len(yc))
            pts = _subsample(r, max_points, seed)
            pairs.append(
                ContourPair(
                    x=ax.take(pts),
                    y=ay.take(pts),
                    x_centers=xc,
                    y_centers=yc,
                    z=z,
                    observed=observed,
                    values=tgt.values[pts],
                )
            )
    if any(len(p.values) < len(rows) for p in pairs) and len(rows) > max_points:
        notes.append(f"at most {max_points} random trials drawn as points; the surface uses all of them")
    return ContourData(
        title=f"Contour plot of {frame.name}",
        notes=notes,
        params=names,
        pairs=pairs,
        target_name=tgt.name,
        direction=tgt.direction,
    )


# -- importance ------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class ImportanceData(PlotData):
    """Importance per parameter (fractions summing to 1), most important first."""

    kind: ClassVar[str] = "importance"
    names: list[str]
    importances: np.ndarray
    std: np.ndarray | None
    method: str
    target_name: str


def param_importances(
    study: Any,
    *,
    method: str = "fanova",
    target: Target = None,
    target_name: str | None = None,
    params: Sequence[str] | None = None,
    top_quantile: float | None = None,
    seed: int = 0,
) -> ImportanceData:
    """Hyperparameter importance as bars: ``method="fanova"`` or ``"ped-anova"``.

    See :func:`hyperdial.importance.fanova` and :func:`hyperdial.importance.ped_anova`.

    Example:
        >>> import hyperdial
        >>> from hyperdial.visualization import param_importances
        >>> study = hyperdial.create_study(sampler="random", seed=0)
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1) + 0 * t.suggest_float("y", 0, 1), n_trials=30,
        ...                show_progress=False)
        >>> param_importances(study).names[0]
        'x'
    """
    from hyperdial.importance import evaluate

    res = evaluate(study, method=method, target=target, params=params, top_quantile=top_quantile, seed=seed)
    return importance_data(res, study.name, target_name)


def importance_data(result: Any, study_name: str, target_name: str | None = None) -> ImportanceData:
    """The bars of an :class:`~hyperdial.importance.ImportanceResult` already computed."""
    return ImportanceData(
        title=f"Hyperparameter importance ({result.method}) of {study_name}",
        notes=list(result.notes),
        names=list(result.importances),
        importances=np.array(list(result.importances.values()), dtype=float),
        std=None if result.std is None else np.array([result.std[n] for n in result.importances]),
        method=result.method,
        target_name=target_name or result.target_name,
    )


# -- intermediate values ---------------------------------------------------------------------------
@dataclass(kw_only=True)
class IntermediateData(PlotData):
    """Learning curves of trials (reported values against step); pruned trials are marked."""

    kind: ClassVar[str] = "intermediate"
    numbers: np.ndarray
    states: list[TrialState]
    steps: list[np.ndarray]
    values: list[np.ndarray]


def intermediate_values(study: Any, *, target: int = 0, max_trials: int = 1000, seed: int = 0) -> IntermediateData:
    """Intermediate values each trial reported, step by step (pruned trials marked).

    Args:
        target: For trials that reported several values per step, which one to plot.
        max_trials: Beyond this many trials with reports, a seeded random subset is drawn
            (the notes say so).

    Example:
        >>> import hyperdial
        >>> from hyperdial.visualization import intermediate_values
        >>> def objective(t):
        ...     x = t.suggest_float("x", 0, 1)
        ...     for step in range(3):
        ...         t.report(x / (step + 1), step)
        ...     return x / 3
        >>> study = hyperdial.create_study(seed=0)
        >>> study.optimize(objective, n_trials=3, show_progress=False)
        >>> [len(s) for s in intermediate_values(study).steps]
        [3, 3, 3]
    """
    max_trials = _check_int("max_trials", max_trials, 1)
    target = _check_int("target", target, 0)
    frame = frame_of(study)
    have = np.array([t._inter is not None for t in frame.trials], dtype=bool)
    rows = np.flatnonzero(have)
    if len(rows) == 0:
        have_what = f"{frame.n} trials" if frame.n else "no trials"
        raise EmptyStudyError(
            f"study {frame.name!r} has {have_what} and none reported intermediate values: call "
            "trial.report(value, step) in the objective to see learning curves"
        )
    notes = []
    if len(rows) > max_trials:
        rows = _subsample(rows, max_trials, seed)
        notes.append(f"{len(rows)} random trials of those with reports drawn; max_trials={max_trials}")
    steps, values, states = [], [], []
    for i in rows.tolist():
        t = frame.trials[i]
        items = sorted(t._inter.items())
        s = np.array([k for k, _ in items], dtype=float)
        raw = [v for _, v in items]
        if raw and isinstance(raw[0], tuple):
            if target >= len(raw[0]):
                raise ValueError(f"target={target}: trial {i} reports {len(raw[0])} values per step")
            raw = [v[target] for v in raw]
        steps.append(s)
        values.append(np.array(raw, dtype=float))
        states.append(t.state)
    n_pruned = sum(s == TrialState.PRUNED for s in states)
    if n_pruned:
        notes.append(f"{n_pruned} pruned trials marked with x at the step they stopped")
    return IntermediateData(
        title=f"Intermediate values of {frame.name}",
        notes=notes,
        numbers=rows,
        states=states,
        steps=steps,
        values=values,
    )
