"""The default sampler: picks a strategy per study from the space and the budget, and records it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hyperdial.samplers.base import Proposal, Sampler
from hyperdial.samplers.gp import GPSampler
from hyperdial.samplers.tpe import TPESampler
from hyperdial.space import Distribution, SearchSpace
from hyperdial.trial import TrialState

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["AutoSampler"]


class AutoSampler(Sampler):
    """Chooses a strategy for each proposal; each trial records the one used (``sampler`` attribute).

    The rule (both strategies start from the same scrambled Sobol' points):

    * one objective, no conditional parameters, at most ``gp_max_dim`` parameters and
      fewer than ``gp_max_trials`` finished trials: Gaussian-process BO, the most
      sample-efficient choice for small budgets in low dimension;
    * otherwise (several objectives, conditional spaces, high dimension, long runs where
      a GP's cubic cost bites): multivariate TPE.

    Parameters first met while a define-by-run objective runs get a univariate TPE.

    Args:
        n_startup_trials: Quasi-random trials before any model.
        gp_max_dim: Largest space handed to the GP.
        gp_max_trials: Finished trials after which proposals switch from the GP to TPE.
    """

    name = "auto"
    joint = True

    def __init__(self, *, n_startup_trials: int = 10, gp_max_dim: int = 16, gp_max_trials: int = 200) -> None:
        self.gp_max_dim = gp_max_dim
        self.gp_max_trials = gp_max_trials
        self._tpe = TPESampler(n_startup_trials=n_startup_trials)
        self._gp = GPSampler(n_startup_trials=n_startup_trials)

    def bind(self, seed: int) -> None:
        self._tpe.bind(seed)
        self._gp.bind(seed)

    def choose(self, history: History, space: SearchSpace) -> Sampler:
        """The strategy this rule picks for the next proposal."""
        if (
            history.n_objectives == 1
            and not space.conditions
            and 0 < space.dim <= self.gp_max_dim
            and history.count(TrialState.COMPLETE) < self.gp_max_trials
        ):
            return self._gp
        return self._tpe

    def sample(self, history: History, space: SearchSpace, rng: np.random.Generator) -> dict[str, Any] | Proposal:
        return self.choose(history, space).sample(history, space, rng)

    def sample_one(self, history: History, name: str, dist: Distribution, rng: np.random.Generator) -> Any:
        return self._tpe.sample_one(history, name, dist, rng)

    def __repr__(self) -> str:
        return f"AutoSampler(gp_max_dim={self.gp_max_dim}, gp_max_trials={self.gp_max_trials})"
