"""Schedulers: policies that change running trials' hyperparameters (population-based training)."""

from __future__ import annotations

from hyperdial.schedulers.pbt import PBT, PBT_ATTR, PBTMember, lineage_schedule

__all__ = ["PBT", "PBT_ATTR", "PBTMember", "lineage_schedule"]
