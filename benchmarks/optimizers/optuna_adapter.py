"""Optuna anchors through ``study.ask()`` / ``study.tell()`` with define-by-run suggestions.

Conditionals: Optuna expresses them natively (only active parameters are suggested).
``TPESampler`` (defaults: independent TPE) models each parameter on the trials that have
it; ``GPSampler`` and ``CmaEsSampler`` model the intersection of the spaces seen so far and
draw the other (conditional) parameters from their independent fallback sampler
(``RandomSampler``), as Optuna documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.optimizers.base import AskTellOptimizer
from benchmarks.space import Space

__all__ = ["OptunaOptimizer"]


def _quiet_optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


class OptunaOptimizer(AskTellOptimizer):
    """One Optuna sampler with its defaults (and ``seed``).

    Args:
        sampler: ``"tpe"``, ``"gp"``, ``"cmaes"`` or ``"random"``.
    """

    library = "optuna"

    _REQUIRES = {"tpe": (), "gp": ("torch",), "cmaes": ("cmaes",), "random": (), "qmc": ("scipy",)}

    def __init__(self, sampler: str) -> None:
        if sampler not in self._REQUIRES:
            raise ValueError(f"OptunaOptimizer: unknown sampler {sampler!r}; choose one of {sorted(self._REQUIRES)}")
        self.sampler = sampler
        self.name = f"optuna-{sampler}"
        self.requires = ("optuna", *self._REQUIRES[sampler])
        self._study: Any = None
        self._trial: Any = None
        self._space: Space | None = None

    def make_sampler(self, seed: int) -> Any:
        """The Optuna sampler object for ``seed``."""
        optuna = _quiet_optuna()
        if self.sampler == "gp":
            import torch

            torch.set_num_threads(1)
            return optuna.samplers.GPSampler(seed=seed)
        cls = {
            "tpe": optuna.samplers.TPESampler,
            "cmaes": optuna.samplers.CmaEsSampler,
            "random": optuna.samplers.RandomSampler,
            "qmc": optuna.samplers.QMCSampler,
        }[self.sampler]
        return cls(seed=seed)

    def start(self, space: Space, budget: int, seed: int) -> None:
        optuna = _quiet_optuna()
        self._space = space
        self._study = optuna.create_study(sampler=self.make_sampler(seed), direction="minimize")
        self._trial = None

    def suggest(self) -> dict[str, Any]:
        self._trial = self._study.ask()
        return self._space.suggest_optuna(self._trial)

    def observe(self, config: Mapping[str, Any], loss: float) -> None:
        self._study.tell(self._trial, loss)
