"""Evolutionary samplers: a genetic algorithm and NSGA-II, and the population bookkeeping they share with DE.

Every sampler here is a pure function of the stored trials and the injected generator: a
proposal records its generation and slot (``evo_gen``, ``evo_slot``), its parents
(``evo_parents``) and, for self-adaptive DE, its control parameters (``de_F``, ``de_CR``), so
the population of any generation is rebuilt from the history alone, in any process, and a
resumed study proposes what an uninterrupted one would. Generation ``g`` holds
``population_size`` slots; a new trial takes the first free slot of the newest generation
(claimed atomically, so parallel workers never share one). Its parents are the survivors of
generation ``g - 1``, computed from the trials of earlier generations that are COMPLETE when it
is proposed: trials still running are left out, so parallel workers need not wait.

The search runs on the unit cube of ``space.encode`` / ``space.decode``: floats (log-scaled on
a log axis), ints and stepped floats are ordered, so real-coded operators apply and the space
maps a value back to its cell; categorical parameters have their own crossover and mutation
(:mod:`hyperdial.samplers._variation`). Inactive conditional parameters are filled at random
before variation and dropped again by ``decode``.

Outcome constraints (see :mod:`hyperdial.constraints`) are handled with Deb's feasibility
rules: feasible beats infeasible, two infeasible trials compare by total violation (Deb 2000);
NSGA-II uses the constrained domination of Deb et al. 2002, section VI.
"""

from __future__ import annotations

import weakref
import zlib
from abc import abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

from hyperdial.constraints import violations
from hyperdial.multi_objective import crowding_distance, non_dominated_sort
from hyperdial.samplers._variation import polynomial_mutation, random_category, sbx, uniform_crossover
from hyperdial.samplers.base import Proposal, Sampler
from hyperdial.space import Categorical, Distribution, SearchSpace
from hyperdial.trial import TrialState

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["GeneticSampler", "NSGAIISampler"]

_COMPLETE = int(TrialState.COMPLETE)


def _fingerprint(space: SearchSpace) -> str:
    return format(zlib.crc32(repr(space.to_dict()).encode()), "08x")


def _check_int(owner: str, label: str, v: Any, lo: int) -> None:
    if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < lo):
        raise ValueError(f"{owner}: {label} must be an integer >= {lo} (or None for the default), got {v!r}")


def _check_prob(owner: str, label: str, v: Any, allow_none: bool = False) -> None:
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
        raise ValueError(f"{owner}: {label} must be a probability in [0, 1], got {v!r}")


class _Lineage:
    """Which trial holds which (generation, slot) of one space, scanned incrementally."""

    def __init__(self) -> None:
        self.scanned = 0  # trials before this index are finished and recorded
        self.slots: dict[int, dict[int, int]] = {}  # generation -> slot -> trial number
        self.final: tuple[int, list[int]] | None = None  # the newest population that can no longer change


