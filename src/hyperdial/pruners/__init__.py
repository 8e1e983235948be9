"""Pruners: when to stop a trial early."""

from __future__ import annotations

from typing import Any

from hyperdial.pruners.base import Decision, NopPruner, Pruner
from hyperdial.pruners.median import MedianPruner, PercentilePruner
from hyperdial.pruners.successive_halving import HyperbandPruner, SuccessiveHalvingPruner, hyperband_brackets
from hyperdial.pruners.threshold import PatiencePruner, ThresholdPruner

__all__ = [
    "Decision",
    "HyperbandPruner",
    "MedianPruner",
    "NopPruner",
    "PatiencePruner",
    "PercentilePruner",
    "Pruner",
    "PRUNERS",
    "SuccessiveHalvingPruner",
    "ThresholdPruner",
    "get_pruner",
    "hyperband_brackets",
]

PRUNERS: dict[str, Any] = {
    "none": NopPruner,
    "median": MedianPruner,
    "percentile": PercentilePruner,
    "asha": SuccessiveHalvingPruner,
    "successive_halving": SuccessiveHalvingPruner,
    "hyperband": HyperbandPruner,
    "threshold": ThresholdPruner,
    "patience": PatiencePruner,
}


def get_pruner(pruner: str | Pruner | None, **options: Any) -> Pruner:
    """A pruner from a name (``"none"``, ``"median"``, ``"percentile"``) or the object itself."""
    if pruner is None:
        return NopPruner()
    if isinstance(pruner, Pruner):
        return pruner
    if not isinstance(pruner, str):
        raise TypeError(f"pruner must be a name or a Pruner, got {type(pruner).__name__}")
    factory = PRUNERS.get(pruner.lower())
    if factory is None:
        raise ValueError(f"unknown pruner {pruner!r}; choose one of {sorted(PRUNERS)} or pass a Pruner object")
    try:
        return factory(**options)
    except TypeError as exc:
        raise TypeError(f"pruner {pruner!r}: bad options {options}: {exc}") from None
