"""CMA-ES (Hansen 2016, "The CMA Evolution Strategy: a tutorial") through the ``cmaes`` package.

The optimiser runs on the unit cube of the numeric, unconditional parameters. Integers
and stepped floats use CMA-ES with margin (Hamano et al. 2022, ``cmaes.CMAwM``), which
keeps the search from collapsing onto one value of a discrete parameter. When a run
stalls it restarts with a doubled population (IPOP-CMA-ES, Auger & Hansen 2005).

The optimiser's state is a pure function of the stored trials: every proposal records
its generation, its slot in the generation and the vector the optimiser must be told,
so a resumed study (in any process) replays the told generations and continues exactly
where it stopped; in one process the replay is incremental. Parameters CMA-ES cannot
model (categorical and conditional ones, or a single numeric one) are drawn by
``fallback`` and a warning names them.
"""

from __future__ import annotations

import warnings
import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from hyperdial._imports import require
from hyperdial.samplers.base import Proposal, Sampler
from hyperdial.samplers.random import RandomSampler
from hyperdial.space import Categorical, Distribution, SearchSpace
from hyperdial.trial import TrialState

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["CmaEsSampler"]


def _fingerprint(space: SearchSpace) -> str:
    """A short name for a space, so trials from another (inferred) space are not told to this run."""
    return format(zlib.crc32(repr(space.to_dict()).encode()), "08x")


class _Run:
    """The replayed optimiser of one study: which generation it is in, and what it was told."""

    def __init__(self, optimizer: Any, restart: int, popsize: int) -> None:
        self.optimizer = optimizer
        self.restart = restart
        self.popsize = popsize
        self.generation = 0  # generations told in this restart
        self.scanned = 0  # trials looked at so far
        self.by_gen: dict[tuple[int, int], dict[int, int]] = {}  # (restart, gen) -> slot -> trial number


