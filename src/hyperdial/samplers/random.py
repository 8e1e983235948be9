"""Uniform random search (Bergstra & Bengio 2012), log-uniform where a parameter is log-scaled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hyperdial.samplers.base import Sampler
from hyperdial.space import Distribution, SearchSpace

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["RandomSampler"]


class RandomSampler(Sampler):
    """Draws every parameter independently and uniformly in its unit-cube form.

    Example:
        >>> import hyperdial
        >>> study = hyperdial.create_study(sampler=RandomSampler(), seed=1)
        >>> study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=5, show_progress=False)
        >>> len(study.trials)
        5
    """

    name = "random"
    joint = False

    def sample(self, history: History, space: SearchSpace, rng: np.random.Generator) -> dict[str, Any]:
        return space.decode(rng.random(space.dim))

    def sample_one(self, history: History, name: str, dist: Distribution, rng: np.random.Generator) -> Any:
        return dist.from_unit(rng.random())
