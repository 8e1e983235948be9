"""Samplers: what to try next. ``get_sampler`` turns a name into one."""

from __future__ import annotations

from typing import Any

from hyperdial._imports import from_registry
from hyperdial.samplers.auto import AutoSampler
from hyperdial.samplers.base import ClaimTracker, Proposal, Sampler, SearchSpaceExhausted
from hyperdial.samplers.cma import CmaEsSampler
from hyperdial.samplers.coarse_to_fine import CoarseToFineSampler
from hyperdial.samplers.differential_evolution import DifferentialEvolutionSampler
from hyperdial.samplers.evolution import GeneticSampler, NSGAIISampler
from hyperdial.samplers.gp import GPSampler
from hyperdial.samplers.grid import GridSampler
from hyperdial.samplers.qmc import QMCSampler
from hyperdial.samplers.random import RandomSampler
from hyperdial.samplers.tpe import TPESampler

__all__ = [
    "AutoSampler",
    "ClaimTracker",
    "CmaEsSampler",
    "CoarseToFineSampler",
    "DifferentialEvolutionSampler",
    "GeneticSampler",
    "GPSampler",
    "GridSampler",
    "NSGAIISampler",
    "Proposal",
    "QMCSampler",
    "RandomSampler",
    "Sampler",
    "SearchSpaceExhausted",
    "TPESampler",
    "SAMPLERS",
    "get_sampler",
]

#: Sampler names accepted by ``create_study(sampler=...)`` and the CLI, with their factories.
SAMPLERS: dict[str, Any] = {
    "auto": AutoSampler,
    "random": RandomSampler,
    "tpe": TPESampler,
    "cmaes": CmaEsSampler,
    "gp": GPSampler,
    "coarse_to_fine": CoarseToFineSampler,
    "ga": GeneticSampler,
    "de": lambda **kw: DifferentialEvolutionSampler(**{"variant": "rand1bin", **kw}),
    "jde": lambda **kw: DifferentialEvolutionSampler(**{"variant": "jde", **kw}),
    "nsga2": NSGAIISampler,
    "grid": GridSampler,
    "sobol": lambda **kw: QMCSampler("sobol", **kw),
    "halton": lambda **kw: QMCSampler("halton", **kw),
    "lhs": lambda **kw: QMCSampler("lhs", **kw),
    "qmc": QMCSampler,
}


def get_sampler(sampler: str | Sampler | None, **options: Any) -> Sampler:
    """A sampler from a name (``"auto"``, ``"tpe"``, ``"gp"``, ``"random"``, ``"grid"``...), or the object itself."""
    return from_registry("sampler", Sampler, SAMPLERS, "auto" if sampler is None else sampler, options)
