"""Several objectives: non-dominated sorting, crowding distance and the hypervolume indicator.

All functions take losses (every objective minimised, one row per point). Study-level helpers
orient the values of maximised objectives themselves.

* :func:`non_dominated_sort`: the fast non-dominated sort of Deb et al. 2002 ("A fast and elitist
  multiobjective genetic algorithm: NSGA-II", IEEE TEVC 6(2), section III-A), front index per point.
* :func:`crowding_distance`: Deb et al. 2002, section III-B.
* :func:`hypervolume`: the Lebesgue measure of the region dominated by a front and bounded by a
  reference point (Zitzler & Thiele 1998); exact, by a sweep in two objectives and by slicing
  along the last objective ("hypervolume by slicing objectives", While et al. 2006) above that,
  which is O(n^2 log n) for three objectives.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hyperdial.study import Study

__all__ = ["crowding_distance", "default_reference_point", "hypervolume", "non_dominated_sort"]


def non_dominated_sort(losses: np.ndarray) -> np.ndarray:
    """The front index of every row (0 = non-dominated), all objectives minimised.

    Deb et al. 2002, section III-A: count for each point how many points dominate it, peel the
    points whose count is zero, decrement the counts of what they dominate, repeat. The
    domination matrix is built with numpy in one pass (O(M N^2) memory-bound work).

    Example:
        >>> non_dominated_sort(np.array([[1.0, 2.0], [2.0, 1.0], [2.0, 2.0], [3.0, 3.0]])).tolist()
        [0, 0, 1, 2]
    """
    L = np.asarray(losses, dtype=float)
    if L.ndim != 2:
        raise ValueError(f"non_dominated_sort: losses must be a 2-d array (points x objectives), got shape {L.shape}")
    n = L.shape[0]
    rank = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return rank
    # dom[i, j]: i dominates j.
    le = np.all(L[:, None, :] <= L[None, :, :], axis=2)
    lt = np.any(L[:, None, :] < L[None, :, :], axis=2)
    dom = le & lt
    count = dom.sum(axis=0)  # how many points dominate each point
    front = np.flatnonzero(count == 0)
    r = 0
    while len(front):
        rank[front] = r
        count = count - dom[front].sum(axis=0)
        count[rank >= 0] = -1
        front = np.flatnonzero(count == 0)
        r += 1
    return rank


def crowding_distance(losses: np.ndarray) -> np.ndarray:
    """Deb et al. 2002's crowding distance of the points of one front.

    For each objective the points are sorted; the two extremes get ``inf`` and the others the
    normalised gap between their neighbours, summed over objectives.

    Example:
        >>> crowding_distance(np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])).tolist()
        [inf, 2.0, inf]
    """
    L = np.asarray(losses, dtype=float)
    n, m = L.shape
    dist = np.zeros(n)
    if n <= 2:
        dist[:] = np.inf
        return dist
    for j in range(m):
        order = np.argsort(L[:, j], kind="stable")
        lo, hi = L[order[0], j], L[order[-1], j]
        dist[order[0]] = dist[order[-1]] = np.inf
        span = hi - lo
        if span > 0:
            dist[order[1:-1]] += (L[order[2:], j] - L[order[:-2], j]) / span
    return dist


def default_reference_point(front: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """The front's nadir pushed out by ``margin`` of its range in each objective.

    A common choice in the literature (see Ishibuchi et al. 2018, "How to specify a reference
    point in hypervolume calculation for fair performance comparison", who recommend a point
    slightly worse than the nadir so that the extreme points contribute). A zero range uses
    ``margin * max(1, |nadir|)``.
    """
    F = np.asarray(front, dtype=float)
    if F.ndim != 2 or F.shape[0] == 0:
        raise ValueError("default_reference_point: needs a non-empty 2-d array of points")
    nadir, ideal = F.max(axis=0), F.min(axis=0)
    span = nadir - ideal
    span = np.where(span > 0, span, np.maximum(1.0, np.abs(nadir)))
    return nadir + margin * span


def _hv2d(P: np.ndarray, ref: np.ndarray) -> float:
    order = np.lexsort((P[:, 1], P[:, 0]))
    x, y = P[order, 0], P[order, 1]
    best = np.minimum.accumulate(np.concatenate([[ref[1]], y]))
    # Each point adds the strip between its x and the reference, from the best y before it down to its own.
    gain = np.maximum(best[:-1] - y, 0.0)
    return float(np.sum((ref[0] - x) * gain))


def _hv(P: np.ndarray, ref: np.ndarray) -> float:
    if len(P) == 0:
        return 0.0
    d = P.shape[1]
    if d == 1:
        return float(ref[0] - P[:, 0].min())
    if d == 2:
        return _hv2d(P, ref)
    # Slice along the last objective: between consecutive values the dominated region is the
    # (d-1)-dimensional hypervolume of the points at or below the slice.
    order = np.argsort(P[:, -1], kind="stable")
    P = P[order]
    z = np.append(P[:, -1], ref[-1])
    total = 0.0
    for i in range(len(P)):
        depth = z[i + 1] - z[i]
        if depth > 0:
            total += depth * _hv(P[: i + 1, :-1], ref[:-1])
    return total


def _study_points(study: Study) -> np.ndarray:
    from hyperdial.constraints import violations
    from hyperdial.trial import TrialState

    h = study.sync()
    done = h.numbers(TrialState.COMPLETE)
    done = done[violations(h, done) <= 0]
    return h.losses(done)


def hypervolume(points: Any, reference: Any = None) -> float:
    """The hypervolume dominated by ``points`` and bounded by ``reference``.

    Args:
        points: A :class:`~hyperdial.Study` (its feasible COMPLETE trials, maximised objectives
            negated internally), or an array of losses, one row per point, every objective
            minimised.
        reference: The reference point, in the study's own units and directions (or the array's),
            worse than the points in every objective; points that do not dominate it contribute
            nothing. ``None``: :func:`default_reference_point` of the Pareto front (report the
            reference with the figure: hypervolumes are only comparable under one reference).

    Returns:
        The exact hypervolume (any number of objectives; fast for 2 and 3).

    Example:
        >>> hypervolume(np.array([[1.0, 2.0], [2.0, 1.0]]), reference=[3.0, 3.0])
        3.0
    """
    sign = None
    if hasattr(points, "directions") and hasattr(points, "sync"):
        sign = np.array([1.0 if d.value == "minimize" else -1.0 for d in points.directions])
        L = _study_points(points)
        where = "hypervolume(study)"
    else:
        L = np.asarray(points, dtype=float)
        where = "hypervolume(points)"
        if L.ndim == 1:
            L = L[None, :] if L.size else L.reshape(0, 1)
        if L.ndim != 2:
            raise ValueError(f"{where}: points must be a 2-d array (points x objectives), got shape {L.shape}")
        if not np.all(np.isfinite(L)):
            raise ValueError(f"{where}: points must be finite; drop the rows with nan or inf first")
    m = L.shape[1]
    if reference is None:
        if len(L) == 0:
            return 0.0
        from hyperdial.history import pareto_front_mask

        ref = default_reference_point(L[pareto_front_mask(L)])
    else:
        if isinstance(reference, (str, bytes, numbers.Number)):
            raise TypeError(f"{where}: reference must be a sequence of {m} numbers, got {reference!r}")
        ref = np.asarray(reference, dtype=float).ravel()
        if ref.shape[0] != m or not np.all(np.isfinite(ref)):
            raise ValueError(f"{where}: reference must be {m} finite numbers (one per objective), got {reference!r}")
        if sign is not None:
            ref = ref * sign
    if len(L) == 0:
        return 0.0
    P = L[np.all(ref > L, axis=1)]
    if len(P) == 0:
        return 0.0
    if m > 2:  # slicing is quadratic or worse: drop dominated points first (the 2-d sweep ignores them)
        from hyperdial.history import pareto_front_mask

        P = np.unique(P[pareto_front_mask(P)], axis=0)
    return _hv(P, ref)
