"""The multi-objective split and weights of TPE (MOTPE).

Ozaki, Tanigaki, Watanabe & Onishi 2020, "Multiobjective tree-structured Parzen estimator for
computationally expensive optimization problems" (GECCO), and Ozaki et al. 2022, "Multiobjective
tree-structured Parzen estimator" (JAIR 73, 1209-1250), the split and weighting of the good
group (equation numbers not given here: not checked against the published text):

* the good group is filled front by front (non-dominated sort); the front that does not fit
  whole is cut by hypervolume subset selection, solved greedily (add the point of largest
  hypervolume improvement, repeat), which keeps the cut spread along the front
  where crowding distance only looks at neighbours;
* each good observation's kernel is weighted by its hypervolume contribution
  (``w_i ∝ HV(Y) - HV(Y \\ {y_i})``, ``Y`` the good group's Pareto front), normalised
  by the largest and floored, so kernels on the front's sparse stretches pull harder than
  crowded ones.

Everything here takes losses (every objective minimised, one row per observation) and is a pure
function of them. Hypervolumes come from :mod:`hyperdial.multi_objective`; two objectives (the
common case) use a batched form of the same 2-d sweep so a proposal does not call it once
per candidate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hyperdial.constraints import violations
from hyperdial.multi_objective import _hv, crowding_distance, default_reference_point, non_dominated_sort
from hyperdial.trial import TrialState

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = [
    "greedy_hssp",
    "hypervolume_contributions",
    "motpe_good_weights",
    "motpe_order",
    "motpe_ranking",
    "motpe_weights",
]

#: The weight of a good kernel with no hypervolume contribution (dominated within the good
#: group, a duplicate, or infeasible): small, so it still counts, never zero.
WEIGHT_FLOOR = 1e-3


def _reference(losses: np.ndarray) -> np.ndarray:
    return default_reference_point(losses[non_dominated_sort(losses) == 0])


def _batched_hv2d(Q: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The 2-d hypervolume of each set ``Q[i]`` (shape ``(sets, points, 2)``): the sweep of
    :func:`hyperdial.multi_objective._hv2d`, batched over the sets."""
    order = np.lexsort((Q[:, :, 1], Q[:, :, 0]), axis=-1)
    x = np.take_along_axis(Q[:, :, 0], order, axis=1)
    y = np.take_along_axis(Q[:, :, 1], order, axis=1)
    best = np.minimum.accumulate(np.concatenate([np.full((len(Q), 1), ref[1]), y], axis=1), axis=1)
    return np.sum(np.maximum(ref[0] - x, 0.0) * np.maximum(best[:, :-1] - y, 0.0), axis=1)


