"""Pruners: when to stop a trial early."""

from __future__ import annotations

from typing import Any

from hyperdial._imports import from_registry
from hyperdial.pruners.base import Decision, NopPruner, Pruner
from hyperdial.pruners.bohb import BOHBPruner, budget_view
from hyperdial.pruners.median import MedianPruner, PercentilePruner
from hyperdial.pruners.successive_halving import HyperbandPruner, SuccessiveHalvingPruner, hyperband_brackets
from hyperdial.pruners.threshold import PatiencePruner, ThresholdPruner

__all__ = [
    "BOHBPruner",
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
    "budget_view",
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
    "bohb": BOHBPruner,
    "threshold": ThresholdPruner,
    "patience": PatiencePruner,
}


def get_pruner(pruner: str | Pruner | None, **options: Any) -> Pruner:
    """A pruner from a name (``"none"``, ``"median"``, ``"asha"``, ``"hyperband"``...) or the object itself."""
    return from_registry("pruner", Pruner, PRUNERS, "none" if pruner is None else pruner, options)
