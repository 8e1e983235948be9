"""Coarse-to-fine search: a quasi-random pass over the whole space, then zooming in round by round.

Round 0 spreads ``round_size`` scrambled Sobol' points over the whole unit cube. Each later
round takes the ``top_k`` best finished trials so far, draws the box that holds them (on the
unit cube, so log scales zoom in log space), widens it by ``margin`` of its width, never lets it
be smaller than ``min_width``, and fills it with a fresh Sobol' pass. Categorical (and other
unordered) parameters are fixed to the best trial's value in the fine rounds. Every trial
records its round and its round's box in native units (``c2f_round``, ``c2f_box``), so a user
sees how the search narrowed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hyperdial.samplers.base import Proposal, Sampler
from hyperdial.samplers.qmc import QMCSampler
from hyperdial.space import Categorical, Distribution, SearchSpace
from hyperdial.trial import TrialState

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["CoarseToFineSampler"]


class CoarseToFineSampler(Sampler):
    """Coarse pass, then automatic zoom into the region of the best configurations.

    Args:
        round_size: Trials per round.
        top_k: Best trials that define the next round's box.
        margin: Widen the box by this fraction of its width on each side.
        min_width: Smallest box width on the unit cube (keeps fine rounds from collapsing).

    Example:
        >>> import hyperdial
        >>> from hyperdial import Float, SearchSpace
        >>> space = SearchSpace({"x": Float(-5, 5), "y": Float(1e-3, 1e3, log=True)})
        >>> study = hyperdial.create_study(sampler=CoarseToFineSampler(round_size=10), space=space, seed=0)
        >>> study.optimize(lambda t: (t.params["x"] - 1) ** 2 + abs(t.params["y"] - 1), n_trials=40,
        ...                show_progress=False)
        >>> study.best_value < 0.5
        True
    """

    name = "coarse_to_fine"
    joint = True

    def __init__(self, *, round_size: int = 16, top_k: int = 4, margin: float = 0.25, min_width: float = 0.02) -> None:
        for label, v, lo in (("round_size", round_size, 2), ("top_k", top_k, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"CoarseToFineSampler: {label} must be an integer >= {lo}, got {v!r}")
        if not 0 <= margin <= 2:
            raise ValueError(f"CoarseToFineSampler: margin must be in [0, 2], got {margin!r}")
        if not 0 < min_width <= 1:
            raise ValueError(f"CoarseToFineSampler: min_width must be in (0, 1], got {min_width!r}")
        self.round_size, self.top_k, self.margin, self.min_width = round_size, top_k, margin, min_width
        self._qmc = QMCSampler("sobol")
        self._boxes: dict[tuple[int, str, int], tuple[np.ndarray, np.ndarray, dict[int, float]]] = {}

    def bind(self, seed: int) -> None:
        self._qmc.bind(seed)
        self._boxes.clear()

    def _box(self, history: History, space: SearchSpace, rnd: int) -> tuple[np.ndarray, np.ndarray, dict[int, float]]:
        """(low, high, fixed unordered dims) of round ``rnd`` on the unit cube, from the trials of earlier rounds."""
        key = (id(history), repr(space.to_dict()), rnd)
        hit = self._boxes.get(key)
        if hit is not None:
            return hit
        d = space.dim
        lo, hi, fixed = np.zeros(d), np.ones(d), {}
        done = [
            n
            for n in history.numbers(TrialState.COMPLETE)
            if (history.trials[n]._system or {}).get("c2f_round", 0) < rnd
        ]
        if rnd > 0 and done:
            losses = history.losses(np.array(done))[:, 0]
            order = np.argsort(losses, kind="stable")
            best = np.array(done)[order[: self.top_k]]
            U = history.matrix(space, best)
            for j, name in enumerate(space.names):
                col = U[:, j]
                col = col[~np.isnan(col)]
                if not len(col):
                    continue
                if isinstance(space.dists[name], Categorical):
                    fixed[j] = float(col[0])  # the best trial's value
                    continue
                a, b = float(col.min()), float(col.max())
                width = max(b - a, self.min_width)
                mid = (a + b) / 2
                a, b = mid - width / 2 * (1 + 2 * self.margin), mid + width / 2 * (1 + 2 * self.margin)
                shift = max(0.0, -a) - max(0.0, b - 1.0)  # slide back inside the cube
                lo[j], hi[j] = max(0.0, a + shift), min(1.0, b + shift)
        out = (lo, hi, fixed)
        if len(self._boxes) > 64:
            self._boxes.clear()
        self._boxes[key] = out
        return out

    def sample(self, history: History, space: SearchSpace, rng: np.random.Generator) -> Proposal:
        if history.n_objectives != 1:
            raise ValueError("CoarseToFineSampler ranks by one objective")
        mine = sum(1 for t in history.trials if t._system and "c2f_round" in t._system)
        rnd = mine // self.round_size
        lo, hi, fixed = self._box(history, space, rnd)
        index = mine % self.round_size
        point = self._qmc.point(space.dim, rnd * self.round_size + index) if space.dim else np.empty(0)
        u = lo + point * (hi - lo)
        for j, v in fixed.items():
            u[j] = v
        box = {}
        for j, name in enumerate(space.names):
            dist = space.dists[name]
            if j in fixed:
                box[name] = [dist.from_unit(fixed[j])]
            elif not isinstance(dist, Categorical):
                box[name] = [dist.from_unit(float(lo[j])), dist.from_unit(float(hi[j]))]
        attrs = {"sampler": self.name, "c2f_round": rnd, "c2f_box": box}
        return Proposal(space.decode(u), attrs, f"c2f:{rnd}:{index}")

    def sample_one(self, history: History, name: str, dist: Distribution, rng: np.random.Generator) -> Any:
        return dist.from_unit(rng.random())

    def __repr__(self) -> str:
        return f"CoarseToFineSampler(round_size={self.round_size}, top_k={self.top_k})"
