"""Successive halving (asynchronous: ASHA, Li et al. 2020) and Hyperband (Li et al. 2018).

Resources are the ``step`` values a trial reports: epochs, boosting rounds, folds, or a
fraction of the data expressed as an integer (report at ``step=n_rows_used`` or at a
percentage, ``step=25`` for a quarter). ``min_resource`` / ``max_resource`` are in the same
unit; with ``"auto"`` they are inferred from the reports (see :class:`HyperbandPruner`).
Rung ``k`` of a bracket with early-stopping rate ``s`` sits at
``min_resource * eta ** (s + k)``. When a trial first reports at or past a rung, it
continues only if its value there is among the best ``1/eta`` of the values every trial
reached at that rung (the first trials at a rung always go on, as in ASHA, so the study
never waits for a rung to fill).

Hyperband runs several such brackets at once; each trial is assigned one (the study
records it as the trial's ``bracket`` attribute) and the sampler learns only from the
trials of its bracket, so a bracket's short runs do not mislead another's model.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from hyperdial.pruners._curves import Curves
from hyperdial.pruners.base import Decision, Pruner
from hyperdial.trial import Direction, TrialState

if TYPE_CHECKING:
    from hyperdial.history import History
    from hyperdial.trial import FrozenTrial

__all__ = ["HyperbandPruner", "SuccessiveHalvingPruner", "hyperband_brackets"]


def _check(value: Any, name: str, low: float, kind: type = int) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int) or value < low:
        raise ValueError(f"{name} must be {'a number' if kind is float else 'an integer'} >= {low}, got {value!r}")
    return value


def _value_at(inter: dict[int, Any], resource: float) -> float | None:
    """The value a trial reported at the first step at or past ``resource`` (None if it never got there)."""
    steps = [s for s in inter if s >= resource]
    if not steps:
        return None
    v = inter[min(steps)]
    return float(v) if not isinstance(v, tuple) else float("nan")


class SuccessiveHalvingPruner(Pruner):
    """Asynchronous successive halving (ASHA).

    Args:
        min_resource: Resource of the first rung; ``"auto"``: 1 until a trial completes, then
            1/100 of the first complete trial's last step (at least 1).
        reduction_factor: ``eta``; the best ``1/eta`` of a rung go on to the next.
        min_early_stopping_rate: ``s``; rungs start at ``min_resource * eta ** s``.
        max_resource: No rung at or beyond it (``"auto"``: unlimited).
        bracket_attr: Compare only with trials whose system attribute ``bracket`` equals this
            trial's (set by :class:`HyperbandPruner`); ``None`` compares with every trial.
    """

    def __init__(
        self,
        *,
        min_resource: int | str = "auto",
        reduction_factor: int = 3,
        min_early_stopping_rate: int = 0,
        max_resource: int | str = "auto",
        bracket_attr: str | None = None,
    ) -> None:
        if min_resource != "auto":
            _check(min_resource, "min_resource", 1)
        if max_resource != "auto":
            _check(max_resource, "max_resource", 1)
        self.min_resource = min_resource
        self.reduction_factor = _check(reduction_factor, "reduction_factor", 2)
        self.min_early_stopping_rate = _check(min_early_stopping_rate, "min_early_stopping_rate", 0)
        self.max_resource = max_resource
        self.bracket_attr = bracket_attr
        self._curves = Curves()

    def resolved_min_resource(self, history: History) -> float:
        if self.min_resource != "auto":
            return float(self.min_resource)
        done = history.numbers(TrialState.COMPLETE)
        for n in done:
            last = history.trials[n].last_step
            if last is not None:
                return float(max(1, round(last / 100)))
        return 1.0

    def rungs(self, history: History) -> list[float]:
        """Resources of this pruner's rungs (up to ``max_resource``, or 40 rungs)."""
        r = self.resolved_min_resource(history)
        eta, s = self.reduction_factor, self.min_early_stopping_rate
        cap = math.inf if self.max_resource == "auto" else float(self.max_resource)
        out = []
        k = 0
        while len(out) < 40:
            res = r * eta ** (s + k)
            if res >= cap:
                break
            out.append(res)
            k += 1
        return out

    def decide(self, history: History, trial: FrozenTrial) -> Decision:
        inter = trial._inter
        step = trial.last_step
        if step is None:
            return Decision.CONTINUE
        rungs = [r for r in self.rungs(history) if r <= step]
        if not rungs:
            return Decision.CONTINUE
        rung = rungs[-1]
        # Decide once per rung: at the first report at or past it.
        earlier = [s for s in inter if s < step]
        if earlier and max(earlier) >= rung:
            return Decision.CONTINUE
        mine = _value_at(inter, rung)
        if mine is None or math.isnan(mine):
            return Decision.PRUNE if mine is not None else Decision.CONTINUE
        if history.n_objectives != 1:
            raise ValueError("SuccessiveHalvingPruner supports one objective; use PercentilePruner for several")
        curves = self._curves.update(history)
        n = len(history.trials)
        keep = np.ones(n, dtype=bool)
        if 0 <= trial.number < n:
            keep[trial.number] = False
        if self.bracket_attr:
            keep &= curves.group(self.bracket_attr) == (trial._system or {}).get(self.bracket_attr)
        losses = curves.values_at(rung, np.flatnonzero(keep))
        losses = np.append(losses[~np.isnan(losses)], mine * curves.sign)
        k = max(len(losses) // self.reduction_factor, 1)
        cut = np.partition(losses, k - 1)[k - 1]
        promoted = mine * curves.sign <= cut
        return Decision.CONTINUE if promoted else Decision.PRUNE


def hyperband_brackets(
    reduction_factor: int, max_resource: float, min_resource: float = 1.0
) -> list[tuple[int, float]]:
    """``(n_i, r_i)`` of each bracket, most aggressive first (Li et al. 2018, Algorithm 1).

    Example:
        >>> hyperband_brackets(3, 81)
        [(81, 1.0), (34, 3.0), (15, 9.0), (8, 27.0), (5, 81.0)]
    """
    eta = reduction_factor
    s_max = int(math.floor(math.log(max_resource / min_resource, eta) + 1e-9))
    out = []
    for s in range(s_max, -1, -1):
        n = int(math.ceil((s_max + 1) / (s + 1) * eta**s))
        r = max_resource * eta ** (-s)
        out.append((n, float(r)))
    return out


class HyperbandPruner(Pruner):
    """Hyperband: several successive-halving brackets at once, each trial in one of them.

    Args:
        min_resource: Smallest resource a trial gets (in reported steps). ``"auto"``: the
            reporting granularity, i.e. the smallest step >= 1 that a COMPLETE trial reported.
        max_resource: Largest resource (the full training length). ``"auto"`` (default):
            the last step of the longest COMPLETE trial; until a trial completes, trials get
            no bracket and run to the end, which is what measures the full length.
        reduction_factor: ``eta``.

    A trial's bracket is chosen in proportion to the bracket's share of trials in the paper's
    schedule and stored as its ``bracket`` system attribute; the sampler sees only the trials of
    that bracket.

    Example:
        >>> import hyperdial
        >>> def objective(trial):
        ...     x = trial.suggest_float("x", -3, 3)
        ...     for epoch in range(1, 28):
        ...         trial.report((x - 1) ** 2 + 1 / epoch, epoch)
        ...         if trial.should_prune():
        ...             raise hyperdial.TrialPruned
        ...     return (x - 1) ** 2
        >>> study = hyperdial.create_study(seed=0, sampler="random", pruner="hyperband")
        >>> study.optimize(objective, n_trials=30, show_progress=False)
        >>> study.pruner.resources(study.history)   # inferred from the first complete trial
        (1.0, 27.0)
    """

    def __init__(
        self, *, min_resource: int | str = "auto", max_resource: int | str = "auto", reduction_factor: int = 3
    ) -> None:
        if min_resource != "auto":
            _check(min_resource, "min_resource", 1)
        if max_resource != "auto":
            _check(max_resource, "max_resource", 1)
        if min_resource != "auto" and max_resource != "auto" and max_resource < min_resource:
            raise ValueError(f"max_resource={max_resource} must be >= min_resource={min_resource}")
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.reduction_factor = _check(reduction_factor, "reduction_factor", 2)
        self._setups: dict[tuple[float, float], tuple[list[tuple[int, float]], list[SuccessiveHalvingPruner], Any]] = {}
        self._views: dict[tuple[int, int, Any], Any] = {}
        self._curves = Curves()

    def resources(self, history: History) -> tuple[float, float] | None:
        """``(min_resource, max_resource)``, given or inferred from the history (``None``: not known yet)."""
        lo = None if self.min_resource == "auto" else float(self.min_resource)
        hi = None if self.max_resource == "auto" else float(self.max_resource)
        if lo is None or hi is None:
            done = history.numbers(TrialState.COMPLETE)
            lasts = [history.trials[n].last_step for n in done]
            lasts = [s for s in lasts if s is not None and s >= 1]
            if not lasts:
                return None
            if hi is None:
                hi = float(max(lasts))
            if lo is None:
                firsts = [
                    min(s for s in history.trials[n]._inter if s >= 1) for n in done if history.trials[n].last_step
                ]
                lo = float(min(firsts)) if firsts else 1.0
        if hi < lo:
            return None
        return lo, hi

    def _setup(self, history: History) -> tuple[list[tuple[int, float]], list[SuccessiveHalvingPruner], Any] | None:
        res = self.resources(history)
        if res is None:
            return None
        hit = self._setups.get(res)
        if hit is None:
            lo, hi = res
            eta = self.reduction_factor
            brackets = hyperband_brackets(eta, hi, lo)
            # Bracket i (most aggressive first) starts at r_i = min_resource * eta ** i.
            pruners = [
                SuccessiveHalvingPruner(
                    min_resource=int(lo),
                    reduction_factor=eta,
                    min_early_stopping_rate=i,
                    max_resource=int(hi),
                    bracket_attr="bracket",
                )
                for i in range(len(brackets))
            ]
            for p in pruners:
                p._curves = self._curves  # one matrix of intermediate values for every bracket
            weights = np.array([n for n, _ in brackets], dtype=float)
            hit = self._setups[res] = (brackets, pruners, np.cumsum(weights) / weights.sum())
        return hit

    def brackets(self, history: History | None = None) -> list[tuple[int, float]]:
        """``(n_i, r_i)`` of each bracket (see :func:`hyperband_brackets`); empty while resources are unknown."""
        if history is None:
            from hyperdial.history import History as _History

            history = _History([Direction.MINIMIZE])
        setup = self._setup(history)
        return [] if setup is None else list(setup[0])

    def assign(self, history: History, number: int) -> dict[str, Any]:
        setup = self._setup(history)
        if setup is None:
            return {}
        # A fixed low-discrepancy position per trial number: the brackets fill in proportion.
        u = (number * 0.6180339887498949) % 1.0
        return {"bracket": int(np.searchsorted(setup[2], u, side="right"))}

    def decide(self, history: History, trial: FrozenTrial) -> Decision:
        bracket = (trial._system or {}).get("bracket")
        if bracket is None:
            return Decision.CONTINUE  # started before the resources were known: it measures the full length
        setup = self._setup(history)
        if setup is None:
            return Decision.CONTINUE
        pruners = setup[1]
        return pruners[min(int(bracket), len(pruners) - 1)].decide(history, trial)

    def sampler_view(self, history: History, attrs: dict[str, Any]) -> History:
        bracket = attrs.get("bracket")
        if bracket is None:
            return history
        key = (id(history), history.version, bracket)
        view = self._views.get(key)
        if view is None:
            numbers = [t.number for t in history.trials if (t._system or {}).get("bracket") == bracket]
            view = history.subset(numbers)
            self._views = {key: view}
        return view
