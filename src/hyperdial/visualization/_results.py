"""Data builders about outcomes rather than parameters: Pareto front, EDF, timeline, CV curves."""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hyperdial.history import pareto_front_mask
from hyperdial.trial import Direction, TrialState
from hyperdial.visualization._data import PlotData, Target, _check_int, _subsample
from hyperdial.visualization._frame import EmptyStudyError, check_nonempty, frame_of, resolve_target

__all__ = [
    "EDFData",
    "LearningCurveData",
    "ParetoData",
    "TimelineData",
    "ValidationCurveData",
    "edf",
    "learning_curve",
    "pareto_front",
    "timeline",
    "validation_curve",
]


# -- Pareto front ---------------------------------------------------------------------------------
@dataclass(kw_only=True)
class ParetoData(PlotData):
    """COMPLETE trials in objective space (2 or 3 objectives), the non-dominated ones marked."""

    kind: ClassVar[str] = "pareto"
    names: list[str]
    directions: list[Direction]
    values: np.ndarray  # (k, 2 or 3)
    numbers: np.ndarray
    on_front: np.ndarray  # bool per row


def pareto_front(
    study: Any,
    *,
    targets: Sequence[int] | None = None,
    target_names: Sequence[str] | None = None,
    max_points: int = 5000,
    seed: int = 0,
) -> ParetoData:
    """The trials in objective space with the Pareto front marked (2 or 3 objectives).

    Args:
        targets: The objective indices to show (2 or 3); default: all, if the study has 2 or 3.
        target_names: Axis labels.
        max_points: Beyond this many dominated trials, a seeded random subset of them is
            drawn; front trials are always drawn.

    Example:
        >>> import hyperdial
        >>> from hyperdial.visualization import pareto_front
        >>> study = hyperdial.create_study(directions=["minimize", "minimize"], seed=0)
        >>> def objective(t):
        ...     x = t.suggest_float("x", 0, 1)
        ...     return x, 1 - x
        >>> study.optimize(objective, n_trials=5, show_progress=False)
        >>> bool(pareto_front(study).on_front.all())
        True
    """
    max_points = _check_int("max_points", max_points, 2)
    frame = frame_of(study)
    m = len(frame.directions)
    if targets is None:
        if m not in (2, 3):
            raise ValueError(
                f"targets: study {frame.name!r} has {m} objective(s); a Pareto front plot needs 2 or 3, "
                "pass targets=[i, j] or [i, j, k] to choose them"
                if m > 3
                else f"pareto_front: study {frame.name!r} has one objective; use the optimization history instead"
            )
        targets = list(range(m))
    targets = [int(t) for t in targets]
    if len(targets) not in (2, 3) or len(set(targets)) != len(targets) or not all(0 <= t < m for t in targets):
        raise ValueError(f"targets={targets}: give 2 or 3 distinct objective indices in 0..{m - 1}")
    if target_names is not None and len(target_names) != len(targets):
        raise ValueError(f"target_names has {len(target_names)} names for {len(targets)} targets")
    rows = frame.complete()
    check_nonempty(frame, rows, "Pareto front plot")
    values = frame.values[np.ix_(rows, targets)]
    dirs = [frame.directions[t] for t in targets]
    sign = np.array([1.0 if d == Direction.MINIMIZE else -1.0 for d in dirs])
    front = pareto_front_mask(values * sign)
    notes = frame.omitted_note(len(rows))
    keep = np.arange(len(rows))
    if len(rows) > max_points:
        keep = _subsample(keep, max_points, seed, keep=np.flatnonzero(front))
        notes.append(f"{len(keep)} of {len(rows)} complete trials drawn (every front trial); max_points={max_points}")
    names = list(target_names) if target_names else [f"objective {t}" for t in targets]
    return ParetoData(
        title=f"Pareto front of {frame.name}",
        notes=notes,
        names=names,
        directions=dirs,
        values=values[keep],
        numbers=rows[keep],
        on_front=front[keep],
    )


# -- empirical distribution -----------------------------------------------------------------------
@dataclass(kw_only=True)
class EDFData(PlotData):
    """Empirical distribution function of objective values, one curve per study."""

    kind: ClassVar[str] = "edf"
    labels: list[str]
    x: list[np.ndarray]  # sorted values
    y: list[np.ndarray]  # fraction of trials with a value <= x
    target_name: str
    direction: Direction


