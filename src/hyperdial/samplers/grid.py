"""Grid search: every combination, each cell run once even with several workers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hyperdial.samplers.base import ClaimTracker, Proposal, Sampler, SearchSpaceExhausted
from hyperdial.space import Categorical, Distribution, SearchSpace

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["GridSampler"]

_MAX_CELLS = 5_000_000


class GridSampler(Sampler):
    """Runs every cell of a grid once, in order or shuffled, then stops the study.

    Args:
        space: The grid: a :class:`~hyperdial.space.SearchSpace`, or a mapping of name to a
            list of values (as in scikit-learn's ``GridSearchCV``). ``None`` uses the study's
            declared space.
        points: Values per continuous float parameter (evenly spaced; log-spaced where
            ``log=True``). Ints, stepped floats and categoricals use all their values
            (an int range of more than 100 values also uses ``points``).
        shuffle: Visit cells in a random order fixed by the study's seed.

    Each new trial claims its cell in the same transaction that creates it, so no cell
    runs twice whatever the number of workers; conditional spaces yield only the cells
    whose parameters are active.

    Example:
        >>> import hyperdial
        >>> study = hyperdial.create_study(sampler=GridSampler({"x": [1, 2, 3]}))
        >>> study.optimize(lambda t: t.suggest_int("x", 1, 3), show_progress=False)
        >>> sorted(t.params["x"] for t in study.trials)
        [1, 2, 3]
    """

    name = "grid"

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Sequence[Any]] | None = None,
        *,
        points: int = 5,
        shuffle: bool = False,
    ) -> None:
        if isinstance(points, bool) or not isinstance(points, int) or points < 1:
            raise ValueError(f"GridSampler: points must be a positive integer, got {points!r}")
        if space is not None and not isinstance(space, SearchSpace):
            if not isinstance(space, Mapping):
                raise TypeError("GridSampler: space must be a SearchSpace or a mapping of name to a list of values")
            converted = {}
            for name, values in space.items():
                if isinstance(values, (Distribution, Mapping)):
                    converted[name] = values
                elif isinstance(values, (list, tuple, np.ndarray)):
                    converted[name] = Categorical(list(values))
                else:
                    raise TypeError(f"GridSampler: space[{name!r}] must be a list of values, got {values!r}")
            space = SearchSpace(converted)
        self.space = space
        self.points = points
        self.shuffle = shuffle
        self._seed = 0
        self._cells: dict[str, list[dict[str, Any]]] = {}
        self._tracker = ClaimTracker("grid_id")

    def bind(self, seed: int) -> None:
        self._seed = seed

    def cells(self, space: SearchSpace) -> list[dict[str, Any]]:
        """Every cell of the grid over ``space``, in visiting order."""
        key = repr(space.to_dict())
        cells = self._cells.get(key)
        if cells is None:
            cells = []
            for cell in space.grid(self.points):
                cells.append(cell)
                if len(cells) > _MAX_CELLS:
                    raise ValueError(
                        f"GridSampler: the grid has more than {_MAX_CELLS:,} cells; use fewer points or values, "
                        "or a random / quasi-random sampler"
                    )
            if self.shuffle:
                order = np.random.default_rng(self._seed).permutation(len(cells))
                cells = [cells[i] for i in order]
            self._cells[key] = cells
        return cells

    def sample(self, history: History, space: SearchSpace, rng: np.random.Generator) -> Proposal:
        grid_space = self.space if self.space is not None else space
        if grid_space is None or (self.space is None and grid_space.dim == 0 and not grid_space.constants):
            raise ValueError(
                "GridSampler needs a grid: pass GridSampler({'x': [1, 2, 3]}) or create the study with space=..."
            )
        cells = self.cells(grid_space)
        i = self._tracker.first_free(history)
        if i >= len(cells):
            raise SearchSpaceExhausted(f"all {len(cells)} grid cells have been run")
        return self._tracker.proposal(dict(cells[i]), i)

    def sample_one(self, history: History, name: str, dist: Distribution, rng: np.random.Generator) -> Any:
        if self.space is None:
            raise ValueError(
                "GridSampler needs a grid: pass GridSampler({'x': [1, 2, 3]}) or create the study with space=..."
            )
        raise ValueError(
            f"GridSampler: parameter {name!r} is not in the grid; add it to the grid's space "
            f"(its values must fit {dist!r})"
        )

    def __repr__(self) -> str:
        return f"GridSampler(points={self.points}, shuffle={self.shuffle})"
