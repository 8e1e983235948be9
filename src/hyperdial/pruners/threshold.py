"""Simple rules: stop past a threshold, or after a run of steps without improvement."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from hyperdial.pruners.base import Decision, Pruner
from hyperdial.trial import Direction

if TYPE_CHECKING:
    from hyperdial.history import History
    from hyperdial.trial import FrozenTrial

__all__ = ["PatiencePruner", "ThresholdPruner"]


class ThresholdPruner(Pruner):
    """Prune when the latest intermediate value leaves ``[lower, upper]`` or is not finite.

    Args:
        lower / upper: Bounds (either may be ``None``).
        n_warmup_steps: Never prune before this step.
    """

    def __init__(self, *, lower: float | None = None, upper: float | None = None, n_warmup_steps: int = 0) -> None:
        if lower is None and upper is None:
            raise ValueError("ThresholdPruner needs lower=, upper= or both")
        if lower is not None and upper is not None and lower > upper:
            raise ValueError(f"lower={lower} must be <= upper={upper}")
        self.lower, self.upper, self.n_warmup_steps = lower, upper, n_warmup_steps

    def decide(self, history: History, trial: FrozenTrial) -> Decision:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return Decision.CONTINUE
        v = trial._inter[step]
        values = v if isinstance(v, tuple) else (v,)
        for x in values:
            if not math.isfinite(x):
                return Decision.PRUNE
            if (self.lower is not None and x < self.lower) or (self.upper is not None and x > self.upper):
                return Decision.PRUNE
        return Decision.CONTINUE


class PatiencePruner(Pruner):
    """Prune a trial whose value has not improved for ``patience`` steps; then ask ``wrapped`` (if any).

    Args:
        wrapped: Another pruner consulted while the trial is still improving.
        patience: Steps without improvement tolerated.
        min_delta: Improvement smaller than this does not count.
    """

    def __init__(self, wrapped: Pruner | None = None, *, patience: int = 5, min_delta: float = 0.0) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be an integer >= 1, got {patience!r}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        self.wrapped, self.patience, self.min_delta = wrapped, patience, min_delta

    def decide(self, history: History, trial: FrozenTrial) -> Decision:
        inter = trial._inter or {}
        steps = sorted(inter)
        if len(steps) > self.patience and history.n_objectives == 1:
            sign = 1.0 if history.directions[0] == Direction.MINIMIZE else -1.0
            vals = [sign * float(inter[s]) for s in steps]
            before = min(vals[: -self.patience])
            recent = min(vals[-self.patience :])
            if not recent < before - self.min_delta:
                return Decision.PRUNE
        if self.wrapped is not None:
            return self.wrapped.decide(history, trial)
        return Decision.CONTINUE

    def assign(self, history: History, number: int) -> dict:
        return self.wrapped.assign(history, number) if self.wrapped is not None else {}

    def sampler_view(self, history: History, attrs: dict) -> History:
        return self.wrapped.sampler_view(history, attrs) if self.wrapped is not None else history
