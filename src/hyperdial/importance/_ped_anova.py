"""PED-ANOVA: importance from the Pearson divergence of top-quantile densities (Watanabe et al., IJCAI 2023).

Watanabe, Bansal and Hutter, "PED-ANOVA: Efficiently Quantifying Hyperparameter Importance
in Arbitrary Subspaces", IJCAI 2023. For the top-``gamma'`` trials inside the top-``gamma``
region (``gamma = 1``: all trials), the local importance of parameter ``d`` (their Theorem 1,
Eq. 9) is

    HPI_d = (gamma' / gamma)^2 * D_PE(p_d^{gamma'} || p_d^{gamma})
          = (gamma' / gamma)^2 * E_{x ~ p_d^gamma} [(p_d^{gamma'}(x) / p_d^gamma(x) - 1)^2],

where ``p_d^gamma`` is the one-dimensional density of parameter ``d`` among the top-``gamma``
trials. The densities are Gaussian kernel estimates (Scott's bandwidth) on a grid of the
scaled parameter, or smoothed frequencies for categorical parameters. No model is fitted:
O(trials x grid) per parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hyperdial.importance._common import ImportanceResult, _check_fraction, inputs_of, normalised
from hyperdial.trial import FrozenTrial

__all__ = ["ped_anova", "ped_anova_result"]

_GRID = 50


def _density(x: np.ndarray, grid: np.ndarray, discrete: bool) -> np.ndarray:
    """A kernel density of ``x`` on ``grid``, normalised to sum to 1 over the grid."""
    if discrete:  # categories (or a small integer range): frequencies with a +1 prior per point
        counts = np.array([np.count_nonzero(np.isclose(x, g)) for g in grid], dtype=float) + 1.0
        return counts / counts.sum()
    n = len(x)
    std = float(np.std(x)) if n > 1 else 0.0
    h = max(1.06 * std * n ** (-0.2), 1.0 / _GRID)  # Scott's rule, at least one grid cell wide
    z = (grid[None, :] - x[:, None]) / h
    pdf = np.exp(-0.5 * z * z).sum(axis=0) + 1e-12
    return pdf / pdf.sum()


def ped_anova_result(
    study: Any,
    *,
    target: int | Callable[[FrozenTrial], float] | None = None,
    params: Sequence[str] | None = None,
    top_quantile: float = 0.1,
    region_quantile: float = 1.0,
    max_trials: int | None = None,
    seed: int = 0,
) -> ImportanceResult:
    """PED-ANOVA importances with notes; see :func:`ped_anova`."""
    top = _check_fraction("top_quantile", top_quantile)
    region = _check_fraction("region_quantile", region_quantile)
    if top is None or region is None or not top < region:
        raise ValueError(
            f"top_quantile={top_quantile!r} must be smaller than region_quantile={region_quantile!r} "
            "(the top trials are compared with the region they lie in)"
        )
    inp = inputs_of(study, target, params, max_trials=max_trials, seed=seed)
    notes = list(inp.notes)
    notes.append(f"top {top:.0%} of trials against the {'whole study' if region == 1 else f'top {region:.0%}'}")
    order = np.argsort(inp.losses, kind="stable")
    n = len(order)
    n_region = max(int(np.ceil(region * n)), 2)
    n_top = max(int(np.ceil(top * n)), 2)
    if n_top >= n_region:
        raise ValueError(
            f"top_quantile={top}: with {n} trials the top set ({n_top}) is not smaller than the region "
            f"({n_region}); run more trials or raise region_quantile"
        )
    region_rows, top_rows = order[:n_region], order[:n_top]
    raw = np.zeros(len(inp.names))
    skipped = []
    for j, name in enumerate(inp.names):
        xr = inp.X[region_rows, j]
        xt = inp.X[top_rows, j]
        xr, xt = xr[~np.isnan(xr)], xt[~np.isnan(xt)]
        if len(xt) < 2:
            skipped.append(name)
            continue
        if inp.n_choices[j]:
            grid, discrete = np.arange(inp.n_choices[j], dtype=float), True
        elif inp.grids[j] is not None:
            grid, discrete = inp.grids[j], True
        else:
            grid, discrete = np.linspace(0.0, 1.0, _GRID), False
        p_region = _density(xr, grid, discrete)
        p_top = _density(xt, grid, discrete)
        divergence = float(p_region @ (p_top / p_region - 1.0) ** 2)  # Pearson divergence, Eq. 9
        # The parameter's share of the top set (conditional parameters are active in part of it).
        gamma = (len(xt) / len(xr)) if len(xr) else 0.0
        raw[j] = gamma**2 * divergence
    if skipped:
        notes.append(f"fewer than 2 top trials have {skipped}: importance 0")
    imp, _ = normalised(inp.names, raw)
    return ImportanceResult(
        importances=imp, std=None, method="PED-ANOVA", target_name=inp.target_name, n_trials=n, notes=notes
    )


def ped_anova(
    study: Any,
    *,
    target: int | Callable[[FrozenTrial], float] | None = None,
    params: Sequence[str] | None = None,
    top_quantile: float = 0.1,
    region_quantile: float = 1.0,
    max_trials: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Hyperparameter importance by PED-ANOVA: how differently the best trials are distributed.

    A parameter matters for reaching the top ``top_quantile`` of trials when its values
    among them are distributed unlike its values in the region (``region_quantile``; 1.0
    means all COMPLETE trials). Fast (no model), local, and well suited to large studies;
    see the module docstring for the formula (Watanabe et al., IJCAI 2023, Eq. 9).

    Args:
        study: The study (its stored trials are read).
        target: The objective index of a multi-objective study, or a function of a trial.
        params: The parameters to rank (default: every parameter of the COMPLETE trials).
        top_quantile: The fraction of best trials whose distribution is examined.
        region_quantile: The fraction of best trials it is compared with.
        max_trials: Use a seeded random subset of at most this many trials (``None``: all).
        seed: Seeds the subsample.

    Returns:
        ``{name: fraction}`` summing to 1, most important first.

    Example:
        >>> import hyperdial
        >>> from hyperdial.importance import ped_anova
        >>> study = hyperdial.create_study(sampler="random", seed=0)
        >>> study.optimize(lambda t: 10 * t.suggest_float("a", 0, 1) + 0 * t.suggest_float("b", 0, 1),
        ...                n_trials=100, show_progress=False)
        >>> ped_anova(study)["a"] > 0.9
        True
    """
    return ped_anova_result(
        study,
        target=target,
        params=params,
        top_quantile=top_quantile,
        region_quantile=region_quantile,
        max_trials=max_trials,
        seed=seed,
    ).importances
