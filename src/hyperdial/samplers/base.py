"""The sampler interface: "what to try next", a pure function of the history and a random generator."""

from __future__ import annotations

import weakref
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hyperdial.space import Distribution, SearchSpace

if TYPE_CHECKING:
    from hyperdial.history import History
    from hyperdial.trial import FrozenTrial

__all__ = ["ClaimTracker", "Proposal", "Sampler", "SearchSpaceExhausted"]


class SearchSpaceExhausted(Exception):
    """The sampler has nothing left to propose (every grid cell is taken); the study stops."""


@dataclass
class Proposal:
    """A sampler's answer when it needs more than the parameter values.

    Attributes:
        params: Parameter values by name.
        attrs: System attributes stored on the trial (the strategy that proposed it, a zoom box...).
        claim: A key the new trial claims atomically; if another worker holds it already, the
            study syncs and asks again (grid cells, points of a quasi-random sequence).
    """

    params: dict[str, Any]
    attrs: dict[str, Any] = field(default_factory=dict)
    claim: str | None = None


class Sampler(ABC):
    """Base class of samplers.

    A sampler must be a pure function of the history it is shown and of the random
    generator it is given: it may cache (keyed by ``history.version``) but replaying the
    same history with the same generator must give the same proposal. The generator is
    only valid during the call.

    Subclasses implement :meth:`sample_one` and usually :meth:`sample` (a joint proposal
    over a whole space, in unit-cube terms via ``space.decode``).
    """

    #: Name recorded on each trial it proposes.
    name: str = "sampler"
    #: Propose jointly over the inferred space of a define-by-run study.
    joint: bool = True
    #: A space the sampler brings itself (a grid); ``None`` for most samplers.
    space: SearchSpace | None = None

    def bind(self, seed: int) -> None:
        """Receive the study's seed (for state that must be the same on every call, like a grid order)."""

    def sample(self, history: History, space: SearchSpace, rng: np.random.Generator) -> dict[str, Any] | Proposal:
        """Propose values for every active parameter of ``space``.

        The default draws each parameter with :meth:`sample_one`, in order, skipping
        parameters whose conditions do not hold.
        """
        out: dict[str, Any] = {}
        for name in space.names:
            if space.is_active(name, out):
                out[name] = self.sample_one(history, name, space.dists[name], rng)
        space._add_constants(out)
        return out

    @abstractmethod
    def sample_one(self, history: History, name: str, dist: Distribution, rng: np.random.Generator) -> Any:
        """Propose one value for a parameter met while the objective runs (define-by-run)."""

    def after_trial(self, history: History, trial: FrozenTrial) -> None:
        """Called after a trial finishes. No-op by default."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ClaimTracker:
    """Finds the first index not yet claimed by a trial, scanning only trials it has not seen.

    Samplers that hand out numbered points (grid cells, a quasi-random sequence) record
    the index under the system attribute ``attr`` and claim ``"{attr}:{index}"``.
    """

    def __init__(self, attr: str) -> None:
        self.attr = attr
        self._state: dict[int, tuple[Any, int, set[int], int]] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"attr": self.attr, "_state": {}}  # weak references do not pickle; workers start afresh

    def first_free(self, history: History) -> int:
        # Keyed by the history object; the weak reference guards against a view (a Hyperband
        # bracket's) reusing the id of another that was freed, whose claims would then be missed.
        entry = self._state.get(id(history))
        if entry is not None and entry[0]() is history:
            _, seen, claimed, cursor = entry
        else:
            seen, claimed, cursor = 0, set(), 0
        attr = self.attr
        for t in history.trials[seen:]:
            index = t._system.get(attr) if t._system else None
            if index is not None:
                claimed.add(index)
        while cursor in claimed:
            cursor += 1
        if len(self._state) > 256:
            self._state = {k: v for k, v in self._state.items() if v[0]() is not None}
        self._state[id(history)] = (weakref.ref(history), len(history.trials), claimed, cursor)
        return cursor

    def proposal(self, params: dict[str, Any], index: int) -> Proposal:
        return Proposal(params, {self.attr: index}, f"{self.attr}:{index}")
