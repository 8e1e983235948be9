"""Optimizers behind one interface (:class:`~benchmarks.optimizers.base.Optimizer`).

``all_optimizers()`` lists every hyperdial sampler (discovered from
``hyperdial.samplers.SAMPLERS``) and every anchor; ``get_optimizers(patterns)`` selects by
name or glob (``hyperdial-*``, ``optuna-*``) or the groups ``hyperdial`` and ``anchors``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from benchmarks.optimizers.base import AskTellOptimizer, Optimizer, Unavailable
from benchmarks.optimizers.hyperdial_adapter import HyperdialOptimizer, hyperdial_sampler_names
from benchmarks.optimizers.optuna_adapter import OptunaOptimizer
from benchmarks.optimizers.others import HyperoptTPE, RandomSearch, SkoptGP, SmacHPO

__all__ = [
    "ANCHORS",
    "AskTellOptimizer",
    "Optimizer",
    "Unavailable",
    "all_optimizers",
    "get_optimizer",
    "get_optimizers",
]

#: anchor names, in report order
ANCHORS = ("optuna-tpe", "optuna-gp", "optuna-cmaes", "hyperopt-tpe", "smac-hpo", "skopt-gp", "random-search")


def all_optimizers() -> list[Optimizer]:
    """hyperdial's samplers first, then the anchors."""
    out: list[Optimizer] = [HyperdialOptimizer(name) for name in hyperdial_sampler_names()]
    out += [OptunaOptimizer("tpe"), OptunaOptimizer("gp"), OptunaOptimizer("cmaes")]
    out += [HyperoptTPE(), SmacHPO(), SkoptGP(), RandomSearch()]
    return out


def get_optimizer(name: str) -> Optimizer:
    """One optimizer by exact name."""
    for opt in all_optimizers():
        if opt.name == name:
            return opt
    raise ValueError(f"unknown optimizer {name!r}; see `python -m benchmarks list`")


def get_optimizers(patterns: Sequence[str] | None = None) -> list[Optimizer]:
    """Optimizers matching any pattern (name, glob, ``hyperdial`` or ``anchors``); all when empty."""
    opts = all_optimizers()
    if not patterns:
        return opts
    out = []
    for o in opts:
        for pat in patterns:
            if (
                (pat == "hyperdial" and o.library == "hyperdial")
                or (pat == "anchors" and o.name in ANCHORS)
                or fnmatch.fnmatchcase(o.name, pat)
            ):
                out.append(o)
                break
    if not out:
        raise ValueError(f"no optimizer matches {list(patterns)}; see `python -m benchmarks list`")
    return out