def _hv_improvement_2d(cand: np.ndarray, chosen: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``HV(chosen + {c}) - HV(chosen)`` for every row ``c`` of ``cand``, two objectives.

    The improvement is ``c``'s box minus the part of it ``chosen`` already dominates, and that
    part is the hypervolume of ``{max(c, s) : s in chosen}``.
    """
    box = np.prod(np.maximum(ref - cand, 0.0), axis=1)
    if len(chosen) == 0:
        return box
    covered = _batched_hv2d(np.maximum(cand[:, None, :], chosen[None, :, :]), ref)
    return np.maximum(box - covered, 0.0)


def _hv_improvement(cand: np.ndarray, chosen: np.ndarray, ref: np.ndarray) -> np.ndarray:
    if cand.shape[1] == 2:
        return _hv_improvement_2d(cand, chosen, ref)
    base = _hv(chosen, ref) if len(chosen) else 0.0
    return np.array([max(_hv(np.vstack([chosen, c[None, :]]), ref) - base, 0.0) for c in cand])


def greedy_hssp(losses: np.ndarray, k: int, reference: np.ndarray | None = None) -> np.ndarray:
    """Indices of ``k`` rows chosen greedily for hypervolume, in the order they were chosen.

    Hypervolume subset selection (choose ``k`` of ``n`` points maximising the hypervolume) is
    NP-hard for three objectives and more; the greedy rule (as in Ozaki et al. 2022;
    Guerreiro, Fonseca & Paquete 2016) reaches at least ``1 - 1/e`` of the optimum because the
    hypervolume is submodular. Ties go to the lower index, so the result is deterministic, and
    the choice for ``k`` is a prefix of the choice for ``k + 1``.

    Args:
        losses: ``(n, m)`` losses, every objective minimised.
        k: How many rows to choose, ``0 <= k <= n``.
        reference: The hypervolume reference point; :func:`default_reference_point` of the
            rows' Pareto front by default.

    Returns:
        ``k`` distinct row indices.

    Example:
        >>> greedy_hssp(np.array([[0.0, 1.0], [0.1, 0.9], [1.0, 0.0]]), 2, reference=np.array([2.0, 2.0])).tolist()
        [1, 2]
    """
    L = np.asarray(losses, dtype=float)
    if L.ndim != 2:
        raise ValueError(f"greedy_hssp: losses must be a 2-d array (points x objectives), got shape {L.shape}")
    n = len(L)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise ValueError(f"greedy_hssp: k must be an integer in [0, {n}] (the number of rows), got {k!r}")
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    ref = _reference(L) if reference is None else np.asarray(reference, dtype=float)
    L = np.minimum(L, ref)  # a row outside the reference box only reaches its face: no volume
    chosen: list[int] = []
    left = np.ones(n, dtype=bool)
    for _ in range(int(k)):
        idx = np.flatnonzero(left)
        gain = _hv_improvement(L[idx], L[chosen], ref)
        pick = int(idx[int(np.argmax(gain))])  # argmax: the first of equal gains
        chosen.append(pick)
        left[pick] = False
    return np.asarray(chosen, dtype=np.intp)


def hypervolume_contributions(losses: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Each row's exclusive hypervolume contribution ``HV(L) - HV(L without the row)``.

    Dominated rows and exact duplicates contribute 0; the contributions of a non-dominated set
    plus the hypervolume dominated by two or more of its points make up the whole hypervolume.

    Args:
        losses: ``(n, m)`` losses, every objective minimised.
        reference: The reference point; :func:`default_reference_point` of the Pareto front by
            default. Rows that do not dominate it contribute 0.

    Example:
        >>> hypervolume_contributions(np.array([[0.0, 2.0], [1.0, 1.0], [2.0, 0.0]]), np.array([3.0, 3.0])).tolist()
        [1.0, 1.0, 1.0]
    """
    L = np.asarray(losses, dtype=float)
    n = len(L)
    if n == 0:
        return np.zeros(0)
    ref = _reference(L) if reference is None else np.asarray(reference, dtype=float)
    L = np.minimum(L, ref)  # a row outside the reference box only reaches its face: no volume
    if L.shape[1] == 2:
        # Row i's box minus what the other rows cover of it (dominated rows included: they
        # are what covers the gap when row i goes), all rows at once.
        Q = np.maximum(L[:, None, :], L[None, :, :])
        Q[np.arange(n), np.arange(n)] = ref  # a row does not cover itself
        box = np.prod(ref - L, axis=1)
        return np.maximum(box - _batched_hv2d(Q, ref), 0.0)
    total = _hv(L, ref)
    keep = np.ones(n, dtype=bool)
    out = np.empty(n)
    for i in range(n):
        keep[i] = False
        out[i] = max(total - _hv(L[keep], ref), 0.0)
        keep[i] = True
    return out


def motpe_order(losses: np.ndarray, n_good: int) -> np.ndarray:
    """Row indices best first, such that the first ``n_good`` are MOTPE's good group.

    Fronts come in order (Deb et al. 2002's non-dominated sort); the front that straddles
    ``n_good`` is ordered by :func:`greedy_hssp` (reference: that front's own), the others
    by crowding distance, most isolated first, so a shorter cut (a conditional group with
    fewer observations) still takes a spread-out part of a front.

    Example:
        >>> motpe_order(np.array([[3.0, 3.0], [0.0, 1.0], [1.0, 0.0], [0.1, 0.9]]), 2).tolist()[:2]
        [3, 2]
    """
    L = np.asarray(losses, dtype=float)
    n = len(L)
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    rank = non_dominated_sort(L)
    counts = np.bincount(rank)
    ends = np.cumsum(counts)
    cut_front = int(np.searchsorted(ends, n_good, side="left")) if 0 < n_good < n else -1
    if cut_front >= 0 and ends[cut_front] == n_good:
        cut_front = -1  # the fronts fill the good group exactly: nothing to cut
    parts = []
    for r in range(len(counts)):
        idx = np.flatnonzero(rank == r)
        if len(idx) > 1:
            if r == cut_front:
                start = int(ends[r - 1]) if r else 0
                take = n_good - start
                first = greedy_hssp(L[idx], take)
                rest = np.setdiff1d(np.arange(len(idx)), first)
                crowd = crowding_distance(L[idx[rest]])
                idx = np.concatenate([idx[first], idx[rest[np.argsort(-crowd, kind="stable")]]])
            else:
                idx = idx[np.argsort(-crowding_distance(L[idx]), kind="stable")]
        parts.append(idx)
    return np.concatenate(parts)


def motpe_weights(losses: np.ndarray, feasible: np.ndarray | None = None) -> np.ndarray:
    """Kernel weights of the good group: hypervolume contributions, normalised and floored.

    Ozaki et al. 2022: each kernel weighs its observation's hypervolume contribution,
    here within the good group's own Pareto front (reference: :func:`default_reference_point`
    of that front), so a point on a sparse stretch of the front pulls harder than one in a
    crowded stretch. Rows behind that front (the good group's later fronts), infeasible rows
    (only in the good group when too few are feasible) and duplicates get
    :data:`WEIGHT_FLOOR`; the largest weight is 1. Contributions among the front alone, rather
    than ``HV(good) - HV(good without the row)``, measured better on ZDT3 (see
    benchmarks/RESULTS.md, "NSGA-II and multi-objective TPE vs Optuna").

    Example:
        >>> motpe_weights(np.array([[0.0, 2.0], [1.0, 1.0], [2.0, 0.0], [2.0, 2.0]])).round(3).tolist()
        [0.2, 1.0, 0.2, 0.001]
    """
    L = np.asarray(losses, dtype=float)
    n = len(L)
    w = np.full(n, WEIGHT_FLOOR)
    ok = np.ones(n, dtype=bool) if feasible is None else np.asarray(feasible, dtype=bool)
    ok &= np.all(np.isfinite(L), axis=1)
    if ok.any():
        ok[ok] = non_dominated_sort(L[ok]) == 0
    if ok.sum() == 1:
        w[ok] = 1.0
    elif ok.sum() > 1:
        c = hypervolume_contributions(L[ok])
        top = c.max()
        w[ok] = np.maximum(c / top, WEIGHT_FLOOR) if top > 0 else 1.0
    return w


def motpe_ranking(history: History, ordered: np.ndarray, n_complete: int, n_good: int) -> np.ndarray:
    """TPE's best-first trial numbers with the feasible complete trials in MOTPE order.

    ``ordered`` is TPE's ranking: complete trials (feasible first, then infeasible by
    violation), then pruned ones; its first ``n_complete`` are the complete trials. Only the
    feasible ones are re-ranked (:func:`motpe_order` for a good group of ``n_good``), so
    infeasible trials stay behind every feasible one, in the bad group unless too few are
    feasible.
    """
    head = ordered[:n_complete]
    k = int(np.count_nonzero(violations(history, head) <= 0)) if len(head) else 0
    if k < 2:
        return ordered
    feasible = ordered[:k]  # feasible_first put them in front
    return np.concatenate([feasible[motpe_order(history.losses(feasible), min(n_good, k))], ordered[k:]])


def motpe_good_weights(history: History, good: np.ndarray) -> np.ndarray:
    """:func:`motpe_weights` of the good group's trials (numbers); pruned or infeasible ones get the floor."""
    if len(good) == 0:
        return np.ones(0)
    ok = (history.states()[good] == int(TrialState.COMPLETE)) & (violations(history, good) <= 0)
    return motpe_weights(history.losses(good), ok)