def edf(studies: Any, *, target: Target = None, target_name: str | None = None) -> EDFData:
    """Empirical distribution of the objective values of one study or several (to compare them).

    Example:
        >>> import hyperdial
        >>> from hyperdial.visualization import edf
        >>> study = hyperdial.create_study(seed=0)
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4, show_progress=False)
        >>> edf(study).y[0].tolist()
        [0.25, 0.5, 0.75, 1.0]
    """
    from hyperdial.study import Study

    group = [studies] if isinstance(studies, Study) else list(studies)
    if not group:
        raise ValueError("studies: give a Study or a non-empty list of them")
    labels, xs, ys, dirs, name = [], [], [], [], None
    empty = []
    for s in group:
        frame = frame_of(s)
        tgt = resolve_target(frame, target, target_name)
        v = np.sort(tgt.values[np.isfinite(tgt.values)])
        name, dirs = tgt.name, [*dirs, tgt.direction]
        if len(v) == 0:
            empty.append(frame.name)
            continue
        labels.append(frame.name)
        xs.append(v)
        ys.append(np.arange(1, len(v) + 1) / len(v))
    if not xs:
        if len(group) == 1:
            check_nonempty(frame, np.zeros(0, dtype=np.int64), "EDF plot")
        raise EmptyStudyError(f"no COMPLETE trials in any of {empty}: nothing to show in the EDF plot; run them first")
    return EDFData(
        title="Empirical distribution of objective values" + (f" of {labels[0]}" if len(labels) == 1 else ""),
        notes=[f"no complete trials in {', '.join(empty)}"] if empty else [],
        labels=labels,
        x=xs,
        y=ys,
        target_name=name or "objective",
        direction=dirs[0],
    )


# -- timeline -------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class TimelineData(PlotData):
    """When each trial ran, on which worker lane, in which state (seconds from the first start)."""

    kind: ClassVar[str] = "timeline"
    numbers: np.ndarray
    start: np.ndarray
    finish: np.ndarray
    states: list[TrialState]
    lanes: np.ndarray
    lane_labels: list[str]


def _pack(start: np.ndarray, finish: np.ndarray) -> np.ndarray:
    """Lanes for intervals, each to the lane that freed first (as many lanes as ran at once)."""
    lanes = np.zeros(len(start), dtype=np.int64)
    free: list[tuple[float, int]] = []
    used = 0
    for i in np.argsort(start, kind="stable").tolist():
        if free and free[0][0] <= start[i]:
            _, lane = heapq.heappop(free)
        else:
            lane, used = used, used + 1
        lanes[i] = lane
        heapq.heappush(free, (finish[i], lane))
    return lanes


def timeline(study: Any) -> TimelineData:
    """When each trial started and finished, one row per worker.

    Every trial records its worker (``host:pid``, plus the thread's name for ``n_jobs``
    threads) as the ``"worker"`` system attribute; a ``"worker"`` user attribute overrides it.
    A worker that ran several trials at once (ask / tell) gets one row per overlap. Trials
    without a worker (stored by an older hyperdial) are packed onto as many rows as ran at once.
    Running trials extend to now.

    Example:
        >>> import hyperdial
        >>> from hyperdial.visualization import timeline
        >>> study = hyperdial.create_study(seed=0)
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3, show_progress=False)
        >>> len(timeline(study).lane_labels)  # one worker: this process
        1
    """
    frame = frame_of(study)
    start, finish = frame.times()
    rows = np.flatnonzero(~np.isnan(start))
    if len(rows) == 0:
        have = f"{frame.n} trials and none has started" if frame.n else "no trials"
        raise EmptyStudyError(
            f"study {frame.name!r} has {have}: nothing to show in the timeline; run study.optimize(...) first"
        )
    now = time.time()
    finish = np.where(np.isnan(finish), now, finish)[rows]
    start = start[rows]
    workers = [
        frame.trials[i].user_attrs.get("worker", frame.trials[i].system_attrs.get("worker")) for i in rows.tolist()
    ]
    if all(w is not None for w in workers):
        # One row per worker; a worker that ran several trials at once (ask / tell) gets sub-rows.
        names = [str(w) for w in workers]
        labels, lanes, notes = [], np.zeros(len(names), dtype=np.int64), []
        for w in sorted(set(names)):
            idx = np.array([i for i, x in enumerate(names) if x == w])
            sub = _pack(start[idx], finish[idx])
            k = int(sub.max()) + 1
            lanes[idx] = len(labels) + sub
            labels += [w] if k == 1 else [f"{w} [{j}]" for j in range(k)]
    else:
        lanes = _pack(start, finish)
        labels = [f"lane {k}" for k in range(int(lanes.max()) + 1)]
        notes = ["workers not recorded: trials packed onto as many lanes as ran at once"] if len(labels) > 1 else []
    t0 = float(start.min())
    return TimelineData(
        title=f"Timeline of {frame.name}",
        notes=notes,
        numbers=rows,
        start=start - t0,
        finish=finish - t0,
        states=[frame.trials[i].state for i in rows.tolist()],
        lanes=lanes,
        lane_labels=labels,
    )


