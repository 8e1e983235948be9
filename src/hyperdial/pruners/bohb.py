"""BOHB: Hyperband's brackets with model-based proposals per budget (Falkner et al. 2018).

Falkner, Klein and Hutter, "BOHB: Robust and Efficient Hyperparameter Optimization at
Scale", ICML 2018. Trials are stopped exactly as by :class:`HyperbandPruner`; what changes
is what the sampler learns from (Algorithm 2 of the paper):

* a fraction ``random_fraction`` (the paper's rho = 1/3) of the trials are proposed at
  random, which keeps Hyperband's guarantees: the sampler sees an empty history;
* otherwise the sampler sees every trial that reached the *largest budget* ``b`` with at
  least ``min_points_in_model + 2`` observations (the paper's ``N_min + 2``, with
  ``N_min = d + 1`` for ``d`` parameters), each shown as COMPLETE with the value it had at
  ``b``, from every bracket; trials still running below ``b`` are shown as running, so a
  sampler that keeps pending points apart (TPE's constant liar) does.

The model itself is the study's sampler: with ``sampler="tpe"`` this is the paper's
TPE-style KDE (good/bad split, ``l(x) / g(x)``); with the default sampler it is a GP for
small spaces. The sampler never knows it runs under BOHB: the study applies
:meth:`sampler_view`, as for any pruner.

Example:
    >>> import hyperdial
    >>> def objective(trial):
    ...     x = trial.suggest_float("x", -3, 3)
    ...     for epoch in range(1, 28):
    ...         trial.report((x - 1) ** 2 + 1 / epoch, epoch)
    ...         if trial.should_prune():
    ...             raise hyperdial.TrialPruned
    ...     return (x - 1) ** 2
    >>> study = hyperdial.create_study(seed=0, sampler="tpe", pruner="bohb")
    >>> study.optimize(objective, n_trials=60, show_progress=False)
    >>> study.best_value < 0.05
    True
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from hyperdial.pruners.successive_halving import HyperbandPruner, _check
from hyperdial.trial import TrialState

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["BOHBPruner", "budget_view"]

_INV_SQRT2 = 0.7071067811865476  # a second low-discrepancy sequence, independent of the bracket one


def _values_at(history: History, budget: float) -> tuple[list[int], list[float], list[int]]:
    """(numbers, values at ``budget``) of trials that reached it, and numbers of running trials below it."""
    reached: list[int] = []
    values: list[float] = []
    below: list[int] = []
    for t in history.trials:
        inter = t._inter
        if t.state == TrialState.FAILED or t.state == TrialState.WAITING:
            continue
        v = None
        if inter:
            steps = [s for s in inter if s >= budget]
            if steps:
                v = inter[min(steps)]
        if v is None or isinstance(v, tuple) or not math.isfinite(v):
            if t.state == TrialState.RUNNING and v is None:
                below.append(t.number)
            continue
        reached.append(t.number)
        values.append(float(v))
    return reached, values, below


def budget_view(history: History, budget: float) -> History:
    """The history as a model at ``budget`` sees it (same trials, same numbers).

    Trials that reached ``budget`` are COMPLETE with their value there; trials running below
    it are RUNNING without values; every other trial (stopped below the budget) is PRUNED
    without values, so models ignore it while index-claiming samplers (QMC) still see it.
    ``budget=math.inf`` hides every value: what a random proposal sees.
    """
    reached, values, below = _values_at(history, budget)
    view = history.subset(range(len(history.trials)), as_running=below)
    view._best = None
    view._intersection = None
    got = dict(zip(reached, values))
    for i, t in enumerate(view.trials):
        v = got.get(i)
        if v is not None:
            view.trials[i] = t = t._replace(state=TrialState.COMPLETE, values=(v,))
            view.Y[i] = v
            view.S[i] = int(TrialState.COMPLETE)
            view._on_complete(t)
        elif t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            view.trials[i] = t._replace(state=TrialState.PRUNED, values=None, _inter=None)
            view.Y[i] = math.nan
            view.S[i] = int(TrialState.PRUNED)
    return view


class BOHBPruner(HyperbandPruner):
    """Hyperband whose sampler learns per budget: BOHB (Falkner et al. 2018, Algorithm 2).

    Args:
        min_resource / max_resource / reduction_factor: As for :class:`HyperbandPruner`
            (``"auto"`` infers them from the reports).
        random_fraction: Share of trials proposed at random (the paper's rho, 1/3).
        min_points_in_model: Observations a budget needs before its model is used (plus 2);
            ``None``: the number of parameters + 1 (the paper's ``N_min = d + 1``).
    """

    def __init__(
        self,
        *,
        min_resource: int | str = "auto",
        max_resource: int | str = "auto",
        reduction_factor: int = 3,
        random_fraction: float = 1 / 3,
        min_points_in_model: int | None = None,
    ) -> None:
        super().__init__(min_resource=min_resource, max_resource=max_resource, reduction_factor=reduction_factor)
        if isinstance(random_fraction, bool) or not 0.0 <= float(random_fraction) <= 1.0:
            raise ValueError(f"BOHBPruner(random_fraction={random_fraction!r}): expected a fraction in [0, 1]")
        if min_points_in_model is not None:
            _check(min_points_in_model, "min_points_in_model", 1)
        self.random_fraction = float(random_fraction)
        self.min_points_in_model = min_points_in_model
        self._budget_views: dict[tuple[int, int, bool], History] = {}

    def assign(self, history: History, number: int) -> dict[str, Any]:
        attrs = dict(super().assign(history, number))
        if ((number + 1) * _INV_SQRT2) % 1.0 < self.random_fraction:
            attrs["bohb"] = "random"
        return attrs

    def budgets(self, history: History) -> list[float]:
        """Every resource at which some bracket compares trials, and the full one, ascending."""
        setup = self._setup(history)
        if setup is None:
            return []
        brackets, pruners, _ = setup
        out = {float(r) for _, r in brackets}
        for p in pruners:
            out.update(p.rungs(history))
        return sorted(out)

    def model_budget(self, history: History) -> float | None:
        """The largest budget with enough observations for a model (``None``: none yet)."""
        budgets = self.budgets(history)
        if not budgets:
            return None
        d = self.min_points_in_model
        if d is None:
            d = max(len(history.column_params), 1) + 1
        for b in reversed(budgets):
            _, values, _ = _values_at(history, b)
            if len(values) >= d + 2:
                return b
        return None

    def sampler_view(self, history: History, attrs: dict[str, Any]) -> History:
        if "bracket" not in attrs:
            return history  # resources not known yet: every trial so far runs to the end
        random = attrs.get("bohb") == "random"
        key = (id(history), history.version, random)
        view = self._budget_views.get(key)
        if view is None:
            budget = None if random else self.model_budget(history)
            view = budget_view(history, math.inf if budget is None else budget)
            self._budget_views = {key: view}
        return view
