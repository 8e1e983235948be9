"""A study's history as plain columns for plotting: parameter values, objective values, states, times.

Everything is read from ``study.sync()`` (the storage's materialised view, as the CLI sees it):
the unit-cube matrix ``History.X`` is decoded column by column with numpy, so a
10,000-trial study becomes arrays without touching 10,000 objects per parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hyperdial.space import Categorical, Distribution
from hyperdial.trial import Direction, FrozenTrial, TrialState

__all__ = ["EmptyStudyError", "Frame", "ParamAxis", "Target", "frame_of", "resolve_target"]

_COMPLETE = int(TrialState.COMPLETE)


class EmptyStudyError(ValueError):
    """The study has nothing this plot or importance could be computed from (yet)."""


@dataclass(kw_only=True)
class ParamAxis:
    """One parameter's values across trials, in display units.

    Attributes:
        name: The parameter name.
        kind: ``"float"``, ``"int"`` or ``"categorical"``.
        values: Float array, one entry per row of the plot; ``nan`` where a trial does not
            have the parameter (a conditional one switched off). Categoricals hold the index
            into ``choices``.
        log: Whether the parameter was searched on a log scale (plot it on one).
        choices: The categories, for a categorical parameter.
        low / high: The searched range (numeric parameters).
    """

    name: str
    kind: str
    values: np.ndarray
    log: bool = False
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None

    @property
    def is_categorical(self) -> bool:
        return self.kind == "categorical"

    def take(self, rows: np.ndarray) -> ParamAxis:
        return ParamAxis(
            name=self.name,
            kind=self.kind,
            values=self.values[rows],
            log=self.log,
            choices=self.choices,
            low=self.low,
            high=self.high,
        )

    def labels(self) -> list[str]:
        """Tick labels of a categorical axis."""
        return [str(c) for c in self.choices or ()]

    def scaled(self) -> np.ndarray:
        """Values where equal distances mean equal search effort: log10 for log-scale parameters."""
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.log10(self.values)
        return self.values


def _decode(dist: Distribution, u: np.ndarray) -> np.ndarray:
    out = np.full(u.shape, np.nan)
    ok = ~np.isnan(u)
    if ok.any():
        out[ok] = np.asarray(dist.from_unit_array(u[ok]), dtype=float)
    return out


@dataclass(kw_only=True)
class Frame:
    """Columns of one study, one row per trial (row ``i`` is trial number ``i``)."""

    name: str
    directions: tuple[Direction, ...]
    trials: Sequence[FrozenTrial]
    states: np.ndarray
    values: np.ndarray  # (n, n_objectives); nan where a trial has no values
    params: dict[str, ParamAxis]

    @property
    def n(self) -> int:
        return len(self.states)

    def complete(self) -> np.ndarray:
        """Rows of COMPLETE trials with finite values."""
        return np.flatnonzero((self.states == _COMPLETE) & np.all(np.isfinite(self.values), axis=1))

    def count(self, state: TrialState) -> int:
        return int(np.count_nonzero(self.states == int(state)))

    def omitted_note(self, shown: int) -> list[str]:
        """A note saying which trials a plot of COMPLETE trials leaves out."""
        parts = []
        for state in (TrialState.PRUNED, TrialState.FAILED, TrialState.RUNNING, TrialState.WAITING):
            k = self.count(state)
            if k:
                parts.append(f"{k} {state.name.lower()}")
        return [f"{shown} complete trials shown; not shown: {', '.join(parts)}"] if parts else []

    def times(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and finish times (epoch seconds, ``nan`` where unknown)."""
        start = np.array([np.nan if t.started is None else t.started for t in self.trials], dtype=float)
        finish = np.array([np.nan if t.finished is None else t.finished for t in self.trials], dtype=float)
        return start, finish


