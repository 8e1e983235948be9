"""The default sampler: picks a strategy per study from the space and records its choice."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hyperdial.samplers.base import Proposal, Sampler
from hyperdial.samplers.qmc import QMCSampler
from hyperdial.samplers.random import RandomSampler
from hyperdial.space import Distribution, SearchSpace

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["AutoSampler"]


class AutoSampler(Sampler):
    """Chooses a strategy for each proposal and records it as the trial's ``sampler`` attribute.

    Today's rule: a scrambled Sobol' sequence over a declared or inferred space (it covers
    a space more evenly than random points at the same budget), and uniform random draws
    for parameters first met while the objective runs. Model-based strategies join this
    rule as they are added; every trial records which one proposed it.
    """

    name = "auto"
    joint = True

    def __init__(self) -> None:
        self._qmc = QMCSampler("sobol")
        self._random = RandomSampler()

    def bind(self, seed: int) -> None:
        self._qmc.bind(seed)

    def sample(self, history: History, space: SearchSpace, rng: np.random.Generator) -> Proposal:
        p = self._qmc.sample(history, space, rng)
        p.attrs["sampler"] = "sobol"
        return p

    def sample_one(self, history: History, name: str, dist: Distribution, rng: np.random.Generator) -> Any:
        return self._random.sample_one(history, name, dist, rng)
