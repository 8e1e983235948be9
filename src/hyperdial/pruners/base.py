"""The pruner interface: "when to stop", a pure function of the history."""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hyperdial.history import History
    from hyperdial.trial import FrozenTrial

__all__ = ["Decision", "NopPruner", "Pruner"]


class Decision(str, Enum):
    CONTINUE = "continue"
    PRUNE = "prune"
    PAUSE = "pause"  # stop for now, may be resumed (promotion-based schedulers)


class Pruner(ABC):
    """Base class of pruners.

    ``decide`` sees the history (including the trial's own reports) and returns a
    :class:`Decision`. ``assign`` may give a new trial attributes (a Hyperband bracket);
    ``sampler_view`` may restrict what the sampler learns from. The study applies both,
    so samplers never know which pruner they run with.
    """

    @abstractmethod
    def decide(self, history: History, trial: FrozenTrial) -> Decision:
        """Whether ``trial`` (RUNNING, with its latest reports) should continue."""

    def assign(self, history: History, number: int) -> dict[str, Any]:
        """System attributes for a new trial. None by default."""
        return {}

    def sampler_view(self, history: History, attrs: dict[str, Any]) -> History:
        """The history a sampler sees when proposing for a trial with these attributes."""
        return history


class NopPruner(Pruner):
    """Never prunes."""

    def decide(self, history: History, trial: FrozenTrial) -> Decision:
        return Decision.CONTINUE