def _param_axes(h: Any, n: int) -> dict[str, ParamAxis]:
    by_name: dict[str, list[tuple[Distribution, int]]] = {}
    for name, dist in h.column_params:
        by_name.setdefault(name, []).append((dist, h.columns[(name, dist.key)]))
    axes: dict[str, ParamAxis] = {}
    for name, cols in by_name.items():
        cats = [(d, c) for d, c in cols if isinstance(d, Categorical)]
        nums = [(d, c) for d, c in cols if not isinstance(d, Categorical)]
        # A name searched both ways after a change of space: keep the kind most trials used.
        if cats and nums:
            ncat = sum(np.count_nonzero(~np.isnan(h.X[:n, c])) for _, c in cats)
            nnum = sum(np.count_nonzero(~np.isnan(h.X[:n, c])) for _, c in nums)
            cats, nums = (cats, []) if ncat >= nnum else ([], nums)
        values = np.full(n, np.nan)
        if cats:
            choices: list[Any] = []
            for d, _ in cats:
                for c in d.choices:
                    if not any(type(c) is type(x) and c == x for x in choices):
                        choices.append(c)
            for d, col in cats:
                u = h.X[:n, col]
                ok = ~np.isnan(u)
                idx = np.clip((u[ok] * len(d.choices)).astype(np.int64), 0, len(d.choices) - 1)
                remap = np.array(
                    [next(i for i, x in enumerate(choices) if type(c) is type(x) and c == x) for c in d.choices]
                )
                values[ok] = remap[idx]
            axes[name] = ParamAxis(name=name, kind="categorical", values=values, choices=tuple(choices))
        else:
            for d, col in nums:
                u = h.X[:n, col]
                ok = ~np.isnan(u)
                values[ok] = _decode(d, u[ok])
            dists = [d for d, _ in nums]
            kind = "int" if all(getattr(d, "kind", "") == "int" for d in dists) else "float"
            log = any(getattr(d, "log", False) for d in dists)
            lows = [d.low for d in dists if getattr(d, "low", None) is not None]
            highs = [d.high for d in dists if getattr(d, "high", None) is not None]
            axes[name] = ParamAxis(
                name=name,
                kind=kind,
                values=values,
                log=log,
                low=float(min(lows)) if lows else None,
                high=float(max(highs)) if highs else None,
            )
    return axes


def frame_of(study: Any) -> Frame:
    """The columns of ``study`` (read once from its storage)."""
    from hyperdial.study import Study

    if not isinstance(study, Study):
        raise TypeError(
            f"study must be a hyperdial Study, got {type(study).__name__}; "
            "open a stored one with hyperdial.load_study(name, storage)"
        )
    h = study.sync()
    n = len(h.trials)
    return Frame(
        name=study.name,
        directions=tuple(h.directions),
        trials=h.trials[:n],
        states=np.array(h.S[:n], dtype=np.int8),
        values=np.array(h.Y[:n], dtype=float),
        params=_param_axes(h, n),
    )


@dataclass(kw_only=True)
class Target:
    """The objective a single-objective plot shows: its values per trial, name and direction."""

    values: np.ndarray  # one per row of the frame, nan where the trial has none
    name: str
    direction: Direction


def resolve_target(
    frame: Frame,
    target: int | Callable[[FrozenTrial], float] | None,
    target_name: str | None,
) -> Target:
    """Which objective to show: ``None`` (the only one), an objective index, or a function of a trial.

    A function is called on COMPLETE trials only and is minimised unless the study has one
    maximised objective.
    """
    m = len(frame.directions)
    if target is None:
        if m != 1:
            raise ValueError(
                f"target: study {frame.name!r} has {m} objectives; pass target=0..{m - 1} (an objective index) "
                "or target=lambda t: ... to choose what to plot"
            )
        target = 0
    if callable(target):
        values = np.full(frame.n, np.nan)
        for i in frame.complete().tolist():
            v = target(frame.trials[i])
            try:
                values[i] = float(v)
            except (TypeError, ValueError):
                raise TypeError(f"target: the function returned {v!r} for trial {i}; it must return a number") from None
        direction = frame.directions[0] if m == 1 else Direction.MINIMIZE
        return Target(values=values, name=target_name or "target", direction=direction)
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise TypeError(f"target must be an objective index or a function of a FrozenTrial, got {target!r}")
    if not 0 <= target < m:
        raise ValueError(f"target={target} is out of range: study {frame.name!r} has {m} objective(s), 0..{m - 1}")
    values = np.where(frame.states == _COMPLETE, frame.values[:, target], np.nan)
    name = target_name or ("objective" if m == 1 else f"objective {target}")
    return Target(values=values, name=name, direction=frame.directions[int(target)])


def check_nonempty(frame: Frame, rows: np.ndarray, what: str) -> None:
    if len(rows) == 0:
        have = f"{frame.n} trials, none COMPLETE" if frame.n else "no trials"
        raise EmptyStudyError(
            f"study {frame.name!r} has {have}: nothing to show in the {what}; run study.optimize(...) first"
        )


def pick_params(frame: Frame, params: Sequence[str] | None, rows: np.ndarray) -> list[str]:
    """The parameters to show: those asked for (checked), else every one some of ``rows`` have."""
    if params is None:
        return [n for n, ax in frame.params.items() if np.any(~np.isnan(ax.values[rows]))]
    if isinstance(params, str):
        params = [params]
    unknown = [p for p in params if p not in frame.params]
    if unknown:
        raise ValueError(f"params: {unknown} not in study {frame.name!r}; it has {sorted(frame.params)}")
    return list(params)