class CmaEsSampler(Sampler):
    """CMA-ES over the numeric parameters of a declared or inferred space.

    Args:
        sigma0: Initial step size on the unit cube (default 1/6: the cube spans about 6 sigma).
        popsize: Population of the first run (default ``4 + 3 ln d``).
        restarts: ``"ipop"`` to restart with ``inc_popsize`` times the population when the run
            stalls, or ``None`` to keep the first run.
        inc_popsize: Population growth factor between restarts.
        with_margin: Use CMA-ES with margin for integer and stepped parameters.
        fallback: The sampler for parameters CMA-ES does not model (default: random).

    Example:
        >>> import hyperdial
        >>> study = hyperdial.create_study(sampler=CmaEsSampler(), seed=0)
        >>> f = lambda t: sum((t.suggest_float(f"x{i}", -3, 3) - 1) ** 2 for i in range(3))
        >>> study.optimize(f, n_trials=150, show_progress=False)
        >>> study.best_value < 0.05
        True
    """

    name = "cmaes"
    joint = True

    def __init__(
        self,
        *,
        sigma0: float | None = None,
        popsize: int | None = None,
        restarts: str | None = "ipop",
        inc_popsize: int = 2,
        with_margin: bool = True,
        fallback: Sampler | None = None,
    ) -> None:
        require("cmaes", "cmaes")
        if restarts not in ("ipop", None):
            raise ValueError(f"CmaEsSampler: restarts must be 'ipop' or None, got {restarts!r}")
        if popsize is not None and (isinstance(popsize, bool) or not isinstance(popsize, int) or popsize < 2):
            raise ValueError(f"CmaEsSampler: popsize must be an integer >= 2, got {popsize!r}")
        if sigma0 is not None and not 0 < sigma0 <= 1:
            raise ValueError(f"CmaEsSampler: sigma0 is on the unit cube and must be in (0, 1], got {sigma0!r}")
        if isinstance(inc_popsize, bool) or not isinstance(inc_popsize, int) or inc_popsize < 1:
            raise ValueError(f"CmaEsSampler: inc_popsize must be an integer >= 1, got {inc_popsize!r}")
        self.sigma0 = sigma0
        self.popsize = popsize
        self.restarts = restarts
        self.inc_popsize = inc_popsize
        self.with_margin = with_margin
        self.fallback = fallback or RandomSampler()
        self._seed = 0
        self._runs: dict[tuple[int, str], _Run] = {}  # (id(history), space fingerprint) -> run
        self._warned: set[str] = set()

    def bind(self, seed: int) -> None:
        self._seed = seed
        self._runs.clear()
        self.fallback.bind(seed)

    # -- which parameters CMA-ES models --------------------------------------------------------
    @staticmethod
    def _modelled(space: SearchSpace) -> list[int]:
        return [
            i
            for i, n in enumerate(space.names)
            if not isinstance(space.dists[n], Categorical) and n not in space.conditions and space.dists[n].size > 1
        ]

    def _new_optimizer(self, space: SearchSpace, dims: list[int], restart: int, popsize: int | None) -> Any:
        cmaes = require("cmaes", "cmaes")
        d = len(dims)
        rng = np.random.default_rng([self._seed, restart, 7919])
        mean = np.full(d, 0.5) if restart == 0 else rng.uniform(0.2, 0.8, d)
        sigma = self.sigma0 if self.sigma0 is not None else 1.0 / 6.0
        seed = int(rng.integers(2**31 - 1))
        cells = np.array([space.dists[space.names[i]].size for i in dims], dtype=float)
        discrete = np.isfinite(cells)
        if self.with_margin and discrete.any():
            k = np.where(discrete, cells, 1.0)
            bounds = np.column_stack([np.where(discrete, 0.5 / k, 0.0), np.where(discrete, 1 - 0.5 / k, 1.0)])
            steps = np.where(discrete, 1.0 / k, 0.0)
            return cmaes.CMAwM(
                mean=mean.clip(bounds[:, 0], bounds[:, 1]),
                sigma=sigma,
                bounds=bounds,
                steps=steps,
                seed=seed,
                population_size=popsize,
            )
        bounds = np.column_stack([np.zeros(d), np.ones(d)])
        return cmaes.CMA(mean=mean, sigma=sigma, bounds=bounds, seed=seed, population_size=popsize)

    def _replay(self, history: History, space: SearchSpace, dims: list[int]) -> _Run:
        """Bring the optimiser up to date with the stored trials (incrementally)."""
        fingerprint = _fingerprint(space)
        key = (id(history), fingerprint)
        run = self._runs.get(key)
        if run is None:
            opt = self._new_optimizer(space, dims, 0, self.popsize)
            run = self._runs[key] = _Run(opt, 0, opt.population_size)
        for t in history.trials[run.scanned :]:
            sa = t._system
            if sa and "cma_gen" in sa and sa.get("cma_space") == fingerprint:
                run.by_gen.setdefault((sa["cma_restart"], sa["cma_gen"]), {})[sa["cma_slot"]] = t.number
        run.scanned = len(history.trials)
        while True:
            slots = run.by_gen.get((run.restart, run.generation), {})
            done = sorted(n for n in slots.values() if history.trials[n].state == TrialState.COMPLETE)
            if len(done) < run.popsize:
                return run
            told = [
                (np.asarray(history.trials[n]._system["cma_x"], dtype=float), float(history.losses([n])[0, 0]))
                for n in done[: run.popsize]
            ]
            run.optimizer.tell(told)
            run.generation += 1
            if self.restarts == "ipop" and run.optimizer.should_stop():
                popsize = run.popsize * self.inc_popsize
                opt = self._new_optimizer(space, dims, run.restart + 1, popsize)
                run.optimizer, run.restart, run.popsize, run.generation = opt, run.restart + 1, popsize, 0

    # -- proposals --------------------------------------------------------------------------------
    def sample(self, history: History, space: SearchSpace, rng: np.random.Generator) -> dict[str, Any] | Proposal:
        if history.n_objectives != 1:
            raise ValueError("CmaEsSampler supports one objective; use TPE or NSGA-II for several")
        dims = self._modelled(space)
        if len(dims) < 2:
            self._warn(space, dims, "CMA-ES needs at least two numeric parameters")
            return self.fallback.sample(history, space, rng)
        others = [space.names[i] for i in range(space.dim) if i not in dims]
        if others:
            self._warn(space, dims, "")
        run = self._replay(history, space, dims)
        used = run.by_gen.get((run.restart, run.generation), {})
        slot = 0
        while slot in used:
            slot += 1
        opt = run.optimizer
        opt.reseed_rng(int(np.random.default_rng([self._seed, run.restart, run.generation, slot]).integers(2**31 - 1)))
        asked = opt.ask()
        x_eval, x_tell = asked if isinstance(asked, tuple) else (asked, asked)
        u = rng.random(space.dim)  # the fallback's coordinates for the parameters CMA-ES leaves out
        if others:
            fb = self.fallback.sample(history, space, rng)
            encoded = space.encode(fb.params if isinstance(fb, Proposal) else fb)
            u = np.where(np.isnan(encoded), u, encoded)
        u[dims] = np.clip(x_eval, 0.0, 1.0)
        attrs = {
            "sampler": "cmaes",
            "cma_restart": run.restart,
            "cma_gen": run.generation,
            "cma_slot": slot,
            "cma_space": _fingerprint(space),
            "cma_x": [float(v) for v in x_tell],
        }
        return Proposal(space.decode(u), attrs, f"cma:{attrs['cma_space']}:{run.restart}:{run.generation}:{slot}")

    def _warn(self, space: SearchSpace, dims: list[int], why: str) -> None:
        left = tuple(n for i, n in enumerate(space.names) if i not in dims)
        key = repr(left)
        if key in self._warned or not left:
            return
        self._warned.add(key)
        reason = why or "CMA-ES models only unconditional numeric parameters"
        warnings.warn(
            f"{reason}; {list(left)} are drawn by {self.fallback!r} instead "
            "(pass fallback=TPESampler(multivariate=False) for a model-based fallback)",
            stacklevel=4,
        )

    def sample_one(self, history: History, name: str, dist: Distribution, rng: np.random.Generator) -> Any:
        return self.fallback.sample_one(history, name, dist, rng)

    def __repr__(self) -> str:
        return f"CmaEsSampler(restarts={self.restarts!r}, with_margin={self.with_margin})"