# -- cross-validation curves ----------------------------------------------------------------------
@dataclass(kw_only=True)
class ValidationCurveData(PlotData):
    """Cross-validation score against one hyperparameter, with the spread over folds."""

    kind: ClassVar[str] = "validation_curve"
    param: str
    x: np.ndarray  # parameter values (category index for a categorical)
    mean: np.ndarray
    std: np.ndarray
    numbers: np.ndarray
    metric: str
    log: bool = False
    choices: tuple[Any, ...] | None = None


def validation_curve(study: Any, param: str, *, metric: str = "score") -> ValidationCurveData:
    """CV score (mean and fold spread) against ``param`` from a :class:`~hyperdial.sklearn.SearchCV` study.

    Built on :func:`hyperdial.sklearn.validation_curve_data`: each trial that recorded fold
    scores (``SearchCV`` or :func:`hyperdial.cross_validate`) is one point.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.neighbors import KNeighborsClassifier
        >>> from hyperdial import Int
        >>> from hyperdial.sklearn import SearchCV
        >>> X, y = load_iris(return_X_y=True)
        >>> search = SearchCV(KNeighborsClassifier(), {"n_neighbors": Int(1, 20)}, n_trials=4, cv=3,
        ...                   random_state=0).fit(X, y)
        >>> len(validation_curve(search.study_, "n_neighbors").mean)
        4
    """
    from hyperdial.sklearn import validation_curve_data

    frame = frame_of(study)
    if param not in frame.params:
        raise ValueError(f"param: {param!r} is not a parameter of study {frame.name!r}; it has {sorted(frame.params)}")
    try:
        d = validation_curve_data(study, param, metric)
    except ValueError as exc:
        raise EmptyStudyError(f"{exc}: the validation curve needs trials run by SearchCV or cross_validate") from None
    ax = frame.params[param]
    if ax.is_categorical:
        choices = ax.choices or ()
        x = np.array([next(i for i, c in enumerate(choices) if c == v) for v in d["param_values"]], dtype=float)
    else:
        x = np.asarray(d["param_values"], dtype=float)
    return ValidationCurveData(
        title=f"Validation curve of {param} ({frame.name})",
        param=param,
        x=x,
        mean=d["mean"],
        std=d["std"],
        numbers=np.asarray(d["numbers"]),
        metric=metric,
        log=ax.log,
        choices=ax.choices,
    )


@dataclass(kw_only=True)
class LearningCurveData(PlotData):
    """Training and cross-validation score against training-set size, with spread."""

    kind: ClassVar[str] = "learning_curve"
    train_sizes: np.ndarray
    train_mean: np.ndarray
    train_std: np.ndarray
    test_mean: np.ndarray
    test_std: np.ndarray


def learning_curve(estimator: Any, X: Any, y: Any = None, **options: Any) -> LearningCurveData:
    """Score against training size for an estimator, or for the best one of a fitted ``SearchCV``.

    The study alone does not hold the data, so this builder takes the estimator and
    ``X, y``; ``options`` go to :func:`hyperdial.sklearn.learning_curve_data` (``train_sizes``,
    ``cv``, ``scoring``, ``random_state``).

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.tree import DecisionTreeClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> d = learning_curve(DecisionTreeClassifier(random_state=0), X, y, cv=3)
        >>> d.train_sizes.shape == d.test_mean.shape
        True
    """
    from hyperdial.sklearn import learning_curve_data

    best = getattr(estimator, "best_estimator_", None)
    name = type(estimator).__name__
    if best is not None:
        options.setdefault("scoring", getattr(estimator, "scoring", None))
        options.setdefault("cv", getattr(estimator, "cv", 5))
        estimator, name = best, f"best {type(best).__name__} of the search"
    if not hasattr(estimator, "fit"):
        raise TypeError(f"estimator must be a scikit-learn estimator or a fitted SearchCV, got {type(estimator)!r}")
    d = learning_curve_data(estimator, X, y, **options)
    return LearningCurveData(
        title=f"Learning curve of {name}",
        train_sizes=np.asarray(d["train_sizes"]),
        train_mean=d["train_mean"],
        train_std=d["train_std"],
        test_mean=d["test_mean"],
        test_std=d["test_std"],
    )
