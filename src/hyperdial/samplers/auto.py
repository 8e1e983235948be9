"""The default sampler: picks a strategy per study from the space and records its choice."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hyperdial.samplers.base import Proposal, Sampler
from hyperdial.samplers.tpe import TPESampler
from hyperdial.space import Distribution, SearchSpace

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["AutoSampler"]


class AutoSampler(Sampler):
    """Chooses a strategy for each proposal and records it as the trial's ``sampler`` attribute.

    Today's rule: a scrambled Sobol' sequence for the first ``n_startup_trials`` (it covers
    a space more evenly than random points), then a multivariate TPE over the declared or
    inferred space, conditional parameters included; parameters first met while the
    objective runs get a univariate TPE. Other model-based strategies join this rule as
    they are added; every trial records which one proposed it.
    """

    name = "auto"
    joint = True

    def __init__(self, *, n_startup_trials: int = 10) -> None:
        self._tpe = TPESampler(n_startup_trials=n_startup_trials)

    def bind(self, seed: int) -> None:
        self._tpe.bind(seed)

    def sample(self, history: History, space: SearchSpace, rng: np.random.Generator) -> dict[str, Any] | Proposal:
        return self._tpe.sample(history, space, rng)

    def sample_one(self, history: History, name: str, dist: Distribution, rng: np.random.Generator) -> Any:
        return self._tpe.sample_one(history, name, dist, rng)

    def __repr__(self) -> str:
        return "AutoSampler()"
