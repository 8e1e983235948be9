"""Hyperparameter importance: which parameters the objective depends on.

* :func:`fanova`: functional ANOVA on a random forest of the history (Hutter et al., ICML 2014);
  global, model-based.
* :func:`ped_anova`: Pearson divergence of the top trials' densities (Watanabe et al., IJCAI
  2023); local to the good region, no model, fast on large studies.

Both read only the study's stored trials, take ``target=`` for multi-objective studies and
return ``{name: fraction}`` summing to 1.

Example:
    >>> import hyperdial
    >>> from hyperdial.importance import evaluate
    >>> study = hyperdial.create_study(sampler="random", seed=0)
    >>> study.optimize(lambda t: t.suggest_float("x", 0, 1) + 0 * t.suggest_int("k", 0, 3), n_trials=30,
    ...                show_progress=False)
    >>> evaluate(study, method="ped-anova").method
    'PED-ANOVA'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hyperdial.importance._common import ImportanceResult
from hyperdial.importance._fanova import fanova, fanova_result
from hyperdial.importance._ped_anova import ped_anova, ped_anova_result
from hyperdial.trial import FrozenTrial

__all__ = ["METHODS", "ImportanceResult", "evaluate", "fanova", "ped_anova"]

METHODS = ("fanova", "ped-anova")


def evaluate(
    study: Any,
    *,
    method: str = "fanova",
    target: int | Callable[[FrozenTrial], float] | None = None,
    params: Sequence[str] | None = None,
    top_quantile: float | None = None,
    seed: int = 0,
    **options: Any,
) -> ImportanceResult:
    """Importances with the method's notes (subsampling, quantile), for plots and reports.

    Args:
        method: ``"fanova"`` or ``"ped-anova"``.
        top_quantile: fANOVA: cap losses at this quantile (default: none); PED-ANOVA: the
            fraction of best trials examined (default 0.1).
        options: Passed to :func:`fanova` / :func:`ped_anova` (``n_trees``, ``max_trials``, ...).
    """
    key = str(method).lower().replace("_", "-")
    if key == "fanova":
        return fanova_result(study, target=target, params=params, top_quantile=top_quantile, seed=seed, **options)
    if key in ("ped-anova", "pedanova"):
        if top_quantile is not None:
            options["top_quantile"] = top_quantile
        return ped_anova_result(study, target=target, params=params, seed=seed, **options)
    raise ValueError(f"method={method!r} is not an importance method; use one of {list(METHODS)}")
