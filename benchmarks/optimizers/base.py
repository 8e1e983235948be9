"""The one optimizer interface every library is benchmarked through.

An :class:`Optimizer` turns ``(problem, budget, seed)`` into the list of losses in
evaluation order (:meth:`Optimizer.minimize`); the runner and the scores need nothing
else. Libraries with an ask/tell API subclass :class:`AskTellOptimizer` and implement
``start`` / ``suggest`` / ``observe``; the rest (Hyperopt's ``fmin``) override ``minimize``.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from benchmarks.problems.base import Problem
from benchmarks.space import Space

__all__ = ["AskTellOptimizer", "Optimizer", "Unavailable", "missing_module"]


class Unavailable(RuntimeError):
    """An optimizer cannot run here (a package is missing or broken); the message says why."""


def missing_module(*modules: str) -> str | None:
    """``None`` when every module imports, else the reason (the first failure)."""
    for mod in modules:
        try:
            importlib.import_module(mod)
        except Exception as exc:  # broken installs raise more than ImportError
            return f"cannot import {mod!r}: {type(exc).__name__}: {exc}".splitlines()[0][:300]
    return None


class Optimizer(ABC):
    """One optimizer configuration, e.g. Optuna's TPE with its defaults.

    Attributes:
        name: Stable name (it keys cached results): ``hyperdial-tpe``, ``optuna-tpe``...
        library: The package whose version the reports print.
    """

    name: str = ""
    library: str = ""
    #: modules the optimizer needs; :meth:`unavailable` checks them
    requires: tuple[str, ...] = ()

    def unavailable(self) -> str | None:
        """Why this optimizer cannot run here, or ``None``."""
        return missing_module(*self.requires)

    def skip_reason(self, problem: Problem, budget: int) -> str | None:
        """Why this optimizer is not run on ``problem`` (e.g. grid search in 10-d), or ``None``."""
        return None

    @abstractmethod
    def minimize(self, problem: Problem, budget: int, seed: int) -> list[float]:
        """Evaluate ``problem`` ``budget`` times (fewer only if the optimizer stops); losses in order."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class AskTellOptimizer(Optimizer):
    """An optimizer driven by ``suggest() -> config`` and ``observe(config, loss)``."""

    @abstractmethod
    def start(self, space: Space, budget: int, seed: int) -> None:
        """Reset for a new run."""

    @abstractmethod
    def suggest(self) -> dict[str, Any]:
        """The next configuration to evaluate; raise ``StopIteration`` when exhausted."""

    @abstractmethod
    def observe(self, config: Mapping[str, Any], loss: float) -> None:
        """Report the loss of the configuration returned by the last :meth:`suggest`."""

    def minimize(self, problem: Problem, budget: int, seed: int) -> list[float]:
        self.start(problem.space, budget, seed)
        losses: list[float] = []
        for _ in range(budget):
            try:
                config = self.suggest()
            except StopIteration:
                break
            loss = problem(config)
            self.observe(config, loss)
            losses.append(loss)
        return losses
