"""hyperdial through its declared-space ask/tell API, one optimizer per registered sampler.

Samplers are discovered from ``hyperdial.samplers.SAMPLERS``, so a sampler registered
there appears in the benchmark without touching this file. Aliases (``qmc`` is Sobol)
are left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from benchmarks.optimizers.base import AskTellOptimizer
from benchmarks.problems.base import Problem
from benchmarks.space import Space

__all__ = ["ALIASES", "HyperdialOptimizer", "hyperdial_sampler_names"]

#: registry names that only repeat another entry
ALIASES = {"qmc"}
#: grid search is run only up to this many parameters (beyond it a grid of 2 points per axis
#: already exceeds every budget and visits only the box's corners)
GRID_MAX_DIM = 5


def hyperdial_sampler_names() -> list[str]:
    """Every sampler name hyperdial registers, aliases removed."""
    from hyperdial.samplers import SAMPLERS

    return [name for name in SAMPLERS if name not in ALIASES]


class HyperdialOptimizer(AskTellOptimizer):
    """``hyperdial.create_study(space=..., sampler=name, seed=seed)`` with ``ask`` / ``tell``.

    Args:
        sampler: A name from ``hyperdial.samplers.SAMPLERS``.
        options: Keyword options for the sampler factory.
    """

    library = "hyperdial"
    requires = ("hyperdial",)

    def __init__(self, sampler: str, **options: Any) -> None:
        self.sampler = sampler
        self.options = options
        self.name = f"hyperdial-{sampler}"
        self._study: Any = None
        self._trial: Any = None

    def skip_reason(self, problem: Problem, budget: int) -> str | None:
        if self.sampler == "grid" and problem.dim > GRID_MAX_DIM:
            return f"grid search is run on spaces of <= {GRID_MAX_DIM} parameters only"
        return None

    def _make_sampler(self, space: Space, budget: int) -> Any:
        from hyperdial.samplers import get_sampler

        options = dict(self.options)
        if self.sampler == "grid":
            # As many points per axis as make the grid at least `budget` cells; visit them shuffled
            # so that a budget smaller than the grid still spreads over the whole box.
            n_cont = sum(1 for n in space.names if type(space.by_name[n]).__name__ == "FloatParam") or 1
            options.setdefault("points", max(2, math.ceil(budget ** (1.0 / n_cont))))
            options.setdefault("shuffle", True)
        return get_sampler(self.sampler, **options)

    def start(self, space: Space, budget: int, seed: int) -> None:
        import hyperdial

        self._study = hyperdial.create_study(
            space=space.to_hyperdial(), sampler=self._make_sampler(space, budget), seed=seed
        )
        self._trial = None

    def suggest(self) -> dict[str, Any]:
        from hyperdial import SearchSpaceExhausted

        try:
            self._trial = self._study.ask()
        except SearchSpaceExhausted:
            raise StopIteration from None
        return dict(self._trial.params)

    def observe(self, config: Mapping[str, Any], loss: float) -> None:
        self._study.tell(self._trial, loss)