class _EvolutionSampler(Sampler):
    """Shared bookkeeping: lineage scan, generation / slot choice, population replay."""

    joint = True
    name = "evolution"
    _min_population = 2

    def __init__(self, population_size: int | None) -> None:
        owner = type(self).__name__
        _check_int(owner, "population_size", population_size, self._min_population)
        self.population_size = population_size
        self._lineages: weakref.WeakKeyDictionary[Any, dict[str, _Lineage]] = weakref.WeakKeyDictionary()

    # Caches are an optimisation: a pickled sampler (sent to a worker process) starts without them.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lineages"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lineages = weakref.WeakKeyDictionary()

    def bind(self, seed: int) -> None:
        self._lineages = weakref.WeakKeyDictionary()

    @abstractmethod
    def default_population_size(self, space: SearchSpace) -> int:
        """Implemented by each evolutionary sampler."""

    def popsize(self, space: SearchSpace) -> int:
        """The population size used on ``space``."""
        return self.population_size or self.default_population_size(space)

    # -- lineage ---------------------------------------------------------------------------------
    def _lineage(self, history: History, fp: str) -> _Lineage:
        per = self._lineages.get(history)
        if per is None:
            per = self._lineages[history] = {}
        lin = per.get(fp)
        if lin is None:
            lin = per[fp] = _Lineage()
        n = len(history.trials)
        name = self.name
        first_open = None
        for i in range(lin.scanned, n):
            t = history.trials[i]
            sa = t._system
            if sa and sa.get("evo_space") == fp and sa.get("sampler") == name:
                lin.slots.setdefault(sa["evo_gen"], {})[sa["evo_slot"]] = i
            if first_open is None and not t.state.is_finished:
                first_open = i  # its attributes may still arrive (deterministic mode): look again
        lin.scanned = n if first_open is None else first_open
        return lin

    def _population(self, history: History, space: SearchSpace, lin: _Lineage, gen: int, P: int) -> list[int]:
        """The survivors of generations ``< gen``, replayed from the last population that is final."""
        start, pop = (0, []) if lin.final is None else lin.final
        if start > gen:
            start, pop = 0, []
        final = True  # replaying from a final population (or from scratch)
        S = history.S
        for k in range(start, gen):
            slots = lin.slots.get(k, {})
            numbers = [slots[s] for s in sorted(slots)]
            children = [n for n in numbers if S[n] == _COMPLETE]
            pop = self._survive(history, space, pop, children, P)
            final = final and len(numbers) >= P and all(S[n] >= _COMPLETE for n in numbers)
            if final:
                lin.final = (k + 1, list(pop))
        return pop

    # -- proposals ---------------------------------------------------------------------------------
    def _check_history(self, history: History) -> None:
        if history.n_objectives != 1:
            raise ValueError(
                f"{type(self).__name__} optimises one objective; this study has {history.n_objectives}: "
                "use NSGAIISampler (sampler='nsga2') or TPESampler for several"
            )

    def sample(self, history: History, space: SearchSpace, rng: np.random.Generator) -> Proposal:
        self._check_history(history)
        if space.dim == 0:
            return Proposal(space.decode(np.empty(0)), {"sampler": self.name})
        fp = _fingerprint(space)
        lin = self._lineage(history, fp)
        P = self.popsize(space)
        gen = max(lin.slots) if lin.slots else 0
        taken = lin.slots.get(gen, {})
        if len(taken) >= P:
            gen, taken = gen + 1, {}
        slot = 0
        while slot in taken:
            slot += 1
        attrs: dict[str, Any] = {"sampler": self.name, "evo_space": fp, "evo_gen": gen, "evo_slot": slot}
        u = None
        if gen > 0:
            pop = self._population(history, space, lin, gen, P)
            u = self._offspring(history, space, pop, slot, rng, attrs)
        if u is None:  # generation 0, or too few survivors to recombine
            u = rng.random(space.dim)
            self._initial_attrs(attrs, rng)
        return Proposal(space.decode(u), attrs, f"{self.name}:{fp}:{gen}:{slot}")

    def _initial_attrs(self, attrs: dict[str, Any], rng: np.random.Generator) -> None:
        """Attributes of a randomly initialised individual (DE's starting control parameters)."""

    @abstractmethod
    def _survive(self, history: History, space: SearchSpace, pop: list, children: list[int], P: int) -> list:
        """Implemented by each evolutionary sampler."""

    @abstractmethod
    def _offspring(
        self, history: History, space: SearchSpace, pop: list, slot: int, rng: np.random.Generator, attrs: dict
    ) -> np.ndarray | None:
        """Implemented by each evolutionary sampler."""

    def sample_one(self, history: History, name: str, dist: Distribution, rng: np.random.Generator) -> Any:
        return dist.from_unit(rng.random())

    # -- helpers --------------------------------------------------------------------------------------
    @staticmethod
    def _layout(space: SearchSpace) -> tuple[np.ndarray, np.ndarray]:
        is_cat = np.array([isinstance(space.dists[n], Categorical) for n in space.names], dtype=bool)
        n_choices = np.array([space.dists[n].size if c else 1.0 for n, c in zip(space.names, is_cat)], dtype=float)
        return is_cat, n_choices

    @staticmethod
    def _filled(U: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Inactive (``nan``) coordinates drawn at random so operators see complete vectors."""
        missing = np.isnan(U)
        if missing.any():
            U = U.copy()
            U[missing] = rng.random(int(missing.sum()))
        return U


class GeneticSampler(_EvolutionSampler):
    """A generational genetic algorithm with elitist (mu + lambda) survival, for one objective.

    Each generation keeps the ``population_size`` best of the previous survivors and their
    children (feasible first, then by loss; infeasible by violation). A child's parents are
    chosen by binary tournament; numeric genes cross by simulated binary crossover (SBX, Deb &
    Agrawal 1995) and mutate by polynomial mutation (Deb & Goyal 1996); categorical genes cross
    uniformly and mutate by a random reset. This is the real-coded GA of Deb et al. 2002's
    NSGA-II with a single objective.

    Args:
        population_size: Individuals per generation (default ``min(50, max(10, 4 * dim))``).
        crossover_prob: Probability that a child is a crossover of two parents (else a copy of one).
        mutation_prob: Per-gene mutation probability (default ``1 / dim``).
        eta_crossover: SBX distribution index (larger: children closer to their parents).
        eta_mutation: Polynomial mutation distribution index.

    Example:
        >>> import hyperdial
        >>> from hyperdial import Float, SearchSpace
        >>> space = SearchSpace({"x": Float(-5, 5), "y": Float(-5, 5)})
        >>> study = hyperdial.create_study(sampler=GeneticSampler(population_size=10), space=space, seed=0)
        >>> study.optimize(lambda t: t.params["x"] ** 2 + t.params["y"] ** 2, n_trials=100, show_progress=False)
        >>> study.best_value < 0.5
        True
    """

    name = "ga"

    def __init__(
        self,
        *,
        population_size: int | None = None,
        crossover_prob: float = 0.9,
        mutation_prob: float | None = None,
        eta_crossover: float = 15.0,
        eta_mutation: float = 20.0,
    ) -> None:
        super().__init__(population_size)
        owner = type(self).__name__
        _check_prob(owner, "crossover_prob", crossover_prob)
        _check_prob(owner, "mutation_prob", mutation_prob, allow_none=True)
        for label, v in (("eta_crossover", eta_crossover), ("eta_mutation", eta_mutation)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1000:
                raise ValueError(f"{owner}: {label} must be a number in [0, 1000], got {v!r}")
        self.crossover_prob = float(crossover_prob)
        self.mutation_prob = mutation_prob
        self.eta_crossover = float(eta_crossover)
        self.eta_mutation = float(eta_mutation)

    def default_population_size(self, space: SearchSpace) -> int:
        return int(min(50, max(10, 4 * space.dim)))

    # -- ranking: lower score is better ---------------------------------------------------------------
    def _scores(self, history: History, numbers: np.ndarray) -> np.ndarray:
        """Position of each trial in the feasibility-then-loss order (0 = best)."""
        loss = history.losses(numbers)[:, 0]
        v = violations(history, numbers)
        order = np.lexsort((numbers, loss, v))
        score = np.empty(len(numbers))
        score[order] = np.arange(len(numbers))
        return score

    def _survive(self, history: History, space: SearchSpace, pop: list, children: list[int], P: int) -> list:
        pool = np.array(sorted(set(pop) | set(children)), dtype=np.int64)
        if len(pool) <= P:
            return pool.tolist()
        score = self._scores(history, pool)
        return pool[np.argsort(score, kind="stable")[:P]].tolist()

    def _tournament(self, score: np.ndarray, rng: np.random.Generator) -> int:
        a, b = rng.integers(len(score), size=2)
        return int(a if score[a] <= score[b] else b)

    def _offspring(
        self, history: History, space: SearchSpace, pop: list, slot: int, rng: np.random.Generator, attrs: dict
    ) -> np.ndarray | None:
        if len(pop) < 2:
            return None
        members = np.asarray(pop, dtype=np.int64)
        score = self._scores(history, members)
        i = self._tournament(score, rng)
        j = self._tournament(score, rng)
        if j == i:  # two distinct parents whenever the population allows
            j = (i + 1 + int(rng.integers(len(members) - 1))) % len(members)
        U = self._filled(history.matrix(space, members[[i, j]]), rng)
        return self._vary(U[0], U[1], space, rng, attrs, [int(members[i]), int(members[j])])

    def _vary(
        self, x1: np.ndarray, x2: np.ndarray, space: SearchSpace, rng: np.random.Generator, attrs: dict, parents: list
    ) -> np.ndarray:
        is_cat, n_choices = self._layout(space)
        num = ~is_cat
        d = space.dim
        pm = self.mutation_prob if self.mutation_prob is not None else 1.0 / d
        child = x1.copy()
        if rng.random() < self.crossover_prob:
            if num.any():
                child[num] = sbx(x1[num], x2[num], self.eta_crossover, rng)
            if is_cat.any():
                child[is_cat] = uniform_crossover(x1[is_cat], x2[is_cat], rng)
        if num.any():
            genes = np.flatnonzero(num)
            hit = genes[rng.random(len(genes)) < pm]
            if len(hit):
                before = child[hit].copy()
                child[hit] = polynomial_mutation(child[hit], self.eta_mutation, 1.0, rng)
                self._step_discrete(space, hit, before, child, rng)
        if is_cat.any():
            cat = np.flatnonzero(is_cat)
            hit = rng.random(len(cat)) < pm
            if hit.any():
                child[cat[hit]] = random_category(n_choices[cat[hit]], rng)
        attrs["evo_parents"] = parents
        return child

    @staticmethod
    def _step_discrete(
        space: SearchSpace, genes: np.ndarray, before: np.ndarray, child: np.ndarray, rng: np.random.Generator
    ) -> None:
        """A mutated int / stepped gene that stayed in its cell moves to a neighbouring cell.

        Polynomial mutation's steps are small next to the cells of a parameter with few values,
        so without this a mutation of ``Int(1, 4)`` would almost never change it.
        """
        for g, b in zip(genes.tolist(), before.tolist()):
            dist = space.dists[space.names[g]]
            size = dist.size
            if not np.isfinite(size) or size < 2:
                continue
            value = dist.from_unit(b)
            if dist.from_unit(float(child[g])) != value:
                continue
            step = getattr(dist, "step", None) or 1  # log ints move by one
            move = step if rng.random() < 0.5 else -step
            if not dist.low <= value + move <= dist.high:
                move = -move
            child[g] = dist.to_unit(value + move)

    def __repr__(self) -> str:
        return f"GeneticSampler(population_size={self.population_size})"


class NSGAIISampler(GeneticSampler):
    """NSGA-II (Deb, Pratap, Agarwal & Meyarivan 2002, IEEE TEVC 6(2)) for one or several objectives.

    Survival: the previous survivors and their children are sorted into non-dominated fronts
    (fast non-dominated sort, section III-A), fronts fill the next population in order and the
    last one that fits only partly is cut by crowding distance (section III-B, III-C). Parents
    are chosen by binary tournament on (front, crowding distance). Variation as in
    :class:`GeneticSampler`: SBX and polynomial mutation on numeric genes, uniform crossover and
    random reset on categorical ones. With outcome constraints, constrained domination
    (section VI): a feasible trial dominates an infeasible one, and of two infeasible trials the
    smaller total violation dominates.

    Args:
        population_size: Individuals per generation (default 50, as Optuna and Deb et al.).
        crossover_prob, mutation_prob, eta_crossover, eta_mutation: As in :class:`GeneticSampler`.

    Example:
        >>> import hyperdial
        >>> from hyperdial import Float, SearchSpace
        >>> space = SearchSpace({"x": Float(0, 1), "y": Float(0, 1)})
        >>> study = hyperdial.create_study(directions=["minimize", "minimize"], sampler=NSGAIISampler(
        ...     population_size=10), space=space, seed=0)
        >>> study.optimize(lambda t: (t.params["x"], 1 - t.params["x"] + t.params["y"]), n_trials=60,
        ...                show_progress=False)
        >>> len(study.best_trials) > 3
        True
    """

    name = "nsga2"

    def default_population_size(self, space: SearchSpace) -> int:
        return 50

    def _check_history(self, history: History) -> None:
        """Any number of objectives."""

    def _rank_crowd(self, history: History, numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(front index with constrained domination, crowding distance within the front)."""
        L = history.losses(numbers)
        v = violations(history, numbers)
        feasible = v <= 0
        rank = np.empty(len(numbers), dtype=np.int64)
        if feasible.any():
            rank[feasible] = non_dominated_sort(L[feasible])
        top = int(rank[feasible].max()) + 1 if feasible.any() else 0
        if (~feasible).any():
            # Infeasible trials dominate each other by violation alone: one front per violation level.
            _, level = np.unique(v[~feasible], return_inverse=True)
            rank[~feasible] = top + level
        crowd = np.zeros(len(numbers))
        for r in np.unique(rank):
            sel = rank == r
            crowd[sel] = crowding_distance(L[sel])
        return rank, crowd

    def _scores(self, history: History, numbers: np.ndarray) -> np.ndarray:
        rank, crowd = self._rank_crowd(history, numbers)
        order = np.lexsort((numbers, -crowd, rank))
        score = np.empty(len(numbers))
        score[order] = np.arange(len(numbers))
        return score

    # Survival is GeneticSampler's: the best P by _scores, i.e. whole fronts in order, the last
    # one cut by crowding distance (largest first).

    def __repr__(self) -> str:
        return f"NSGAIISampler(population_size={self.population_size})"
