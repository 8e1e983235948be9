"""What both importance methods start from: the COMPLETE trials as a matrix of scaled parameters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hyperdial.trial import Direction, FrozenTrial
from hyperdial.visualization._frame import EmptyStudyError, frame_of, pick_params, resolve_target

__all__ = ["ImportanceResult", "Inputs", "inputs_of"]


@dataclass(kw_only=True)
class ImportanceResult:
    """Importances of one study's parameters for one objective.

    Attributes:
        importances: Fraction of the explained importance per parameter, summing to 1 (all
            zero when nothing varies), most important first.
        std: The spread of each importance over the forest's trees (fANOVA), else ``None``.
        method: ``"fANOVA"`` or ``"PED-ANOVA"``.
        target_name: The objective the importances are for.
        n_trials: How many COMPLETE trials the estimate used.
        notes: What the figure should say (subsampling, quantile, skipped parameters).
    """

    importances: dict[str, float]
    std: dict[str, float] | None
    method: str
    target_name: str
    n_trials: int
    notes: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class Inputs:
    """Parameters scaled to ``[0, 1]`` (log-scale ones in log space; categoricals as category
    index), ``nan`` where inactive, and losses (lower is better) of the chosen objective."""

    names: list[str]
    X: np.ndarray
    kinds: list[str]
    n_choices: list[int]  # categories per categorical parameter, 0 otherwise
    grids: list[np.ndarray | None]  # the admissible scaled values of small integer ranges
    losses: np.ndarray
    target_name: str
    n_complete: int
    notes: list[str]


def _check_fraction(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
        raise ValueError(f"{name} must be a fraction in (0, 1], got {value!r}; 0.1 means the best 10% of trials")
    return float(value)


def inputs_of(
    study: Any,
    target: int | Callable[[FrozenTrial], float] | None,
    params: Sequence[str] | None,
    *,
    max_trials: int | None,
    seed: int,
    min_trials: int = 2,
) -> Inputs:
    frame = frame_of(study)
    tgt = resolve_target(frame, target, None)
    rows = np.flatnonzero(np.isfinite(tgt.values))
    if len(rows) < min_trials:
        have = f"{frame.n} trials, {len(rows)} of them COMPLETE" if frame.n else "no trials"
        raise EmptyStudyError(
            f"study {frame.name!r} has {have}; importance needs at least {min_trials} COMPLETE trials: "
            "run study.optimize(...) first"
        )
    names = pick_params(frame, params, rows)
    notes: list[str] = []
    n_complete = len(rows)
    if max_trials is not None and len(rows) > max_trials:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(rows, size=max_trials, replace=False))
        notes.append(f"estimated on a random {max_trials} of {n_complete} complete trials")
    X = np.full((len(rows), len(names)), np.nan)
    kinds, n_choices, grids = [], [], []
    for j, n in enumerate(names):
        ax = frame.params[n]
        v = ax.values[rows]
        kinds.append(ax.kind)
        grid = None
        if ax.is_categorical:
            X[:, j] = v
            n_choices.append(len(ax.choices or ()))
        else:
            s = np.log(v) if ax.log else v
            lo = np.log(ax.low) if ax.log else ax.low
            hi = np.log(ax.high) if ax.log else ax.high
            if lo is None or hi is None:
                lo, hi = np.nanmin(s), np.nanmax(s)
            span = hi - lo if hi > lo else 1.0
            X[:, j] = np.clip((s - lo) / span, 0.0, 1.0)
            n_choices.append(0)
            if ax.kind == "int" and not ax.log and ax.high is not None and ax.high - ax.low + 1 <= 64:
                vals = np.arange(ax.low, ax.high + 1)
                grid = (vals - lo) / span
        grids.append(grid)
    sign = 1.0 if tgt.direction == Direction.MINIMIZE else -1.0
    return Inputs(
        names=names,
        X=X,
        kinds=kinds,
        n_choices=n_choices,
        grids=grids,
        losses=tgt.values[rows] * sign,
        target_name=tgt.name,
        n_complete=n_complete,
        notes=notes,
    )


def normalised(names: Sequence[str], raw: np.ndarray, std: np.ndarray | None = None) -> tuple[dict, dict | None]:
    """Importances summing to 1, most important first (ties keep the parameters' order)."""
    raw = np.maximum(np.nan_to_num(np.asarray(raw, dtype=float)), 0.0)
    total = raw.sum()
    frac = raw / total if total > 0 else np.zeros_like(raw)
    order = np.argsort(-frac, kind="stable")
    imp = {names[i]: float(frac[i]) for i in order}
    if std is None:
        return imp, None
    s = np.asarray(std, dtype=float) / total if total > 0 else np.zeros_like(raw)
    return imp, {names[i]: float(s[i]) for i in order}
