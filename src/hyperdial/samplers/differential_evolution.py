"""Differential evolution: DE/rand/1/bin and self-adaptive jDE, on the population bookkeeping of
:mod:`hyperdial.samplers.evolution` (generations and slots replayed from the stored trials)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hyperdial.constraints import violations
from hyperdial.samplers._variation import de_rand_1_bin
from hyperdial.samplers.evolution import _check_prob, _EvolutionSampler
from hyperdial.space import SearchSpace

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["DifferentialEvolutionSampler"]


class DifferentialEvolutionSampler(_EvolutionSampler):
    """Differential evolution for one objective: DE/rand/1/bin, or self-adaptive jDE.

    Slot ``i`` of generation ``g`` is a trial vector built against the survivor of slot ``i``
    (the target) by DE/rand/1/bin (Storn & Price 1997, "Differential evolution: a simple and
    efficient heuristic for global optimization over continuous spaces", J. Glob. Optim. 11,
    eq. 2-4); it replaces its target in generation ``g + 1`` when it is at least as good
    (feasibility rules for constrained studies). ``variant="jde"`` adapts ``F`` and ``CR`` per
    individual (Brest, Greiner, Boskovic, Mernik & Zumer 2006, "Self-adapting control
    parameters in differential evolution", IEEE TEVC 10(6), eq. 3-4: with probability
    ``tau1 = tau2 = 0.1`` a child draws ``F ~ U(0.1, 1.0)`` and ``CR ~ U(0, 1)``, else inherits
    its target's), storing them on the trial so the adaptation replays from the history.
    Out-of-range mutants are repaired halfway to the bound; categorical genes use a mutation of
    their own (see :func:`~hyperdial.samplers._variation.de_rand_1_bin`).

    Args:
        population_size: Individuals per generation (>= 4; default ``min(40, max(10, 5 * dim))``).
        variant: ``"rand1bin"`` (fixed ``F`` and ``CR``) or ``"jde"`` (self-adaptive, the default).
        F: Differential weight (the starting value with ``"jde"``).
        CR: Crossover rate (the starting value with ``"jde"``).

    Example:
        >>> import hyperdial
        >>> from hyperdial import Float, SearchSpace
        >>> space = SearchSpace({"x": Float(-5, 5), "y": Float(-5, 5)})
        >>> study = hyperdial.create_study(sampler=DifferentialEvolutionSampler(population_size=10),
        ...                                space=space, seed=0)
        >>> study.optimize(lambda t: t.params["x"] ** 2 + t.params["y"] ** 2, n_trials=150, show_progress=False)
        >>> study.best_value < 0.5
        True
    """

    name = "de"
    _min_population = 4
    _TAU1 = 0.1
    _TAU2 = 0.1
    _F_LOW = 0.1
    _F_SPAN = 0.9

    def __init__(
        self, *, population_size: int | None = None, variant: str = "jde", F: float = 0.5, CR: float = 0.9
    ) -> None:
        super().__init__(population_size)
        owner = type(self).__name__
        if variant not in ("rand1bin", "jde"):
            raise ValueError(f"{owner}: variant must be 'rand1bin' or 'jde', got {variant!r}")
        if isinstance(F, bool) or not isinstance(F, (int, float)) or not 0 < F <= 2:
            raise ValueError(f"{owner}: F must be a number in (0, 2], got {F!r}")
        _check_prob(owner, "CR", CR)
        self.variant = variant
        self.F = float(F)
        self.CR = float(CR)
        if variant == "rand1bin":
            self.name = "de"
        else:
            self.name = "jde"

    def default_population_size(self, space: SearchSpace) -> int:
        return int(min(40, max(10, 5 * space.dim)))

    def _initial_attrs(self, attrs: dict[str, Any], rng: np.random.Generator) -> None:
        if self.variant == "jde":
            attrs["de_F"], attrs["de_CR"] = self.F, self.CR

    @staticmethod
    def _key(history: History, n: int) -> tuple[float, float]:
        return float(violations(history, [n])[0]), float(history.losses([n])[0, 0])

    def _survive(self, history: History, space: SearchSpace, pop: list, children: list[int], P: int) -> list:
        out = list(pop) if pop else [-1] * P
        if len(out) < P:
            out += [-1] * (P - len(out))
        for c in children:
            slot = int(history.trials[c]._system["evo_slot"])
            if slot >= P:
                continue
            target = out[slot]
            if target < 0 or self._key(history, c) <= self._key(history, target):
                out[slot] = c
        return out

    def _offspring(
        self, history: History, space: SearchSpace, pop: list, slot: int, rng: np.random.Generator, attrs: dict
    ) -> np.ndarray | None:
        target = pop[slot] if slot < len(pop) else -1
        others = [n for n in pop if n >= 0 and n != target]
        if target < 0 or len(others) < 3:
            return None  # an empty slot (its trials failed) restarts from a random point
        pick = rng.choice(len(others), size=3, replace=False)
        r1, r2, r3 = (others[int(k)] for k in pick)
        U = self._filled(history.matrix(space, np.array([target, r1, r2, r3])), rng)
        F, CR = self.F, self.CR
        if self.variant == "jde":
            sa = history.trials[target]._system or {}
            F, CR = float(sa.get("de_F", self.F)), float(sa.get("de_CR", self.CR))
            r = rng.random(4)
            if r[0] < self._TAU1:  # Brest et al. 2006, eq. 3
                F = self._F_LOW + r[1] * self._F_SPAN
            if r[2] < self._TAU2:  # eq. 4
                CR = float(rng.random())
            attrs["de_F"], attrs["de_CR"] = F, CR
        is_cat, n_choices = self._layout(space)
        child = de_rand_1_bin(U[0], U[1], U[2], U[3], F, CR, is_cat, n_choices, rng)
        attrs["evo_parents"] = [int(target), int(r1), int(r2), int(r3)]
        return child

    def __repr__(self) -> str:
        return f"DifferentialEvolutionSampler(population_size={self.population_size}, variant={self.variant!r})"
