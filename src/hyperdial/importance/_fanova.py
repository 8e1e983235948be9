"""fANOVA: functional ANOVA over a random forest's leaf partitions (Hutter, Hoos, Leyton-Brown, ICML 2014).

Each regression tree is a piecewise-constant function ``f`` over a box-shaped partition of
the search space. Under a product measure ``m`` (uniform per parameter), the functional
ANOVA decomposition of ``f`` has closed forms on that partition (Hutter et al. 2014, Sec. 3):

* mean ``mu = sum_l w_l v_l`` and total variance ``V = sum_l w_l (v_l - mu)^2`` (Eq. 1-2),
  with ``w_l`` the measure of leaf ``l``'s box and ``v_l`` its prediction;
* the marginal of parameter ``j`` (Eq. 4) is constant on the cells cut by the tree's
  thresholds on ``j``: ``a_j(c) = sum_{l covers c} v_l * prod_{k != j} m_k(box_lk)``;
* its main-effect variance ``V_j = sum_c m_j(c) (a_j(c) - mu)^2`` (Eq. 5), and its importance
  is ``V_j / V`` averaged over the trees.

Computed with numpy per tree: boxes are propagated level by level, and each marginal is
a difference array over the cells (O(leaves log cells) per parameter), so a forest on
thousands of trials takes about a second.

Conditional parameters: where a parameter is inactive its value is imputed by a seeded
uniform draw from its range, so the forest cannot use "inactive" as a proxy for the parent
that switched it off: the parent gets the credit for the switch, the child only for what it
changes where it is active. Categorical parameters are coded by category index, each
category a point mass of equal share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hyperdial.importance._common import ImportanceResult, _check_fraction, inputs_of, normalised
from hyperdial.trial import FrozenTrial

__all__ = ["fanova", "fanova_result"]


class _Measure:
    """A parameter's measure of intervals ``(a, b]``: uniform on [0, 1], or equal point masses on
    the categories 0..k-1 of a categorical parameter."""

    def __init__(self, n_choices: int) -> None:
        self.k = n_choices

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.k:
            lo = np.maximum(np.floor(np.clip(a, -2.0, self.k + 1.0)) + 1, 0)
            hi = np.minimum(np.floor(np.clip(b, -2.0, self.k + 1.0)), self.k - 1)
            return np.maximum(hi - lo + 1, 0) / self.k
        return np.clip(np.minimum(b, 1.0) - np.maximum(a, 0.0), 0.0, None)


def _leaf_boxes(tree: Any, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t = tree.tree_
    left, right, feat, thr = t.children_left, t.children_right, t.feature, t.threshold
    n = len(left)
    lo = np.full((n, d), -np.inf)
    hi = np.full((n, d), np.inf)
    frontier = np.array([0])
    while frontier.size:
        internal = frontier[left[frontier] != -1]
        if not internal.size:
            break
        lc, rc, f, th = left[internal], right[internal], feat[internal], thr[internal]
        lo[lc] = lo[internal]
        hi[lc] = hi[internal]
        lo[rc] = lo[internal]
        hi[rc] = hi[internal]
        hi[lc, f] = th  # scikit-learn sends x <= threshold left
        lo[rc, f] = th
        frontier = np.concatenate([lc, rc])
    leaves = np.flatnonzero(left == -1)
    splits = left != -1
    return lo[leaves], hi[leaves], t.value[leaves, 0, 0], feat[splits], thr[splits]


def _tree_main_effects(tree: Any, measures: list[_Measure]) -> tuple[np.ndarray, float]:
    d = len(measures)
    lo, hi, v, split_feat, split_thr = _leaf_boxes(tree, d)
    M = np.column_stack([measures[j](lo[:, j], hi[:, j]) for j in range(d)])
    w = M.prod(axis=1)
    total = w.sum()
    if total <= 0:
        return np.zeros(d), 0.0
    w = w / total  # leaves of an unseen region (e.g. a category never sampled) carry no measure
    mu = float(w @ v)
    var = float(w @ (v - mu) ** 2)
    effects = np.zeros(d)
    if var <= 0:
        return effects, 0.0
    for j in range(d):
        cuts = np.unique(split_thr[split_feat == j])
        if not cuts.size:
            continue  # the tree never splits on j: its marginal is flat
        others = np.prod(np.delete(M, j, axis=1), axis=1) / total if d > 1 else np.full(len(v), 1.0 / total)
        contrib = v * others
        start = np.searchsorted(cuts, lo[:, j], side="right")
        stop = np.searchsorted(cuts, hi[:, j], side="left") + 1
        acc = np.zeros(len(cuts) + 2)
        np.add.at(acc, start, contrib)
        np.add.at(acc, stop, -contrib)
        marginal = np.cumsum(acc)[: len(cuts) + 1]
        edges = np.concatenate([[-np.inf], cuts, [np.inf]])
        m = measures[j](edges[:-1], edges[1:])
        effects[j] = float(m @ (marginal - mu) ** 2)
    return effects, var


def fanova_result(
    study: Any,
    *,
    target: int | Callable[[FrozenTrial], float] | None = None,
    params: Sequence[str] | None = None,
    top_quantile: float | None = None,
    n_trees: int = 32,
    max_depth: int | None = 16,
    max_trials: int | None = 3000,
    seed: int = 0,
) -> ImportanceResult:
    """fANOVA importances with their spread over trees and notes; see :func:`fanova`."""
    from sklearn.ensemble import RandomForestRegressor

    top_quantile = _check_fraction("top_quantile", top_quantile)
    for label, v, low in (("n_trees", n_trees, 1), ("max_trials", max_trials, 2)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < low):
            raise ValueError(f"{label} must be an integer >= {low}, got {v!r}")
    inp = inputs_of(study, target, params, max_trials=max_trials, seed=seed)
    notes = list(inp.notes)
    y = inp.losses.copy()
    if top_quantile is not None and top_quantile < 1.0:
        # As the reference implementation's cutoffs: losses worse than the quantile are
        # capped at it, so only differences among the good configurations count.
        cut = np.quantile(y, top_quantile)
        y = np.minimum(y, cut)
        notes.append(f"losses capped at the best {top_quantile:.0%} quantile")
    X = inp.X.copy()
    rng = np.random.default_rng(seed)
    for j, k in enumerate(inp.n_choices):
        gap = np.isnan(X[:, j])
        if gap.any():
            X[gap, j] = rng.integers(0, k, gap.sum()) if k else rng.random(gap.sum())
    if len(inp.names) == 0:
        return ImportanceResult(
            importances={}, std=None, method="fANOVA", target_name=inp.target_name, n_trials=len(y), notes=notes
        )
    measures = [_Measure(k) for k in inp.n_choices]
    forest = RandomForestRegressor(
        n_estimators=n_trees, max_depth=max_depth, min_samples_leaf=1, random_state=seed, n_jobs=1
    )
    forest.fit(X, y)
    fractions = []
    for tree in forest.estimators_:
        effects, var = _tree_main_effects(tree, measures)
        if var > 0:
            fractions.append(effects / var)
    if not fractions:
        notes.append("the objective does not vary: every importance is 0")
        F = np.zeros((1, len(inp.names)))
    else:
        F = np.array(fractions)
    imp, std = normalised(inp.names, F.mean(axis=0), F.std(axis=0))
    return ImportanceResult(
        importances=imp, std=std, method="fANOVA", target_name=inp.target_name, n_trials=len(y), notes=notes
    )


def fanova(
    study: Any,
    *,
    target: int | Callable[[FrozenTrial], float] | None = None,
    params: Sequence[str] | None = None,
    top_quantile: float | None = None,
    n_trees: int = 32,
    max_depth: int | None = 16,
    max_trials: int | None = 3000,
    seed: int = 0,
) -> dict[str, float]:
    """Hyperparameter importance by fANOVA on a random forest of the study's COMPLETE trials.

    Hutter, Hoos and Leyton-Brown, "An Efficient Approach for Assessing Hyperparameter
    Importance", ICML 2014: the variance of the forest's prediction over the search space
    is decomposed exactly on each tree's leaf partition; a parameter's importance is the
    share of its main effect. Log-scale parameters are analysed in log space.

    Args:
        study: The study (its stored trials are read).
        target: The objective index of a multi-objective study, or a function of a trial.
        params: The parameters to rank (default: every parameter of the COMPLETE trials).
        top_quantile: If given (e.g. ``0.25``), losses worse than this quantile are capped at
            it, so the importances say what matters among the good configurations.
        n_trees / max_depth: The scikit-learn random forest.
        max_trials: Fit on a seeded random subset of at most this many trials (``None``: all).
        seed: Seeds the forest and the subsample.

    Returns:
        ``{name: fraction}`` summing to 1, most important first.

    Example:
        >>> import hyperdial
        >>> from hyperdial.importance import fanova
        >>> study = hyperdial.create_study(sampler="random", seed=0)
        >>> study.optimize(lambda t: 10 * t.suggest_float("a", 0, 1) + 0 * t.suggest_float("b", 0, 1),
        ...                n_trials=40, show_progress=False)
        >>> fanova(study)["a"] > 0.9
        True
    """
    return fanova_result(
        study,
        target=target,
        params=params,
        top_quantile=top_quantile,
        n_trees=n_trees,
        max_depth=max_depth,
        max_trials=max_trials,
        seed=seed,
    ).importances
