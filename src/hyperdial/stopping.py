"""Stopping rules for ``Study.optimize``: several may be active; the first that fires stops the loop.

Each rule looks at a :class:`LoopState` after every finished trial (and before each new
one) and returns a reason string to stop, or ``None``.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hyperdial.study import Study

__all__ = ["LoopState", "MaxTrials", "NoImprovement", "Stopper", "TargetValue", "Timeout"]


@dataclass
class LoopState:
    """What the stopping rules see: this call's counters and the study."""

    study: Study
    started_at: float = field(default_factory=time.monotonic)
    started: int = 0  # trials this call has started
    finished: int = 0  # trials this call has finished

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started_at


class Stopper(ABC):
    """A stopping rule."""

    #: Check before starting a trial (not only after finishing one).
    before_start: bool = True

    @abstractmethod
    def check(self, state: LoopState) -> str | None:
        """A reason to stop, or ``None`` to go on."""


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


class MaxTrials(Stopper):
    """Stop after this call has started ``n`` trials (each then finishes)."""

    def __init__(self, n: int) -> None:
        self.n = _positive_int(n, "n_trials")

    def check(self, state: LoopState) -> str | None:
        return f"n_trials={self.n} reached" if state.started >= self.n else None


class Timeout(Stopper):
    """Start no new trial after ``seconds`` (the running ones finish)."""

    def __init__(self, seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0 or math.isnan(seconds):
            raise ValueError(f"timeout must be a positive number of seconds, got {seconds!r}")
        self.seconds = float(seconds)

    def check(self, state: LoopState) -> str | None:
        return f"timeout={self.seconds:g}s reached" if state.elapsed >= self.seconds else None


class TargetValue(Stopper):
    """Stop once the study's best value is at least as good as ``target`` (single objective)."""

    def __init__(self, target: float) -> None:
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target):
            raise ValueError(f"target must be a finite number, got {target!r}")
        self.target = float(target)

    def check(self, state: LoopState) -> str | None:
        h = state.study.history
        if h.n_objectives != 1:
            raise ValueError("target= needs a single-objective study")
        best = h.best_trial
        if best is None:
            return None
        v = best.values[0]
        hit = v <= self.target if h.sign[0] > 0 else v >= self.target
        return f"target {self.target:g} reached (best {v:g})" if hit else None


class NoImprovement(Stopper):
    """Stop when the last ``patience`` COMPLETE trials of the study did not beat the best by ``min_delta``."""

    before_start = False

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience = _positive_int(patience, "patience")
        if self.patience < 1:
            raise ValueError("patience must be >= 1")
        self.min_delta = float(min_delta)

    def check(self, state: LoopState) -> str | None:
        from hyperdial.trial import TrialState

        h = state.study.history
        if h.n_objectives != 1:
            raise ValueError("patience= needs a single-objective study")
        done = h.numbers(TrialState.COMPLETE)
        if len(done) <= self.patience:
            return None
        losses = h.losses(done)[:, 0]
        before = losses[: -self.patience].min()
        recent = losses[-self.patience :].min()
        if recent < before - self.min_delta:
            return None
        return f"no improvement in the last {self.patience} trials"
