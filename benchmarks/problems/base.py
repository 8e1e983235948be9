"""The problem interface: a named, deterministic objective over a :class:`~benchmarks.space.Space`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from benchmarks.space import Space

__all__ = ["Category", "Problem"]


class Category(str, Enum):
    """Score categories; the report aggregates per category and overall."""

    BBOB_LOW = "bbob-low-dim"
    BBOB_10D = "bbob-10d"
    SKLEARN = "sklearn"
    MIXED = "mixed"

    def __str__(self) -> str:
        return self.value


@dataclass
class Problem:
    """A minimisation problem.

    Attributes:
        name: Unique, stable name (it keys cached results and reference values).
        category: Where its score is aggregated.
        space: The search space.
        make_objective: Builds ``objective(config) -> loss`` lazily (datasets and ``ioh``
            objects are created in the worker process that evaluates, not at import).
        optimum: The known optimal loss, or ``None`` (then a committed reference best is used).
        description: One line for the README and reports.
    """

    name: str
    category: Category
    space: Space
    make_objective: Callable[[], Callable[[Mapping[str, Any]], float]]
    optimum: float | None = None
    description: str = ""
    _objective: Callable[[Mapping[str, Any]], float] | None = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        return len(self.space)

    def __call__(self, config: Mapping[str, Any]) -> float:
        """Evaluate one configuration (cleaned first: only active parameters, native types)."""
        if self._objective is None:
            self._objective = self.make_objective()
        return float(self._objective(self.space.clean(config)))
