"""Scores: Bayesmark's normalised score, log10 regret, and paired bootstrap confidence intervals.

Normalised score (Turner et al., 2021, "Bayesian optimization is superior to random search
for machine learning hyperparameter tuning", section 3):

    score = 100 * (baseline_median - best) / (baseline_median - optimum)

``best`` is the best loss an optimizer found within the budget; ``baseline_median`` the
median, over many runs, of the best loss random search finds with the same budget;
``optimum`` the known optimum (BBOB, synthetic problems) or a committed reference best.
100 means the optimum was reached, 0 means no better than the median random search,
negative means worse than it. A score above 100 means the run beat the reference best.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "best_so_far",
    "bootstrap_paired_diff",
    "log10_regret",
    "mean_se",
    "normalised_score",
]


def best_so_far(losses: Sequence[float], budget: int) -> float:
    """The best (lowest) loss among the first ``budget`` evaluations (``inf`` if none)."""
    finite = [x for x in losses[:budget] if math.isfinite(x)]
    return min(finite) if finite else math.inf


def normalised_score(best: float, baseline_median: float, optimum: float) -> float:
    """Bayesmark's normalised score (see the module docstring).

    Raises:
        ValueError: ``baseline_median <= optimum`` (random search already solves the problem,
            so the problem cannot rank optimizers; drop it or lower the budget).
    """
    gap = baseline_median - optimum
    if not gap > 0:
        raise ValueError(
            f"normalised_score: baseline_median={baseline_median!r} must exceed optimum={optimum!r}; "
            "the problem is solved by random search at this budget"
        )
    if not math.isfinite(best):
        return -math.inf
    return 100.0 * (baseline_median - best) / gap


def log10_regret(best: float, optimum: float, floor: float = 1e-8) -> float:
    """``log10(best - optimum)``, floored at ``log10(floor)`` (COCO's target precision)."""
    return math.log10(max(best - optimum, floor))


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error (``nan`` SE for one value)."""
    a = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if a.size == 0:
        return math.nan, math.nan
    se = float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else math.nan
    return float(a.mean()), se


def bootstrap_paired_diff(
    a: Mapping[tuple, float],
    b: Mapping[tuple, float],
    *,
    n_boot: int = 10_000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float]:
    """Paired bootstrap CI of ``mean(a - b)`` over the keys (``(problem, seed)``) both hold.

    Pairs are resampled with replacement, so the CI accounts for problem-to-problem and
    seed-to-seed variation together. A claim "A beats B" needs ``low > 0``.

    Returns:
        ``{"n": pairs, "mean": ..., "low": ..., "high": ..., "p_le_0": share of resampled means <= 0}``.
    """
    keys = sorted(set(a) & set(b), key=repr)
    d = np.asarray([a[k] - b[k] for k in keys], dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return {"n": 0, "mean": math.nan, "low": math.nan, "high": math.nan, "p_le_0": math.nan}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, d.size, size=(n_boot, d.size))
    means = d[idx].mean(axis=1)
    alpha = (1 - level) / 2
    return {
        "n": int(d.size),
        "mean": float(d.mean()),
        "low": float(np.quantile(means, alpha)),
        "high": float(np.quantile(means, 1 - alpha)),
        "p_le_0": float((means <= 0).mean()),
    }
