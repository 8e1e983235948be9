"""Median and percentile pruning (the rule of Google Vizier's median stopping, Golovin et al. 2017)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from hyperdial.pruners._curves import Curves
from hyperdial.pruners.base import Decision, Pruner
from hyperdial.trial import TrialState

if TYPE_CHECKING:
    from hyperdial.history import History
    from hyperdial.trial import FrozenTrial

__all__ = ["MedianPruner", "PercentilePruner"]


def _percentile(x: np.ndarray, q: float) -> float:
    """``np.percentile(x, q)`` (linear interpolation) via a partial sort: a fraction of its cost on small arrays."""
    pos = (len(x) - 1) * q / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(x) - 1)
    part = np.partition(x, (lo, hi))
    return float(part[lo] + (part[hi] - part[lo]) * (pos - lo))


class PercentilePruner(Pruner):
    """Prune a trial whose best intermediate value so far is worse than the given percentile
    of the other trials' values at the same step.

    Args:
        percentile: 0..100; 50 is the median rule. Lower prunes more.
        n_startup_trials: Never prune before this many trials have finished.
        n_warmup_steps: Never prune at steps below this.
        interval_steps: Decide only every this many steps after the warm-up.
        n_min_trials: Need at least this many other trials that reported the step.

    With several objectives, a trial is pruned when more than ``percentile`` % of the other
    trials that reported the same step dominate its intermediate vector there (better or
    equal on every objective, better on one).
    """

    def __init__(
        self,
        percentile: float = 25.0,
        *,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
    ) -> None:
        if not 0.0 <= percentile <= 100.0:
            raise ValueError(f"percentile must be in [0, 100], got {percentile}")
        for label, v, lo in (
            ("n_startup_trials", n_startup_trials, 0),
            ("n_warmup_steps", n_warmup_steps, 0),
            ("interval_steps", interval_steps, 1),
            ("n_min_trials", n_min_trials, 1),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{label} must be an integer >= {lo}, got {v!r}")
        self.percentile = float(percentile)
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps
        self.interval_steps = interval_steps
        self.n_min_trials = n_min_trials
        self._curves = Curves()

    def decide(self, history: History, trial: FrozenTrial) -> Decision:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return Decision.CONTINUE
        if (step - self.n_warmup_steps) % self.interval_steps:
            return Decision.CONTINUE
        finished = history.numbers(TrialState.COMPLETE, TrialState.PRUNED)
        if len(finished) < self.n_startup_trials:
            return Decision.CONTINUE
        if history.n_objectives != 1:
            return self._decide_dominance(history, trial, step, finished)
        curves = self._curves.update(history)
        j = curves.column_at_or_after(step)
        if j >= len(curves.steps) or curves.steps[j] != step:
            return Decision.CONTINUE
        rows = finished[~np.isnan(curves.V[finished, j])]
        if len(rows) < self.n_min_trials:
            return Decision.CONTINUE
        others = curves.C[rows, j]  # each peer's best loss up to this step
        mine = [v for v in trial._inter.values() if math.isfinite(v)]
        if not mine:
            return Decision.PRUNE
        best = min(mine) * curves.sign if curves.sign > 0 else -max(mine)
        cut = _percentile(others, self.percentile)
        worse = best > cut
        return Decision.PRUNE if worse else Decision.CONTINUE

    def _decide_dominance(self, history: History, trial: FrozenTrial, step: int, finished: np.ndarray) -> Decision:
        sign = history.sign
        peers = []
        for n in finished:
            v = (history.trials[n]._inter or {}).get(step)
            if isinstance(v, tuple) and all(np.isfinite(v)):
                peers.append(np.asarray(v) * sign)
        if len(peers) < self.n_min_trials:
            return Decision.CONTINUE
        mine = trial._inter[step]
        if not isinstance(mine, tuple) or not all(np.isfinite(mine)):
            return Decision.PRUNE
        me = np.asarray(mine) * sign
        P = np.array(peers)
        dominated_by = np.all(me >= P, axis=1) & np.any(me > P, axis=1)
        return Decision.PRUNE if dominated_by.mean() > self.percentile / 100.0 else Decision.CONTINUE


class MedianPruner(PercentilePruner):
    """:class:`PercentilePruner` at the 50th percentile."""

    def __init__(
        self, *, n_startup_trials: int = 5, n_warmup_steps: int = 0, interval_steps: int = 1, n_min_trials: int = 1
    ) -> None:
        super().__init__(
            50.0,
            n_startup_trials=n_startup_trials,
            n_warmup_steps=n_warmup_steps,
            interval_steps=interval_steps,
            n_min_trials=n_min_trials,
        )
